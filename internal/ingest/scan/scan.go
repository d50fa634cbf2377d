// Package scan walks a codebase's tree for ingestion: it applies the ignore
// rules (.gitignore at every level, .git/info/exclude, .qfignore, the
// built-in directories and security defaults, and the caller's excludes),
// refuses to follow symlinks out of the root or round a loop, hashes every
// file it keeps, and says why it skipped the others. It reads no database.
package scan

import (
	"context"
	"errors"
	"time"
)

// Skip reasons recorded for files the scan does not hand on. Content-level
// reasons (binary, invalid UTF-8, ...) belong to package lang.
const (
	ReasonSymlinkLoop    = "symlink_loop"         // a directory symlink leads back to an ancestor or a directory already walked
	ReasonSymlinkOutside = "symlink_outside_root" // a symlink resolves outside the root
	ReasonUnreadable     = "unreadable"           // open or read failed (permissions, I/O)
	ReasonTooLarge       = "too_large"            // larger than Options.MaxFileBytes
	ReasonSensitive      = "sensitive"            // a key, .env, certificate, ...: never read
	ReasonVanished       = "vanished"             // listed, then gone before it was read
	ReasonSpecial        = "special"              // a device, socket or pipe
)

// ErrNotExist and ErrNotDir are returned for a root that is missing or is
// not a directory.
var (
	ErrNotExist = errors.New("does not exist")
	ErrNotDir   = errors.New("is not a directory")
)

// DefaultMaxFileBytes is the size cap when Options.MaxFileBytes is 0.
const DefaultMaxFileBytes = 1 << 20

// Options configure a scan.
type Options struct {
	// Root is the directory to scan.
	Root string
	// Excludes are extra gitignore-style patterns, relative to Root.
	Excludes []string
	// MaxFileBytes is the size cap; 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
}

// File is a file the scan keeps.
type File struct {
	Path    string    // relative to the root, with / separators
	Size    int64     // bytes
	Hash    [32]byte  // SHA-256 of the content
	ModTime time.Time // as stat saw it
}

// Skip is a file the scan did not keep, and why.
type Skip struct {
	Path   string // relative to the root, with / separators
	Reason string // one of the Reason constants
	Detail string // the underlying error, when there was one
}

// Result is what a scan found, each list sorted by path.
type Result struct {
	Root    string // the absolute, cleaned root
	Files   []File
	Skipped []Skip
}

// Scan walks opts.Root. It returns an error only for the root itself (it
// wraps ErrNotExist, ErrNotDir or the stat error) or for a cancelled
// context; every problem with a file inside is a Skip.
func Scan(ctx context.Context, opts Options) (*Result, error) {
	return nil, errors.New("scan: not implemented yet")
}
