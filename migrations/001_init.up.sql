-- QuantumFlow schema, version 1. See docs/ARCHITECTURE.md for how each column
-- is used by the completion transaction.

-- One row per submitted workflow. The row is touched by: submit (insert), the
-- first job start (pending -> running), completions of top-level sink nodes
-- (remaining/failed counters), expansions (node_count), cancel and retry.
CREATE TABLE qf_workflow (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    key         text,
    spec_hash   text NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    input       jsonb NOT NULL DEFAULT '{}',
    output      jsonb,
    error       text,
    -- Nodes allocated so far (the next node index); grows with expansions.
    node_count  int NOT NULL,
    -- Top-level sink nodes (nothing depends on them) not yet final. Every node
    -- is final before the sinks it leads to, so zero means the workflow is done.
    remaining   int NOT NULL,
    -- Top-level nodes that ended failed or cancelled.
    failed      int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);

-- The idempotency key is held as long as the workflow row exists.
CREATE UNIQUE INDEX qf_workflow_key_idx ON qf_workflow (key) WHERE key IS NOT NULL;
-- `enqueue list --status S`, newest first.
CREATE INDEX qf_workflow_status_created_idx ON qf_workflow (status, created_at DESC);
CREATE INDEX qf_workflow_created_idx ON qf_workflow (created_at DESC);

-- One row per node: leaves (kind is set), groups and expanded nodes. Columns
-- that change while a workflow runs are deliberately not indexed, so those
-- updates stay HOT (heap-only) and write no index entries.
CREATE TABLE qf_node (
    workflow_id        uuid NOT NULL REFERENCES qf_workflow (id) ON DELETE CASCADE,
    idx                int NOT NULL,
    -- Index of the enclosing group or expanded node; -1 at the top level.
    parent_idx         int NOT NULL,
    -- "C" collation so a group's subtree is a btree range: path LIKE 'g/%'.
    path               text COLLATE "C" NOT NULL,
    kind               text,
    args               jsonb,
    -- Sibling indexes this node waits for, and that wait for it.
    deps               int[] NOT NULL DEFAULT '{}',
    dependents         int[] NOT NULL DEFAULT '{}',
    queue              text,
    priority           smallint,
    max_attempts       int,
    timeout_ms         bigint,
    on_dep_failure     text NOT NULL DEFAULT 'cancel'
                       CHECK (on_dep_failure IN ('cancel', 'skip', 'run')),
    -- Deps not yet final; the node is decided when it reaches zero.
    remaining_deps     int NOT NULL,
    -- Deps that ended failed or cancelled.
    failed_deps        int NOT NULL DEFAULT 0,
    -- Groups and expanded nodes: sink members not yet final, and members that
    -- ended failed or cancelled.
    remaining_children int NOT NULL DEFAULT 0,
    failed_children    int NOT NULL DEFAULT 0,
    -- Counts toward the parent's remaining_children (or the workflow's
    -- remaining) although it has dependents: set by retry when every
    -- dependent kept its completed result. Sinks (no dependents) always count.
    rollup_sink        boolean NOT NULL DEFAULT false,
    -- waiting | enqueued (leaf with a River job) | active (group or expanded
    -- node whose members run) | completed | failed | cancelled | skipped
    state              text NOT NULL DEFAULT 'waiting'
                       CHECK (state IN ('waiting', 'enqueued', 'active', 'completed', 'failed', 'cancelled', 'skipped')),
    -- Retry generation: bumped by every retry, copied into the job's metadata
    -- so a job of an earlier run can never settle the node again.
    run                int NOT NULL DEFAULT 0,
    -- Attempts spent by earlier runs; the node's attempt is base + job attempt.
    attempt_base       int NOT NULL DEFAULT 0,
    job_id             bigint,
    attempts           int NOT NULL DEFAULT 0,
    output             jsonb,
    error              text,
    started_at         timestamptz,
    finished_at        timestamptz,
    PRIMARY KEY (workflow_id, idx)
);

CREATE UNIQUE INDEX qf_node_path_idx ON qf_node (workflow_id, path);
-- Group activation and roll-ups read a group's members.
CREATE INDEX qf_node_parent_idx ON qf_node (workflow_id, parent_idx);

-- Job kinds registered by workers. A submitted kind that no worker has ever
-- registered (and that is not built in) is refused unless the submitter
-- allows unknown kinds.
CREATE TABLE qf_kind (
    kind       text PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
