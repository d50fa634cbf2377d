package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// OpenAI client defaults.
const (
	DefaultBatchSize = 64
	DefaultTimeout   = 60 * time.Second
	// maxResponseBytes bounds a response body: 64 texts of 4096 floats in
	// JSON are about 6 MB.
	maxResponseBytes = 64 << 20
	// maxMessageLen bounds the server message quoted in an error.
	maxMessageLen = 300
)

// OpenAIConfig configures NewOpenAI.
type OpenAIConfig struct {
	// URL is the API base, such as https://api.openai.com/v1 or
	// http://127.0.0.1:11434/v1; requests go to URL + "/embeddings".
	// Required.
	URL string
	// Model is sent as "model" and is what Model returns. Required.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer APIKey". It never
	// appears in errors: a server message that quotes it is redacted.
	APIKey string
	// Dims is the expected vector length; a response of another length is
	// a permanent error. Zero means learn it from the first response.
	Dims int
	// BatchSize is the most texts per request. Defaults to
	// DefaultBatchSize.
	BatchSize int
	// Timeout bounds each request. Defaults to DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests. Defaults to a client of its own.
	HTTPClient *http.Client
}

// OpenAI embeds texts with an OpenAI-compatible embeddings endpoint
// (OpenAI, Azure-style proxies, Ollama, vLLM, llama.cpp's server, ...):
// POST {URL}/embeddings with {"model": M, "input": [texts]}, reading
// {"data": [{"index": i, "embedding": [...]}]}. Texts go in batches of
// BatchSize, one request at a time; each request has its own timeout.
// Vectors are L2-normalised. It does not retry: errors say whether a retry
// may help (IsRetryable), and the caller's retry policy decides.
//
// An OpenAI is safe for concurrent use.
type OpenAI struct {
	cfg      OpenAIConfig
	endpoint string // cfg.URL without credentials, for errors
	post     string // cfg.URL + "/embeddings"
	dims     atomic.Int64
}

// NewOpenAI returns a client for the endpoint cfg describes. It fails when
// the URL is not an absolute http or https URL or the model is empty; it
// does no I/O.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("embedding endpoint %q: not an http(s) URL", redactURL(cfg.URL))
	}
	if cfg.Model == "" {
		return nil, fmt.Errorf("embedding endpoint %s: no model given", u.Redacted())
	}
	if cfg.Dims < 0 || cfg.Dims > 1<<16 {
		return nil, fmt.Errorf("embedding endpoint %s: dims %d out of range", u.Redacted(), cfg.Dims)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	c := &OpenAI{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(u.Redacted(), "/"),
		post:     strings.TrimSuffix(cfg.URL, "/") + "/embeddings",
	}
	c.dims.Store(int64(cfg.Dims))
	return c, nil
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return "…" + s[i:]
	}
	return s
}

// Model is the configured model name.
func (c *OpenAI) Model() string { return c.cfg.Model }

// Dims is the configured vector length, or the one learned from the first
// response; 0 before the first response when none was configured.
func (c *OpenAI) Dims() int { return int(c.dims.Load()) }

