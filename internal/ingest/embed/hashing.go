package embed

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/quantumflow/quantumflow/internal/ingest/tokens"
)

// DefaultDims is the length of Hashing vectors when none is configured.
// 256 dimensions cost 256 bytes per chunk quantized; 128 measured worse in
// TestRetrievalSanity (more collisions between unrelated identifiers) for
// a ranking cost that is small either way (BenchmarkDot).
const DefaultDims = 256

// MaxDims bounds the configurable vector length.
const MaxDims = 8192

// Feature weights of the Hashing embedder, applied before sublinear term
// frequency weighting and L2 normalisation.
const (
	weightToken   = 1.0  // a sub-token: parse, http, request
	weightJoined  = 0.7  // a word of several sub-tokens, joined: parsehttprequest
	weightBigram  = 0.7  // two consecutive sub-tokens: parse+http
	weightTrigram = 0.15 // a character trigram of a sub-token of 6 letters or more
	minTrigramLen = 6
)

// Hashing is the model-free local embedder: it needs no weights and no
// network, and two processes on any machines give the same vector for the
// same text.
//
// The features of a text are its identifier sub-tokens (tokens.Walk:
// parseHTTPRequest → parse, http, request; a plural "s" dropped, see stem),
// each multi-part word joined (parsehttprequest), the bigrams of
// consecutive sub-tokens, and the character trigrams of sub-tokens of six
// letters or more (so parser and parsers, handler and handle share
// features). Sub-tokens of one character and a short
// list of English stop words and keywords common to most languages (the,
// return, func, if, ...) are dropped. Each feature is hashed with 64-bit
// FNV-1a and a fixed mixing step into one of Dims dimensions with a sign
// from the hash (signed feature hashing); a feature seen tf times weighs
// w·sqrt(tf); the vector is L2-normalised. A text without features gives
// the zero vector, whose cosine with anything is 0.
//
// A Hashing is safe for concurrent use.
type Hashing struct {
	dims int
}

// NewHashing returns the local embedder with vectors of dims dimensions;
// dims <= 0 means DefaultDims and dims above MaxDims means MaxDims.
func NewHashing(dims int) *Hashing {
	switch {
	case dims <= 0:
		dims = DefaultDims
	case dims > MaxDims:
		dims = MaxDims
	}
	return &Hashing{dims: dims}
}

// Model is "qf-hash-v1-" followed by the dims, e.g. "qf-hash-v1-256". The
// version changes whenever the features or the hash change, so cached
// vectors of an older version are never mixed with new ones.
func (h *Hashing) Model() string { return fmt.Sprintf("qf-hash-v1-%d", h.dims) }

// Dims is the vector length.
func (h *Hashing) Dims() int { return h.dims }

// Embed returns one vector per text. It fails only when ctx is done.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	f := newFeaturizer()
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = f.vector(t, h.dims)
	}
	return out, nil
}

// Vector returns the vector of one text.
func (h *Hashing) Vector(text string) []float32 {
	return newFeaturizer().vector(text, h.dims)
}

// stopWords carry no meaning for code search.
var stopWords = func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, w := range strings.Fields(`
		an and are as at be by for from has have in is it its of on or that the this to was were will with
		if else elif then do done end return func function def fn let var const val new nil null none true false
		self import package use using include require module pub public private static void`) {
		m[w] = struct{}{}
	}
	return m
}()

// Feature kinds, kept in the low two bits of a feature's hash.
const (
	kindToken = iota
	kindJoined
	kindBigram
	kindTrigram
)

var kindWeight = [4]float32{weightToken, weightJoined, weightBigram, weightTrigram}

// featurizer holds the buffers of one goroutine: an open-addressing table
// counting the occurrences of each feature (hash, kind in the low bits).
// Its slot order depends only on the features, never on a random seed, so
// summing the table in slot order gives the same floats in every process.
//
// Every text starts from a table of initialSlots slots, so its layout, and
// with it the order of the sums, depends on that text alone.
type featurizer struct {
	keys   []uint64 // 0 is an empty slot
	counts []int32
	used   int
	buf    []byte
	// The initial table, kept for reuse.
	initKeys   []uint64
	initCounts []int32
}

const initialSlots = 2048

func newFeaturizer() *featurizer {
	f := &featurizer{
		initKeys:   make([]uint64, initialSlots),
		initCounts: make([]int32, initialSlots),
		buf:        make([]byte, 0, 64),
	}
	f.keys, f.counts = f.initKeys, f.initCounts
	return f
}

