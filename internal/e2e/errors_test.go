package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// Exit codes of the CLI contract (internal/cliutil).
const (
	exitOK             = 0
	exitError          = 1
	exitUsage          = 2
	exitInvalidSpec    = 3
	exitWorkflowFailed = 4
)

// badCase is one row of examples/bad/README.md.
type badCase struct {
	file, want string
}

// readBadCases reads the table of examples/bad/README.md and checks that it
// covers exactly the files in examples/bad.
func readBadCases(t *testing.T) []badCase {
	t.Helper()
	dir := filepath.Join(moduleRoot, "examples", "bad")
	f, err := os.Open(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	defer f.Close()
	row := regexp.MustCompile("^\\| `([^`]+)` \\| `(.+)` \\|$")
	var cases []badCase
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			require.False(t, listed[m[1]], "examples/bad/README.md lists %s twice", m[1])
			listed[m[1]] = true
			cases = append(cases, badCase{file: m[1], want: m[2]})
		}
	}
	require.NoError(t, sc.Err())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		if e.Name() != "README.md" {
			files = append(files, e.Name())
		}
	}
	var rows []string
	for name := range listed {
		rows = append(rows, name)
	}
	sort.Strings(files)
	sort.Strings(rows)
	require.Equal(t, files, rows, "every file in examples/bad needs a row in its README.md table, and every row a file")
	require.GreaterOrEqual(t, len(cases), 12)
	return cases
}

// TestRejectedSpecs submits every malformed spec: exit 3, the expected
// message (naming the file, node path and field), nothing on stdout and
// nothing written.
func TestRejectedSpecs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := readBadCases(t)

	// Generated: over the 1 MiB limits of args and input.
	big := strings.Repeat("x", 1<<20)
	oversizeArgs := writeFile(t, "oversize-args.json",
		`{"name": "big-args", "nodes": [{"id": "a", "kind": "echo", "args": {"blob": "`+big+`"}}]}`)
	oversizeInput := writeFile(t, "oversize-input.json",
		`{"name": "big-input", "input": {"blob": "`+big+`"}, "nodes": [{"id": "a", "kind": "noop"}]}`)
	type tc struct{ name, file, want string }
	var all []tc
	for _, c := range cases {
		all = append(all, tc{c.file, filepath.Join("examples", "bad", c.file), c.want})
	}
	all = append(all,
		tc{"oversize args", oversizeArgs, `node "a": args: is 1048587 bytes of JSON, more than the limit of 1048576 (1 MiB)`},
		tc{"oversize input", oversizeInput, `workflow: input: is 1048587 bytes of JSON, more than the limit of 1048576 (1 MiB)`},
	)

	before := pgtest.Counts(t, e.Pool)
	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			r := e.enqueue("submit", c.file)
			require.Equal(t, exitInvalidSpec, r.code, "%s", r)
			require.Contains(t, r.stderr, c.want, "%s", r)
			require.Contains(t, r.stderr, "enqueue: "+c.file+": ", "the message names the file")
			require.Empty(t, r.stdout)
		})
	}
	t.Run("from stdin", func(t *testing.T) {
		bad, err := os.ReadFile(filepath.Join(moduleRoot, "examples", "bad", "cycle.yaml"))
		require.NoError(t, err)
		r := e.enqueueStdin(string(bad), "submit", "-")
		require.Equal(t, exitInvalidSpec, r.code, "%s", r)
		require.Contains(t, r.stderr, "enqueue: stdin: ")
		require.Contains(t, r.stderr, "cycle")
	})
	require.Equal(t, before, pgtest.Counts(t, e.Pool), "a rejected spec writes nothing")
}

