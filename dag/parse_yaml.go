package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlDecoder turns a YAML node tree into a Spec with strict checks and
// line numbers. Aliases are followed with a budget, so that a small document
// cannot expand into a huge one ("billion laughs"), and merge keys ("<<")
// work as in YAML 1.1.
type yamlDecoder struct {
	frame  *frame
	budget int                // expansion that aliases may still add, in bytes
	cost   map[*yaml.Node]int // expanded size of alias targets; -1 while measuring
	depth  int
}

// parseYAML parses a YAML spec document.
func parseYAML(data []byte) (spec *Spec, err error) {
	defer func() {
		if r := recover(); r != nil { // The YAML library panics on some inputs.
			spec, err = nil, &ValidationError{Err: ErrInvalidSpec, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Err: ErrInvalidSpec, Msg: "spec is empty"}
		}
		return nil, yamlSyntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlSyntaxError(err)
	default:
		return nil, &ValidationError{Line: extra.Line, Err: ErrInvalidSpec, Msg: "a spec is one document, found a second one"}
	}
	d := &yamlDecoder{budget: 4*len(data) + 4<<20, cost: map[*yaml.Node]int{}}
	spec = &Spec{}
	if derr := d.spec(&doc, spec); derr != nil {
		return nil, derr.validation()
	}
	return spec, nil
}

// yamlSyntaxError turns "yaml: line 3: message" into a *ValidationError.
func yamlSyntaxError(err error) *ValidationError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	return &ValidationError{Line: line, Err: ErrInvalidSpec, Msg: "invalid YAML: " + msg}
}

// problem returns a docError at node n.
func (d *yamlDecoder) problem(n *yaml.Node, field string, sentinel error, msg string) *docError {
	return &docError{frame: d.frame, field: field, line: n.Line, err: sentinel, msg: msg}
}

// describe names a node's type for a message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return strconv.Quote(truncate(n.Value))
	}
	return "nothing"
}

// deref follows aliases, charging their expansion to the budget.
func (d *yamlDecoder) deref(n *yaml.Node, field string) (*yaml.Node, *docError) {
	for n.Kind == yaml.AliasNode {
		c, ok := d.measure(n.Alias, 0)
		if !ok {
			return nil, d.problem(n, field, ErrInvalidSpec, "alias *"+n.Value+" refers to itself or nests too deeply")
		}
		if d.budget -= c; d.budget < 0 {
			return nil, d.problem(n, field, ErrInvalidSpec, "YAML aliases expand the document too much (to more than 4 times its size)")
		}
		n = n.Alias
	}
	return n, nil
}

// measure returns the expanded size of n, aliases followed. It reports false
// for an alias cycle or nesting too deep to expand.
func (d *yamlDecoder) measure(n *yaml.Node, depth int) (int, bool) {
	const ceiling = 1 << 50
	if depth > maxJSONNesting {
		return 0, false
	}
	if n.Anchor != "" {
		if c, ok := d.cost[n]; ok {
			return c, c >= 0
		}
		d.cost[n] = -1
	}
	c := 8 + len(n.Value)
	if n.Kind == yaml.AliasNode {
		cc, ok := d.measure(n.Alias, depth+1)
		if !ok {
			return 0, false
		}
		c += cc
	}
	for _, child := range n.Content {
		cc, ok := d.measure(child, depth+1)
		if !ok {
			return 0, false
		}
		c = min(c+cc, ceiling)
	}
	if n.Anchor != "" {
		d.cost[n] = c
	}
	return c, true
}

// yamlPair is one key of a mapping, merge keys resolved.
type yamlPair struct {
	key    string
	keyPos *yaml.Node
	value  *yaml.Node
	merged bool
}

// pairs returns the keys of mapping n in document order. Duplicate keys are
// errors; keys from "<<" merges yield to explicit ones and to earlier merges.
// Errors name field, joined with the key when inData is false (a mapping of
// the spec format rather than args or input).
func (d *yamlDecoder) pairs(n *yaml.Node, field string, inData bool) ([]yamlPair, *docError) {
	var out []yamlPair
	index := func(key string) int {
		for i := range out {
			if out[i].key == key {
				return i
			}
		}
		return -1
	}
	var byKey map[string]int
	if len(n.Content) > 32 {
		byKey = make(map[string]int, len(n.Content)/2)
		index = func(key string) int {
			if i, ok := byKey[key]; ok {
				return i
			}
			return -1
		}
	}
	add := func(p yamlPair) *docError {
		i := index(p.key)
		switch {
		case i < 0:
			out = append(out, p)
			if byKey != nil {
				byKey[p.key] = len(out) - 1
			}
		case p.merged:
		case out[i].merged:
			out[i] = p
		default:
			f := field
			if !inData {
				f = fieldName(field, p.key)
			}
			return d.problem(p.keyPos, f, ErrDuplicateKey, "duplicate key "+strconv.Quote(truncate(p.key)))
		}
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := d.deref(n.Content[i], field)
		if err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			return nil, d.problem(k, field, ErrInvalidSpec, "a key must be a string, found "+describe(k))
		}
		if k.ShortTag() != "!!merge" {
			if err := add(yamlPair{key: k.Value, keyPos: k, value: n.Content[i+1]}); err != nil {
				return nil, err
			}
			continue
		}
		v, err := d.deref(n.Content[i+1], field)
		if err != nil {
			return nil, err
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src, err = d.deref(src, field); err != nil {
				return nil, err
			}
			if src.Kind != yaml.MappingNode {
				return nil, d.problem(src, field, ErrInvalidSpec, "a merge (<<) takes a mapping or a list of mappings, found "+describe(src))
			}
			merged, err := d.pairs(src, field, inData)
			if err != nil {
				return nil, err
			}
			for _, p := range merged {
				p.merged = true
				_ = add(p) // Merged keys never conflict.
			}
		}
	}
	return out, nil
}

