package cliutil

import (
	"fmt"
	"runtime/debug"
)

// Build is what the Go toolchain recorded about the binary's build.
type Build struct {
	// Module is the main module's version: a tag (v1.2.0), a pseudo-version
	// stamped from the VCS, or "(devel)" when none was recorded.
	Module string
	// Commit is the VCS revision the binary was built from, "" when the
	// build recorded none (go test, -buildvcs=false, no repository).
	Commit string
	// Modified reports uncommitted changes in the work tree at build time.
	Modified bool
}

// ReadBuild reads the binary's build information (debug.ReadBuildInfo).
//
// The Go toolchain stamps the commit only when it finds a .git directory
// above the package: a build in a git worktree (where .git is a file) or
// with -buildvcs=false records none, and --version says "commit unknown".
func ReadBuild() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Module: "(devel)"}
	}
	return BuildOf(info)
}

// BuildOf is the Build that info describes.
func BuildOf(info *debug.BuildInfo) Build {
	b := Build{Module: "(devel)"}
	if info.Main.Version != "" {
		b.Module = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// Version is the short form of b, the version label of
// quantumflow_worker_info and of the worker's start log: the module version,
// or, for a development build, the first 12 digits of the commit (with
// -dirty for a modified work tree).
func (b Build) Version() string {
	if b.Module == "(devel)" && b.Commit != "" {
		dirty := ""
		if b.Modified {
			dirty = "-dirty"
		}
		return b.Commit[:min(12, len(b.Commit))] + dirty
	}
	return b.Module
}

// String is what --version prints after the command's name: the module
// version and the full commit, such as
// "v1.2.0 (commit 0123abcd..., modified)".
func (b Build) String() string {
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("%s (commit %s)", b.Module, commit)
}

// VersionTemplate is the cobra version template of the commands: the name,
// then Build.String.
const VersionTemplate = "{{.Name}} {{.Version}}\n"
