-- qf_lease: periodic fleet-wide chores that exactly one member runs per
-- interval. A member that finds a lease expired takes it with one UPDATE
-- (the row lock makes the race safe) and runs the chore; the others see it
-- held. The reconciler is the first: it used to be a River periodic job,
-- which needs a worker registered in every process's river.Workers bundle.
CREATE TABLE qf_lease (
    name       text PRIMARY KEY,
    holder     text,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO qf_lease (name) VALUES ('reconcile');
