package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/console"
	"github.com/quantumflow/quantumflow/internal/console/consoletest"
)

func TestCheckBind(t *testing.T) {
	t.Parallel()
	op := console.Credentials{OperatorToken: "x"}
	basic := console.Credentials{OperatorUser: "u", OperatorPassword: "p"}
	viewer := console.Credentials{ViewerToken: "v"}
	tests := []struct {
		addr  string
		creds console.Credentials
		ok    bool
	}{
		{"127.0.0.1:8080", console.Credentials{}, true},
		{"127.3.4.5:80", console.Credentials{}, true},
		{"[::1]:8080", console.Credentials{}, true},
		{"localhost:8080", console.Credentials{}, true},
		{"0.0.0.0:8080", console.Credentials{}, false},
		{":8080", console.Credentials{}, false},
		{"192.168.1.5:8080", console.Credentials{}, false},
		{"console.example.com:443", console.Credentials{}, false},
		{"0.0.0.0:8080", viewer, false},
		{"0.0.0.0:8080", op, true},
		{"[::]:8080", basic, true},
	}
	for _, tt := range tests {
		err := console.CheckBind(tt.addr, tt.creds)
		if tt.ok {
			require.NoError(t, err, tt.addr)
		} else {
			require.ErrorIs(t, err, console.ErrInsecureBind, tt.addr)
			require.Contains(t, err.Error(), "QF_CONSOLE_TOKEN")
		}
	}
	require.Error(t, console.CheckBind("no-port", console.Credentials{}))
}

func TestCredentialsFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := console.CredentialsFromEnv(env(map[string]string{
		"QF_CONSOLE_TOKEN": "a", "QF_CONSOLE_VIEWER_BASIC_AUTH": "eve:pw:with:colons"}))
	require.NoError(t, err)
	require.Equal(t, console.Credentials{OperatorToken: "a", ViewerUser: "eve", ViewerPassword: "pw:with:colons"}, c)
	require.True(t, c.HasOperator())

	_, err = console.CredentialsFromEnv(env(map[string]string{"QF_CONSOLE_BASIC_AUTH": "justasecret"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "justasecret", "the secret is never echoed")

	_, err = console.CredentialsFromEnv(env(map[string]string{"QF_CONSOLE_TOKEN": "same", "QF_CONSOLE_VIEWER_TOKEN": "same"}))
	require.Error(t, err)
}

// TestActionAuth: the guarantees of "Actions": no credential 401, a viewer
// 403, a missing or wrong CSRF token 403, a cross-site request 403 — and
// in each refused case the workflow is still running. An operator with
// the token (or a bearer token, which a browser never sends by itself)
// cancels.
func TestActionAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	consoletest.StartWorker(t, b.db.Pool, b.client, b.gates)

	type step struct {
		name  string
		call  func(c *caller, path string) (int, string)
		code  int
		final bool // the workflow is cancelled afterwards
	}
	post := func(c *caller, path string, hdr ...string) (int, string) { return c.do("POST", path, nil, hdr...) }
	steps := []step{
		{"no credential", func(c *caller, p string) (int, string) { return post(c, p) }, http.StatusUnauthorized, false},
		{"wrong bearer", func(c *caller, p string) (int, string) { return post(c, p, "Authorization", "Bearer nope") }, http.StatusUnauthorized, false},
		{"wrong basic", func(c *caller, p string) (int, string) {
			return post(c, p, "Authorization", "Basic "+basic("admin", "guess"))
		}, http.StatusUnauthorized, false},
		{"viewer bearer", func(c *caller, p string) (int, string) { return post(c, p, "Authorization", "Bearer view-secret") }, http.StatusForbidden, false},
		{"viewer session with its CSRF token", func(c *caller, p string) (int, string) {
			c.login("view-secret")
			return post(c, p, console.CSRFHeader, c.csrf())
		}, http.StatusForbidden, false},
		{"viewer basic", func(c *caller, p string) (int, string) {
			c.header.Set("Authorization", "Basic "+basic("eve", "eve-pw"))
			return post(c, p, console.CSRFHeader, c.csrf())
		}, http.StatusForbidden, false},
		{"operator session without CSRF token", func(c *caller, p string) (int, string) {
			c.login("op-secret")
			return post(c, p)
		}, http.StatusForbidden, false},
		{"operator session with a wrong CSRF token", func(c *caller, p string) (int, string) {
			c.login("op-secret")
			return post(c, p, console.CSRFHeader, "forged")
		}, http.StatusForbidden, false},
		{"operator session, CSRF token of another session", func(c *caller, p string) (int, string) {
			c.login("op-secret")
			stale := c.csrf()
			c.login("op-secret") // a new session: a new token
			return post(c, p, console.CSRFHeader, stale)
		}, http.StatusForbidden, false},
		{"operator basic without CSRF token", func(c *caller, p string) (int, string) {
			c.header.Set("Authorization", "Basic "+basic("admin", "admin-pw"))
			return post(c, p)
		}, http.StatusForbidden, false},
		{"operator session from another site", func(c *caller, p string) (int, string) {
			c.login("op-secret")
			return post(c, p, console.CSRFHeader, c.csrf(), "Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden, false},
		{"operator session with its CSRF token", func(c *caller, p string) (int, string) {
			c.login("op-secret")
			return post(c, p, console.CSRFHeader, c.csrf())
		}, http.StatusOK, true},
		{"operator basic with its CSRF token", func(c *caller, p string) (int, string) {
			c.header.Set("Authorization", "Basic "+basic("admin", "admin-pw"))
			return post(c, p, console.CSRFHeader, c.csrf())
		}, http.StatusOK, true},
		{"operator bearer", func(c *caller, p string) (int, string) { return post(c, p, "Authorization", "Bearer op-secret") }, http.StatusOK, true},
	}
	for _, s := range steps {
		wf := consoletest.Submit(t, b.client, "name: held\nnodes:\n  - {id: hold, kind: gate, args: {name: never}}\n")
		code, body := s.call(b.caller(t), "/api/workflows/"+wf+"/cancel")
		require.Equal(t, s.code, code, "%s: %s", s.name, body)
		st, err := b.client.Status(t.Context(), wf)
		require.NoError(t, err)
		require.Equal(t, s.final, st.Status == flowtype.WorkflowCancelled, "%s: workflow is %s", s.name, st.Status)
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestReadAuth: reading needs a credential once any is configured; pages
// redirect to the login form; River UI is read-only for viewers.
func TestReadAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, testCreds)
	c := b.caller(t)
	code, _ := c.do("GET", "/api/workflows", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = c.do("GET", "/", nil)
	require.Equal(t, http.StatusSeeOther, code, "a page redirects to the login form")
	code, _ = c.do("GET", "/river/", nil)
	require.Equal(t, http.StatusUnauthorized, code)

	code, body := c.do("POST", "/login", strings.NewReader("token=wrong"), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusUnauthorized, code)
	require.NotContains(t, body, "wrong", "a refused credential is not echoed")

	c.login("view-secret")
	code, body = c.do("GET", "/api/workflows", nil)
	require.Equal(t, http.StatusOK, code, body)
	code, body = c.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, code, body)
	code, _ = c.do("GET", "/river/", nil)
	require.Equal(t, http.StatusOK, code, "viewers read River UI")
	code, _ = c.do("GET", "/river/api/jobs?state=available", nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = c.do("POST", "/river/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusForbidden, code, "River UI is read-only for viewers")

	op := b.caller(t)
	op.login("op-secret")
	code, body = op.do("POST", "/river/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`), "Content-Type", "application/json")
	require.NotEqual(t, http.StatusForbidden, code, body)
	require.NotEqual(t, http.StatusUnauthorized, code, body)

	// A tampered session cookie is no session.
	tampered := b.caller(t)
	tampered.login("view-secret")
	u := mustURL(t, b.srv.URL)
	for _, ck := range tampered.c.Jar.Cookies(u) {
		ck.Value = strings.Replace(ck.Value, "viewer", "operator", 1)
		tampered.c.Jar.SetCookies(u, []*http.Cookie{ck})
	}
	code, _ = tampered.do("GET", "/api/workflows", nil)
	require.Equal(t, http.StatusUnauthorized, code)
}

// TestNoCredentials: without any credential configured (loopback only),
// anyone on the host reads, and nobody acts.
func TestNoCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, console.Credentials{})
	c := b.caller(t)
	code, body := c.do("GET", "/api/workflows", nil)
	require.Equal(t, http.StatusOK, code, body)
	wf := consoletest.Submit(t, b.client, "name: x\nnodes:\n  - {id: a, kind: noop}\n")
	code, _ = c.do("POST", "/api/workflows/"+wf+"/cancel", nil, console.CSRFHeader, c.csrf())
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = c.do("POST", "/api/workflows/"+wf+"/cancel", nil, "Authorization", "Bearer anything")
	require.Equal(t, http.StatusUnauthorized, code)
}
