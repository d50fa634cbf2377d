package dag

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error that Parse, ParseBytes, Compile and
// CompileNodes return matches one of them with errors.Is, and is or holds a
// *ValidationError that names the node and field.
var (
	// ErrInvalidSpec is a document that is not valid YAML or JSON, has a
	// value of the wrong type, or has more than one document.
	ErrInvalidSpec = errors.New("invalid spec")

	// ErrUnknownField is a field that the spec format does not have. Unknown
	// fields are an error, never ignored.
	ErrUnknownField = errors.New("unknown field")

	// ErrDuplicateKey is a key that appears twice in one mapping or object.
	// It also matches ErrInvalidSpec.
	ErrDuplicateKey = fmt.Errorf("%w: duplicate key", ErrInvalidSpec)

	// ErrInvalidName is a workflow name that is missing or not
	// [a-zA-Z0-9_.-]{1,128}.
	ErrInvalidName = errors.New("invalid name")

	// ErrInvalidKey is an idempotency key that is not 1 to 256 printable
	// characters.
	ErrInvalidKey = errors.New("invalid key")

	// ErrInvalidID is a node id that is missing or not [a-zA-Z0-9_-]{1,64}.
	ErrInvalidID = errors.New("invalid id")

	// ErrDuplicateID is an id used by two siblings.
	ErrDuplicateID = errors.New("duplicate id")

	// ErrUnknownDep is a dep that names no sibling of the node.
	ErrUnknownDep = errors.New("unknown dep")

	// ErrDuplicateDep is a dep listed twice by one node.
	ErrDuplicateDep = errors.New("duplicate dep")

	// ErrCycle is a cycle among siblings' deps, a node depending on itself
	// included.
	ErrCycle = errors.New("cycle")

	// ErrInvalidKind is a kind that is longer than 127 characters or has a
	// character outside [a-zA-Z0-9_.:-].
	ErrInvalidKind = errors.New("invalid kind")

	// ErrUnknownKind is a kind that CompileOpts.KnownKind does not know.
	ErrUnknownKind = errors.New("unknown kind")

	// ErrKindAndNodes is a node that has both kind and nodes: it must be a
	// leaf or a group.
	ErrKindAndNodes = errors.New("node has both kind and nodes")

	// ErrNoKindNorNodes is a node that has neither kind nor nodes.
	ErrNoKindNorNodes = errors.New("node has neither kind nor nodes")

	// ErrEmptyGroup is a group with an empty list of nodes.
	ErrEmptyGroup = errors.New("empty group")

	// ErrGroupField is a field that only leaves take (args, queue, priority,
	// max_attempts, timeout) set on a group.
	ErrGroupField = errors.New("field applies to leaves only")

	// ErrInvalidPriority is a priority other than realtime, high, normal or
	// bulk.
	ErrInvalidPriority = errors.New("invalid priority")

	// ErrInvalidDuration is a timeout that is not a positive Go duration
	// string.
	ErrInvalidDuration = errors.New("invalid duration")

	// ErrInvalidMaxAttempts is a max_attempts below 1 or above 32767 (River
	// stores attempts in a smallint).
	ErrInvalidMaxAttempts = errors.New("invalid max_attempts")

	// ErrInvalidPolicy is an on_dep_failure other than cancel, skip or run.
	ErrInvalidPolicy = errors.New("invalid on_dep_failure policy")

	// ErrInvalidQueue is a queue name that River would refuse.
	ErrInvalidQueue = errors.New("invalid queue")

	// ErrArgsTooLarge is a node's args over MaxArgsBytes.
	ErrArgsTooLarge = errors.New("args too large")

	// ErrInputTooLarge is a workflow input over MaxInputBytes.
	ErrInputTooLarge = errors.New("input too large")

	// ErrTooManyNodes is a workflow over MaxNodes nodes.
	ErrTooManyNodes = errors.New("too many nodes")

	// ErrTooDeep is a hierarchy deeper than MaxDepth levels.
	ErrTooDeep = errors.New("hierarchy too deep")

	// ErrSpecTooLarge is a spec document over MaxSpecBytes.
	ErrSpecTooLarge = errors.New("spec too large")

	// ErrNotObject is args or input that is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")

	// ErrNoNodes is a spec, or a dynamic expansion, without nodes.
	ErrNoNodes = errors.New("no nodes")

	// ErrInvalidLimit is a concurrency or rate limit below 1.
	ErrInvalidLimit = errors.New("invalid limit")

	// ErrInvalidKeyTemplate is a concurrency or rate key that is empty,
	// longer than MaxControlKeyBytes, uses a template variable other than
	// {{input.FIELD}} and {{args.FIELD}}, or names a field that the input or
	// args do not have (or that is not a string, number or boolean).
	ErrInvalidKeyTemplate = errors.New("invalid key template")

	// ErrInvalidBackoff is a retry backoff other than exponential or
	// constant.
	ErrInvalidBackoff = errors.New("invalid backoff")

	// ErrInvalidTime is a not_before that is not an RFC 3339 time.
	ErrInvalidTime = errors.New("invalid time")
)

