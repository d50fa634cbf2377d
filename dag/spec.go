package dag

import (
	"encoding/json"
	"fmt"
	"time"
)

// Limits of a workflow. Each has its own error: ErrArgsTooLarge,
// ErrInputTooLarge, ErrTooManyNodes, ErrTooDeep and ErrSpecTooLarge. The
// runtime enforces MaxOutputBytes, which is defined here so that every limit
// of the contract lives in one place.
const (
	// MaxArgsBytes is the largest a node's args may be, measured as compact
	// JSON: 1 MiB.
	MaxArgsBytes = 1 << 20

	// MaxInputBytes is the largest the workflow input may be, measured as
	// compact JSON: 1 MiB.
	MaxInputBytes = 1 << 20

	// MaxOutputBytes is the largest a node's output may be: 8 MiB. The runtime
	// enforces it when a node completes.
	MaxOutputBytes = 8 << 20

	// MaxNodes is the largest number of nodes a workflow may have, groups and
	// dynamically added nodes (expansions) counted.
	MaxNodes = 1_000_000

	// MaxDepth is the deepest the hierarchy may be. Top-level nodes are at
	// depth 1, the members of a top-level group at depth 2, and so on.
	MaxDepth = 32

	// MaxSpecBytes is the largest spec document that Parse reads: 512 MiB.
	MaxSpecBytes = 512 << 20
)

// Spec is a workflow as submitted: a name, an optional idempotency key and
// input, defaults for its leaves, and a DAG of nodes. Parse and ParseBytes
// read one from YAML or JSON; Compile validates it and flattens it into a
// Plan.
//
// A Spec marshals to JSON (which is also YAML) with encoding/json, and the
// result parses back to a spec that compiles to the same Plan.Hash.
type Spec struct {
	// Name names the workflow. Required, [a-zA-Z0-9_.-]{1,128}.
	Name string `json:"name"`

	// Key is an optional idempotency key of 1 to 256 printable characters.
	// Resubmitting a spec with the key of an existing workflow returns that
	// workflow.
	Key string `json:"key,omitempty"`

	// Input is an optional JSON object that every node sees. It must be a
	// JSON object of at most MaxInputBytes when present.
	Input json.RawMessage `json:"input,omitempty"`

	// Defaults apply to every leaf that does not set the field itself.
	Defaults Defaults `json:"defaults,omitzero"`

	// Deadline, when set, bounds the workflow's run: once it has passed
	// since submit, the workflow is cancelled with the reason recorded.
	Deadline Duration `json:"deadline,omitempty"`

	// Nodes is the top level of the DAG. At least one node is required.
	Nodes []Node `json:"nodes"`
}

// Defaults are the settings that apply to every leaf of a workflow unless the
// leaf sets them itself. Zero values mean "not set", and then the built-in
// defaults apply: queue "default", priority normal, 3 attempts, no timeout.
type Defaults struct {
	Settings
	Control
}

// Settings are the leaf settings that Defaults give every leaf and that a
// Node may override for itself. Zero values mean "not set". Both Defaults
// and Node embed Settings, so that d.Queue and n.Queue name the fields
// directly; a composite literal names the embedded struct:
// dag.Defaults{Settings: dag.Settings{Queue: "bulk"}}.
type Settings struct {
	// Queue is the River queue of the leaf's job. River's queue name rules
	// apply: lowercase letters and digits in runs separated by single
	// underscores or hyphens, at most 64 characters.
	Queue string `json:"queue,omitempty"`

	// Priority is one of realtime, high, normal or bulk (River priorities 1
	// to 4).
	Priority string `json:"priority,omitempty"`

	// MaxAttempts counts every attempt of a leaf, River's meaning. It must be
	// at least 1 when set; 0 means not set.
	MaxAttempts int `json:"max_attempts,omitempty"`

	// Timeout bounds one attempt of a leaf. It must be positive when set; 0
	// means not set.
	Timeout Duration `json:"timeout,omitempty"`
}

// Node is one node of the DAG: a leaf, which has a Kind and runs as a River
// job, or a group, which has Nodes (a sub-DAG) and is done when all of them
// are.
type Node struct {
	// ID names the node among its siblings: [a-zA-Z0-9_-]{1,64}. The node's
	// full id, its path, joins the ids from the top with "/":
	// "per-region/b".
	ID string `json:"id"`

	// Kind is the job kind that runs a leaf. Empty for a group.
	Kind string `json:"kind,omitempty"`

	// Args are the leaf's job arguments. They must be a JSON object of at
	// most MaxArgsBytes when present. Groups have no args.
	Args json.RawMessage `json:"args,omitempty"`

	// Deps name the sibling nodes (same level of the hierarchy) that must be
	// done before this node starts. A dep on a group waits for the whole
	// group.
	Deps []string `json:"deps,omitempty"`

	// Nodes makes the node a group when non-empty: a sub-DAG whose members
	// are siblings of one another.
	Nodes []Node `json:"nodes,omitempty"`

	// Settings override the Defaults' for a leaf: Queue, Priority,
	// MaxAttempts and Timeout.
	Settings

	// Control overrides the flow-control settings of the enclosing groups
	// and the Defaults: on a leaf for itself, on a group for its leaves.
	Control

	// Delay makes a leaf start at least this long after its deps are done.
	Delay Duration `json:"delay,omitempty"`

	// NotBefore, an RFC 3339 time, makes a leaf start no earlier than it.
	NotBefore string `json:"not_before,omitempty"`

	// OnDepFailure says what happens to this node (leaf or group) when one of
	// its deps fails or is cancelled: "cancel" (the default), "skip" or
	// "run".
	OnDepFailure string `json:"on_dep_failure,omitempty"`
}

// Duration is a time.Duration that reads and writes as a Go duration string
// such as "30s" or "1m30s". A duration read from a document must be positive;
// the zero value means "not set" and is omitted when marshalling.
type Duration time.Duration

// ParseDuration parses a Go duration string such as "30s" or "1m30s" and
// checks that it is positive. Errors wrap ErrInvalidDuration.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a duration (want a Go duration such as \"30s\" or \"1m30s\")", ErrInvalidDuration, s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: %q must be positive", ErrInvalidDuration, s)
	}
	return Duration(d), nil
}

// String returns the duration in Go's format, "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler, so that YAML encoders write
// the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a JSON string, "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a JSON string with ParseDuration. Numbers are refused
// because their unit would be a guess; null leaves d unchanged.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: want a string such as \"30s\", got %s", ErrInvalidDuration, b)
	}
	return d.UnmarshalText([]byte(s))
}
