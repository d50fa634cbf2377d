package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/console"
	"github.com/quantumflow/quantumflow/internal/console/consoletest"
	"github.com/quantumflow/quantumflow/internal/pgtest"
)

// testCreds are the credentials of the tests' consoles.
var testCreds = console.Credentials{
	OperatorToken: "op-secret", ViewerToken: "view-secret",
	OperatorUser: "admin", OperatorPassword: "admin-pw",
	ViewerUser: "eve", ViewerPassword: "eve-pw",
}

type bundle struct {
	db     *pgtest.DB
	client *flow.Client
	store  *console.Store
	srv    *httptest.Server
	gates  *consoletest.Gates
}

// setup gives the test a schema, a flow client, a store and a console
// (with River UI) serving creds.
func setup(t *testing.T, creds console.Credentials) *bundle {
	t.Helper()
	db := pgtest.New(t)
	client, err := flow.NewClient(db.Pool, &flow.Config{ReconcileGrace: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rui, err := console.NewRiverUI(ctx, db.Pool, nil)
	require.NoError(t, err)
	srv, err := console.New(&console.Config{Pool: db.Pool, Flow: client, Credentials: creds, RiverUI: rui})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{db: db, client: client, store: console.NewStore(db.Pool), srv: ts, gates: &consoletest.Gates{}}
}

// caller is an HTTP client with a cookie jar, like a browser.
type caller struct {
	t      *testing.T
	base   string
	c      *http.Client
	header http.Header
}

func (b *bundle) caller(t *testing.T) *caller {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &caller{t: t, base: b.srv.URL, header: http.Header{},
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *caller) do(method, path string, body io.Reader, hdr ...string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, string(b)
}

// login signs in through the form with a token, as a browser does.
func (c *caller) login(token string) {
	c.t.Helper()
	code, body := c.do("POST", "/login", strings.NewReader(url.Values{"token": {token}, "next": {"/"}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	require.Equal(c.t, http.StatusSeeOther, code, body)
}

// csrf asks the session's CSRF token.
func (c *caller) csrf() string {
	c.t.Helper()
	code, body := c.do("GET", "/api/session", nil)
	require.Equal(c.t, http.StatusOK, code, body)
	var s console.Session
	require.NoError(c.t, json.Unmarshal([]byte(body), &s))
	return s.CSRFToken
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