// standardTag reports whether a scalar tag is one that a spec may use.
func standardTag(tag string) bool {
	switch tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary":
		return true
	}
	return false
}

// scalar derefs n and checks that it is a scalar with a standard tag; it
// returns nil for null.
func (d *yamlDecoder) scalar(n *yaml.Node, field string, want string) (*yaml.Node, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.ScalarNode {
		return nil, d.problem(n, field, ErrInvalidSpec, "must be "+want+", found "+describe(n))
	}
	switch tag := n.ShortTag(); {
	case tag == "!!null":
		return nil, nil
	case !standardTag(tag):
		return nil, d.problem(n, field, ErrInvalidSpec, "unsupported YAML tag "+strconv.Quote(tag))
	}
	return n, nil
}

// str reads a string field; any scalar is taken as written, null as "".
func (d *yamlDecoder) str(n *yaml.Node, field string) (string, *docError) {
	n, err := d.scalar(n, field, "a string")
	if n == nil {
		return "", err
	}
	return n.Value, nil
}

// maxAttempts reads a max_attempts, where 0 is an error.
func (d *yamlDecoder) maxAttempts(n *yaml.Node, field string) (int, *docError) {
	n, err := d.scalar(n, field, "a whole number")
	if n == nil {
		return 0, err
	}
	switch n.ShortTag() {
	case "!!int":
	case "!!float":
		return 0, d.problem(n, field, ErrInvalidMaxAttempts, "must be a whole number (got "+truncate(n.Value)+")")
	default:
		return 0, d.problem(n, field, ErrInvalidSpec, "must be a whole number, found "+describe(n))
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return 0, d.problem(n, field, ErrInvalidMaxAttempts, "must be between 1 and 32767 (got "+truncate(n.Value)+")")
	}
	if msg := checkMaxAttempts(v); msg != "" {
		return 0, d.problem(n, field, ErrInvalidMaxAttempts, msg)
	}
	return int(v), nil
}

// duration reads a timeout.
func (d *yamlDecoder) duration(n *yaml.Node, field string) (Duration, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return 0, err
	}
	if n.Kind != yaml.ScalarNode {
		return 0, d.problem(n, field, ErrInvalidDuration, "must be a duration string such as \"30s\", found "+describe(n))
	}
	if n.ShortTag() == "!!null" {
		return 0, nil
	}
	v, perr := ParseDuration(n.Value)
	if perr != nil {
		return 0, d.problem(n, field, ErrInvalidDuration, durationMsg(n.Value))
	}
	return v, nil
}

// object reads args or input: a mapping, converted to compact JSON.
func (d *yamlDecoder) object(n *yaml.Node, field string) (json.RawMessage, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil, nil
	case n.Kind != yaml.MappingNode:
		return nil, d.problem(n, field, ErrNotObject, "must be a mapping (a JSON object), found "+describe(n))
	}
	return d.appendJSON(nil, n, field)
}

// appendJSON appends the JSON form of a YAML value.
func (d *yamlDecoder) appendJSON(dst []byte, n *yaml.Node, field string) ([]byte, *docError) {
	n, err := d.deref(n, field)
	if err != nil {
		return nil, err
	}
	if d.depth++; d.depth > maxJSONNesting {
		return nil, d.problem(n, field, ErrInvalidSpec, "nested too deeply")
	}
	defer func() { d.depth-- }()
	switch n.Kind {
	case yaml.MappingNode:
		pairs, err := d.pairs(n, field, true)
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for i, p := range pairs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonString(dst, p.key)
			dst = append(dst, ':')
			if dst, err = d.appendJSON(dst, p.value, field); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case yaml.SequenceNode:
		dst = append(dst, '[')
		for i, item := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = d.appendJSON(dst, item, field); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case yaml.ScalarNode:
		return d.appendScalar(dst, n, field)
	}
	return nil, d.problem(n, field, ErrInvalidSpec, "unexpected YAML node")
}

// appendScalar appends the JSON form of a YAML scalar. Numbers that are
// valid JSON are kept as written, so that big integers keep their digits.
func (d *yamlDecoder) appendScalar(dst []byte, n *yaml.Node, field string) ([]byte, *docError) {
	tag := n.ShortTag()
	switch tag {
	case "!!null":
		return append(dst, "null"...), nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, d.problem(n, field, ErrInvalidSpec, strconv.Quote(truncate(n.Value))+" is not a boolean")
		}
		return strconv.AppendBool(dst, b), nil
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			return append(dst, n.Value...), nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, d.problem(n, field, ErrInvalidSpec, strconv.Quote(truncate(n.Value))+" is not a number")
		}
		switch v := v.(type) {
		case int:
			return strconv.AppendInt(dst, int64(v), 10), nil
		case int64:
			return strconv.AppendInt(dst, v, 10), nil
		case uint64:
			return strconv.AppendUint(dst, v, 10), nil
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, d.problem(n, field, ErrInvalidSpec, strconv.Quote(n.Value)+" has no JSON form (JSON has no infinity or NaN)")
			}
			return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
		}
		return nil, d.problem(n, field, ErrInvalidSpec, strconv.Quote(truncate(n.Value))+" is not a number")
	case "!!str", "!!timestamp", "!!binary":
		return appendCanonString(dst, n.Value), nil
	}
	return nil, d.problem(n, field, ErrInvalidSpec, "unsupported YAML tag "+strconv.Quote(tag))
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	sc := jsonScanner{data: []byte(s)}
	_, err := sc.readNumber()
	return err == nil && sc.pos == len(s)
}
