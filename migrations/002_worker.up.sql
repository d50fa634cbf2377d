-- qf_worker: one row per worker process (River client) of the fleet, kept
-- alive by its heartbeat. A row whose heartbeat is older than its own
-- dead_after is declared dead by any other member's sweep, and the River
-- jobs that process was running (river_job.attempted_by ends with its id)
-- are handed back at once instead of after River's RescueStuckJobsAfter.
CREATE TABLE qf_worker (
    id            text PRIMARY KEY,          -- River client ID (river.Config.ID)
    host          text NOT NULL,
    pid           integer NOT NULL,
    queues        text[] NOT NULL DEFAULT '{}',
    kinds         text[] NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    dead_after_ms integer NOT NULL CHECK (dead_after_ms > 0),
    -- dead_at is set when the worker left (graceful stop) or a sweep found
    -- its heartbeat stale. Its running jobs are rescued while it is set.
    dead_at       timestamptz
);

-- The sweep looks for live rows whose heartbeat is stale, and for dead ones.
CREATE INDEX qf_worker_heartbeat_idx ON qf_worker (heartbeat_at) WHERE dead_at IS NULL;
CREATE INDEX qf_worker_dead_idx ON qf_worker (dead_at) WHERE dead_at IS NOT NULL;
