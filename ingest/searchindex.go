package ingest

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RefreshSearchTx brings the search structures derived from a codebase's
// chunks (whatever semantic search keeps beyond qf_code_chunk) up to date
// in tx. code_graph_building calls it once per run, after every file of the
// run is stored.
func RefreshSearchTx(ctx context.Context, tx pgx.Tx, codebaseID int64) error {
	return nil
}
