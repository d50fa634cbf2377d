package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/dag"
	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
	"github.com/quantumflow/quantumflow/internal/ingest/scan"
	"github.com/quantumflow/quantumflow/internal/ingest/store"
)

// Node ids of the per-file steps, as docs/SPEC.md fixes them.
const (
	stepFileDetection        = "file_detection"
	stepFileValidation       = "file_validation"
	stepLanguageDetection    = "language_detection"
	stepParsing              = "parsing"
	stepSymbolExtraction     = "symbol_extraction"
	stepImportExtraction     = "import_extraction"
	stepStorage              = "storage"
	stepEmbeddingGeneration  = "embedding_generation"
	stepRelationshipAnalysis = "relationship_analysis"
	stepVectorIndexing       = "vector_indexing"
	stepFulltextIndexing     = "fulltext_indexing"
)

// fileChange is a file the run ingests.
type fileChange struct {
	Path   string
	Hash   [32]byte
	Change string // store.ChangeAdded, ChangeModified or ChangeRenamed
	From   string // the old path of a rename
}

// plan is what a run does, from comparing the scan with the stored files.
type plan struct {
	Files     []fileChange     // new, changed and renamed files, by path
	Removed   []string         // gone files that held content, by path (renames' old paths excluded)
	Skips     []store.ScanSkip // the scan's skips
	GoneSkips []string         // content-less rows (earlier skips) whose path is gone
	Counts    ingest.FileCounts
}

// classify compares a scan with the codebase's stored files. A file whose
// hash equals the stored one is unchanged and costs nothing. A new file
// whose content equals that of a gone file is a rename of it (one to one,
// in path order): it is stored under its new path with history "renamed",
// and the old path is removed in the same storage transaction instead of by
// a removal node. Counts: a rename counts as changed; a file stored before
// only as a skip (never ingested) counts as new when it can be read now.
func classify(res *scan.Result, known map[string]store.KnownFile) *plan {
	p := &plan{}
	seen := make(map[string]bool, len(res.Files)+len(res.Skipped))
	var fresh []scan.File
	for _, f := range res.Files {
		seen[f.Path] = true
		k, ok := known[f.Path]
		switch {
		case ok && bytes.Equal(k.Hash, f.Hash[:]):
			p.Counts.Unchanged++
		case ok && k.Hash != nil && k.SkipReason == "":
			p.Files = append(p.Files, fileChange{Path: f.Path, Hash: f.Hash, Change: store.ChangeModified})
			p.Counts.Changed++
		default:
			fresh = append(fresh, f)
		}
	}
	for _, s := range res.Skipped {
		seen[s.Path] = true
		p.Skips = append(p.Skips, store.ScanSkip{Path: s.Path, Reason: s.Reason})
	}
	p.Counts.Skipped = len(res.Skipped)

	// Gone paths: removals (and rename sources) or content-less rows.
	byHash := map[[32]byte][]string{}
	var gone []string
	for path, k := range known {
		if seen[path] {
			continue
		}
		if k.Hash == nil {
			p.GoneSkips = append(p.GoneSkips, path)
			continue
		}
		gone = append(gone, path)
		if k.SkipReason == "" && len(k.Hash) == sha256.Size {
			byHash[[32]byte(k.Hash)] = append(byHash[[32]byte(k.Hash)], path)
		}
	}
	sort.Strings(gone)
	sort.Strings(p.GoneSkips)
	for h := range byHash {
		sort.Strings(byHash[h])
	}
	renamedFrom := map[string]bool{}
	for _, f := range fresh { // in path order, as the scan lists them
		if olds := byHash[f.Hash]; len(olds) > 0 {
			byHash[f.Hash] = olds[1:]
			renamedFrom[olds[0]] = true
			p.Files = append(p.Files, fileChange{Path: f.Path, Hash: f.Hash, Change: store.ChangeRenamed, From: olds[0]})
			p.Counts.Changed++
			continue
		}
		p.Files = append(p.Files, fileChange{Path: f.Path, Hash: f.Hash, Change: store.ChangeAdded})
		p.Counts.New++
	}
	for _, path := range gone {
		if !renamedFrom[path] {
			p.Removed = append(p.Removed, path)
		}
	}
	p.Counts.Removed = len(p.Removed)
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Path < p.Files[j].Path })
	return p
}

// nodeID is a readable, unique node id for path: the path with every
// character outside [a-zA-Z0-9_-] replaced by '_', cut to its last 48
// characters, then '-' and the first 8 hex digits of the path's SHA-256.
func nodeID(prefix, path string) string {
	b := []byte(path)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 48 {
		b = b[len(b)-48:]
	}
	sum := sha256.Sum256([]byte(path))
	return prefix + string(b) + "-" + hex.EncodeToString(sum[:4])
}

