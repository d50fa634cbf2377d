package embed

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func randomUnit(rng *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	normalize(v)
	return v
}

func cosine32(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestQuantize(t *testing.T) {
	t.Parallel()
	require.Equal(t, []byte{0, 127, 0x81, 64, 0xc0, 127, 0x81, 0}, Quantize([]float32{0, 1, -1, 0.5039, -0.5039, 2, -3, float32(math.NaN())}))
	require.Equal(t, []float32{0, 1, -1}, Dequantize([]byte{0, 127, 0x81}))
	require.Empty(t, Quantize(nil))
}

func TestCosine(t *testing.T) {
	t.Parallel()
	require.Zero(t, Cosine(nil, nil))
	require.Zero(t, Cosine([]byte{1, 2}, []byte{1}))
	require.Zero(t, Cosine([]byte{0, 0}, []byte{1, 2}))
	require.Zero(t, Dot([]byte{1, 2}, []byte{1}))
	a := Quantize([]float32{0.6, 0.8})
	require.InDelta(t, 1, Cosine(a, a), 1e-6)
	require.InDelta(t, -1, Cosine(a, Quantize([]float32{-0.6, -0.8})), 1e-6)
	require.InDelta(t, 0, Cosine(Quantize([]float32{1, 0}), Quantize([]float32{0, 1})), 1e-6)

	// On random unit vectors of every interesting length (the unrolled loop
	// and its tail), quantized cosine and Dot/127² track the float cosine.
	rng := rand.New(rand.NewPCG(1, 1))
	for _, dims := range []int{1, 3, 4, 7, 128, 255, 256, 1536} {
		for i := 0; i < 50; i++ {
			x, y := randomUnit(rng, dims), randomUnit(rng, dims)
			if i%2 == 0 { // correlated pairs too
				for k := range y {
					y[k] = x[k] + 0.3*y[k]
				}
				normalize(y)
			}
			qx, qy := Quantize(x), Quantize(y)
			want := cosine32(x, y)
			tol := 0.02
			if dims < 8 {
				tol = 0.05
			}
			require.InDelta(t, want, Cosine(qx, qy), tol, "dims %d", dims)
			require.InDelta(t, want, float64(Dot(qx, qy))/(127*127), tol+0.02, "dims %d", dims)
			exact, _, _ := dotNorms(qx, qy)
			require.Equal(t, exact, Dot(qx, qy))
		}
	}
}

// counting is an Embedder that records what it was asked to embed.
type counting struct {
	Embedder
	calls [][]string
	err   error
}

func (c *counting) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls = append(c.calls, texts)
	if c.err != nil {
		return nil, c.err
	}
	return c.Embedder.Embed(ctx, texts)
}

func TestEmbedCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewHashing(64)
	texts := []string{"alpha beta", "gamma delta", "alpha beta", "epsilon"}
	hashes := make([][32]byte, len(texts))
	for i, s := range texts {
		hashes[i] = sha256.Sum256([]byte(s))
	}
	cachedVec := Quantize(h.Vector("gamma delta"))
	lookup := func(_ context.Context, hs [][32]byte) (map[[32]byte][]byte, error) {
		require.Len(t, hs, len(texts))
		return map[[32]byte][]byte{
			hashes[1]: cachedVec,
			hashes[3]: {1, 2, 3}, // wrong length: a miss
		}, nil
	}
	e := &counting{Embedder: h}
	vecs, fresh, err := EmbedCached(ctx, e, texts, hashes, lookup)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"alpha beta", "epsilon"}}, e.calls, "only the misses, each hash once")
	require.Equal(t, []int{0, 3}, fresh)
	require.Len(t, vecs, 4)
	require.Equal(t, Quantize(h.Vector("alpha beta")), vecs[0])
	require.Equal(t, cachedVec, vecs[1])
	require.Equal(t, vecs[0], vecs[2])
	require.Equal(t, Quantize(h.Vector("epsilon")), vecs[3])

	// All cached: no call.
	e.calls = nil
	all := func(context.Context, [][32]byte) (map[[32]byte][]byte, error) {
		return map[[32]byte][]byte{hashes[0]: vecs[0], hashes[1]: vecs[1], hashes[3]: vecs[3]}, nil
	}
	_, fresh, err = EmbedCached(ctx, e, texts, hashes, all)
	require.NoError(t, err)
	require.Empty(t, fresh)
	require.Empty(t, e.calls)

	// Errors.
	_, _, err = EmbedCached(ctx, e, texts, hashes[:1], lookup)
	require.Error(t, err)
	boom := errors.New("boom")
	_, _, err = EmbedCached(ctx, e, texts, hashes, func(context.Context, [][32]byte) (map[[32]byte][]byte, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	e.err = boom
	_, _, err = EmbedCached(ctx, e, texts, hashes, lookup)
	require.ErrorIs(t, err, boom)
}

// BenchmarkCosine100k ranks 100 000 stored vectors of DefaultDims against
// one query, as semantic search does per query; ns/vector is the cost of
// one comparison.
func BenchmarkCosine100k(b *testing.B) {
	benchmarkRank(b, func(q, v []byte) float32 { return Cosine(q, v) })
}

// BenchmarkDot100k is BenchmarkCosine100k with Dot, the cheaper score.
func BenchmarkDot100k(b *testing.B) {
	benchmarkRank(b, func(q, v []byte) float32 { return float32(Dot(q, v)) })
}

func benchmarkRank(b *testing.B, score func(q, v []byte) float32) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(2, 2))
	// One backing array, as vectors scanned from the database would be.
	store := make([]byte, n*DefaultDims)
	for i := 0; i < n; i++ {
		copy(store[i*DefaultDims:], Quantize(randomUnit(rng, DefaultDims)))
	}
	q := Quantize(randomUnit(rng, DefaultDims))
	b.ResetTimer()
	var best float32
	for b.Loop() {
		for i := 0; i < n; i++ {
			if s := score(q, store[i*DefaultDims:(i+1)*DefaultDims]); s > best {
				best = s
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/vector")
}
