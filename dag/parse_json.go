package dag

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// jsonDecoder reads a JSON spec in one pass, without reflection. It keeps
// going after the first problem that is not a syntax error, so that the
// problem's node path can use an id that comes later in the object; only the
// first problem is reported.
type jsonDecoder struct {
	s       jsonScanner
	frame   *frame
	first   *docError
	scratch []byte
}

// parseJSON parses a JSON spec document. It reports whether an error is a
// syntax error, after which the document may still be YAML.
func parseJSON(data []byte) (*Spec, bool, error) {
	d := &jsonDecoder{s: jsonScanner{data: data}}
	var spec Spec
	err := d.spec(&spec)
	if err == nil && !d.s.atEnd() {
		err = d.s.fail("unexpected " + d.s.describe() + " after the spec (a spec is one document)")
	}
	if d.first != nil {
		return nil, false, d.first.validation()
	}
	if err != nil {
		return nil, true, &ValidationError{Path: d.frame.path(), Line: d.line(err.pos), Err: ErrInvalidSpec, Msg: "invalid JSON: " + err.msg}
	}
	return &spec, false, nil
}

// line returns the 1-based line of a byte offset.
func (d *jsonDecoder) line(pos int) int {
	return 1 + bytes.Count(d.s.data[:min(pos, len(d.s.data))], []byte{'\n'})
}

// problem records a problem at pos unless one is recorded already.
func (d *jsonDecoder) problem(pos int, field string, sentinel error, msg string) {
	if d.first == nil {
		d.first = &docError{frame: d.frame, field: field, line: d.line(pos), err: sentinel, msg: msg}
	}
}

// skip consumes a value whose problem was recorded.
func (d *jsonDecoder) skip() *scanError {
	var err *scanError
	d.scratch, err = d.s.appendValue(d.scratch[:0], false)
	return err
}

// null consumes a null literal if one is next.
func (d *jsonDecoder) null() bool {
	if d.s.peek() == 'n' && bytes.HasPrefix(d.s.data[d.s.pos:], []byte("null")) {
		d.s.pos += len("null")
		return true
	}
	return false
}

// object reads the members of an object; fn is called with the scanner at
// each value and must consume it. Duplicate keys are problems.
func (d *jsonDecoder) object(field string, fn func(key []byte, keyPos int) *scanError) *scanError {
	s := &d.s
	if s.depth++; s.depth > maxJSONNesting {
		return s.fail("JSON nested too deeply")
	}
	s.pos++ // '{', checked by the caller
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	base := len(s.members)
	defer func() { s.members = s.members[:base] }()
	var seen map[string]struct{}
	for {
		keyPos := s.pos
		if s.peek() != '"' {
			return s.fail("expected a quoted key in object, found " + s.describe())
		}
		raw, plain, err := s.scanString()
		if err != nil {
			return err
		}
		key := decodedKey(raw, plain)
		if err := s.expect(':', "':' after object key"); err != nil {
			return err
		}
		s.skipSpace()
		s.members = append(s.members, member{key: key})
		if isDuplicate(s.members[base:], &seen) {
			d.problem(keyPos, fieldName(field, string(key)), ErrDuplicateKey, "duplicate key "+strconv.Quote(truncate(string(key))))
			err = d.skip()
		} else {
			err = fn(key, keyPos)
		}
		if err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.fail("expected ',' or '}' in object, found " + s.describe())
		}
	}
}

// keyName returns a known field name without allocating, else a copy of
// the key.
func keyName(b []byte) string {
	for _, names := range [...][]string{nodeFields, specFields} {
		for _, name := range names {
			if string(b) == name {
				return name
			}
		}
	}
	return string(b)
}

// spec reads the top-level object.
func (d *jsonDecoder) spec(spec *Spec) *scanError {
	if d.s.peek() != '{' {
		return d.s.fail("a spec must be a JSON object, found " + d.s.describe())
	}
	return d.object("", func(keyBytes []byte, keyPos int) *scanError {
		key := keyName(keyBytes)
		var err *scanError
		switch key {
		case "name":
			spec.Name, err = d.str(key)
		case "key":
			spec.Key, err = d.str(key)
		case "input":
			spec.Input, err = d.rawObject(key)
		case "defaults":
			err = d.defaults(&spec.Defaults)
		case "deadline":
			spec.Deadline, err = d.duration(key)
		case "nodes":
			spec.Nodes, err = d.nodes(key, nil)
		default:
			d.problem(keyPos, key, ErrUnknownField, unknownField(key, specFields))
			err = d.skip()
		}
		return err
	})
}

