package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testKey = "sk-test-SECRET-0123456789"

// fakeServer is an OpenAI-compatible embeddings endpoint on loopback. Its
// vectors are deterministic per text: dims values (len(text), 1, 1, ...),
// not normalised, so the test sees the client normalise them.
type fakeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests [][]string
	auth     []string
	handle   func(w http.ResponseWriter, input []string) bool // true: handled
	dims     int
}

func newFakeServer(t *testing.T, dims int) *fakeServer {
	f := &fakeServer{dims: dims}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.Error(w, `{"error":{"message":"no route"}}`, http.StatusNotFound)
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "test-model" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, req.Input)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		handle := f.handle
		f.mu.Unlock()
		if handle != nil && handle(w, req.Input) {
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var resp struct {
			Data []item `json:"data"`
		}
		// Reversed, to check the client orders by index.
		for i := len(req.Input) - 1; i >= 0; i-- {
			v := make([]float32, f.dims)
			for k := range v {
				v[k] = 1
			}
			v[0] = float32(len(req.Input[i]))
			resp.Data = append(resp.Data, item{i, v})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, url string, cfg OpenAIConfig) *OpenAI {
	t.Helper()
	cfg.URL, cfg.Model, cfg.APIKey = url, "test-model", testKey
	c, err := NewOpenAI(cfg)
	require.NoError(t, err)
	return c
}

func TestOpenAIEmbed(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, 4)
	c := newClient(t, srv.URL+"/v1/", OpenAIConfig{BatchSize: 3})
	require.Equal(t, "test-model", c.Model())
	require.Zero(t, c.Dims(), "unknown before the first response")

	texts := []string{"a", "bb", "", "dddd", "eeeee", "ffffff", "g"}
	vecs, err := c.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Equal(t, 4, c.Dims(), "learned from the response")
	require.Len(t, vecs, len(texts))
	for i, v := range vecs {
		n := float64(len(texts[i]))
		if texts[i] == "" {
			n = 1 // sent as " "
		}
		norm := float32(n*n + 3)
		require.InDelta(t, float32(n)/sqrt32(norm), v[0], 1e-6, "text %d in order and normalised", i)
		require.InDelta(t, 1/sqrt32(norm), v[1], 1e-6)
	}
	require.Equal(t, [][]string{{"a", "bb", " "}, {"dddd", "eeeee", "ffffff"}, {"g"}}, srv.requests, "batches of 3")
	require.Equal(t, "Bearer "+testKey, srv.auth[0])

	empty, err := c.Embed(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}

func sqrt32(x float32) float32 {
	r := x
	for i := 0; i < 50; i++ {
		r = (r + x/r) / 2
	}
	return r
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()
	respond := func(status int, body string) func(http.ResponseWriter, []string) bool {
		return func(w http.ResponseWriter, _ []string) bool {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	tests := []struct {
		name      string
		handle    func(http.ResponseWriter, []string) bool
		cfg       OpenAIConfig
		status    int
		retryable bool
		msg       string
	}{
		{
			name:      "500",
			handle:    respond(500, `{"error":{"message":"  model   overloaded\n try later "}}`),
			status:    500,
			retryable: true,
			msg:       "HTTP 500: model overloaded try later",
		},
		{
			name:   "401 quoting the key",
			handle: respond(401, `{"error":{"message":"Incorrect API key provided: `+testKey+`.","type":"invalid_request_error"}}`),
			status: 401,
			msg:    "HTTP 401: Incorrect API key provided: [redacted].",
		},
		{name: "400 string error", handle: respond(400, `{"error":"input too long"}`), status: 400, msg: "HTTP 400: input too long"},
		{name: "429", handle: respond(429, `{"message":"rate limited"}`), status: 429, retryable: true, msg: "HTTP 429: rate limited"},
		{name: "503 plain text", handle: respond(503, "<html>upstream "+strings.Repeat("x", 1000)+"</html>"), status: 503, retryable: true, msg: "HTTP 503: <html>upstream xxx"},
		{name: "404 empty body", handle: respond(404, ""), status: 404, msg: "HTTP 404: empty response body"},
		{
			name: "wrong vector count",
			handle: func(w http.ResponseWriter, in []string) bool {
				_, _ = fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,2]}]}`)
				return true
			},
			msg: "got 1 vectors for 2 texts",
		},
		{
			name: "repeated index",
			handle: func(w http.ResponseWriter, in []string) bool {
				_, _ = fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[1,2]}]}`)
				return true
			},
			msg: "missing or repeated index 0",
		},
		{
			name: "ragged dims",
			handle: func(w http.ResponseWriter, in []string) bool {
				_, _ = fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1,2,3]}]}`)
				return true
			},
			msg: "embedding of 3 dims at index 1, want 2",
		},
		{name: "configured dims differ", cfg: OpenAIConfig{Dims: 8}, msg: "embedding of 4 dims at index", handle: nil},
		{name: "malformed JSON", handle: respond(200, `{"data":[`), msg: "malformed response"},
		{
			name: "slow server past the timeout",
			handle: func(w http.ResponseWriter, _ []string) bool {
				time.Sleep(500 * time.Millisecond)
				return false
			},
			cfg:       OpenAIConfig{Timeout: 50 * time.Millisecond},
			retryable: true,
			msg:       "no response within 50ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t, 4)
			srv.handle = tt.handle
			c := newClient(t, srv.URL+"/v1", tt.cfg)
			vecs, err := c.Embed(context.Background(), []string{"x", "y"})
			require.Error(t, err)
			require.Nil(t, vecs)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, tt.retryable, IsRetryable(err), "retryable: %v", err)
			require.Equal(t, tt.retryable, IsRetryable(fmt.Errorf("wrapped: %w", err)))
			require.True(t, strings.HasPrefix(err.Error(), "embedding endpoint "+srv.URL+"/v1: "), err.Error())
			require.Contains(t, err.Error(), tt.msg)
			require.NotContains(t, err.Error(), testKey)
			require.LessOrEqual(t, len(err.Error()), 400)
		})
	}
}

func TestOpenAIClosedPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	c := newClient(t, "http://"+addr+"/v1", OpenAIConfig{})
	_, err = c.Embed(context.Background(), []string{"x"})
	require.Error(t, err)
	require.True(t, IsRetryable(err))
	require.Regexp(t, `^embedding endpoint http://`+addr+`/v1: dial tcp `+addr+`: connect: connection refused$`, err.Error())
}

func TestOpenAICanceled(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, 4)
	srv.handle = func(w http.ResponseWriter, _ []string) bool {
		time.Sleep(300 * time.Millisecond)
		return false
	}
	c := newClient(t, srv.URL+"/v1", OpenAIConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Embed(ctx, []string{"x"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, IsRetryable(err), "the caller's own deadline")

	require.False(t, IsRetryable(errors.New("plain")))
	require.False(t, IsRetryable(nil))
}

func TestNewOpenAIValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []OpenAIConfig{
		{URL: "", Model: "m"},
		{URL: "ftp://x/v1", Model: "m"},
		{URL: "localhost:8080", Model: "m"},
		{URL: "http://user:pw@host/v1", Model: ""},
		{URL: "http://host/v1", Model: "m", Dims: -1},
	} {
		_, err := NewOpenAI(cfg)
		require.Error(t, err, "%+v", cfg)
		require.NotContains(t, err.Error(), ":pw@")
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	e, err := fromEnv(env())
	require.NoError(t, err)
	require.Equal(t, "qf-hash-v1-256", e.Model())

	e, err = fromEnv(env(EnvDims, "128"))
	require.NoError(t, err)
	require.Equal(t, "qf-hash-v1-128", e.Model())

	e, err = fromEnv(env(EnvURL, "http://127.0.0.1:1/v1", EnvModel, "nomic-embed-text", EnvAPIKey, testKey, EnvDims, "768"))
	require.NoError(t, err)
	require.Equal(t, "nomic-embed-text", e.Model())
	require.Equal(t, 768, e.Dims())
	_, err = e.Embed(context.Background(), []string{"x"})
	require.EqualError(t, err, "embedding endpoint http://127.0.0.1:1/v1: dial tcp 127.0.0.1:1: connect: connection refused")

	for _, bad := range []func(string) string{
		env(EnvDims, "0"),
		env(EnvDims, "abc"),
		env(EnvDims, "99999999"),
		env(EnvURL, "http://127.0.0.1:1/v1"),
		env(EnvURL, "not a url", EnvModel, "m", EnvAPIKey, testKey),
	} {
		_, err := fromEnv(bad)
		require.Error(t, err)
		require.Contains(t, err.Error(), "QF_EMBED_")
		require.NotContains(t, err.Error(), testKey)
	}
}
