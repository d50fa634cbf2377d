package console

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quantumflow/quantumflow/flowtype"
)

// ReportedNodeStates are the node states pages show with their own colour,
// in lifecycle order. A state not listed (a newer engine's) is drawn in a
// neutral colour under its own name.
func ReportedNodeStates() []flowtype.NodeState {
	return []flowtype.NodeState{flowtype.NodeWaiting, flowtype.NodeAvailable, flowtype.NodeRunning,
		flowtype.NodeRetryable, flowtype.NodeCompleted, flowtype.NodeFailed, flowtype.NodeCancelled, flowtype.NodeSkipped}
}

type pages struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"ago": func(t Time) string { return ago(time.Since(t.Time)) },
	"utc": func(t Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"duration": func(w WorkflowHead) string {
		if w.StartedAt == nil {
			return "–"
		}
		end := time.Now()
		if w.FinishedAt != nil {
			end = w.FinishedAt.Time
		}
		return humanDuration(end.Sub(w.StartedAt.Time))
	},
	"pct": func(final, total int) int {
		if total == 0 {
			return 0
		}
		return final * 100 / total
	},
	"statusClass": func(s flowtype.WorkflowState) string {
		if s.Valid() {
			return "st-" + string(s)
		}
		return "st-other"
	},
}

func newPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	names, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(name[strings.LastIndexByte(name, '/')+1:], ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		p.t[base] = t
	}
	return p, nil
}

// pageData is what every page's layout reads.
type pageData struct {
	Title   string
	Session Session
	Page    string
	Data    any
	Error   string
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	pd := pageData{Title: title, Session: s.session(r), Page: name, Data: data}
	if err := s.pages.t[name].Execute(w, pd); err != nil {
		s.cfg.Logger.Error("console: render page", "page", name, "err", err)
	}
}

type listView struct {
	Params   *ListParams
	Page     *ListPage
	Error    string
	Statuses []flowtype.WorkflowState
	Query    url.Values
	Next     string
	After    string
	Before   string
	Took     string
}

func (s *Server) listPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := &listView{Statuses: flowtype.WorkflowStates(), Query: q, Page: &ListPage{}}
	start := time.Now()
	p, err := listParams(q)
	if err == nil {
		v.Params = p
		v.Page, err = s.store.List(r.Context(), p)
	}
	if err != nil {
		v.Page = &ListPage{}
		v.Error = err.Error()
		v.Params = &ListParams{}
	}
	v.Took = humanDuration(time.Since(start))
	v.After, v.Before = q.Get("created_after"), q.Get("created_before")
	if v.Page.Next != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", v.Page.Next)
		v.Next = "/?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "list", "Workflows", v)
}

type workflowView struct {
	Head     *WorkflowHead
	Group    string
	States   []flowtype.NodeState
	PollMS   int64
	Crumbs   []crumb
	Timeline bool
}

type crumb struct{ Name, Path string }

func (s *Server) head(r *http.Request) (*WorkflowHead, error) {
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		return nil, err
	}
	var h *WorkflowHead
	err := s.store.read(r.Context(), func(tx pgx.Tx) error {
		var err error
		h, err = headTx(r.Context(), tx, id)
		return err
	})
	return h, err
}

func (s *Server) workflowPage(w http.ResponseWriter, r *http.Request) {
	s.workflowLike(w, r, false)
}

func (s *Server) timelinePage(w http.ResponseWriter, r *http.Request) {
	s.workflowLike(w, r, true)
}

func (s *Server) workflowLike(w http.ResponseWriter, r *http.Request, timeline bool) {
	h, err := s.head(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	group := strings.Trim(r.URL.Query().Get("group"), "/")
	v := &workflowView{Head: h, Group: group, States: ReportedNodeStates(), PollMS: s.cfg.PollInterval.Milliseconds(), Timeline: timeline}
	s.render(w, r, http.StatusOK, "workflow", h.Name, v)
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	rec := &statusRecorder{}
	s.writeError(rec, r, err)
	status := rec.status
	if status == 0 {
		return
	}
	s.render(w, r, status, "error", "Error", err.Error())
}

// statusRecorder keeps only the status writeError chose.
type statusRecorder struct {
	status int
	h      http.Header
}

func (r *statusRecorder) Header() http.Header {
	if r.h == nil {
		r.h = http.Header{}
	}
	return r.h
}
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }

type loginView struct {
	Next  string
	Basic bool
	Error string
	Open  bool
}

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", "Sign in", &loginView{
		Next: safeNext(r.URL.Query().Get("next")), Basic: s.auth.creds.HasBasic(), Open: !s.auth.creds.Any()})
}

// login exchanges a token (or a basic-auth pair) typed into the form for a
// session cookie: HttpOnly, SameSite=Strict, signed, 12 hours.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	next := safeNext(r.PostFormValue("next"))
	id := identity{Bad: true}
	if tok := r.PostFormValue("token"); tok != "" {
		id = s.auth.tokenRole(tok, "")
	} else if user, pass := r.PostFormValue("user"), r.PostFormValue("password"); user != "" {
		switch {
		case equal(user, s.auth.creds.OperatorUser) && equal(pass, s.auth.creds.OperatorPassword):
			id = identity{Role: RoleOperator}
		case equal(user, s.auth.creds.ViewerUser) && equal(pass, s.auth.creds.ViewerPassword):
			id = identity{Role: RoleViewer}
		}
	}
	if id.Role == RoleNone {
		s.cfg.Logger.Warn("console: login refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", &loginView{
			Next: next, Basic: s.auth.creds.HasBasic(), Error: "That credential is not valid."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.auth.newSession(id.Role), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds()),
	})
	s.cfg.Logger.Info("console: signed in", "role", id.Role.String(), "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
