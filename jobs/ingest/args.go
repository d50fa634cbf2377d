package ingest

import (
	"context"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/ingest"
)

// stepWorker works the jobs of one kind with run, holding one of gate's
// slots while it does.
type stepWorker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	run  func(ctx context.Context, job *river.Job[A]) error
	gate chan struct{}
}

// Timeout is the node's timeout (flow.JobTimeout), so River's deadline and
// rescuer follow it.
func (w *stepWorker[A]) Timeout(job *river.Job[A]) time.Duration { return flow.JobTimeout(job.JobRow) }

// Work runs the step once it has a slot.
func (w *stepWorker[A]) Work(ctx context.Context, job *river.Job[A]) error {
	if w.gate != nil {
		select {
		case w.gate <- struct{}{}:
			defer func() { <-w.gate }()
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return w.run(ctx, job)
}

// ScanArgs are the args of the scan node (none: the run's settings are the
// workflow input, ingest.RunInput).
type ScanArgs struct{}

// Kind is ingest.KindScan.
func (ScanArgs) Kind() string { return ingest.KindScan }

// FileDetectionArgs are the args of a file's first step: the only per-file
// node that carries the file; every later step gets it from its deps'
// outputs.
type FileDetectionArgs struct {
	// Path is relative to the root, with / separators.
	Path string `json:"path"`
	// Hash is the SHA-256 (hex) the scan computed.
	Hash string `json:"hash"`
	// Change is "added", "modified" or "renamed".
	Change string `json:"change"`
	// From is the old path of a rename.
	From string `json:"from,omitempty"`
}

// Kind is ingest.file_detection.
func (FileDetectionArgs) Kind() string { return KindFileDetection }

// FileRemovalArgs are the args of a removal.
type FileRemovalArgs struct {
	Path string `json:"path"`
}

// Kind is ingest.file_removal.
func (FileRemovalArgs) Kind() string { return KindFileRemoval }

// The other steps take no args.
type (
	FileValidationArgs         struct{}
	LanguageDetectionArgs      struct{}
	ParsingArgs                struct{}
	SymbolExtractionArgs       struct{}
	ImportExtractionArgs       struct{}
	StorageArgs                struct{}
	EmbeddingGenerationArgs    struct{}
	RelationshipAnalysisArgs   struct{}
	VectorIndexingArgs         struct{}
	FulltextIndexingArgs       struct{}
	CodeGraphBuildingArgs      struct{}
	CompletionNotificationArgs struct{}
)

// Kind is ingest.file_validation.
func (FileValidationArgs) Kind() string { return KindFileValidation }

// Kind is ingest.language_detection.
func (LanguageDetectionArgs) Kind() string { return KindLanguageDetection }

// Kind is ingest.parsing.
func (ParsingArgs) Kind() string { return KindParsing }

// Kind is ingest.symbol_extraction.
func (SymbolExtractionArgs) Kind() string { return KindSymbolExtraction }

// Kind is ingest.import_extraction.
func (ImportExtractionArgs) Kind() string { return KindImportExtraction }

// Kind is ingest.storage.
func (StorageArgs) Kind() string { return KindStorage }

// Kind is ingest.embedding_generation.
func (EmbeddingGenerationArgs) Kind() string { return KindEmbeddingGeneration }

// Kind is ingest.relationship_analysis.
func (RelationshipAnalysisArgs) Kind() string { return KindRelationshipAnalysis }

// Kind is ingest.vector_indexing.
func (VectorIndexingArgs) Kind() string { return KindVectorIndexing }

// Kind is ingest.fulltext_indexing.
func (FulltextIndexingArgs) Kind() string { return KindFulltextIndexing }

// Kind is ingest.KindCodeGraphBuilding.
func (CodeGraphBuildingArgs) Kind() string { return ingest.KindCodeGraphBuilding }

// Kind is ingest.KindCompletionNotification.
func (CompletionNotificationArgs) Kind() string { return ingest.KindCompletionNotification }

// Kinds returns every ingestion kind, sorted: the kinds Register adds. A
// worker that registers them passes them in flow.WorkerConfig.Kinds.
func Kinds() []string {
	k := []string{
		ingest.KindScan, ingest.KindCodeGraphBuilding, ingest.KindCompletionNotification,
		KindFileDetection, KindFileValidation, KindLanguageDetection, KindParsing,
		KindSymbolExtraction, KindImportExtraction, KindStorage, KindEmbeddingGeneration,
		KindRelationshipAnalysis, KindVectorIndexing, KindFulltextIndexing, KindFileRemoval,
	}
	slices.Sort(k)
	return k
}
