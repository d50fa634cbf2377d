package dbtx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		err             error
		conn, retryable bool
	}{
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false, true},
		{"serialization", fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40001"}), false, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true, false},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true, false},
		{"too many clients", &pgconn.PgError{Code: "53300"}, true, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false, false},
		{"eof", fmt.Errorf("read: %w", io.EOF), true, false},
		{"reset", syscall.ECONNRESET, true, false},
		{"cancelled", context.Canceled, false, false},
		{"plain", errors.New("boom"), false, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.conn, IsConnError(tt.err), tt.name)
		require.Equal(t, tt.retryable, IsRetryable(tt.err), tt.name)
	}
}