// defaults reads the defaults object.
func (d *jsonDecoder) defaults(def *Defaults) *scanError {
	if d.null() {
		return nil
	}
	if d.s.peek() != '{' {
		d.problem(d.s.pos, "defaults", ErrInvalidSpec, "must be an object, found "+d.s.describe())
		return d.skip()
	}
	return d.object("defaults", func(keyBytes []byte, keyPos int) *scanError {
		key := keyName(keyBytes)
		field := fieldName("defaults", key)
		if ok, err := d.setting(&def.Settings, key, field); ok {
			return err
		}
		if ok, err := d.control(&def.Control, key, field); ok {
			return err
		}
		d.problem(keyPos, field, ErrUnknownField, unknownField(key, defaultsFields))
		return d.skip()
	})
}

// setting reads the value of a leaf setting (a key of Settings) into st.
// It reports false, consuming nothing, when key is not a setting.
func (d *jsonDecoder) setting(st *Settings, key, field string) (bool, *scanError) {
	var err *scanError
	switch key {
	case "queue":
		st.Queue, err = d.str(field)
	case "priority":
		st.Priority, err = d.str(field)
	case "max_attempts":
		st.MaxAttempts, err = d.maxAttempts(field)
	case "timeout":
		st.Timeout, err = d.duration(field)
	default:
		return false, nil
	}
	return true, err
}

// control reads a flow-control object (a key of Control) into ctl. It
// reports false, consuming nothing, when key is not one.
func (d *jsonDecoder) control(ctl *Control, key, field string) (bool, *scanError) {
	dst := ctl.field(key)
	if dst == nil {
		return false, nil
	}
	pos := d.s.pos
	if d.s.peek() != '{' {
		d.problem(pos, field, ErrInvalidSpec, "must be an object, found "+d.s.describe())
		return true, d.skip()
	}
	raw, err := d.rawObject(field)
	if err != nil {
		return true, err
	}
	if sentinel, msg := decodeControl(key, raw, dst); sentinel != nil {
		d.problem(pos, field, sentinel, msg)
	}
	return true, nil
}

// nodes reads a list of nodes under parent (nil at the top level).
func (d *jsonDecoder) nodes(field string, parent *frame) ([]Node, *scanError) {
	s := &d.s
	if d.null() {
		return nil, nil
	}
	if s.peek() != '[' {
		d.problem(s.pos, field, ErrInvalidSpec, "must be a list of nodes, found "+s.describe())
		return nil, d.skip()
	}
	if s.depth++; s.depth > maxJSONNesting {
		return nil, s.fail("JSON nested too deeply")
	}
	s.pos++
	nodes := []Node{}
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nodes, nil
	}
	saved := d.frame // Left as is on a syntax error, to name the node.
	for i := 0; ; i++ {
		f := &frame{parent: parent, index: i}
		d.frame = f
		var err *scanError
		if s.peek() == '{' {
			nodes = append(nodes, Node{})
			err = d.node(&nodes[len(nodes)-1], f)
		} else {
			d.problem(s.pos, "", ErrInvalidSpec, "a node must be an object, found "+s.describe())
			err = d.skip()
		}
		if err != nil {
			return nodes, err
		}
		d.frame = saved
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nodes, nil
		default:
			d.frame = f
			return nodes, s.fail("expected ',' or ']' after the node, found " + s.describe())
		}
	}
}

// node reads one node object.
func (d *jsonDecoder) node(n *Node, f *frame) *scanError {
	return d.object("", func(keyBytes []byte, keyPos int) *scanError {
		key := keyName(keyBytes)
		var err *scanError
		switch key {
		case "id":
			n.ID, err = d.str(key)
			f.id = n.ID
		case "kind":
			n.Kind, err = d.str(key)
		case "args":
			n.Args, err = d.rawObject(key)
		case "deps":
			n.Deps, err = d.strList(key)
		case "nodes":
			n.Nodes, err = d.nodes(key, f)
		case "on_dep_failure":
			n.OnDepFailure, err = d.str(key)
		case "delay":
			n.Delay, err = d.duration(key)
		case "not_before":
			n.NotBefore, err = d.str(key)
		default:
			var ok bool
			if ok, err = d.setting(&n.Settings, key, key); !ok {
				ok, err = d.control(&n.Control, key, key)
			}
			if !ok {
				d.problem(keyPos, key, ErrUnknownField, unknownField(key, nodeFields))
				err = d.skip()
			}
		}
		return err
	})
}

