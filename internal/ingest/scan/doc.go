// Package scan walks a codebase's tree for ingestion: it applies the ignore
// rules, refuses to read credentials, to follow symlinks out of the root or
// round a loop, hashes every file it keeps (SHA-256, in parallel), and says
// why it skipped the others. It reads no database.
//
// # Ignore rules
//
// An ignored path is simply not listed (it is not a Skip), and an ignored
// directory is not descended. The rules, from the strongest:
//
//   - Built-in names, at any depth, inside a git repository or not, never
//     negated: the directories .git, .hg, .svn, .bzr, _darcs, .jj, CVS
//     (version control), node_modules, vendor, bower_components
//     (dependencies), __pycache__, .venv, .tox, .nox, .mypy_cache,
//     .pytest_cache, .ruff_cache (Python), .idea, .gradle, .terraform (tool
//     state); and the files .git (a worktree's or submodule's pointer) and
//     .DS_Store.
//   - Options.Excludes: gitignore patterns relative to the root.
//   - A .qfignore and a .gitignore in any directory, with git's semantics:
//     patterns relative to the file's directory, "!" negation, "dir/"
//     directory-only patterns, "**", patterns anchored by a leading or
//     middle "/", and git's precedence (a deeper file over a shallower one, a
//     later line over an earlier one, .qfignore over the .gitignore beside
//     it). As in git, a file inside an ignored directory cannot be brought
//     back by a negation, because the directory is not walked.
//   - .git/info/exclude at the root.
//
// The .gitignore files apply whether or not the root is a git repository;
// ignore files above the root and the user's global excludes file are not
// read, so a scan's result does not depend on the machine it runs on.
// Ignorer gives the same decisions to callers that need them outside a
// scan (the watcher, the pipeline), and follows edits of the ignore files.
// The matching is go-git's gitignore package with three deviations from
// git smoothed over (see parsePattern); the tests compare a scan with
// git ls-files --others --exclude-standard on a tree built for it.
//
// # Security defaults
//
// Files whose names mark them as keys, certificates or credentials are
// never opened, whatever the ignore files say (a negation does not bring
// them back); a file that is not ignored is recorded as a Skip with
// ReasonSensitive. The names, compared without regard to case (see
// Sensitive):
//
//   - extensions .pem, .key, .p12, .pfx, .p8, .jks, .keystore, .crt, .cer,
//     .der, .ppk, .kdbx, .gpg;
//   - names starting with id_rsa, id_dsa, id_ecdsa, id_ed25519 (SSH keys,
//     public halves included) or .env. (.env.local, .env.production, also
//     .env.example);
//   - the names .env, .envrc, .netrc, _netrc, .npmrc, .pypirc, .pgpass,
//     .git-credentials, .htpasswd, .dockercfg and credentials.json.
//
// A symlink is sensitive when its own name or its target's is.
//
// # Symlinks and special files
//
// A symlink to a file inside the root is followed and listed under the
// link's path. A symlink that resolves outside the root is
// ReasonSymlinkOutside. A symlink to a directory inside the root is followed
// after all real directories were walked; if it leads to an ancestor of
// itself or to a directory already walked it is ReasonSymlinkLoop and not
// descended, so the same directory is never listed twice. A chain of links
// that never resolves (ELOOP) is ReasonSymlinkLoop too. A dangling symlink
// is ReasonUnreadable, with "dangling symlink" in the Detail: the link is
// there, its content cannot be read. Pipes, sockets and devices are
// ReasonSpecial and are never opened.
//
// # Failures inside the tree
//
// A file or directory that cannot be opened or read is ReasonUnreadable with
// the error in Detail; an unreadable directory is one Skip and the walk goes
// on. A file larger than Options.MaxFileBytes is ReasonTooLarge and is not
// read. A file (or directory) that is listed and gone when it is opened is
// ReasonVanished.
package scan
