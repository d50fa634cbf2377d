package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/graph"
)

// Search modes (SearchOptions.Mode).
const (
	ModeHybrid   = "hybrid"
	ModeSymbol   = "symbol"
	ModeText     = "text"
	ModeSemantic = "semantic"
)

// Modes lists the search modes, the default first.
var Modes = []string{ModeHybrid, ModeSymbol, ModeText, ModeSemantic}

// Limits of a search.
const (
	// DefaultLimit is the number of results when SearchOptions.Limit is 0.
	DefaultLimit = 20
	// MaxLimit is the most results one search returns.
	MaxLimit = 1000
	// MaxQueryBytes is the longest query accepted.
	MaxQueryBytes = 1024
)

// Errors Search returns for input it refuses; callers (the CLI) report them
// as usage errors. Each is wrapped with the detail.
var (
	// ErrBadQuery is an empty, too long or not UTF-8 query.
	ErrBadQuery = errors.New("invalid query")
	// ErrBadOption is an unknown mode, a limit out of range or a --path
	// glob that does not parse.
	ErrBadOption = errors.New("invalid search option")
	// ErrCodebaseNotFound is a codebase name no ingest has used.
	ErrCodebaseNotFound = errors.New("codebase not found")
	// ErrEmbedder is a semantic or hybrid search without an embedder, or
	// with one whose model is not the model of the codebase's vectors.
	ErrEmbedder = errors.New("embedder mismatch")
)

// SearchOptions describe one search.
type SearchOptions struct {
	// Query is what to look for: a symbol name (or part of one), a piece
	// of code, or words describing it. At most MaxQueryBytes of UTF-8.
	Query string
	// Codebase restricts the search to one codebase by name; empty
	// searches every codebase.
	Codebase string
	// Mode is one of Modes; empty means ModeHybrid.
	Mode string
	// Lang keeps only files of this language (a lang.Detect id: "go",
	// "python", ...).
	Lang string
	// Path keeps only files whose path relative to the codebase root
	// matches this glob (github.com/bmatcuk/doublestar/v4 syntax: *, **,
	// ?, [class], {alt,...}).
	Path string
	// Limit is the most results, 1..MaxLimit; 0 means DefaultLimit.
	Limit int
	// Embedder embeds the query for ModeSemantic and ModeHybrid. Its
	// Model() must be the codebase's embed_model. Hybrid search without
	// one leaves the vector ranking out; semantic search without one is
	// an ErrEmbedder.
	Embedder embed.Embedder
}

// Result is one search hit, in the JSON shape of `enqueue search -o json`
// (docs/SPEC.md, "Code ingestion").
type Result struct {
	// Codebase is the codebase's name (useful when searching them all).
	Codebase string `json:"codebase"`
	// Path is relative to the ingested root, with / separators.
	Path string `json:"path"`
	// StartLine and EndLine are the hit's line range, 1-based, inclusive.
	StartLine int `json:"start_line"`
	EndLine   int `json:"end_line"`
	// Symbol and Kind name the symbol the hit is (or lies in); nil for text
	// between symbols.
	Symbol *string `json:"symbol"`
	Kind   *string `json:"kind"`
	// Language is the file's language id ("" when unknown).
	Language string `json:"language"`
	// Score orders results, higher first; its scale depends on the mode
	// (docs/INGESTION.md, "Search").
	Score float64 `json:"score"`
	// Snippet is a few lines around the best matching line.
	Snippet string `json:"snippet"`
}

// search is one validated search: the options, the codebases it covers and
// the compiled filters.
type search struct {
	SearchOptions
	codebases []codebaseRef
	ids       []int64
	pathRegex string // "" when no --path; a superset of the glob (globRegex)
	trgm      string // the sanitized schema of pg_trgm
}

// codebaseRef is a codebase a search covers.
type codebaseRef struct {
	id         int64
	name       string
	embedModel string
}

// Search finds code in what ingest runs stored, best first. Symbol mode
// looks up symbol names (exact, then prefix, then trigram similarity);
// text mode fuses full-text and substring matches over chunks; semantic
// mode ranks chunks by the cosine similarity of their vectors to the
// query's; hybrid fuses all of them by reciprocal rank. It returns an
// error wrapping ErrBadQuery, ErrBadOption, ErrCodebaseNotFound or
// ErrEmbedder for input it refuses, and the database's errors otherwise.
// An empty result is not an error.
func Search(ctx context.Context, pool *pgxpool.Pool, opts SearchOptions) ([]Result, error) {
	s, err := newSearch(opts)
	if err != nil {
		return nil, err
	}
	if err := s.resolve(ctx, pool); err != nil {
		return nil, err
	}
	if len(s.ids) == 0 {
		return []Result{}, nil
	}
	var hits []hit
	switch s.Mode {
	case ModeSymbol:
		hits, err = s.symbolHits(ctx, pool, s.Limit)
	case ModeText:
		hits, err = s.textHits(ctx, pool)
	case ModeSemantic:
		hits, err = s.vectorHits(ctx, pool, s.Limit)
	case ModeHybrid:
		hits, err = s.hybridHits(ctx, pool)
	}
	if err != nil {
		return nil, fmt.Errorf("search %q (%s): %w", s.Query, s.Mode, err)
	}
	if len(hits) > s.Limit {
		hits = hits[:s.Limit]
	}
	results, err := s.results(ctx, pool, hits)
	if err != nil {
		return nil, fmt.Errorf("search %q (%s): %w", s.Query, s.Mode, err)
	}
	return results, nil
}

