package console

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
)

// ListLimitDefault and ListLimitMax bound a page of the workflow list.
const (
	ListLimitDefault = 50
	ListLimitMax     = 500
)

// ErrBadCursor is returned by List for a cursor it did not hand out.
var ErrBadCursor = errors.New("bad list cursor")

// ListParams filters and pages List. The zero value lists the newest
// ListLimitDefault workflows.
type ListParams struct {
	// Status keeps workflows in this status; empty keeps all.
	Status flowtype.WorkflowState
	// NamePrefix keeps workflows whose name starts with it (byte-wise).
	NamePrefix string
	// CreatedAfter and CreatedBefore keep workflows created at or after,
	// and before, these times; nil is unbounded.
	CreatedAfter, CreatedBefore *time.Time
	// Cursor continues after the last row of a previous page (its
	// ListPage.Next); empty starts with the newest.
	Cursor string
	// Limit is the page size, ListLimitDefault when 0, at most ListLimitMax.
	Limit int
}

// ListRow is one workflow of the list, with its progress.
type ListRow struct {
	WorkflowHead
	// Final counts nodes that are completed, failed, cancelled or skipped.
	Final int `json:"final"`
}

// ListPage is one page of List, newest first.
type ListPage struct {
	Workflows []ListRow `json:"workflows"`
	// Next is the cursor of the following page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// List returns one page of workflows, newest first (created_at, then id,
// descending), keyset-paged: a page costs the same at the first row and at
// the hundred-thousandth. Each filter combination is served by an index of
// migrations 001 and 007. Progress is counted only for workflows still
// pending or running (a finished workflow's nodes are all final), with one
// extra query for the page.
func (s *Store) List(ctx context.Context, p *ListParams) (*ListPage, error) {
	if p == nil {
		p = &ListParams{}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = ListLimitDefault
	}
	limit = min(limit, ListLimitMax)
	sql, args, err := listSQL(p, limit)
	if err != nil {
		return nil, err
	}

	page := &ListPage{Workflows: []ListRow{}}
	err = s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		page.Workflows, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ListRow, error) {
			var w ListRow
			var created time.Time
			var started, finished *time.Time
			err := r.Scan(&w.ID, &w.Name, &w.Key, &w.Status, &w.Nodes, &created, &started, &finished, &w.Error)
			w.CreatedAt, w.StartedAt, w.FinishedAt = Time{created}, optTime(started), optTime(finished)
			if w.Status.IsFinal() {
				w.Final = w.Nodes
			}
			return w, err
		})
		if err != nil {
			return err
		}
		if len(page.Workflows) > limit {
			last := page.Workflows[limit-1]
			page.Next = encodeCursor(last.CreatedAt.Time, last.ID)
			page.Workflows = page.Workflows[:limit]
		}
		return progressTx(ctx, tx, page.Workflows)
	})
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	return page, nil
}

// listSQL builds List's statement for p and a page of limit rows.
func listSQL(p *ListParams, limit int) (string, []any, error) {
	if p.Status != "" && !p.Status.Valid() {
		return "", nil, fmt.Errorf("list: unknown status %q", p.Status)
	}

	// The WHERE clause is assembled from constant fragments, one per
	// filter given; every value is a parameter.
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if p.Status != "" {
		where = append(where, "w.status = "+arg(string(p.Status)))
	}
	if p.NamePrefix != "" {
		lo, hi := prefixBounds(p.NamePrefix)
		where = append(where, `(w.name COLLATE "C") >= `+arg(lo))
		if hi != "" {
			where = append(where, `(w.name COLLATE "C") < `+arg(hi))
		}
	}
	if p.CreatedAfter != nil {
		where = append(where, "w.created_at >= "+arg(*p.CreatedAfter))
	}
	if p.CreatedBefore != nil {
		where = append(where, "w.created_at < "+arg(*p.CreatedBefore))
	}
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(w.created_at, w.id) < ("+arg(at)+", "+arg(id)+"::uuid)")
	}
	// Columns are qualified: ORDER BY id would sort by the output column
	// id::text, not by the indexed uuid.
	sql := `SELECT w.id::text, w.name, w.key, w.status, w.node_count, w.created_at, w.started_at, w.finished_at, w.error
FROM qf_workflow w`
	if len(where) > 0 {
		sql += "\nWHERE " + strings.Join(where, " AND ")
	}
	sql += "\nORDER BY w.created_at DESC, w.id DESC\nLIMIT " + arg(limit+1)

	return sql, args, nil
}

// progressTx counts the final nodes of the rows still pending or running.
func progressTx(ctx context.Context, tx pgx.Tx, rows []ListRow) error {
	var ids []string
	at := map[string]int{}
	for i, w := range rows {
		if !w.Status.IsFinal() {
			ids = append(ids, w.ID)
			at[w.ID] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	res, err := tx.Query(ctx, `
SELECT workflow_id::text, count(*) FILTER (WHERE state IN ('completed', 'failed', 'cancelled', 'skipped'))
FROM qf_node WHERE workflow_id = ANY($1::uuid[])
GROUP BY workflow_id`, ids)
	if err != nil {
		return fmt.Errorf("progress: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id string
		var final int
		if err := res.Scan(&id, &final); err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		rows[at[id]].Final = final
	}
	return res.Err()
}

// prefixBounds returns [lo, hi) such that a string s starts with prefix
// exactly when lo <= s < hi byte-wise (the "C" collation; UTF-8's byte
// order is code point order). hi replaces the last code point with the
// next one, so it stays valid UTF-8; it is empty when there is no upper
// bound.
func prefixBounds(prefix string) (string, string) {
	r := []rune(prefix)
	for i := len(r) - 1; i >= 0; i-- {
		next := r[i] + 1
		if next == 0xD800 { // skip the surrogates, which UTF-8 cannot hold
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			return prefix, string(append(r[:i:i], next))
		}
	}
	return prefix, ""
}

// A cursor is the last row's created_at in Unix microseconds and its id.
func encodeCursor(at time.Time, id string) string {
	return strconv.FormatInt(at.UnixMicro(), 10) + "_" + id
}

func decodeCursor(c string) (time.Time, string, error) {
	us, id, ok := strings.Cut(c, "_")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || uuid.Validate(id) != nil {
		return time.Time{}, "", fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	return time.UnixMicro(n).UTC(), id, nil
}