// MaxValidationErrors is the number of problems that Compile and CompileNodes
// report at most; they stop looking after that many.
const MaxValidationErrors = 50

// ValidationError is one problem with a spec: what is wrong (Err, one of the
// sentinels, and Msg), where (Path and Field, and Line for Parse errors).
//
// Its message reads like `node "per-region/b": deps: unknown dep "x" (deps
// name sibling nodes only)`, `workflow: name: ...` for workflow-level fields,
// and starts with `line N: ` when the line is known.
type ValidationError struct {
	// Path is the node's path, "per-region/b", or "" for workflow-level
	// problems. A node whose id is missing or invalid is named by its
	// position: "per-region/nodes[2]" (zero-based).
	Path string

	// Field is the field at fault as written in the spec ("deps", "kind",
	// "defaults.queue", ...), or "" when the problem is the whole document.
	Field string

	// Line is the 1-based line of the document where the problem is, when
	// Parse knows it, else 0.
	Line int

	// Err is the sentinel the problem matches with errors.Is.
	Err error

	// Msg is the human detail, like `unknown dep "x"` or `cycle: a -> b ->
	// a`. When empty, Err's message is used.
	Msg string
}

// Error returns the problem with its location.
func (e *ValidationError) Error() string {
	var sb strings.Builder
	if e.Line > 0 {
		sb.WriteString("line ")
		sb.WriteString(strconv.Itoa(e.Line))
		sb.WriteString(": ")
	}
	switch {
	case e.Path != "":
		sb.WriteString("node ")
		sb.WriteString(strconv.Quote(e.Path))
		sb.WriteString(": ")
	case e.Field != "":
		sb.WriteString("workflow: ")
	}
	if e.Field != "" {
		sb.WriteString(e.Field)
		sb.WriteString(": ")
	}
	if e.Msg != "" {
		sb.WriteString(e.Msg)
	} else if e.Err != nil {
		sb.WriteString(e.Err.Error())
	}
	return sb.String()
}

// Unwrap returns Err, so that errors.Is matches the sentinel.
func (e *ValidationError) Unwrap() error { return e.Err }

// ValidationErrors is what Compile and CompileNodes return when a spec has
// more than one problem. errors.Is and errors.As see through it to each
// *ValidationError.
type ValidationErrors struct {
	// Errors are the problems in the order they were found, at most
	// MaxValidationErrors of them.
	Errors []*ValidationError

	// Truncated is true when Compile found MaxValidationErrors problems and
	// stopped looking, so there may be more.
	Truncated bool
}

// Error lists the problems one per line.
func (e *ValidationErrors) Error() string {
	var sb strings.Builder
	for i, ve := range e.Errors {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(ve.Error())
	}
	if e.Truncated {
		fmt.Fprintf(&sb, "\n(stopped after %d problems)", len(e.Errors))
	}
	return sb.String()
}

// Unwrap returns the problems for errors.Is and errors.As.
func (e *ValidationErrors) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, ve := range e.Errors {
		errs[i] = ve
	}
	return errs
}

// errorList collects validation problems up to MaxValidationErrors.
type errorList struct {
	errs      []*ValidationError
	truncated bool
}

// addf records a problem with a formatted message.
func (l *errorList) addf(path, field string, sentinel error, format string, args ...any) bool {
	return l.add(path, field, sentinel, fmt.Sprintf(format, args...))
}

// add records a problem. It reports whether the list is full, in which case
// the caller should stop looking.
func (l *errorList) add(path, field string, sentinel error, msg string) bool {
	if l.full() {
		return true
	}
	l.errs = append(l.errs, &ValidationError{Path: path, Field: field, Err: sentinel, Msg: msg})
	l.truncated = l.full()
	return l.truncated
}

// full reports whether no more problems should be looked for.
func (l *errorList) full() bool { return len(l.errs) >= MaxValidationErrors }

// err returns nil, the one *ValidationError, or a *ValidationErrors.
func (l *errorList) err() error {
	switch len(l.errs) {
	case 0:
		return nil
	case 1:
		return l.errs[0]
	}
	return &ValidationErrors{Errors: l.errs, Truncated: l.truncated}
}
