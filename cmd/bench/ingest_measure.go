package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/chunk"
	"github.com/quantumflow/quantumflow/internal/ingest/embed"
	"github.com/quantumflow/quantumflow/internal/ingest/lang"
	"github.com/quantumflow/quantumflow/internal/ingest/parse"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// EditResult is one watch edit: the write, the run's notification and the
// first symbol search that finds the new function.
type EditResult struct {
	Symbol             string  `json:"symbol"`
	RunID              string  `json:"run_id"`
	Nodes              int     `json:"nodes"`
	SubmitSeconds      float64 `json:"submit_s"`     // write → Watch submitted the run (debounce included)
	RunSeconds         float64 `json:"run_s"`        // the run's workflow, created_at → finished_at
	NotifySeconds      float64 `json:"notify_s"`     // write → notification
	SearchableSeconds  float64 `json:"searchable_s"` // write → found by symbol search
	NotificationStatus string  `json:"status"`
}

// watchEdits runs ingest.Watch on tree, waits for its first run, then
// appends a uniquely named function to file n times, one after the other.
func watchEdits(ctx context.Context, c *flow.Client, tree, file string, n int) ([]EditResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notes := make(chan ingest.Notification, 16)
	done := make(chan error, 1)
	var mu sync.Mutex
	submitted := map[string]time.Time{}
	go func() {
		done <- ingest.Watch(ctx, c, ingest.WatchOptions{
			Options:  ingest.Options{Path: tree, Codebase: ingestCodebase},
			Debounce: ingestDebounce,
			OnSubmit: func(r *ingest.Run) {
				mu.Lock()
				submitted[r.ID] = time.Now()
				mu.Unlock()
			},
		}, func(nt ingest.Notification) { notes <- nt })
	}()
	next := func() (ingest.Notification, error) {
		select {
		case nt := <-notes:
			return nt, nil
		case err := <-done:
			return ingest.Notification{}, fmt.Errorf("%w: %v", errWatchEnded, err)
		case <-time.After(ingestEditTimeout):
			return ingest.Notification{}, fmt.Errorf("no notification within %s", ingestEditTimeout)
		case <-ctx.Done():
			return ingest.Notification{}, context.Cause(ctx)
		}
	}
	if _, err := next(); err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	tag, err := randomName("")
	if err != nil {
		return nil, err
	}
	var out []EditResult
	for i := range n {
		name := fmt.Sprintf("QfBenchEdit%d_%s", i, tag)
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return out, fmt.Errorf("edit %s: %w", file, err)
		}
		start := time.Now()
		_, werr := fmt.Fprintf(f, "\n// %s is added by bench ingest.\nfunc %s() int { return %d }\n", name, name, i)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return out, fmt.Errorf("edit %s: %w", file, werr)
		}
		nt, err := next()
		if err != nil {
			return out, fmt.Errorf("edit %d: %w", i, err)
		}
		r := EditResult{Symbol: name, RunID: nt.Run, NotifySeconds: time.Since(start).Seconds(), NotificationStatus: nt.Status}
		for {
			res, err := ingest.Search(ctx, c.Pool(), ingest.SearchOptions{Query: name, Codebase: ingestCodebase, Mode: "symbol", Limit: 5})
			if err != nil {
				return out, fmt.Errorf("edit %d: search %s: %w", i, name, err)
			}
			if found(res, name) {
				r.SearchableSeconds = time.Since(start).Seconds()
				break
			}
			if time.Since(start) > ingestEditTimeout {
				return out, fmt.Errorf("edit %d: %s not found by symbol search within %s", i, name, ingestEditTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		if at, ok := submitted[nt.Run]; ok {
			r.SubmitSeconds = at.Sub(start).Seconds()
		}
		mu.Unlock()
		run := &IngestRun{RunID: nt.Run}
		if err := waitWorkflow(ctx, c, run); err != nil {
			return out, err
		}
		r.Nodes, r.RunSeconds = run.Nodes, run.WallSeconds
		out = append(out, r)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return out, fmt.Errorf("watch: %w", err)
	}
	return out, nil
}

func found(res []ingest.Result, name string) bool {
	for _, r := range res {
		if r.Symbol != nil && *r.Symbol == name {
			return true
		}
	}
	return false
}

// SearchStats are one mode's latencies over its query list.
type SearchStats struct {
	Mode    string  `json:"mode"`
	Set     string  `json:"set"`
	Queries int     `json:"queries"`
	Calls   int     `json:"calls"`
	Empty   int     `json:"empty"` // calls without a result
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	GoalP95 float64 `json:"goal_p95_ms,omitempty"`
}

// searchLatencies runs every query set once to warm the pool and the
// caches, then reps passes, round robin, and takes p50 and p95 per set.
func searchLatencies(ctx context.Context, pool *pgxpool.Pool, reps int) ([]SearchStats, error) {
	emb := embed.NewHashing(0) // the worker's embedder without QF_EMBED_URL
	var out []SearchStats
	for _, set := range querySets {
		st := SearchStats{Mode: set.mode, Set: set.name, Queries: len(set.queries), GoalP95: set.goalP95}
		var lat []time.Duration
		for pass := range reps + 1 {
			for _, q := range set.queries {
				start := time.Now()
				res, err := ingest.Search(ctx, pool, ingest.SearchOptions{Query: q, Codebase: ingestCodebase, Mode: set.mode, Embedder: emb})
				d := time.Since(start)
				if err != nil {
					return out, fmt.Errorf("%s %q: %w", set.mode, q, err)
				}
				if pass == 0 {
					continue // warm-up
				}
				lat = append(lat, d)
				if len(res) == 0 {
					st.Empty++
				}
			}
		}
		st.Calls = len(lat)
		st.P50ms, st.P95ms = percentileMS(lat, 0.50), percentileMS(lat, 0.95)
		out = append(out, st)
	}
	return out, nil
}

// percentileMS is the p-th quantile (nearest rank) in milliseconds.
func percentileMS(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

// IndexSize is what the ingestion tables take against what they index.
type IndexSize struct {
	TotalBytes      int64      `json:"total_bytes"`
	StoredFiles     int        `json:"stored_files"`
	StoredFileBytes int64      `json:"stored_file_bytes"`
	XStored         float64    `json:"x_stored"` // TotalBytes ÷ StoredFileBytes
	XTree           float64    `json:"x_tree"`   // TotalBytes ÷ the tree's bytes
	Relations       []Relation `json:"relations"`
}

// Relation is one table with its indexes and TOAST.
type Relation struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

// indexSize sums pg_total_relation_size over the ingestion tables of the
// schema (qf_code_*, qf_search_*, qf_embedding*, qf_ingest_*).
func indexSize(ctx context.Context, pool *pgxpool.Pool) (*IndexSize, error) {
	rows, err := pool.Query(ctx, `
SELECT c.relname, pg_total_relation_size(c.oid)
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace
  AND c.relkind IN ('r', 'p', 'm')
  AND (c.relname LIKE 'qf\_code\_%' OR c.relname LIKE 'qf\_search\_%'
       OR c.relname LIKE 'qf\_embedding%' OR c.relname LIKE 'qf\_ingest\_%')
ORDER BY 2 DESC, 1`)
	if err != nil {
		return nil, fmt.Errorf("list the ingestion tables: %w", err)
	}
	out := &IndexSize{}
	for rows.Next() {
		var r Relation
		if err := rows.Scan(&r.Name, &r.Bytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list the ingestion tables: %w", err)
		}
		out.Relations = append(out.Relations, r)
		out.TotalBytes += r.Bytes
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the ingestion tables: %w", err)
	}
	err = pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(size), 0)::bigint FROM qf_code_file WHERE skip_reason IS NULL`).
		Scan(&out.StoredFiles, &out.StoredFileBytes)
	if err != nil {
		return nil, fmt.Errorf("stored file bytes: %w", err)
	}
	return out, nil
}

// Anchor is the bare per-file work, in-process, without the engine.
type Anchor struct {
	WallSeconds float64 `json:"wall_s"`
	Goroutines  int     `json:"goroutines"`
	Files       int     `json:"files"` // kept by the scan
	Stored      int     `json:"stored"`
	Symbols     int     `json:"symbols"`
	Chunks      int     `json:"chunks"`
}

// bareWork is the anchor: scan.Scan, then on GOMAXPROCS goroutines, for
// every kept file, what the per-file steps compute (lang.Validate,
// lang.Detect, parse.Parse, parse.Symbols, chunk.Split, tokens.ForIndex of
// every chunk and symbol text, the hashing embedder over the chunks and
// embed.Quantize), with no database.
func bareWork(ctx context.Context, tree string) (*Anchor, error) {
	start := time.Now()
	res, err := scan.Scan(ctx, scan.Options{Root: tree})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", tree, err)
	}
	a := &Anchor{Goroutines: runtime.GOMAXPROCS(0), Files: len(res.Files)}
	emb := embed.NewHashing(0)
	paths := make(chan string)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range a.Goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stored, symbols, chunks int
			for p := range paths {
				s, c, ok, err := bareFile(ctx, emb, res.Root, p)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					continue
				}
				if ok {
					stored++
					symbols += s
					chunks += c
				}
			}
			mu.Lock()
			a.Stored += stored
			a.Symbols += symbols
			a.Chunks += chunks
			mu.Unlock()
		}()
	}
	for _, f := range res.Files {
		paths <- f.Path
	}
	close(paths)
	wg.Wait()
	a.WallSeconds = time.Since(start).Seconds()
	return a, firstErr
}

// bareFile is one file's work; ok is false for a file the checks skip.
func bareFile(ctx context.Context, emb embed.Embedder, root, rel string) (symbols, chunks int, ok bool, err error) {
	b, err := os.ReadFile(root + "/" + rel)
	if err != nil {
		return 0, 0, false, fmt.Errorf("read %s: %w", rel, err)
	}
	if lang.Validate(rel, b) != "" {
		return 0, 0, false, nil
	}
	language := lang.Detect(rel, b)
	o, err := parse.Parse(language, b)
	if err != nil || o == nil {
		o = &parse.Outline{Language: language}
	}
	var syms []parse.Symbol
	if len(o.Decls) > 0 {
		syms = parse.Symbols(o, b)
	}
	spans := make([]chunk.Span, len(syms))
	for i, s := range syms {
		spans[i] = chunk.Span{Name: s.Name, Kind: s.Kind, StartLine: s.StartLine, EndLine: s.EndLine}
		_ = tokens.ForIndex(s.Name + " " + s.Signature + " " + s.Doc)
	}
	cs := chunk.Split(b, spans)
	texts := make([]string, len(cs))
	for i, c := range cs {
		texts[i] = c.Content
		_ = tokens.ForIndex(c.Content)
	}
	for len(texts) > 0 {
		batch := texts[:min(64, len(texts))]
		texts = texts[len(batch):]
		vecs, err := emb.Embed(ctx, batch)
		if err != nil {
			return 0, 0, false, fmt.Errorf("embed %s: %w", rel, err)
		}
		for _, v := range vecs {
			_ = embed.Quantize(v)
		}
	}
	return len(syms), len(cs), true, nil
}