// fileSteps are the per-file steps and their deps (docs/INGESTION.md).
var fileSteps = []struct {
	id, kind string
	deps     []string
}{
	{stepFileDetection, KindFileDetection, nil},
	{stepFileValidation, KindFileValidation, []string{stepFileDetection}},
	{stepLanguageDetection, KindLanguageDetection, []string{stepFileValidation}},
	{stepParsing, KindParsing, []string{stepLanguageDetection}},
	{stepSymbolExtraction, KindSymbolExtraction, []string{stepParsing}},
	{stepImportExtraction, KindImportExtraction, []string{stepParsing}},
	{stepStorage, KindStorage, []string{stepSymbolExtraction, stepImportExtraction}},
	{stepEmbeddingGeneration, KindEmbeddingGeneration, []string{stepStorage}},
	{stepRelationshipAnalysis, KindRelationshipAnalysis, []string{stepStorage}},
	{stepVectorIndexing, KindVectorIndexing, []string{stepEmbeddingGeneration}},
	{stepFulltextIndexing, KindFulltextIndexing, []string{stepStorage}},
}

// expansion is the scan's sub-DAG: a group of the per-file steps per file
// of the plan and a removal per removed file. Only file_detection and the
// removal carry args; the other steps get what they need from their deps'
// outputs.
func expansion(p *plan) ([]dag.Node, error) {
	nodes := make([]dag.Node, 0, len(p.Files)+len(p.Removed))
	for _, f := range p.Files {
		args, err := json.Marshal(FileDetectionArgs{Path: f.Path, Hash: hex.EncodeToString(f.Hash[:]), Change: f.Change, From: f.From})
		if err != nil {
			return nil, err
		}
		members := make([]dag.Node, len(fileSteps))
		for i, s := range fileSteps {
			members[i] = dag.Node{ID: s.id, Kind: s.kind, Deps: s.deps}
		}
		members[0].Args = args
		nodes = append(nodes, dag.Node{ID: nodeID("", f.Path), Nodes: members})
	}
	for _, path := range p.Removed {
		args, err := json.Marshal(FileRemovalArgs{Path: path})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, dag.Node{ID: nodeID("rm-", path), Kind: KindFileRemoval, Args: args})
	}
	return nodes, nil
}

// scan walks the root, compares it with the stored files, records the
// scan's skips, expands into the run's per-file sub-DAG and outputs the
// counts. A root that is gone or not a directory cancels the node (no
// retry can help); other errors are retried.
func (s *steps) scan(ctx context.Context, job *river.Job[ScanArgs]) error {
	in, runID, err := runInput(ctx)
	if err != nil {
		return err
	}
	res, err := scan.Scan(ctx, scan.Options{Root: in.Root, Excludes: in.Excludes, MaxFileBytes: s.cfg.MaxFileBytes})
	if errors.Is(err, scan.ErrNotExist) || errors.Is(err, scan.ErrNotDir) {
		return river.JobCancel(fmt.Errorf("scan %s: %w", in.Root, err))
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", in.Root, err)
	}
	known, err := store.KnownFiles(ctx, s.cfg.Pool, in.CodebaseID)
	if err != nil {
		return fmt.Errorf("scan %s: %w", in.Root, err)
	}
	p := classify(res, known)
	if len(p.Skips) > 0 || len(p.GoneSkips) > 0 {
		err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
			return store.RecordScanSkipsTx(ctx, tx, in.CodebaseID, runID, p.Skips, p.GoneSkips)
		})
		if err != nil {
			return fmt.Errorf("scan %s: %w", in.Root, err)
		}
	}
	nodes, err := expansion(p)
	if err != nil {
		return fmt.Errorf("scan %s: %w", in.Root, err)
	}
	if len(nodes) > 0 {
		defaults := dag.Defaults{Settings: dag.Settings{Priority: in.Priority, MaxAttempts: in.MaxAttempts}}
		if defaults.MaxAttempts == 0 {
			defaults.MaxAttempts = s.cfg.MaxAttempts
		}
		if err := flow.Expand(ctx, defaults, nodes, false); err != nil {
			return fmt.Errorf("scan %s: %w", in.Root, err)
		}
	}
	out := ingest.ScanOutput{Files: p.Counts}
	for i, sk := range res.Skipped {
		if i == ingest.MaxSkippedListed {
			break
		}
		out.Skipped = append(out.Skipped, ingest.SkippedFile{Path: sk.Path, Reason: sk.Reason})
	}
	return flow.SetOutput(ctx, out)
}

// runInput reads the run's settings (the workflow input) and its id.
func runInput(ctx context.Context) (*ingest.RunInput, string, error) {
	info, ok := flow.NodeFromContext(ctx)
	if !ok {
		return nil, "", river.JobCancel(errors.New("ingest steps run only as nodes of an ingest workflow"))
	}
	raw, err := flow.Input(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%s: input: %w", info.Path, err)
	}
	var in ingest.RunInput
	if err := json.Unmarshal(raw, &in); err != nil || in.Root == "" || in.CodebaseID == 0 {
		return nil, "", river.JobCancel(fmt.Errorf("%s: the workflow input is not an ingest run's (ingest.RunInput): %s", info.Path, strings.TrimSpace(string(raw))))
	}
	return &in, info.WorkflowID, nil
}
