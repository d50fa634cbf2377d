package dag_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/dag"
)

// malformedCase is a spec that Parse or Compile must refuse.
type malformedCase struct {
	name     string
	doc      string
	sentinel error
	path     string // node path, "" for the workflow
	field    string // field named in the error, "" for the whole document
	line     int    // expected line when > 0
	contains string // more text the message must have
}

// yamlSpec wraps YAML node lines into a spec named wf.
func yamlSpec(nodes string) string { return "name: wf\nnodes:\n" + nodes }

var malformedCases = []malformedCase{
	// Syntax and shape (Parse).
	{name: "YAMLSyntax", doc: "name: wf\nnodes: [\n", sentinel: dag.ErrInvalidSpec, line: 2, contains: "invalid YAML"},
	{name: "JSONSyntax", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop",]}`, sentinel: dag.ErrInvalidSpec, path: "a", line: 1, contains: "invalid JSON"},
	{name: "JSONTrailingData", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop"}]} {"name": "x"}`, sentinel: dag.ErrInvalidSpec, contains: "after the spec"},
	{name: "YAMLTrailingDocument", doc: "name: wf\nnodes: [{id: a, kind: noop}]\n---\nname: other\n", sentinel: dag.ErrInvalidSpec, line: 3, contains: "one document"},
	{name: "EmptyDocument", doc: "# nothing here\n", sentinel: dag.ErrInvalidSpec, contains: "empty"},
	{name: "SpecNotMapping", doc: "- a\n- b\n", sentinel: dag.ErrInvalidSpec, line: 1, contains: "must be a mapping"},
	{name: "UnknownTopField", doc: "nmae: wf\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrUnknownField, field: "nmae", line: 1, contains: `did you mean "name"`},
	{name: "UnknownNodeFieldJSONIdLast", doc: `{"name": "wf", "nodes": [{"kind": "noop", "dep": ["x"], "id": "a"}]}`, sentinel: dag.ErrUnknownField, path: "a", field: "dep", line: 1, contains: `did you mean "deps"`},
	{name: "UnknownDefaultsField", doc: "name: wf\ndefaults:\n  retries: 3\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrUnknownField, field: "defaults.retries", line: 3},
	{name: "UnknownNestedFieldYAML", doc: yamlSpec("  - id: g\n    nodes:\n      - id: a\n        kind: noop\n        color: red\n"), sentinel: dag.ErrUnknownField, path: "g/a", field: "color", line: 7},
	{name: "DuplicateTopKey", doc: "name: wf\nname: again\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrDuplicateKey, field: "name", line: 2},
	{name: "DuplicateNodeKeyJSON", doc: "{\"name\": \"wf\", \"nodes\": [\n{\"id\": \"a\", \"kind\": \"noop\", \"kind\": \"echo\"}]}", sentinel: dag.ErrDuplicateKey, path: "a", field: "kind", line: 2},
	{name: "DuplicateArgsKeyYAML", doc: yamlSpec("  - id: a\n    kind: noop\n    args: {x: 1, x: 2}\n"), sentinel: dag.ErrDuplicateKey, path: "a", field: "args", line: 5},
	{name: "DuplicateArgsKeyJSON", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop", "args": {"x": 1, "\u0078": 2}}]}`, sentinel: dag.ErrDuplicateKey, path: "a", field: "args"},
	{name: "NameWrongType", doc: "name: {a: 1}\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidSpec, field: "name", line: 1, contains: "must be a string"},
	{name: "DepsWrongType", doc: yamlSpec("  - {id: a, kind: noop}\n  - {id: b, kind: noop, deps: a}\n"), sentinel: dag.ErrInvalidSpec, path: "b", field: "deps", line: 4},
	{name: "NodeNotMapping", doc: yamlSpec("  - {id: a, kind: noop}\n  - just-a-string\n"), sentinel: dag.ErrInvalidSpec, path: "nodes[1]", line: 4, contains: "must be a mapping"},
	{name: "NodesNotListJSON", doc: `{"name": "wf", "nodes": {"id": "a"}}`, sentinel: dag.ErrInvalidSpec, field: "nodes", contains: "must be a list of nodes"},
	{name: "CustomYAMLTag", doc: yamlSpec("  - {id: a, kind: !shell noop}\n"), sentinel: dag.ErrInvalidSpec, path: "a", field: "kind", contains: "unsupported YAML tag"},
	{name: "YAMLAliasBomb", doc: "name: wf\nnodes:\n  - id: a\n    kind: noop\n    args:\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", sentinel: dag.ErrInvalidSpec, path: "a", field: "args", contains: "expand"},
	{name: "YAMLRecursiveAlias", doc: yamlSpec("  - id: a\n    kind: noop\n    args: &loop {self: [*loop]}\n"), sentinel: dag.ErrInvalidSpec, path: "a", field: "args", contains: "refers to itself"},
	{name: "ArgsInfinity", doc: yamlSpec("  - {id: a, kind: noop, args: {x: .inf}}\n"), sentinel: dag.ErrInvalidSpec, path: "a", field: "args", contains: "no JSON form"},
	{name: "JSONNestedTooDeep", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop", "args": {"x": ` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + `}}]}`, sentinel: dag.ErrInvalidSpec, path: "a", contains: "nested too deeply"},
	{name: "NestedJSONPathResolvedLater", doc: `{"name": "wf", "nodes": [{"nodes": [{"kind": "noop", "priority": 5, "id": "b"}], "id": "g"}]}`, sentinel: dag.ErrInvalidSpec, path: "g/b", field: "priority", contains: "must be a string"},

	// Workflow fields (Compile).
	{name: "MissingName", doc: "nodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidName, field: "name", contains: "is required"},
	{name: "BadNameChars", doc: "name: nightly report\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidName, field: "name", contains: "' '"},
	{name: "KeyTooLong", doc: "name: wf\nkey: " + strings.Repeat("k", 257) + "\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidKey, field: "key"},
	{name: "KeyUnprintable", doc: "{\"name\": \"wf\", \"key\": \"a\\tb\", \"nodes\": [{\"id\": \"a\", \"kind\": \"noop\"}]}", sentinel: dag.ErrInvalidKey, field: "key", contains: "unprintable"},
	{name: "InputList", doc: "name: wf\ninput: [1, 2]\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrNotObject, field: "input", line: 2},
	{name: "InputStringJSON", doc: `{"name": "wf", "input": "eu", "nodes": [{"id": "a", "kind": "noop"}]}`, sentinel: dag.ErrNotObject, field: "input"},
	{name: "EmptyNodes", doc: "name: wf\nnodes: []\n", sentinel: dag.ErrNoNodes, field: "nodes"},
	{name: "MissingNodes", doc: `{"name": "wf"}`, sentinel: dag.ErrNoNodes, field: "nodes"},
	{name: "DefaultsPriority", doc: "name: wf\ndefaults: {priority: urgent}\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidPriority, field: "defaults.priority", contains: "realtime, high, normal or bulk"},
	{name: "DefaultsZeroTimeout", doc: "name: wf\ndefaults: {timeout: 0s}\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidDuration, field: "defaults.timeout", line: 2, contains: "positive"},
	{name: "DefaultsQueue", doc: "name: wf\ndefaults: {queue: Reports}\nnodes: [{id: a, kind: noop}]\n", sentinel: dag.ErrInvalidQueue, field: "defaults.queue"},

	// Node fields (Compile, or Parse where only the document can tell).
	{name: "InvalidID", doc: yamlSpec("  - {id: a/b, kind: noop}\n"), sentinel: dag.ErrInvalidID, path: "nodes[0]", field: "id", contains: `'/'`},
	{name: "MissingIDNested", doc: yamlSpec("  - id: g\n    nodes:\n      - {id: a, kind: noop}\n      - {kind: noop}\n"), sentinel: dag.ErrInvalidID, path: "g/nodes[1]", field: "id", contains: "is required"},
	{name: "DuplicateID", doc: yamlSpec("  - {id: a, kind: noop}\n  - {id: a, kind: echo}\n"), sentinel: dag.ErrDuplicateID, path: "a", field: "id"},
	{name: "UnknownDep", doc: yamlSpec("  - {id: a, kind: noop}\n  - {id: b, kind: noop, deps: [x]}\n"), sentinel: dag.ErrUnknownDep, path: "b", field: "deps", contains: `unknown dep "x" (deps name sibling nodes only)`},
	{name: "DepOnNonSibling", doc: yamlSpec("  - id: g\n    nodes: [{id: inner, kind: noop}]\n  - {id: b, kind: noop, deps: [inner]}\n"), sentinel: dag.ErrUnknownDep, path: "b", field: "deps", contains: `"g/inner" is not a sibling`},
	{name: "SelfDep", doc: yamlSpec("  - {id: a, kind: noop, deps: [a]}\n"), sentinel: dag.ErrCycle, path: "a", field: "deps", contains: "cycle: a -> a"},
	{name: "Cycle", doc: yamlSpec("  - {id: a, kind: noop, deps: [b]}\n  - {id: b, kind: noop, deps: [c]}\n  - {id: c, kind: noop, deps: [a]}\n  - {id: d, kind: noop, deps: [c]}\n"), sentinel: dag.ErrCycle, path: "a", field: "deps", contains: "cycle: a -> b -> c -> a"},
	{name: "CycleInGroup", doc: yamlSpec("  - id: g\n    nodes:\n      - {id: ok, kind: noop}\n      - {id: x, kind: noop, deps: [y]}\n      - {id: y, kind: noop, deps: [x, ok]}\n"), sentinel: dag.ErrCycle, path: "g/x", field: "deps", contains: "cycle: x -> y -> x"},
	{name: "DuplicateDep", doc: yamlSpec("  - {id: a, kind: noop}\n  - {id: b, kind: noop, deps: [a, a]}\n"), sentinel: dag.ErrDuplicateDep, path: "b", field: "deps", contains: `"a"`},
	{name: "KindAndNodes", doc: yamlSpec("  - id: g\n    kind: noop\n    nodes: [{id: a, kind: noop}]\n"), sentinel: dag.ErrKindAndNodes, path: "g", field: "kind"},
	{name: "NoKindNorNodes", doc: yamlSpec("  - {id: a, args: {x: 1}}\n"), sentinel: dag.ErrNoKindNorNodes, path: "a", field: "kind"},
	{name: "EmptyGroup", doc: yamlSpec("  - {id: g, nodes: []}\n"), sentinel: dag.ErrEmptyGroup, path: "g", field: "nodes"},
	{name: "UnknownKind", doc: yamlSpec("  - {id: a, kind: mystery}\n"), sentinel: dag.ErrUnknownKind, path: "a", field: "kind", contains: `"mystery"`},
	{name: "InvalidKind", doc: yamlSpec("  - {id: a, kind: my kind}\n"), sentinel: dag.ErrInvalidKind, path: "a", field: "kind"},
	{name: "KindTooLong", doc: yamlSpec("  - {id: a, kind: " + strings.Repeat("k", 128) + "}\n"), sentinel: dag.ErrInvalidKind, path: "a", field: "kind", contains: "127"},
	{name: "Priority", doc: yamlSpec("  - {id: a, kind: noop, priority: urgent}\n"), sentinel: dag.ErrInvalidPriority, path: "a", field: "priority"},
	{name: "TimeoutNoUnit", doc: yamlSpec("  - {id: a, kind: noop, timeout: 30}\n"), sentinel: dag.ErrInvalidDuration, path: "a", field: "timeout", line: 3, contains: `"30s"`},
	{name: "TimeoutNegativeJSON", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop", "timeout": "-5s"}]}`, sentinel: dag.ErrInvalidDuration, path: "a", field: "timeout", contains: "positive"},
	{name: "TimeoutNumberJSON", doc: `{"name": "wf", "nodes": [{"timeout": 30, "id": "a", "kind": "noop"}]}`, sentinel: dag.ErrInvalidDuration, path: "a", field: "timeout"},
	{name: "MaxAttemptsZero", doc: yamlSpec("  - id: a\n    kind: noop\n    max_attempts: 0\n"), sentinel: dag.ErrInvalidMaxAttempts, path: "a", field: "max_attempts", line: 5, contains: "got 0"},
	{name: "MaxAttemptsNegativeJSON", doc: `{"name": "wf", "nodes": [{"id": "a", "kind": "noop", "max_attempts": -1}]}`, sentinel: dag.ErrInvalidMaxAttempts, path: "a", field: "max_attempts"},
	{name: "MaxAttemptsFraction", doc: yamlSpec("  - {id: a, kind: noop, max_attempts: 2.5}\n"), sentinel: dag.ErrInvalidMaxAttempts, path: "a", field: "max_attempts", contains: "whole number"},
	{name: "MaxAttemptsOverSmallint", doc: `{"name": "wf", "defaults": {"max_attempts": 40000}, "nodes": [{"id": "a", "kind": "noop"}]}`, sentinel: dag.ErrInvalidMaxAttempts, field: "defaults.max_attempts", contains: "32767"},
	{name: "Policy", doc: yamlSpec("  - {id: a, kind: noop}\n  - {id: b, kind: noop, deps: [a], on_dep_failure: ignore}\n"), sentinel: dag.ErrInvalidPolicy, path: "b", field: "on_dep_failure", contains: "cancel, skip or run"},
	{name: "QueueDoubleSeparator", doc: yamlSpec("  - {id: a, kind: noop, queue: bulk__jobs}\n"), sentinel: dag.ErrInvalidQueue, path: "a", field: "queue"},
	{name: "ArgsList", doc: yamlSpec("  - {id: a, kind: noop, args: [1, 2]}\n"), sentinel: dag.ErrNotObject, path: "a", field: "args", line: 3},
	{name: "ArgsStringJSON", doc: `{"name": "wf", "nodes": [{"args": "ms=20", "id": "a", "kind": "noop"}]}`, sentinel: dag.ErrNotObject, path: "a", field: "args"},
	{name: "GroupWithArgs", doc: yamlSpec("  - id: g\n    args: {x: 1}\n    nodes: [{id: a, kind: noop}]\n"), sentinel: dag.ErrGroupField, path: "g", field: "args", contains: "leaves only"},
	{name: "GroupWithQueue", doc: yamlSpec("  - id: g\n    queue: bulk\n    nodes: [{id: a, kind: noop}]\n"), sentinel: dag.ErrGroupField, path: "g", field: "queue"},
}

func TestMalformedSpecs(t *testing.T) {
	t.Parallel()

	require.GreaterOrEqual(t, len(malformedCases), 30)
	for _, tt := range malformedCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := parseAndCompile(tt.doc, &dag.CompileOpts{KnownKind: builtinKinds})
			ve := findValidationError(t, err, tt.sentinel)
			require.Equal(t, tt.path, ve.Path, "path in %v", ve)
			require.Equal(t, tt.field, ve.Field, "field in %v", ve)
			msg := ve.Error()
			switch {
			case tt.path != "":
				require.Contains(t, msg, fmt.Sprintf("node %q: ", tt.path))
				if tt.field != "" {
					require.Contains(t, msg, fmt.Sprintf("node %q: %s: ", tt.path, tt.field))
				}
			case tt.field != "":
				require.Contains(t, msg, "workflow: "+tt.field+": ")
			}
			if tt.line > 0 {
				require.Equal(t, tt.line, ve.Line, "line in %v", ve)
				require.True(t, strings.HasPrefix(msg, fmt.Sprintf("line %d: ", tt.line)), msg)
			}
			require.Contains(t, msg, tt.contains)
			require.Contains(t, err.Error(), msg)
		})
	}
}
