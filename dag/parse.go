package dag

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Field names of the spec format, in the order the docs list them. The
// fields of defaults are those of Settings, which a node has too.
var (
	specFields     = []string{"name", "key", "input", "defaults", "deadline", "nodes"}
	defaultsFields = []string{"queue", "priority", "max_attempts", "timeout", "concurrency", "rate", "retry"}
	nodeFields     = slices.Concat([]string{"id", "kind", "args", "deps", "nodes"}, defaultsFields, []string{"on_dep_failure", "delay", "not_before"})
)

// Parse reads one spec document, YAML or JSON, from r. It reads at most
// MaxSpecBytes and returns ErrSpecTooLarge for more.
//
// Parsing is strict: unknown fields (ErrUnknownField), duplicate keys
// (ErrDuplicateKey), values of the wrong type and more than one document
// (ErrInvalidSpec) are errors, and so are an explicit `max_attempts: 0`
// (ErrInvalidMaxAttempts) and a timeout that is not a positive duration
// (ErrInvalidDuration). YAML `args` and `input` mappings become JSON objects;
// anything else there is ErrNotObject. Errors are *ValidationError values
// naming the line, the node path and the field.
//
// Parse checks the document's shape only; Compile checks the rest (ids,
// deps, kinds, limits).
//
//	spec, err := dag.Parse(f)
//	if err != nil {
//		// handle error
//	}
//	plan, err := dag.Compile(spec, nil)
func Parse(r io.Reader) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseBytes(data)
}

// ParseBytes is Parse for a document in memory. The returned Spec does not
// retain b.
//
// A document whose first character is '{' is read as JSON, with a fast
// strict decoder; when that fails on syntax, it is read again as YAML (flow
// style YAML also starts with '{'), and the JSON error is returned if YAML
// fails too. Anything else is read as YAML.
func ParseBytes(b []byte) (*Spec, error) {
	if len(b) > MaxSpecBytes {
		return nil, &ValidationError{Err: ErrSpecTooLarge, Msg: fmt.Sprintf("spec is larger than %d MiB", MaxSpecBytes>>20)}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		spec, syntax, err := parseJSON(b)
		if !syntax {
			return spec, err
		}
		if yspec, yerr := parseYAML(b); yerr == nil {
			return yspec, nil
		}
		return nil, err
	}
	return parseYAML(b)
}

// frame is a node being read: the chain of frames gives the path of a
// problem. The id is filled in once read, so that a problem found before the
// id (JSON keeps document order) still gets the node's name.
type frame struct {
	parent *frame
	index  int
	id     string
}

// path returns the frame's node path, naming nodes without a valid id by
// position: "per-region/nodes[2]".
func (f *frame) path() string {
	if f == nil {
		return ""
	}
	var parts []string
	for ; f != nil; f = f.parent {
		parts = append(parts, nodeLabel(f.id, f.index))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// nodeLabel is a node's id, or "nodes[i]" when the id is missing or invalid.
func nodeLabel(id string, index int) string {
	if validID(id) {
		return id
	}
	return "nodes[" + strconv.Itoa(index) + "]"
}

// docError is a problem found by a decoder. Its path is resolved from the
// frame when the decoder is done.
type docError struct {
	frame *frame
	field string
	line  int
	err   error
	msg   string
}

func (e *docError) validation() *ValidationError {
	return &ValidationError{Path: e.frame.path(), Field: e.field, Line: e.line, Err: e.err, Msg: e.msg}
}

// unknownField describes an unknown key.
func unknownField(key string, known []string) string {
	return "unknown field " + strconv.Quote(truncate(key)) + suggest(key, known)
}

// fieldName joins a prefix ("defaults") and a key.
func fieldName(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// checkMaxAttempts checks a max_attempts read from a document, where 0 is
// an explicit value, not "unset".
func checkMaxAttempts(v int64) string {
	if v < 1 || v > maxMaxAttempts {
		return fmt.Sprintf("must be between 1 and %d (got %d)", maxMaxAttempts, v)
	}
	return ""
}