func (f *featurizer) reset() {
	f.keys, f.counts = f.initKeys, f.initCounts
	clear(f.keys)
	f.used = 0
}

func (f *featurizer) slot(k uint64) int {
	mask := uint64(len(f.keys) - 1)
	i := (k * 0x9e3779b97f4a7c15) >> 32 & mask
	for f.keys[i] != 0 && f.keys[i] != k {
		i = (i + 1) & mask
	}
	return int(i)
}

func (f *featurizer) add(h uint64, kind uint64) {
	k := h&^3 | kind
	if k>>2 == 0 {
		k |= 4 // keep 0 for empty slots
	}
	i := f.slot(k)
	if f.keys[i] == 0 {
		if 2*(f.used+1) > len(f.keys) {
			f.grow()
			i = f.slot(k)
		}
		f.keys[i] = k
		f.counts[i] = 0
		f.used++
	}
	f.counts[i]++
}

func (f *featurizer) grow() {
	keys, counts := f.keys, f.counts
	f.keys, f.counts = make([]uint64, 2*len(keys)), make([]int32, 2*len(keys))
	for j, k := range keys {
		if k != 0 {
			i := f.slot(k)
			f.keys[i], f.counts[i] = k, counts[j]
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix is a 64-bit finaliser, so that the low bits (the dimension) and the
// top bit (the sign) of a hash are independent.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// lower writes p lowercased into f.buf.
func (f *featurizer) lower(p string) []byte {
	f.buf = f.buf[:0]
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= utf8.RuneSelf {
			f.buf = append(f.buf[:0], strings.ToLower(p)...)
			return f.buf
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		f.buf = append(f.buf, c)
	}
	return f.buf
}

func (f *featurizer) vector(text string, dims int) []float32 {
	f.reset()
	var prev uint64 // hash of the previous kept sub-token, 0 for none
	tokens.Walk(text, func(word string, parts []string) {
		joined := fnv(fnvOffset, []byte{'t'}) // hashed like one sub-token, so the query parsehttprequest matches
		kept := 0
		for _, p := range parts {
			lp := f.lower(p)
			joined = fnv(joined, lp)
			if utf8.RuneCount(lp) < 2 {
				continue
			}
			if _, stop := stopWords[string(lp)]; stop {
				continue
			}
			kept++
			h := fnv(fnv(fnvOffset, []byte{'t'}), stem(lp))
			f.add(h, kindToken)
			if prev != 0 {
				f.add(fnv(prev^0x9e3779b97f4a7c15, []byte{'b'})^h, kindBigram)
			}
			prev = h
			if len(lp) >= minTrigramLen {
				f.trigrams(lp)
			}
		}
		if len(parts) > 1 && kept > 0 {
			f.add(joined, kindJoined)
		}
	})
	v := make([]float32, dims)
	for i, k := range f.keys {
		if k == 0 {
			continue
		}
		m := mix(k &^ 3) // the kind changes the weight, not the dimension
		// Sublinear term frequency: sqrt(tf), which IEEE 754 rounds
		// exactly on every machine (math.Log has per-architecture code).
		// The explicit float32 conversion forbids a fused multiply-add.
		w := float32(kindWeight[k&3] * float32(math.Sqrt(float64(f.counts[i]))))
		if m>>63 == 1 {
			w = -w
		}
		v[m%uint64(dims)] += w
	}
	normalize(v)
	return v
}

// stem drops a plural "s" from sub-tokens of four letters or more
// (requests → request, handlers → handler), but not from "ss", "us" or "is" endings
// (class, status, analysis). It is the only normalisation beyond
// lowercasing: light, and the same for queries and chunks.
func stem(lp []byte) []byte {
	n := len(lp)
	if n < 4 || lp[n-1] != 's' {
		return lp
	}
	switch lp[n-2] {
	case 's', 'u', 'i':
		return lp
	}
	return lp[:n-1]
}

// trigrams adds the character trigrams of lp, with ^ and $ marking its
// ends; lp is ASCII or UTF-8, cut by bytes (a trigram inside a multi-byte
// rune is still a deterministic feature).
func (f *featurizer) trigrams(lp []byte) {
	var tri [3]byte
	n := len(lp)
	for i := -1; i+2 <= n; i++ {
		for k := 0; k < 3; k++ {
			switch j := i + k; {
			case j < 0:
				tri[k] = '^'
			case j >= n:
				tri[k] = '$'
			default:
				tri[k] = lp[j]
			}
		}
		f.add(fnv(fnv(fnvOffset, []byte{'c'}), tri[:]), kindTrigram)
	}
}