// TestCommandErrors checks the exit codes and messages of commands that fail
// before or while reaching the database.
func TestCommandErrors(t *testing.T) {
	t.Parallel()
	const (
		secret      = "pa55-w0rd-xyz"
		unreachable = "postgres://qfuser:" + secret + "@127.0.0.1:1/qfdb?sslmode=disable"
		someID      = "7b6a1f4e-3c2d-4b5a-9e8f-1a2b3c4d5e6f"
	)
	dbEnv := []string{"DATABASE_URL=" + unreachable}
	tests := []struct {
		name     string
		env      []string
		args     []string
		code     int
		contains []string
	}{
		{"unknown flag", dbEnv, []string{"submit", "--frobnicate", "examples/hello.yaml"}, exitUsage,
			[]string{"unknown flag: --frobnicate", "enqueue submit --help"}},
		{"unknown command", dbEnv, []string{"sumbit", "examples/hello.yaml"}, exitUsage,
			[]string{`unknown command "sumbit"`, `did you mean "submit"?`}},
		{"missing file", dbEnv, []string{"submit", "examples/no-such-spec.yaml"}, exitUsage,
			[]string{"examples/no-such-spec.yaml", "no such file"}},
		{"no database", nil, []string{"list"}, exitUsage,
			[]string{"no database given: set DATABASE_URL or pass --database-url"}},
		{"no database for submit", nil, []string{"submit", "examples/hello.yaml"}, exitUsage,
			[]string{"DATABASE_URL"}},
		{"invalid id", dbEnv, []string{"status", "12345"}, exitUsage,
			[]string{`invalid workflow id "12345"`}},
		{"bad retry mode", dbEnv, []string{"retry", "--mode", "everything", someID}, exitUsage,
			[]string{`invalid --mode "everything"`, "failed-only", "failed-and-downstream", "all"}},
		{"unreachable: list", dbEnv, []string{"list"}, exitError,
			[]string{"enqueue: connect to qfuser@127.0.0.1:1/qfdb"}},
		{"unreachable: submit", dbEnv, []string{"submit", "examples/hello.yaml"}, exitError,
			[]string{"127.0.0.1:1"}},
		{"unreachable: status", dbEnv, []string{"status", someID}, exitError,
			[]string{"127.0.0.1:1"}},
		{"unreachable via flag", nil, []string{"--database-url", unreachable, "cancel", someID}, exitError,
			[]string{"127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runEnqueue(t, tt.env, nil, tt.args...)
			require.Equal(t, tt.code, r.code, "%s", r)
			for _, s := range tt.contains {
				require.Contains(t, r.stderr, s, "%s", r)
			}
			require.True(t, strings.HasPrefix(r.stderr, "enqueue: ") || strings.Contains(r.stderr, "\nenqueue: "), "errors start with the command's name:\n%s", r)
			require.NotContains(t, r.stderr+r.stdout, secret, "the password is never printed")
			require.Empty(t, r.stdout)
		})
	}

	t.Run("help exits 0", func(t *testing.T) {
		t.Parallel()
		for _, cmd := range []string{"submit", "status", "list", "cancel", "retry", "wait", "migrate"} {
			r := runEnqueue(t, nil, nil, cmd, "--help")
			require.Equal(t, exitOK, r.code, "%s", r)
			require.Contains(t, r.stdout, "Examples:", "enqueue %s --help", cmd)
		}
	})
}

// TestNotFound covers a well-formed id that names no workflow.
func TestNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "00000000-0000-4000-8000-000000000000"
	for _, args := range [][]string{{"status", id}, {"cancel", id}, {"retry", id}, {"wait", id}} {
		r := e.enqueue(args...)
		require.Equal(t, exitError, r.code, "%v: %s", args, r)
		require.Contains(t, r.stderr, id, "%v names the id", args)
		require.Contains(t, r.stderr, "workflow not found", "%v", args)
	}
	r := e.enqueue("list", "-o", "json")
	require.Equal(t, exitOK, r.code, "%s", r)
	var rows []any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	require.Empty(t, rows)
	require.NotNil(t, rows, "an empty list is [], not null")
}