// Error is a failed request to an embedding endpoint. Its message names
// the endpoint (without credentials) and the reason, never the API key.
type Error struct {
	// Endpoint is the configured URL without credentials.
	Endpoint string
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Message says what went wrong: the server's message (trimmed) or the
	// client's.
	Message string
	// Retryable reports whether sending the request again may succeed:
	// true for network errors, timeouts, 408, 409, 425, 429 and 5xx; false
	// for other statuses (400, 401, 403, 404, ...), malformed responses and
	// a canceled context.
	Retryable bool
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("embedding endpoint %s: HTTP %d: %s", e.Endpoint, e.StatusCode, e.Message)
	}
	return fmt.Sprintf("embedding endpoint %s: %s", e.Endpoint, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err, or an error it wraps, is an *Error
// worth retrying (see Error.Retryable). Errors of other types are not.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}

// Embed returns one vector per text, in order. An empty text is sent as a
// single space (OpenAI rejects empty input). On error no vector is
// returned; the error is an *Error, or ctx's error wrapped in one.
func (c *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += c.cfg.BatchSize {
		batch := texts[start:min(start+c.cfg.BatchSize, len(texts))]
		vecs, err := c.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type embedRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embedResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

func (c *OpenAI) fail(status int, retryable bool, err error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if c.cfg.APIKey != "" {
		msg = strings.ReplaceAll(msg, c.cfg.APIKey, "[redacted]")
	}
	return &Error{Endpoint: c.endpoint, StatusCode: status, Message: msg, Retryable: retryable, Err: err}
}

func (c *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	input := make([]string, len(texts))
	for i, t := range texts {
		if t == "" {
			t = " "
		}
		input[i] = t
	}
	body, err := json.Marshal(embedRequest{Model: c.cfg.Model, Input: input})
	if err != nil {
		return nil, c.fail(0, false, err, "encode request: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.post, bytes.NewReader(body))
	if err != nil {
		return nil, c.fail(0, false, err, "build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, c.requestError(ctx, rctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, c.requestError(ctx, rctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.fail(resp.StatusCode, retryableStatus(resp.StatusCode), nil, "%s", serverMessage(data))
	}
	if len(data) > maxResponseBytes {
		return nil, c.fail(0, false, nil, "response larger than %d bytes", maxResponseBytes)
	}
	var r embedResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, c.fail(0, false, err, "malformed response: %v", err)
	}
	return c.vectors(&r, len(texts))
}

// requestError classifies an error of sending a request or reading its
// response: the caller's context ending is not retryable, the request's own
// timeout and network errors are.
func (c *OpenAI) requestError(ctx, rctx context.Context, err error) *Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return c.fail(0, false, ctxErr, "%v", ctxErr)
	}
	if rctx.Err() != nil {
		return c.fail(0, true, context.DeadlineExceeded, "no response within %s", c.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop "Post URL:", the endpoint is already named
	}
	return c.fail(0, true, err, "%v", err)
}

// vectors checks a response for n texts and returns its vectors in input
// order, normalised.
func (c *OpenAI) vectors(r *embedResponse, n int) ([][]float32, error) {
	if len(r.Data) != n {
		return nil, c.fail(0, false, nil, "got %d vectors for %d texts", len(r.Data), n)
	}
	out := make([][]float32, n)
	want := int(c.dims.Load())
	if want == 0 && n > 0 {
		want = len(r.Data[0].Embedding)
	}
	for k, d := range r.Data {
		i := k
		if d.Index != nil {
			i = *d.Index
		}
		if i < 0 || i >= n || out[i] != nil {
			return nil, c.fail(0, false, nil, "response has a missing or repeated index %d", i)
		}
		if len(d.Embedding) == 0 {
			return nil, c.fail(0, false, nil, "empty embedding at index %d", i)
		}
		if len(d.Embedding) != want {
			return nil, c.fail(0, false, nil, "embedding of %d dims at index %d, want %d", len(d.Embedding), i, want)
		}
		normalize(d.Embedding)
		out[i] = d.Embedding
	}
	// Learned only from a response that passed every check; a concurrent
	// first response of another length loses and fails its next call.
	c.dims.CompareAndSwap(0, int64(want))
	return out, nil
}

// serverMessage extracts the message of an error response: OpenAI's
// {"error": {"message": ...}}, {"error": "..."} or {"message": ...}, or
// else the body itself, whitespace collapsed and cut to maxMessageLen.
func serverMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			msg = nested.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			msg = s
		case v.Message != "":
			msg = v.Message
		}
	}
	if msg == "" {
		msg = string(body)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if msg == "" {
		return "empty response body"
	}
	if len(msg) > maxMessageLen {
		cut := maxMessageLen
		for cut > 0 && !utf8RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
