package cliutil

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// This file is what OpenPool does differently behind a connection pooler
// such as PgBouncer in transaction mode (docs/OPERATIONS.md, "PgBouncer").

// usesNamedStatements reports whether pgx prepares named statements and
// reuses them in mode: only in the default mode, cache_statement. There
// PostgreSQL may switch a statement to a generic plan after five
// executions, which is what plan_cache_mode = force_custom_plan prevents.
// Every other mode sends each statement as the unnamed statement (exec,
// describe_exec, cache_describe) or with its values inlined
// (simple_protocol), and PostgreSQL plans those anew with their parameter
// values every time, so the setting would change nothing. Those are also the
// modes that pass a transaction-pooling PgBouncer, which refuses
// plan_cache_mode as a startup parameter.
func usesNamedStatements(mode pgx.QueryExecMode) bool {
	return mode == pgx.QueryExecModeCacheStatement
}

// poolerHint explains a connection error that comes from PgBouncer refusing
// a startup parameter, such as search_path in the database URL.
func poolerHint(err error) string {
	if err == nil || !strings.Contains(err.Error(), "unsupported startup parameter") {
		return ""
	}
	return " (a PgBouncer refuses startup parameters it does not know: select the schema with ALTER ROLE ... SET search_path or PgBouncer's connect_query instead of search_path in the URL, and add default_query_exec_mode=exec; see docs/OPERATIONS.md, PgBouncer)"
}
