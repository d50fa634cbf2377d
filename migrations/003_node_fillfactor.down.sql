ALTER TABLE qf_node RESET (fillfactor);
