// Package embed turns chunks of code into vectors: a model-free local
// embedder (identifier sub-tokens, feature hashing) by default, or an
// OpenAI-compatible endpoint by configuration. Vectors are stored int8
// quantized and compared by cosine similarity.
//
// FromEnv picks the embedder from the environment: NewHashing when
// QF_EMBED_URL is empty, NewOpenAI otherwise.
package embed

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Embedder computes one vector per text.
type Embedder interface {
	// Model names the model; vectors of different models are not comparable.
	Model() string
	// Dims is the vector length.
	Dims() int
	// Embed returns len(texts) vectors of Dims() each, L2-normalised.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Quantize packs a normalised vector into int8s (one byte per dimension):
// each component times 127, rounded and clamped to [-127, 127], stored as
// the byte of an int8. NaN becomes 0.
func Quantize(v []float32) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		q := math.Round(float64(x) * 127)
		switch {
		case q > 127:
			q = 127
		case q < -127:
			q = -127
		case q != q: // NaN
			q = 0
		}
		out[i] = byte(int8(q))
	}
	return out
}

// Dequantize is the inverse of Quantize up to rounding: each byte as an
// int8 divided by 127. The result is not renormalised.
func Dequantize(b []byte) []float32 {
	out := make([]float32, len(b))
	for i, x := range b {
		out[i] = float32(int8(x)) / 127
	}
	return out
}

// Cosine is the cosine similarity of two quantized vectors of equal length,
// in [-1, 1]. It is 0 when the lengths differ or either vector is zero.
func Cosine(a, b []byte) float32 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	dot, na, nb := dotNorms(a, b)
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(float64(dot) / math.Sqrt(float64(na)*float64(nb)))
}

// Dot is the dot product of two quantized vectors as int8s, 0 when their
// lengths differ. For vectors that Quantize made from unit vectors,
// Dot(a, b)/(127*127) approximates their cosine within about 1% and costs a
// third of Cosine, which makes it the score for ranking many stored vectors
// against one query.
func Dot(a, b []byte) int {
	if len(a) != len(b) {
		return 0
	}
	// int32 sums cannot overflow: |a[i]·b[i]| ≤ 127², and vectors are at
	// most 1<<16 long (NewOpenAI's bound), so each sum stays below 2^31.
	var s0, s1 int32
	for len(a) >= 8 && len(b) >= 8 {
		x, y := a[:8:8], b[:8:8] // bounds checked once per 8 bytes
		s0 += int32(int8(x[0]))*int32(int8(y[0])) + int32(int8(x[1]))*int32(int8(y[1])) +
			int32(int8(x[2]))*int32(int8(y[2])) + int32(int8(x[3]))*int32(int8(y[3]))
		s1 += int32(int8(x[4]))*int32(int8(y[4])) + int32(int8(x[5]))*int32(int8(y[5])) +
			int32(int8(x[6]))*int32(int8(y[6])) + int32(int8(x[7]))*int32(int8(y[7]))
		a, b = a[8:], b[8:]
	}
	for i := range a {
		s0 += int32(int8(a[i])) * int32(int8(b[i]))
	}
	return int(s0) + int(s1)
}

func dotNorms(a, b []byte) (dot, na, nb int) {
	var d, p, q int32
	for len(a) >= 4 && len(b) >= 4 {
		x, y := a[:4:4], b[:4:4]
		x0, x1, x2, x3 := int32(int8(x[0])), int32(int8(x[1])), int32(int8(x[2])), int32(int8(x[3]))
		y0, y1, y2, y3 := int32(int8(y[0])), int32(int8(y[1])), int32(int8(y[2])), int32(int8(y[3]))
		d += x0*y0 + x1*y1 + x2*y2 + x3*y3
		p += x0*x0 + x1*x1 + x2*x2 + x3*x3
		q += y0*y0 + y1*y1 + y2*y2 + y3*y3
		a, b = a[4:], b[4:]
	}
	for i := range a {
		x, y := int32(int8(a[i])), int32(int8(b[i]))
		d += x * y
		p += x * x
		q += y * y
	}
	return int(d), int(p), int(q)
}

// normalize scales v to unit L2 length in place; a zero vector stays zero.
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(float64(x) * float64(x)) // no fused multiply-add: the same sum on every machine
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// Lookup returns the cached quantized vectors it has for hashes (chunk
// content hashes), keyed by hash; missing hashes are simply absent.
type Lookup func(ctx context.Context, hashes [][32]byte) (map[[32]byte][]byte, error)

// EmbedCached returns one quantized vector per text, taking the vectors
// lookup finds for their hashes and embedding only the misses with e, each
// distinct missing hash once. fresh lists the indexes of the texts whose
// vectors e computed (the first text of each missed hash), for the caller
// to store in its cache. A cached vector whose length is not e.Dims() (when
// e knows its dims) counts as a miss. texts and hashes must have the same
// length; errors from lookup and e are returned wrapped.
func EmbedCached(ctx context.Context, e Embedder, texts []string, hashes [][32]byte, lookup Lookup) (vecs [][]byte, fresh []int, err error) {
	if len(texts) != len(hashes) {
		return nil, nil, fmt.Errorf("embed: %d texts but %d hashes", len(texts), len(hashes))
	}
	if len(texts) == 0 {
		return nil, nil, nil
	}
	cached, err := lookup(ctx, hashes)
	if err != nil {
		return nil, nil, fmt.Errorf("embedding cache lookup: %w", err)
	}
	dims := e.Dims()
	vecs = make([][]byte, len(texts))
	first := make(map[[32]byte]int) // missed hash → first index
	var missTexts []string
	for i, h := range hashes {
		if v, ok := cached[h]; ok && len(v) > 0 && (dims == 0 || len(v) == dims) {
			vecs[i] = v
			continue
		}
		if _, ok := first[h]; ok {
			continue
		}
		first[h] = i
		fresh = append(fresh, i)
		missTexts = append(missTexts, texts[i])
	}
	if len(fresh) == 0 {
		return vecs, nil, nil
	}
	got, err := e.Embed(ctx, missTexts)
	if err != nil {
		return nil, nil, err
	}
	if len(got) != len(fresh) {
		return nil, nil, errors.New("embed: embedder returned a wrong number of vectors")
	}
	for k, i := range fresh {
		vecs[i] = Quantize(got[k])
	}
	for i, h := range hashes {
		if vecs[i] == nil {
			vecs[i] = vecs[first[h]]
		}
	}
	return vecs, fresh, nil
}
