-- Every node row is updated two or three times in its life (released,
-- finished; a join once per completion batch). Leaving room on each page
-- lets PostgreSQL make those HOT updates: the new row version goes on the
-- same page and no index is touched (no indexed column changes). COPY at
-- submit fills pages only to this level. Existing pages are left as they are.
ALTER TABLE qf_node SET (fillfactor = 60);
