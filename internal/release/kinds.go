package release

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/internal/riverjob"
)

// KnownKinds returns a check that accepts the kinds some worker registered
// (qf_kind) and the kinds in extra. It reads through q, so inside a
// transaction it also sees kinds registered earlier in that transaction.
func KnownKinds(ctx context.Context, q riverjob.Querier, extra []string) (func(string) bool, error) {
	rows, err := q.Query(ctx, `SELECT kind FROM qf_kind`)
	if err != nil {
		return nil, fmt.Errorf("read registered kinds: %w", err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read registered kinds: %w", err)
	}
	known := make(map[string]struct{}, len(kinds)+len(extra))
	for _, k := range append(kinds, extra...) {
		known[k] = struct{}{}
	}
	return func(kind string) bool { _, ok := known[kind]; return ok }, nil
}

// RegisterKindsTx records in tx that a worker runs kinds, so that
// submitting them is accepted. It is idempotent.
func RegisterKindsTx(ctx context.Context, tx pgx.Tx, kinds []string) error {
	if len(kinds) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
INSERT INTO qf_kind (kind) SELECT unnest($1::text[])
ON CONFLICT (kind) DO UPDATE SET last_seen = now()`, kinds)
	if err != nil {
		return fmt.Errorf("register kinds: %w", err)
	}
	return nil
}
