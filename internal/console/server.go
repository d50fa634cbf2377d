// Package console serves QuantumFlow's web console: the workflow list, one
// workflow's DAG one level at a time with live updates, a node's panel, the
// timeline with its critical path, the actions (cancel, retry), River UI
// under /river/, and the JSON API the pages are built on (docs/CONSOLE.md).
//
// The pages are html/template and plain JavaScript embedded with go:embed:
// nothing is built with Node.js. The server lays each level out (Layout)
// and the page draws it as SVG. Authentication, roles and CSRF protection
// are in auth.go; cmd/console runs the server.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/flow"
)

//go:embed web/static web/templates
var webFS embed.FS

// Config configures a Server.
type Config struct {
	// Pool reads the database; Flow runs the actions. Both required.
	Pool *pgxpool.Pool
	Flow *flow.Client
	// Credentials give the roles (CredentialsFromEnv).
	Credentials Credentials
	// Logger defaults to slog.Default(). Secrets are never logged.
	Logger *slog.Logger
	// RiverUI, when set, is mounted under /river/ (NewRiverUI), behind
	// the console's authentication and read-only for viewers.
	RiverUI http.Handler
	// PollInterval is how often a workflow page asks for changes; defaults
	// to one second.
	PollInterval time.Duration
}

// Server is the console's http.Handler.
type Server struct {
	cfg     Config
	store   *Store
	auth    *authn
	pages   *pages
	handler http.Handler

	// actions are the state-changing operations on a workflow, served at
	// POST /api/workflows/{id}/{action}; nodeActions those on one node,
	// at POST /api/workflows/{id}/nodes/{action}?path=P.
	actions     map[string]actionFunc
	nodeActions map[string]nodeActionFunc
}

type actionFunc func(ctx context.Context, r *http.Request, wf string) (any, error)

type nodeActionFunc func(ctx context.Context, r *http.Request, wf, path string) (any, error)

// New returns a console server.
func New(cfg *Config) (*Server, error) {
	if cfg.Pool == nil || cfg.Flow == nil {
		return nil, errors.New("console: Pool and Flow are required")
	}
	c := *cfg
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	a, err := newAuthn(c.Credentials)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	p, err := newPages()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Server{cfg: c, store: NewStore(c.Pool), auth: a, pages: p}
	s.actions = map[string]actionFunc{"cancel": s.cancel, "retry": s.retry, "pause": s.pause, "resume": s.resume}
	s.nodeActions = map[string]nodeActionFunc{"cancel": s.cancelNode, "retry": s.retryNode}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", cacheable(http.StripPrefix("/static/", http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	// Signing out needs no role: it only clears the caller's own cookie
	// (CrossOriginProtection refuses it from another site).
	mux.HandleFunc("POST /logout", s.logout)

	mux.Handle("GET /{$}", s.read(s.listPage))
	mux.Handle("GET /workflows/{id}", s.read(s.workflowPage))
	mux.Handle("GET /workflows/{id}/timeline", s.read(s.timelinePage))

	mux.Handle("GET /api/session", s.read(s.apiSession))
	mux.Handle("GET /api/workflows", s.read(s.apiList))
	mux.Handle("GET /api/workflows/{id}", s.read(s.apiWorkflow))
	mux.Handle("GET /api/workflows/{id}/graph", s.read(s.apiGraph))
	mux.Handle("GET /api/workflows/{id}/node", s.read(s.apiNode))
	mux.Handle("GET /api/workflows/{id}/timeline", s.read(s.apiTimeline))
	mux.Handle("POST /api/workflows/{id}/nodes/{action}", s.act(s.apiNodeAction))
	mux.Handle("POST /api/workflows/{id}/{action}", s.act(s.apiAction))

	if s.cfg.RiverUI != nil {
		mux.Handle("/river/", s.river(s.cfg.RiverUI))
		mux.Handle("GET /river", http.RedirectHandler("/river/", http.StatusMovedPermanently))
	}
	// Cross-origin state-changing requests are refused before anything
	// else (Sec-Fetch-Site / Origin, Go's CrossOriginProtection); our own
	// actions also need the session's CSRF token (act).
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders sets headers every answer carries; the console's own
// pages also get a strict Content-Security-Policy (River UI's pages bring
// their own assets and get none).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/river/") {
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

func identityOf(r *http.Request) identity {
	id, _ := r.Context().Value(ctxKey{}).(identity)
	return id
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// unauthorized answers a request without a valid credential: 401 for the
// API (and River UI), a redirect to the login page for a page.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if !isAPI(r) && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/river/") {
		http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if s.auth.creds.HasBasic() {
		w.Header().Set("WWW-Authenticate", `Basic realm="QuantumFlow console", charset="UTF-8"`)
	}
	writeJSONError(w, http.StatusUnauthorized, "a credential is required: a bearer token, basic auth or a session (docs/CONSOLE.md)")
}

// read lets any role read.
func (s *Server) read(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.auth.identify(r)
		if id.Role == RoleNone {
			s.unauthorized(w, r)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// act lets only operators change state, with the session's CSRF token:
// no credential 401, a viewer 403, a missing or wrong token 403.
func (s *Server) act(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16) // an action's form is a few bytes
		id := s.auth.identify(r)
		switch {
		case id.Role == RoleNone || id.Anonymous:
			s.unauthorized(w, r)
			return
		case id.Role != RoleOperator:
			writeJSONError(w, http.StatusForbidden, "forbidden: this action needs an operator credential; you are a viewer")
			return
		case !s.auth.checkCSRF(r, id):
			writeJSONError(w, http.StatusForbidden, "forbidden: missing or wrong CSRF token (send the "+CSRFHeader+" header)")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// river guards River UI: any role may read it; only operators may send it
// anything but GET or HEAD (River UI's own requests carry no CSRF token
// of ours; CrossOriginProtection guards them).
func (s *Server) river(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.auth.identify(r)
		if id.Role == RoleNone {
			s.unauthorized(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && (id.Role != RoleOperator || id.Anonymous) {
			writeJSONError(w, http.StatusForbidden, "forbidden: River UI is read-only for viewers")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeError maps an error to its status: bad input 400, unknown workflow
// or node 404, refused by the workflow's state 409, anything else 500
// (logged; its text is not sent).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *flow.StateError
	switch {
	case errors.Is(err, flow.ErrInvalidID), errors.Is(err, ErrBadCursor), errors.Is(err, flow.ErrInvalidRetryMode),
		errors.Is(err, errBadRequest):
		writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, flow.ErrNotFound), errors.Is(err, ErrNodeNotFound):
		writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.As(err, &se), errors.Is(err, flow.ErrNodeFinished), errors.Is(err, flow.ErrNodeIsGroup),
		errors.Is(err, flow.ErrNodeNotRetryable):
		writeJSONError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		s.cfg.Logger.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error; see the console's log")
	}
}

var errBadRequest = errors.New("bad request")
