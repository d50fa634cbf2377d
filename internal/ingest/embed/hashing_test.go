package embed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHashingBasics(t *testing.T) {
	t.Parallel()
	h := NewHashing(0)
	require.Equal(t, DefaultDims, h.Dims())
	require.Equal(t, "qf-hash-v1-256", h.Model())
	require.Equal(t, "qf-hash-v1-128", NewHashing(128).Model())
	require.Equal(t, MaxDims, NewHashing(1<<30).Dims())

	vecs, err := h.Embed(context.Background(), []string{"parseHTTPRequest", "", "the return if", "x := parseHTTPRequest(r)"})
	require.NoError(t, err)
	require.Len(t, vecs, 4)
	for i, v := range vecs {
		require.Len(t, v, DefaultDims)
		norm := 0.0
		for _, x := range v {
			norm += float64(x) * float64(x)
		}
		if i == 1 || i == 2 { // no features: the zero vector
			require.Zero(t, norm)
		} else {
			require.InDelta(t, 1, norm, 1e-5)
		}
	}
	require.Equal(t, h.Vector("parseHTTPRequest"), vecs[0])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.Embed(ctx, []string{"a"})
	require.ErrorIs(t, err, context.Canceled)
}

// TestHashingStable pins the vector of one text: the hash is a fixed
// function, so every process on every machine computes these bytes. If
// this fails after a deliberate change of the features, bump the model
// version in Model (cached vectors of the old version must not be mixed
// with new ones) and update the digest.
func TestHashingStable(t *testing.T) {
	t.Parallel()
	q := Quantize(NewHashing(256).Vector("func (s *Server) parseHTTPRequest(r io.Reader) error { return utf8.Valid(IDs) } // reads requests"))
	sum := sha256.Sum256(q)
	require.Equal(t, "2e35047373dcbf912cfc53ae36a67560d692976d99f0b2ffe4c7660f3840a4ff", hex.EncodeToString(sum[:]))
}

// TestHashingHistoryFree checks that a vector does not depend on what was
// embedded before it in the same call (a big text grows the feature table).
func TestHashingHistoryFree(t *testing.T) {
	t.Parallel()
	h := NewHashing(0)
	var big []string
	for i := 0; i < 5000; i++ {
		big = append(big, fmt.Sprintf("identifier%dName", i))
	}
	texts := []string{strings.Join(big, " ")}
	texts = append(texts, serverChunks(t)...)
	vecs, err := h.Embed(context.Background(), texts)
	require.NoError(t, err)
	for i := 1; i < len(texts); i++ {
		require.Equal(t, h.Vector(texts[i]), vecs[i], "text %d", i)
	}
}

// The retrieval sanity corpus: small chunks, and queries with the chunk
// each should find first.
var corpus = map[string]string{
	"parse": `// parseHTTPRequest reads a request line and headers from r.
func parseHTTPRequest(r *bufio.Reader) (*Request, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	method, rest, _ := strings.Cut(line, " ")
	return &Request{Method: method, URI: rest}, nil
}`,
	"db": `func openDBConnection(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, pool.Ping(ctx)
}`,
	"json": `func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}`,
	"config": `// LoadConfigFile reads the YAML configuration file at path.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	return &c, yaml.Unmarshal(data, &c)
}`,
	"hash": `func sha256File(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	return [32]byte(h.Sum(nil)), err
}`,
	"retry": `func retryWithBackoff(ctx context.Context, attempts int, fn func() error) error {
	delay := 100 * time.Millisecond
	for i := 0; ; i++ {
		if err := fn(); err == nil || i == attempts {
			return err
		}
		time.Sleep(delay)
		delay *= 2
	}
}`,
	"tokens": `def split_identifier(name):
    """Split a camelCase or snake_case identifier into lowercase tokens."""
    parts = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?=[A-Z]|$)|\d+", name)
    return [p.lower() for p in parts]`,
	"rank": `// PageRank ranks the nodes of the graph by power iteration.
func PageRank(n int, edges []Edge) []float64 {
	rank := make([]float64, n)
	for iter := 0; iter < 100; iter++ {
		next := make([]float64, n)
		for _, e := range edges {
			next[e.To] += 0.85 * rank[e.From]
		}
		rank = next
	}
	return rank
}`,
	"queue": `class JobQueue {
  constructor() { this.pending = []; }
  enqueueJob(job) { this.pending.push(job); }
  dequeueJob() { return this.pending.shift(); }
}`,
	"watch": `func watchDirectory(dir string, events chan<- fsnotify.Event) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	return w.Add(dir)
}`,
	"user": `type UserAccount struct {
	ID        int64
	Email     string
	CreatedAt time.Time
}

func (u *UserAccount) IsAdmin() bool { return u.Email == "root@example.com" }`,
	"tls": `func loadTLSCertificate(certFile, keyFile string) (tls.Certificate, error) {
	return tls.LoadX509KeyPair(certFile, keyFile)
}`,
}

