package dag

import (
	"go.yaml.in/yaml/v3"
)

// spec reads the top-level mapping.
func (d *yamlDecoder) spec(doc *yaml.Node, spec *Spec) *docError {
	root := doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	root, err := d.deref(root, "")
	if err != nil {
		return err
	}
	if root.Kind != yaml.MappingNode {
		return d.problem(root, "", ErrInvalidSpec, "a spec must be a mapping with name and nodes, found "+describe(root))
	}
	pairs, err := d.pairs(root, "", false)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		switch p.key {
		case "name":
			spec.Name, err = d.str(p.value, p.key)
		case "key":
			spec.Key, err = d.str(p.value, p.key)
		case "input":
			spec.Input, err = d.object(p.value, p.key)
		case "defaults":
			err = d.defaults(p.value, &spec.Defaults)
		case "deadline":
			spec.Deadline, err = d.duration(p.value, p.key)
		case "nodes":
			spec.Nodes, err = d.nodes(p.value, p.key, nil, 0)
		default:
			err = d.problem(p.keyPos, p.key, ErrUnknownField, unknownField(p.key, specFields))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// defaults reads the defaults mapping.
func (d *yamlDecoder) defaults(n *yaml.Node, def *Defaults) *docError {
	n, err := d.deref(n, "defaults")
	if err != nil {
		return err
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil
	case n.Kind != yaml.MappingNode:
		return d.problem(n, "defaults", ErrInvalidSpec, "must be a mapping, found "+describe(n))
	}
	pairs, err := d.pairs(n, "defaults", false)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		field := fieldName("defaults", p.key)
		ok, err := d.setting(&def.Settings, p, field)
		if !ok {
			ok, err = d.control(&def.Control, p, field)
		}
		if !ok {
			err = d.problem(p.keyPos, field, ErrUnknownField, unknownField(p.key, defaultsFields))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// setting reads the value of a leaf setting (a key of Settings) into st.
// It reports false when the pair's key is not a setting.
func (d *yamlDecoder) setting(st *Settings, p yamlPair, field string) (bool, *docError) {
	var err *docError
	switch p.key {
	case "queue":
		st.Queue, err = d.str(p.value, field)
	case "priority":
		st.Priority, err = d.str(p.value, field)
	case "max_attempts":
		st.MaxAttempts, err = d.maxAttempts(p.value, field)
	case "timeout":
		st.Timeout, err = d.duration(p.value, field)
	default:
		return false, nil
	}
	return true, err
}

// control reads a flow-control object (a key of Control) into ctl. It
// reports false when the pair's key is not one.
func (d *yamlDecoder) control(ctl *Control, p yamlPair, field string) (bool, *docError) {
	dst := ctl.field(p.key)
	if dst == nil {
		return false, nil
	}
	raw, err := d.object(p.value, field)
	if err != nil {
		return true, err
	}
	if raw == nil {
		return true, d.problem(p.value, field, ErrInvalidSpec, "must be a mapping")
	}
	if sentinel, msg := decodeControl(p.key, raw, dst); sentinel != nil {
		return true, d.problem(p.value, field, sentinel, msg)
	}
	return true, nil
}

// nodes reads a list of nodes under parent (nil at the top level).
func (d *yamlDecoder) nodes(n *yaml.Node, field string, parent *frame, depth int) ([]Node, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil, nil
	case n.Kind != yaml.SequenceNode:
		return nil, d.problem(n, field, ErrInvalidSpec, "must be a list of nodes, found "+describe(n))
	case depth > maxJSONNesting:
		return nil, d.problem(n, field, ErrInvalidSpec, "nested too deeply")
	}
	saved := d.frame
	defer func() { d.frame = saved }()
	nodes := make([]Node, len(n.Content))
	for i, item := range n.Content {
		f := &frame{parent: parent, index: i}
		d.frame = f
		item, err := d.deref(item, "")
		if err != nil {
			return nil, err
		}
		if item.Kind != yaml.MappingNode {
			return nil, d.problem(item, "", ErrInvalidSpec, "a node must be a mapping, found "+describe(item))
		}
		if err := d.node(item, &nodes[i], f, depth); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// node reads one node mapping. The id is read first, so that every problem
// names the node.
func (d *yamlDecoder) node(n *yaml.Node, out *Node, f *frame, depth int) *docError {
	pairs, err := d.pairs(n, "", false)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if p.key == "id" {
			if out.ID, err = d.str(p.value, p.key); err != nil {
				return err
			}
			f.id = out.ID
		}
	}
	for _, p := range pairs {
		switch p.key {
		case "id":
		case "kind":
			out.Kind, err = d.str(p.value, p.key)
		case "args":
			out.Args, err = d.object(p.value, p.key)
		case "deps":
			out.Deps, err = d.strList(p.value, p.key)
		case "nodes":
			out.Nodes, err = d.nodes(p.value, p.key, f, depth+1)
		case "on_dep_failure":
			out.OnDepFailure, err = d.str(p.value, p.key)
		case "delay":
			out.Delay, err = d.duration(p.value, p.key)
		case "not_before":
			out.NotBefore, err = d.str(p.value, p.key)
		default:
			var ok bool
			if ok, err = d.setting(&out.Settings, p, p.key); !ok {
				ok, err = d.control(&out.Control, p, p.key)
			}
			if !ok {
				err = d.problem(p.keyPos, p.key, ErrUnknownField, unknownField(p.key, nodeFields))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// strList reads a list of strings (deps).
func (d *yamlDecoder) strList(n *yaml.Node, field string) ([]string, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil, nil
	case n.Kind != yaml.SequenceNode:
		return nil, d.problem(n, field, ErrInvalidSpec, "must be a list of node ids, found "+describe(n))
	}
	list := make([]string, len(n.Content))
	for i, item := range n.Content {
		if list[i], err = d.str(item, field); err != nil {
			return nil, err
		}
	}
	return list, nil
}
