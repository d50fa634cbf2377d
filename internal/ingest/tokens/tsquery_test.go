package tokens

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// TestPostgres runs ForIndex and ForQuery through the real to_tsvector and
// to_tsquery: hostile queries never break to_tsquery, and the searches the
// package promises match.
func TestPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmpty(t)
	ctx := context.Background()

	hostile := []string{
		"", "'", "''", `\`, `\\'`, "&|!():*", "a & | b", "!!!", "(((", "a:*", "a:B",
		"<->", "a <3> b", "'; DROP TABLE x; --", "\x00", "\xff\xfe", "日本語",
		strings.Repeat("(", 5000), strings.Repeat("ab ", 50000),
	}
	for _, q := range hostile {
		var n int
		err := db.Pool.QueryRow(ctx,
			`SELECT count(*) FROM (SELECT to_tsquery('simple', $1)) q`, ForQuery(q)).Scan(&n)
		require.NoError(t, err, "query %q → %q", q, ForQuery(q))
	}

	text := "func (s *Server) parseHTTPRequest(r io.Reader) (*foo_bar.BazQux, error) { return utf8.Valid(IDs) } // ÜberFuß x86_64 日本語Name"
	tests := []struct {
		query string
		match bool
	}{
		{"request", true},
		{"parsehttprequest", true},
		{"parseHTTPRequest", true},
		{"parse http", true},
		{"HTTP request", true},
		{"foo_bar", true},
		{"BazQux", true},
		{"bazqux", true},
		{"foo_bar.BazQux", true},
		{"utf8", true},
		{"ids", true},
		{"server reader", true},
		{"über", true},
		{"ÜBERFUSS", false},
		{"überfuß", true},
		{"x86", true},
		{"64", true},
		{"日本語", true},
		{"name", true},
		{"response", false},
		{"parse response", false},
	}
	for _, tt := range tests {
		var match bool
		err := db.Pool.QueryRow(ctx,
			`SELECT to_tsvector('simple', $1) @@ to_tsquery('simple', $2)`, ForIndex(text), ForQuery(tt.query)).Scan(&match)
		require.NoError(t, err)
		require.Equal(t, tt.match, match, "query %q (%q)", tt.query, ForQuery(tt.query))
	}
}
