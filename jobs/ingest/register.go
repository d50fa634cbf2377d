// Package ingest holds the River workers of code ingestion's thirteen step
// kinds (docs/INGESTION.md): the scan, which expands a run into one group
// of eleven per-file steps per new or changed file and a removal per gone
// file, the per-file steps, and the run-level code_graph_building and
// completion_notification. Register adds them to a River worker set; the
// standard worker binary does so unless --ingest=false.
//
// Steps that only compute (file_detection to import_extraction) return
// their result as the node's output and let flow's middleware complete
// them in a batch. Steps that write use idempotent statements: storage,
// file_removal and completion_notification complete their node with
// flow.CompleteNodeTx in the transaction of their writes, so they happen
// once; the indexing steps and code_graph_building write with statements
// that give the same result when repeated.
package ingest

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/quantumflow/quantumflow/internal/ingest/embed"
)

// Config configures the ingestion workers.
type Config struct {
	// Pool is the database the steps write to: the worker's own pool (the
	// schema of the workflows). Required.
	Pool *pgxpool.Pool
	// Embedder computes the chunks' vectors. Required.
	Embedder embed.Embedder
	// MaxAttempts is the max_attempts of the per-file steps of runs whose
	// Options did not set one. 0 means 3.
	MaxAttempts int
	// MaxFileBytes is the scan's size cap; 0 means the scan's default.
	MaxFileBytes int64
	// MaxConcurrent bounds the steps this process runs at once, whatever
	// its queues allow: every step uses the database, and a worker whose
	// jobs hold all of its pool's connections cannot send its heartbeat
	// (measured: workers declared dead mid-run). 0 means the pool's
	// MaxConns less 4 (River's listener and fetches, the heartbeat, the
	// completer), at least 2.
	MaxConcurrent int
}

// Kinds of the per-file steps and the removal.
const (
	KindFileDetection        = "ingest.file_detection"
	KindFileValidation       = "ingest.file_validation"
	KindLanguageDetection    = "ingest.language_detection"
	KindParsing              = "ingest.parsing"
	KindSymbolExtraction     = "ingest.symbol_extraction"
	KindImportExtraction     = "ingest.import_extraction"
	KindStorage              = "ingest.storage"
	KindEmbeddingGeneration  = "ingest.embedding_generation"
	KindRelationshipAnalysis = "ingest.relationship_analysis"
	KindVectorIndexing       = "ingest.vector_indexing"
	KindFulltextIndexing     = "ingest.fulltext_indexing"
	KindFileRemoval          = "ingest.file_removal"
)

// ConfigFromEnv is the configuration the environment gives: the embedder
// of QF_EMBED_URL, QF_EMBED_MODEL, QF_EMBED_API_KEY and QF_EMBED_DIMS (the
// local hashing embedder when QF_EMBED_URL is empty), and
// QF_INGEST_MAX_ATTEMPTS; the caller sets Pool. Errors name the variable, never the key's value.
func ConfigFromEnv() (Config, error) {
	var cfg Config
	emb, err := embed.FromEnv()
	if err != nil {
		return cfg, fmt.Errorf("ingest: embedder: %w", err)
	}
	cfg.Embedder = emb
	if v := os.Getenv("QF_INGEST_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 32767 {
			return cfg, fmt.Errorf("ingest: QF_INGEST_MAX_ATTEMPTS=%q: want a whole number from 1 to 32767", v)
		}
		cfg.MaxAttempts = n
	}
	return cfg, nil
}

// Register adds the workers of every ingestion kind to workers. It returns
// an error when cfg has no embedder or a kind is already registered.
func Register(workers *river.Workers, cfg Config) error {
	if cfg.Pool == nil {
		return errors.New("register ingestion kinds: Config.Pool is required")
	}
	if cfg.Embedder == nil {
		return errors.New("register ingestion kinds: Config.Embedder is required")
	}
	s := &steps{cfg: cfg}
	n := cfg.MaxConcurrent
	if n <= 0 {
		n = max(2, int(cfg.Pool.Config().MaxConns)-4)
	}
	gate := make(chan struct{}, n)
	for _, add := range []func() error{
		func() error { return river.AddWorkerSafely(workers, &stepWorker[ScanArgs]{run: s.scan, gate: gate}) },
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[FileDetectionArgs]{run: s.fileDetection, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[FileValidationArgs]{run: s.fileValidation, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[LanguageDetectionArgs]{run: s.languageDetection, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[ParsingArgs]{run: s.parsing, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[SymbolExtractionArgs]{run: s.symbolExtraction, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[ImportExtractionArgs]{run: s.importExtraction, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[StorageArgs]{run: s.storage, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[EmbeddingGenerationArgs]{run: s.embeddingGeneration, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[RelationshipAnalysisArgs]{run: s.relationshipAnalysis, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[VectorIndexingArgs]{run: s.vectorIndexing, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[FulltextIndexingArgs]{run: s.fulltextIndexing, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[FileRemovalArgs]{run: s.fileRemoval, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[CodeGraphBuildingArgs]{run: s.codeGraphBuilding, gate: gate})
		},
		func() error {
			return river.AddWorkerSafely(workers, &stepWorker[CompletionNotificationArgs]{run: s.completionNotification, gate: gate})
		},
	} {
		if err := add(); err != nil {
			return fmt.Errorf("register ingestion kinds: %w", err)
		}
	}
	return nil
}