// newSearch validates opts and fills in the defaults.
func newSearch(opts SearchOptions) (*search, error) {
	s := &search{SearchOptions: opts}
	switch {
	case strings.TrimSpace(opts.Query) == "":
		return nil, fmt.Errorf("%w: empty", ErrBadQuery)
	case len(opts.Query) > MaxQueryBytes:
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadQuery, len(opts.Query), MaxQueryBytes)
	case !utf8.ValidString(opts.Query) || strings.ContainsRune(opts.Query, 0):
		return nil, fmt.Errorf("%w: not UTF-8 text", ErrBadQuery)
	}
	if s.Mode == "" {
		s.Mode = ModeHybrid
	}
	if !contains(Modes, s.Mode) {
		return nil, fmt.Errorf("%w: mode %q: want one of %s", ErrBadOption, s.Mode, strings.Join(Modes, ", "))
	}
	if s.Limit == 0 {
		s.Limit = DefaultLimit
	}
	if s.Limit < 1 || s.Limit > MaxLimit {
		return nil, fmt.Errorf("%w: limit %d: want 1 to %d", ErrBadOption, s.Limit, MaxLimit)
	}
	if s.Path != "" {
		re, err := globRegex(s.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: path %q: %v", ErrBadOption, s.Path, err)
		}
		s.pathRegex = re
	}
	s.Lang = strings.ToLower(strings.TrimSpace(s.Lang))
	if s.Mode == ModeSemantic && s.Embedder == nil {
		return nil, fmt.Errorf("%w: semantic search needs an embedder", ErrEmbedder)
	}
	return s, nil
}

// resolve finds the codebases the search covers and pg_trgm's schema, and
// checks the embedder against the codebases' model.
func (s *search) resolve(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `
SELECT id, name, coalesce(embed_model, '') FROM qf_codebase
WHERE $1 = '' OR name = $1
ORDER BY name`, s.Codebase)
	if err != nil {
		return fmt.Errorf("search: read codebases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c codebaseRef
		if err := rows.Scan(&c.id, &c.name, &c.embedModel); err != nil {
			return fmt.Errorf("search: read codebases: %w", err)
		}
		s.codebases = append(s.codebases, c)
		s.ids = append(s.ids, c.id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search: read codebases: %w", err)
	}
	if s.Codebase != "" && len(s.codebases) == 0 {
		return fmt.Errorf("search: %w: %q", ErrCodebaseNotFound, s.Codebase)
	}
	if s.Embedder != nil && (s.Mode == ModeSemantic || s.Mode == ModeHybrid) {
		for _, c := range s.codebases {
			if c.embedModel != "" && c.embedModel != s.Embedder.Model() {
				return fmt.Errorf("search: %w: codebase %q holds vectors of model %q, the configured embedder is %q (configure that model, re-ingest, or use --mode text or symbol)",
					ErrEmbedder, c.name, c.embedModel, s.Embedder.Model())
			}
		}
	}
	if s.trgm, err = trgmSchema(ctx, pool); err != nil {
		return err
	}
	return nil
}

// hit is one ranked match before its details are read: a chunk, or a
// symbol (with the chunk holding its first line, when there is one).
type hit struct {
	chunkID  int64 // 0 for a symbol without a chunk
	symbolID int64 // 0 for a chunk hit
	score    float64
	// bestLine is the line the snippet centres on (0: pick by content).
	bestLine int
}

// key is the hit's identity for fusion: the chunk, or the symbol when it
// has no chunk.
func (h hit) key() string {
	if h.chunkID != 0 {
		return "c" + strconv.FormatInt(h.chunkID, 10)
	}
	return "s" + strconv.FormatInt(h.symbolID, 10)
}

// hybridHits fuses the full-text, substring, vector and symbol rankings by
// reciprocal rank, running the four queries at once.
func (s *search) hybridHits(ctx context.Context, pool *pgxpool.Pool) ([]hit, error) {
	depth := max(s.Limit*2, 50)
	var fts, sub, vec, sym []hit
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { fts, err = s.ftsHits(gctx, pool, depth); return })
	g.Go(func() (err error) { sub, err = s.substringHits(gctx, pool, depth); return })
	g.Go(func() (err error) { sym, err = s.symbolHits(gctx, pool, s.Limit); return })
	if s.Embedder != nil {
		g.Go(func() (err error) { vec, err = s.vectorHits(gctx, pool, depth); return })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return fuse(fts, sub, vec, sym), nil
}

// fuse merges ranked hit lists by reciprocal rank fusion (graph.Fuse),
// keeping for each key the first hit seen, or the first symbol hit.
func fuse(lists ...[]hit) []hit {
	byKey := map[string]hit{}
	keyLists := make([][]string, 0, len(lists))
	for _, l := range lists {
		keys := make([]string, 0, len(l))
		seen := map[string]bool{}
		for _, h := range l {
			k := h.key()
			if seen[k] {
				continue
			}
			seen[k] = true
			keys = append(keys, k)
			// A symbol hit says more (its name, kind and lines) than a hit
			// on the chunk that holds it.
			if old, ok := byKey[k]; !ok || (old.symbolID == 0 && h.symbolID != 0) {
				byKey[k] = h
			}
		}
		keyLists = append(keyLists, keys)
	}
	keys, scores := graph.Fuse(keyLists...)
	out := make([]hit, 0, len(keys))
	for i, k := range keys {
		h := byKey[k]
		h.score = scores[i]
		out = append(out, h)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