var queries = []struct{ query, want string }{
	{"parse http request", "parse"},
	{"parsehttprequest", "parse"},
	{"parseHTTPRequest", "parse"},
	{"open database connection", "db"},
	{"json response writer", "json"},
	{"load config file", "config"},
	{"sha256 of a file", "hash"},
	{"retry backoff", "retry"},
	{"split identifier tokens", "tokens"},
	{"pagerank graph edges", "rank"},
	{"enqueue job", "queue"},
	{"watch directory fsnotify", "watch"},
	{"user account email", "user"},
	{"tls certificate", "tls"},
	{"requests", "parse"},
}

// meanReciprocalRank embeds the corpus and the queries with h and returns
// the MRR of the expected chunks and the queries whose chunk is not first.
func meanReciprocalRank(h *Hashing) (float64, []string) {
	names := make([]string, 0, len(corpus))
	for k := range corpus {
		names = append(names, k)
	}
	sort.Strings(names)
	docs := make(map[string][]byte)
	for _, k := range names {
		docs[k] = Quantize(h.Vector(corpus[k]))
	}
	var mrr float64
	var missed []string
	for _, q := range queries {
		qv := Quantize(h.Vector(q.query))
		ranked := append([]string(nil), names...)
		sort.SliceStable(ranked, func(i, j int) bool { return Cosine(qv, docs[ranked[i]]) > Cosine(qv, docs[ranked[j]]) })
		for i, k := range ranked {
			if k == q.want {
				mrr += 1 / float64(i+1)
				if i > 0 {
					missed = append(missed, q.query+" → "+ranked[0])
				}
			}
		}
	}
	return mrr / float64(len(queries)), missed
}

// TestRetrievalSanity checks that the local embedder finds the chunk a
// query means, first, at DefaultDims, and logs the MRR per dims (the
// measurement behind DefaultDims).
func TestRetrievalSanity(t *testing.T) {
	t.Parallel()
	for _, dims := range []int{64, 128, 256, 512} {
		mrr, missed := meanReciprocalRank(NewHashing(dims))
		t.Logf("dims %d: MRR %.3f, not first: %v", dims, mrr, missed)
		if dims == DefaultDims {
			require.Empty(t, missed)
		}
	}
	// Related beats unrelated by a margin, not by rounding.
	h := NewHashing(0)
	q := Quantize(h.Vector("parse http request"))
	related := Cosine(q, Quantize(h.Vector(corpus["parse"])))
	unrelated := Cosine(q, Quantize(h.Vector(corpus["tls"])))
	require.Greater(t, related, unrelated+0.2, "related %.3f unrelated %.3f", related, unrelated)
	require.False(t, math.IsNaN(float64(related)))
}

// serverChunks cuts net/http/server.go into chunks of 120 lines.
func serverChunks(t testing.TB) []string {
	data, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "net", "http", "server.go"))
	require.NoError(t, err)
	var chunks []string
	lines := 0
	start := 0
	for i, c := range data {
		if c == '\n' {
			lines++
			if lines%120 == 0 {
				chunks = append(chunks, string(data[start:i]))
				start = i + 1
			}
		}
	}
	return chunks
}

func BenchmarkHashingEmbed(b *testing.B) {
	// Chunks of 120 lines of real Go, as the pipeline embeds them.
	chunks := serverChunks(b)
	h := NewHashing(0)
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_, _ = h.Embed(ctx, chunks)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(chunks)), "ns/chunk")
}
