-- The console's workflow list (internal/console, list.go): newest first,
-- keyset-paged on (created_at, id) so that a page costs the same at the
-- first row and at the hundred-thousandth, filtered by status or by a name
-- prefix. Each filter has an index that yields rows in the page's order.
CREATE INDEX qf_workflow_created_id_idx ON qf_workflow (created_at DESC, id DESC);
CREATE INDEX qf_workflow_status_created_id_idx ON qf_workflow (status, created_at DESC, id DESC);
-- A name prefix is a range of the "C" collation: name >= 'p' AND name < 'q'.
CREATE INDEX qf_workflow_name_created_idx ON qf_workflow ((name COLLATE "C"), created_at DESC, id DESC);
