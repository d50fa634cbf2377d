-- Flow control (docs/FLOWCONTROL.md): each leaf's resolved settings, the
-- throttled state, the fleet-wide concurrency slots and their wait queue, and
-- the fleet-wide rate logs. None of the new qf_node columns changes while a
-- workflow runs, and none is indexed, so node updates stay HOT.
ALTER TABLE qf_node
    ADD COLUMN conc_key    text,
    ADD COLUMN conc_limit  int,
    ADD COLUMN rate_key    text,
    ADD COLUMN rate_limit  int,
    ADD COLUMN rate_per_ms bigint,
    ADD COLUMN delay_ms    bigint,
    ADD COLUMN not_before  timestamptz,
    -- {"backoff", "base_ms", "max_ms", "jitter"}, copied into job metadata.
    ADD COLUMN retry       jsonb;

-- throttled: a ready leaf waiting for a slot of its concurrency key.
-- paused: a ready leaf of a paused workflow or kind, without a job until
-- resumed.
ALTER TABLE qf_node DROP CONSTRAINT qf_node_state_check;
ALTER TABLE qf_node ADD CONSTRAINT qf_node_state_check
    CHECK (state IN ('waiting', 'throttled', 'paused', 'enqueued', 'active', 'completed', 'failed', 'cancelled', 'skipped'));

-- `enqueue why` names the holders of a key's slots. conc_key never changes
-- after COPY, so this index keeps node updates HOT.
CREATE INDEX qf_node_conc_key_idx ON qf_node (conc_key) WHERE conc_key IS NOT NULL;

-- One row per concurrency key: held counts the keyed leaves in state
-- enqueued (a River job exists for each) or paused after taking a slot,
-- never more than lim. The row is
-- locked by every transaction that takes or gives back a slot of the key.
CREATE TABLE qf_concurrency (
    key  text PRIMARY KEY,
    lim  int NOT NULL CHECK (lim >= 1),
    held int NOT NULL DEFAULT 0 CHECK (held >= 0)
);

-- The leaves waiting for a slot, in the order they leave: priority, then the
-- order in which they became ready (seq).
CREATE SEQUENCE qf_throttled_seq;
CREATE TABLE qf_throttled (
    key         text NOT NULL,
    priority    smallint NOT NULL,
    seq         bigint NOT NULL DEFAULT nextval('qf_throttled_seq'),
    workflow_id uuid NOT NULL,
    idx         int NOT NULL,
    PRIMARY KEY (key, priority, seq)
);
-- Cancel removes a workflow's waiters.
CREATE INDEX qf_throttled_workflow_idx ON qf_throttled (workflow_id);

-- One row per rate key: its starts are spaced at least per/lim apart
-- (rounded up), so at most lim fall in any window of length per. last_start
-- is the database time of the latest start; next_free the latest start time
-- promised to a waiting job (its reservation). Locked by every start of the
-- key.
CREATE TABLE qf_rate (
    key        text PRIMARY KEY,
    lim        int NOT NULL CHECK (lim >= 1),
    per_ms     bigint NOT NULL CHECK (per_ms >= 1),
    last_start timestamptz,
    next_free  timestamptz
);

-- A workflow's deadline, and why it was cancelled (the deadline, a user).
ALTER TABLE qf_workflow
    ADD COLUMN deadline_at   timestamptz,
    ADD COLUMN cancel_reason text;

-- What is paused: a workflow (scope 'workflow', target its id) or a kind
-- (scope 'kind'). Queues are paused in River's own river_queue.
CREATE TABLE qf_pause (
    scope     text NOT NULL CHECK (scope IN ('workflow', 'kind')),
    target    text NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, target)
);
