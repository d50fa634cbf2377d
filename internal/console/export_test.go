package console

// ListSQL exposes List's statement to the plan test.
func ListSQL(p *ListParams) (string, []any, error) { return listSQL(p, ListLimitDefault) }
