package scan

import (
	"path"
	"strings"
)

// sensitiveExts are file extensions (lower case) of keys, certificates and
// key stores.
var sensitiveExts = map[string]bool{
	".pem": true, ".key": true, ".p12": true, ".pfx": true, ".p8": true,
	".jks": true, ".keystore": true, ".crt": true, ".cer": true, ".der": true,
	".ppk": true, ".kdbx": true, ".gpg": true,
}

// sensitiveNames are whole file names (lower case) of credential files.
var sensitiveNames = map[string]bool{
	".env": true, ".envrc": true, ".netrc": true, "_netrc": true, ".npmrc": true,
	".pypirc": true, ".pgpass": true, ".git-credentials": true, ".htpasswd": true,
	".dockercfg": true, "credentials.json": true,
}

// sensitivePrefixes are name prefixes (lower case) of SSH keys: id_rsa,
// id_rsa.pub, id_ed25519_work, ...
var sensitivePrefixes = []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env."}

// Sensitive reports whether a file's name marks it as a credential that a
// scan never opens: see the package documentation for the list. name may
// be a slash-separated path; only its last element counts, compared without
// regard to case.
func Sensitive(name string) bool {
	n := strings.ToLower(path.Base(name))
	if sensitiveNames[n] || sensitiveExts[path.Ext(n)] {
		return true
	}
	for _, p := range sensitivePrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
