package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/spf13/cobra"

	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/cliutil"
	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

// newEmbedder returns the embedder that embeds a query for semantic and
// hybrid search: the one the environment configures for the workers
// (QF_EMBED_URL, QF_EMBED_MODEL, ...; docs/INGESTION.md), so the query's
// vector is comparable with the chunks'. A variable so tests can swap it.
var newEmbedder = embed.FromEnv

type searchFlags struct {
	codebase, mode, lang, path string
	limit                      int
	output                     string
}

func (a *app) searchCmd() *cobra.Command {
	var f searchFlags
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search the ingested code",
		Long: `Search finds code in what ingest runs stored: symbols by name, code by its
text, and code by what it does, best first. Each result has the file's path
(relative to the ingested root), its line range, the symbol and its kind where
there is one, a score and a snippet.

--mode picks the ranking: symbol (symbol names: exact, then prefix, then
trigram similarity, so a typo still finds it), text (full-text over
identifier sub-tokens, so "parse request" finds parseHTTPRequest, fused with
substring matches), semantic (vector similarity to the query, embedded with
the model of the codebase's vectors: QF_EMBED_URL, QF_EMBED_MODEL as for the
workers) or hybrid (all of them fused by reciprocal rank; the default).

--lang keeps one language ("go", "python", ...); --path keeps paths matching a
glob relative to the root (*, **, ?, [class], {a,b}; quote it for the shell).
Without --codebase every codebase is searched.

-o json prints {"results": [{"codebase", "path", "start_line", "end_line",
"symbol", "kind", "language", "score", "snippet"}]} ("symbol" and "kind" null
for text between symbols).`,
		Example: `  enqueue search parseHTTPRequest --mode symbol
  enqueue search "parse http request" --codebase stdlib --lang go --limit 5
  enqueue search 'ErrNotExist' --path 'os/**/*.go' -o json | jq -r '.results[] | "\(.path):\(.start_line)"'`,
		Args: argsNamed("QUERY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(cmd, f.output); err != nil {
				return err
			}
			if strings.TrimSpace(args[0]) == "" {
				return usageErr(cmd, "empty QUERY")
			}
			if !contains(ingest.Modes, f.mode) {
				return usageErr(cmd, "invalid --mode %q: want %s", f.mode, strings.Join(ingest.Modes, ", "))
			}
			if f.limit < 1 || f.limit > ingest.MaxLimit {
				return usageErr(cmd, "--limit must be from 1 to %d (got %d)", ingest.MaxLimit, f.limit)
			}
			if f.path != "" && !doublestar.ValidatePattern(f.path) {
				return usageErr(cmd, "invalid --path %q: not a glob (an unclosed [ or {?)", f.path)
			}
			return a.search(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.codebase, "codebase", "", "search this codebase only (default: all)")
	fl.StringVar(&f.mode, "mode", ingest.ModeHybrid, "ranking: hybrid, symbol, text or semantic")
	fl.StringVar(&f.lang, "lang", "", "only files of this language (go, python, javascript, ...)")
	fl.StringVar(&f.path, "path", "", "only paths matching this glob, relative to the root (e.g. 'net/**/*.go')")
	fl.IntVar(&f.limit, "limit", ingest.DefaultLimit, "at most this many results")
	addOutputFlag(cmd, &f.output)
	return cmd
}

func (a *app) search(ctx context.Context, query string, f searchFlags) error {
	var emb embed.Embedder
	if f.mode == ingest.ModeSemantic || f.mode == ingest.ModeHybrid {
		var err error
		if emb, err = newEmbedder(); err != nil {
			return fmt.Errorf("embedder: %w", err)
		}
	}
	client, err := a.client(ctx)
	if err != nil {
		return err
	}
	rs, err := ingest.Search(ctx, client.Pool(), ingest.SearchOptions{
		Query: query, Codebase: f.codebase, Mode: f.mode, Lang: f.lang, Path: f.path, Limit: f.limit, Embedder: emb,
	})
	if errors.Is(err, ingest.ErrBadQuery) || errors.Is(err, ingest.ErrBadOption) {
		return cliutil.WithCode(cliutil.ExitUsage, err)
	}
	if err != nil {
		return a.interrupted(ctx, err)
	}
	if f.output == outJSON {
		return a.printJSON(struct {
			Results []ingest.Result `json:"results"`
		}{rs})
	}
	if len(rs) == 0 {
		fmt.Fprintf(a.stderr, "no results for %q\n", query)
		return nil
	}
	printResults(a.stdout, rs, f.codebase == "")
	return nil
}

// printResults writes results for a terminal: a header line per result
// (path:lines, symbol and kind, score, and the codebase when several may
// appear), then its snippet indented.
func printResults(w io.Writer, rs []ingest.Result, showCodebase bool) {
	codebases := map[string]bool{}
	for _, r := range rs {
		codebases[r.Codebase] = true
	}
	showCodebase = showCodebase && len(codebases) > 1
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		loc := fmt.Sprintf("%s:%d", r.Path, r.StartLine)
		if r.EndLine > r.StartLine {
			loc += fmt.Sprintf("-%d", r.EndLine)
		}
		if showCodebase {
			loc = r.Codebase + ": " + loc
		}
		what := ""
		if r.Symbol != nil {
			what = "  " + *r.Symbol
			if r.Kind != nil && *r.Kind != "" {
				what += " (" + *r.Kind + ")"
			}
		}
		fmt.Fprintf(w, "%s%s  score %s\n", loc, what, fmtScore(r.Score))
		for _, l := range strings.Split(r.Snippet, "\n") {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(l, "\t", "    "))
		}
	}
}

// fmtScore prints a score with three significant digits.
func fmtScore(s float64) string { return fmt.Sprintf("%.3g", s) }
