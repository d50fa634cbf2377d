package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Role is what a request may do.
type Role int

const (
	// RoleNone: no valid credential.
	RoleNone Role = iota
	// RoleViewer may read every page and API, and River UI with GET.
	RoleViewer
	// RoleOperator may also act: cancel, retry, River UI's actions.
	RoleOperator
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	}
	return "none"
}

// Environment variables holding the credentials. A basic-auth credential
// is "user:password".
const (
	EnvOperatorToken = "QF_CONSOLE_TOKEN"
	EnvViewerToken   = "QF_CONSOLE_VIEWER_TOKEN"
	EnvOperatorBasic = "QF_CONSOLE_BASIC_AUTH"
	EnvViewerBasic   = "QF_CONSOLE_VIEWER_BASIC_AUTH"
)

// Credentials are the secrets that give a role. Empty fields are unset.
type Credentials struct {
	OperatorToken string
	ViewerToken   string
	// OperatorUser and OperatorPassword (and the viewer's) are a basic-auth
	// pair; both set or both empty.
	OperatorUser, OperatorPassword string
	ViewerUser, ViewerPassword     string
}

// CredentialsFromEnv reads the credentials from getenv (os.Getenv).
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{
		OperatorToken: getenv(EnvOperatorToken),
		ViewerToken:   getenv(EnvViewerToken),
	}
	var err error
	if c.OperatorUser, c.OperatorPassword, err = splitBasic(EnvOperatorBasic, getenv(EnvOperatorBasic)); err != nil {
		return Credentials{}, err
	}
	if c.ViewerUser, c.ViewerPassword, err = splitBasic(EnvViewerBasic, getenv(EnvViewerBasic)); err != nil {
		return Credentials{}, err
	}
	if c.OperatorToken != "" && c.OperatorToken == c.ViewerToken {
		return Credentials{}, fmt.Errorf("%s and %s must differ", EnvOperatorToken, EnvViewerToken)
	}
	return c, nil
}

func splitBasic(name, v string) (string, string, error) {
	if v == "" {
		return "", "", nil
	}
	user, pass, ok := strings.Cut(v, ":")
	if !ok || user == "" || pass == "" {
		// Never echo the value: it is a secret.
		return "", "", fmt.Errorf("%s must be user:password, both non-empty", name)
	}
	return user, pass, nil
}

// HasOperator reports whether some credential gives the operator role.
func (c Credentials) HasOperator() bool { return c.OperatorToken != "" || c.OperatorUser != "" }

// Any reports whether any credential is set.
func (c Credentials) Any() bool {
	return c.HasOperator() || c.ViewerToken != "" || c.ViewerUser != ""
}

// HasBasic reports whether a basic-auth pair is set.
func (c Credentials) HasBasic() bool { return c.OperatorUser != "" || c.ViewerUser != "" }

// ErrInsecureBind is returned by CheckBind for an address beyond loopback
// without an operator credential.
var ErrInsecureBind = errors.New("refusing to listen beyond loopback without an operator credential")

// CheckBind refuses an address that is not loopback (127.0.0.0/8, ::1,
// localhost) unless an operator credential is set: without one, anyone
// who can reach the port could read every workflow's inputs and outputs.
// An empty host (":8080") listens on every interface.
func CheckBind(addr string, c Credentials) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if IsLoopback(host) || c.HasOperator() {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address; set %s (or %s) to listen on it",
		ErrInsecureBind, addr, EnvOperatorToken, EnvOperatorBasic)
}

// IsLoopback reports whether host names only the loopback interface.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// equal compares secrets in constant time (hashes first, so lengths leak
// nothing either).
func equal(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// Session cookie and CSRF.
const (
	sessionCookie = "qf_console_session"
	sessionTTL    = 12 * time.Hour
	// CSRFHeader carries the CSRF token of a state-changing request;
	// CSRFField is the same as a form field.
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// authn resolves who a request is. Its key signs session cookies and CSRF
// tokens; it is random per process, so sessions end with the process.
type authn struct {
	creds Credentials
	key   []byte
	now   func() time.Time
}

func newAuthn(c Credentials) (*authn, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return &authn{creds: c, key: key, now: time.Now}, nil
}

// identity is an authenticated request's role and how it authenticated.
type identity struct {
	Role Role
	// Session names what the CSRF token is bound to: the cookie, or the
	// basic-auth user; empty for a bearer token, which a browser never
	// sends by itself, so it needs no CSRF token.
	Session string
	// Bad is set when the request carried a credential that is wrong.
	Bad bool
	// Anonymous is set for the viewer role given without any credential
	// (no credential is configured): it may read, never act.
	Anonymous bool
}

// identify returns the request's identity: a bearer token, then basic
// auth, then the session cookie; without any, viewer when no credential
// is configured at all (loopback only, CheckBind), else none.
func (a *authn) identify(r *http.Request) identity {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return a.tokenRole(tok, "")
		}
		if user, pass, ok := r.BasicAuth(); ok {
			switch {
			case equal(user, a.creds.OperatorUser) && equal(pass, a.creds.OperatorPassword):
				return identity{Role: RoleOperator, Session: "basic:" + user}
			case equal(user, a.creds.ViewerUser) && equal(pass, a.creds.ViewerPassword):
				return identity{Role: RoleViewer, Session: "basic:" + user}
			}
			return identity{Bad: true}
		}
		return identity{Bad: true}
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if role, ok := a.verifySession(c.Value); ok {
			return identity{Role: role, Session: "cookie:" + c.Value}
		}
	}
	if !a.creds.Any() {
		return identity{Role: RoleViewer, Anonymous: true}
	}
	return identity{}
}

// tokenRole maps a token to its role; session is the CSRF binding.
func (a *authn) tokenRole(tok, session string) identity {
	switch {
	case equal(tok, a.creds.OperatorToken):
		return identity{Role: RoleOperator, Session: session}
	case equal(tok, a.creds.ViewerToken):
		return identity{Role: RoleViewer, Session: session}
	}
	return identity{Bad: true}
}

func (a *authn) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession returns a cookie value: role, expiry, random id, signature.
func (a *authn) newSession(role Role) string {
	var id [12]byte
	_, _ = rand.Read(id[:])
	body := role.String() + "." + strconv.FormatInt(a.now().Add(sessionTTL).Unix(), 10) + "." +
		base64.RawURLEncoding.EncodeToString(id[:])
	return body + "." + a.mac("session", body)
}

func (a *authn) verifySession(v string) (Role, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return RoleNone, false
	}
	body, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(a.mac("session", body))) {
		return RoleNone, false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 {
		return RoleNone, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || a.now().Unix() > exp {
		return RoleNone, false
	}
	switch parts[0] {
	case "operator":
		// A cookie outlives a credential change only until restart (the
		// key is per process); still, refuse roles no longer configured.
		if a.creds.HasOperator() {
			return RoleOperator, true
		}
	case "viewer":
		return RoleViewer, true
	}
	return RoleNone, false
}

// csrfToken is the token a session's state-changing requests must carry.
func (a *authn) csrfToken(id identity) string {
	if id.Session == "" {
		return ""
	}
	return a.mac("csrf", id.Session)
}

// checkCSRF reports whether r carries id's CSRF token (header or form
// field). Bearer-token requests need none.
func (a *authn) checkCSRF(r *http.Request, id identity) bool {
	if id.Session == "" {
		return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(a.csrfToken(id)))
}
