package dag

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// hashVersion names the canonical form; change it when the form changes.
const hashVersion = "quantumflow-spec-v1"

// hashWriter writes length-prefixed values into a SHA-256, buffered.
type hashWriter struct {
	h   hash.Hash
	buf []byte
}

func newHashWriter() *hashWriter {
	return &hashWriter{h: sha256.New(), buf: make([]byte, 0, 36<<10)}
}

func (w *hashWriter) bytes(b []byte) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(b)))
	w.buf = append(w.buf, b...)
	w.flush()
}

func (w *hashWriter) str(s string) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(s)))
	w.buf = append(w.buf, s...)
	w.flush()
}

func (w *hashWriter) int(v int64) {
	w.buf = binary.AppendVarint(w.buf, v)
}

func (w *hashWriter) flush() {
	if len(w.buf) >= 32<<10 {
		w.h.Write(w.buf)
		w.buf = w.buf[:0]
	}
}

// sum returns the hex digest.
func (w *hashWriter) sum() string {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
	return hex.EncodeToString(w.h.Sum(nil))
}

// The canonical form of a spec, which Plan.Hash digests, is a sequence of
// length-prefixed values: the workflow's fields, then every node
// breadth-first (the order of compiler.items, which identifies the tree
// together with each node's group) with its fields as written, args and input
// in canonical JSON (keys sorted, strings minimally escaped, numbers as
// written). Absent args and input count as "{}", and durations count in
// nanoseconds, so "90s" and "1m30s" are the same.

// hashSpec writes the workflow's fields.
func (c *compiler) hashSpec(spec *Spec, inputCanon []byte) {
	w := c.hw
	w.str(hashVersion)
	w.str(spec.Name)
	w.str(spec.Key)
	w.bytes(inputCanon)
	w.str(spec.Defaults.Queue)
	w.str(spec.Defaults.Priority)
	w.int(int64(spec.Defaults.MaxAttempts))
	w.int(int64(spec.Defaults.Timeout))
	w.control(spec.Defaults.Control, 0, "", spec.Deadline)
}

// hashItem writes a node's fields.
func (c *compiler) hashItem(it *item, canonArgs []byte) {
	w := c.hw
	n := it.node
	w.int(int64(it.parent))
	w.str(n.ID)
	w.str(n.Kind)
	switch {
	case n.Kind == "":
		w.bytes(nil)
	case canonArgs != nil:
		w.bytes(canonArgs)
	default:
		w.str("{}")
	}
	w.int(int64(len(n.Deps)))
	for _, d := range n.Deps {
		w.str(d)
	}
	w.str(n.Queue)
	w.str(n.Priority)
	w.int(int64(n.MaxAttempts))
	w.int(int64(n.Timeout))
	w.str(n.OnDepFailure)
	w.int(int64(len(n.Nodes)))
	w.control(n.Control, n.Delay, n.NotBefore, 0)
}
