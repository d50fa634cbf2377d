package embed

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variables read by FromEnv.
const (
	EnvURL    = "QF_EMBED_URL"     // the OpenAI-compatible API base; empty: the local Hashing embedder
	EnvModel  = "QF_EMBED_MODEL"   // the model; required with QF_EMBED_URL
	EnvAPIKey = "QF_EMBED_API_KEY" // sent as a Bearer token; optional
	EnvDims   = "QF_EMBED_DIMS"    // the vector length; optional (Hashing: DefaultDims; endpoint: learned)
)

// FromEnv returns the embedder the environment configures: NewHashing
// (with QF_EMBED_DIMS or DefaultDims) when QF_EMBED_URL is empty, else
// NewOpenAI with QF_EMBED_URL, QF_EMBED_MODEL, QF_EMBED_API_KEY and
// QF_EMBED_DIMS. It fails, naming the variable, when QF_EMBED_DIMS is not a
// positive integer, QF_EMBED_URL is not an http(s) URL or QF_EMBED_MODEL is
// missing. It does no I/O; an unreachable endpoint shows at the first
// Embed. The API key never appears in its errors.
func FromEnv() (Embedder, error) { return fromEnv(os.Getenv) }

func fromEnv(getenv func(string) string) (Embedder, error) {
	dims := 0
	if s := strings.TrimSpace(getenv(EnvDims)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > MaxDims {
			return nil, fmt.Errorf("%s=%q: want an integer from 1 to %d", EnvDims, s, MaxDims)
		}
		dims = n
	}
	base := strings.TrimSpace(getenv(EnvURL))
	if base == "" {
		return NewHashing(dims), nil
	}
	model := strings.TrimSpace(getenv(EnvModel))
	if model == "" {
		return nil, fmt.Errorf("%s is set but %s is empty: name the embedding model", EnvURL, EnvModel)
	}
	c, err := NewOpenAI(OpenAIConfig{URL: base, Model: model, APIKey: getenv(EnvAPIKey), Dims: dims})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	return c, nil
}