// str reads a string; null reads as "".
func (d *jsonDecoder) str(field string) (string, *scanError) {
	if d.s.peek() == '"' {
		v, _, err := d.s.readString()
		return v, err
	}
	if d.null() {
		return "", nil
	}
	d.problem(d.s.pos, field, ErrInvalidSpec, "must be a string, found "+d.s.describe())
	return "", d.skip()
}

// strList reads a list of strings (deps).
func (d *jsonDecoder) strList(field string) ([]string, *scanError) {
	s := &d.s
	if d.null() {
		return nil, nil
	}
	if s.peek() != '[' {
		d.problem(s.pos, field, ErrInvalidSpec, "must be a list of node ids, found "+s.describe())
		return nil, d.skip()
	}
	s.pos++
	list := []string{}
	if s.peek() == ']' {
		s.pos++
		return list, nil
	}
	for {
		if s.peek() == '"' {
			v, _, err := s.readString()
			if err != nil {
				return list, err
			}
			list = append(list, v)
		} else {
			d.problem(s.pos, field, ErrInvalidSpec, "must be a list of node ids, found "+s.describe()+" in it")
			if err := d.skip(); err != nil {
				return list, err
			}
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return list, nil
		default:
			return list, s.fail("expected ',' or ']' in list, found " + s.describe())
		}
	}
}

// rawObject reads args or input as compact JSON.
func (d *jsonDecoder) rawObject(field string) (json.RawMessage, *scanError) {
	if d.null() {
		return nil, nil
	}
	if d.s.peek() != '{' {
		d.problem(d.s.pos, field, ErrNotObject, "must be a JSON object, found "+d.s.describe())
		return nil, d.skip()
	}
	// Built in scratch and copied once, instead of grown from nil.
	var err *scanError
	d.scratch, err = d.s.appendObject(d.scratch[:0], false)
	if err != nil && err.dup {
		d.problem(err.pos, field, ErrDuplicateKey, err.msg)
	}
	return bytes.Clone(d.scratch), err
}

// maxAttempts reads a max_attempts, where 0 is an error.
func (d *jsonDecoder) maxAttempts(field string) (int, *scanError) {
	s := &d.s
	if d.null() {
		return 0, nil
	}
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		d.problem(s.pos, field, ErrInvalidSpec, "must be a whole number, found "+s.describe())
		return 0, d.skip()
	}
	pos := s.pos
	text, err := s.readNumber()
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(string(text), 10, 64)
	if perr != nil {
		if bytes.ContainsAny(text, ".eE") {
			d.problem(pos, field, ErrInvalidMaxAttempts, "must be a whole number (got "+string(text)+")")
		} else {
			d.problem(pos, field, ErrInvalidMaxAttempts, "must be between 1 and 32767 (got "+truncate(string(text))+")")
		}
		return 0, nil
	}
	if msg := checkMaxAttempts(v); msg != "" {
		d.problem(pos, field, ErrInvalidMaxAttempts, msg)
		return 0, nil
	}
	return int(v), nil
}

// duration reads a timeout string.
func (d *jsonDecoder) duration(field string) (Duration, *scanError) {
	s := &d.s
	if d.null() {
		return 0, nil
	}
	pos := s.pos
	if s.peek() != '"' {
		d.problem(pos, field, ErrInvalidDuration, "must be a duration string such as \"30s\", found "+s.describe())
		return 0, d.skip()
	}
	v, _, err := s.readString()
	if err != nil {
		return 0, err
	}
	dur, derr := ParseDuration(v)
	if derr != nil {
		d.problem(pos, field, ErrInvalidDuration, durationMsg(v))
		return 0, nil
	}
	return dur, nil
}

// durationMsg explains a bad duration string.
func durationMsg(v string) string {
	if _, err := time.ParseDuration(v); err == nil {
		return strconv.Quote(truncate(v)) + " must be positive"
	}
	return strconv.Quote(truncate(v)) + ` is not a duration (want a Go duration such as "30s" or "1m30s")`
}
