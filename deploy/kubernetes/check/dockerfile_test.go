package check_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const dockerfile = "../../../Dockerfile"

// TestDockerfile lints the Dockerfile without a Docker engine: it must parse
// (BuildKit's own parser and instruction decoder), be multi-stage, build both
// binaries, run as a non-root user, and take the version build arguments.
func TestDockerfile(t *testing.T) {
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser warning: %s", w.Short)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("instructions: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a runtime", len(stages))
	}
	if !slices.ContainsFunc(metaArgs, func(a instructions.ArgCommand) bool { return a.Args[0].Key == "GO_VERSION" }) {
		t.Errorf("no GO_VERSION argument")
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.BaseName, "golang:") {
		t.Errorf("builder stage FROM %s, want golang", build.BaseName)
	}
	if !strings.Contains(final.BaseName, "distroless/static") && !strings.Contains(final.BaseName, "-slim") {
		t.Errorf("runtime stage FROM %s, want a minimal image", final.BaseName)
	}

	var user string
	var copied []string
	var args []string
	var entry []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.CopyCommand:
			if c.From != build.Name {
				t.Errorf("COPY from %q, want the builder stage %q", c.From, build.Name)
			}
			copied = append(copied, c.SourcePaths...)
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				args = append(args, a.Key)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("ENTRYPOINT in shell form: signals would go to the shell, not the worker")
			}
			entry = c.CmdLine
		case *instructions.RunCommand:
			t.Errorf("RUN in the runtime stage: %v (a static image has no shell)", c.CmdLine)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("runtime USER %q, want a non-root user", user)
	}
	for _, b := range []string{"/out/worker", "/out/enqueue"} {
		if !slices.Contains(copied, b) {
			t.Errorf("runtime stage does not copy %s (copies %v)", b, copied)
		}
	}
	for _, a := range []string{"VERSION", "REVISION"} {
		if !slices.Contains(args, a) {
			t.Errorf("runtime stage has no ARG %s", a)
		}
	}
	if len(entry) != 1 || entry[0] != "/usr/local/bin/worker" {
		t.Errorf("ENTRYPOINT %v, want [/usr/local/bin/worker] (the manifests run it and `worker migrate`)", entry)
	}
}
