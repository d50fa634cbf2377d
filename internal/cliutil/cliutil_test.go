package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/app", "postgres://app:****@db:5432/app"},
		{"postgresql://app:p%40ss@db/app?sslmode=disable", "postgresql://app:****@db/app?sslmode=disable"},
		{"connect to postgres://u:x@h/db failed; retry postgres://v:y@h2/db", "connect to postgres://u:****@h/db failed; retry postgres://v:****@h2/db"},
		{"host=db user=app password=s3cret dbname=app", "host=db user=app password=**** dbname=app"},
		{"host=db password='a b c' dbname=app", "host=db password=**** dbname=app"},
		{"postgres://db/app?password=s3cret&sslmode=disable", "postgres://db/app?password=****&sslmode=disable"},
		{"PASSWORD = s3cret", "PASSWORD = ****"},
		{"postgres://app@db/app", "postgres://app@db/app"}, // no password: unchanged
		{"no url here", "no url here"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		require.Equal(t, tt.want, got, tt.in)
		require.NotContains(t, got, "s3cret")
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://env@h/db")
	u, err := DatabaseURL("")
	require.NoError(t, err)
	require.Equal(t, "postgres://env@h/db", u)

	u, err = DatabaseURL("postgres://flag@h/db")
	require.NoError(t, err)
	require.Equal(t, "postgres://flag@h/db", u, "the flag wins over the environment")

	t.Setenv("DATABASE_URL", "")
	_, err = DatabaseURL("")
	require.ErrorIs(t, err, ErrNoDatabase)
	require.Equal(t, ExitUsage, CodeOf(err))

	_, err = DatabaseURL("postgres://u:s3cret@h:notaport/db")
	require.Error(t, err)
	require.Equal(t, ExitUsage, CodeOf(err))
	require.NotContains(t, err.Error(), "s3cret")
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	require.Equal(t, "app@db:5433/orders", Describe("postgres://app:s3cret@db:5433/orders"))
	require.Equal(t, "app@db:5432/orders", Describe("host=db user=app password=s3cret dbname=orders"))
	require.NotContains(t, Describe("postgres://app:s3cret@db:bad/orders"), "s3cret")
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, ExitOK, CodeOf(nil))
	require.Equal(t, ExitError, CodeOf(errors.New("boom")))
	err := fmt.Errorf("wrapped: %w", WithCode(ExitInvalidSpec, errors.New("cycle")))
	require.Equal(t, ExitInvalidSpec, CodeOf(err))
	require.Nil(t, WithCode(ExitUsage, nil))
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, LogAuto, slog.LevelInfo)
	require.NoError(t, err)
	l.Info("hello", slog.Int("n", 1))
	l.Debug("hidden")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "auto is JSON when the writer is not a terminal: %q", buf.String())
	require.Equal(t, "hello", rec["msg"])
	require.NotContains(t, buf.String(), "hidden")

	buf.Reset()
	l, err = NewLogger(&buf, LogText, slog.LevelDebug)
	require.NoError(t, err)
	l.Debug("plain")
	require.Contains(t, buf.String(), "plain")
	require.NotContains(t, buf.String(), "\x1b[", "no colours when not a terminal")

	_, err = NewLogger(&buf, "yaml", slog.LevelInfo)
	require.Equal(t, ExitUsage, CodeOf(err))
	require.True(t, strings.Contains(err.Error(), "yaml"))

	_, err = ParseLevel("loud")
	require.Equal(t, ExitUsage, CodeOf(err))
	lvl, err := ParseLevel("warn")
	require.NoError(t, err)
	require.Equal(t, slog.LevelWarn, lvl)
}
