package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// listParams reads ListParams from a query: status, name (a prefix),
// created_after and created_before (RFC 3339, or a datetime-local value
// read as UTC), cursor and limit.
func listParams(q url.Values) (*ListParams, error) {
	p := &ListParams{Status: flowtype.WorkflowState(q.Get("status")), NamePrefix: q.Get("name"), Cursor: q.Get("cursor")}
	if p.Status != "" && !p.Status.Valid() {
		return nil, fmt.Errorf("%w: unknown status %q (want pending, running, completed, failed or cancelled)", errBadRequest, p.Status)
	}
	for _, f := range []struct {
		key string
		dst **time.Time
	}{{"created_after", &p.CreatedAfter}, {"created_before", &p.CreatedBefore}} {
		if v := q.Get(f.key); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %q is not a time (RFC 3339, or YYYY-MM-DDTHH:MM in UTC)", errBadRequest, f.key, v)
			}
			*f.dst = &t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ListLimitMax {
			return nil, fmt.Errorf("%w: limit must be 1 to %d", errBadRequest, ListLimitMax)
		}
		p.Limit = n
	}
	return p, nil
}

func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errBadRequest
}

// Session is GET /api/session: who the caller is, and the CSRF token its
// state-changing requests must send (empty for a bearer token).
type Session struct {
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
	RiverUI   bool   `json:"river_ui"`
}

func (s *Server) session(r *http.Request) Session {
	id := identityOf(r)
	role := id.Role.String()
	if id.Anonymous {
		role = "anonymous viewer"
	}
	return Session{Role: role, CSRFToken: s.auth.csrfToken(id), RiverUI: s.cfg.RiverUI != nil}
}

func (s *Server) apiSession(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.session(r))
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	p, err := listParams(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.store.List(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// apiWorkflow is the workflow's row with its nodes counted by state (the
// top level's Level without its members).
func (s *Server) apiWorkflow(w http.ResponseWriter, r *http.Request) {
	lv, err := s.store.Level(r.Context(), r.PathValue("id"), "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		WorkflowHead
		Counts map[string]int `json:"counts"`
	}{lv.Workflow, lv.Counts})
}

// apiGraph is one level: ?group=PATH (empty: the top level); with
// ?since=CURSOR only the members that changed.
func (s *Server) apiGraph(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var lv *Level
	var err error
	if since := q.Get("since"); since != "" {
		lv, err = s.store.Changes(r.Context(), r.PathValue("id"), q.Get("group"), since)
	} else {
		lv, err = s.store.Level(r.Context(), r.PathValue("id"), q.Get("group"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, lv)
}

func (s *Server) apiNode(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path == "" {
		s.writeError(w, r, fmt.Errorf("%w: ?path= is required", errBadRequest))
		return
	}
	d, err := s.store.Node(r.Context(), r.PathValue("id"), path)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if d.Why, err = s.why(r.Context(), r.PathValue("id"), path); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request) {
	tl, err := s.store.Timeline(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tl)
}

func (s *Server) apiAction(w http.ResponseWriter, r *http.Request) {
	fn, ok := s.actions[r.PathValue("action")]
	if !ok {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("unknown action %q", r.PathValue("action")))
		return
	}
	s.runAction(w, r, "workflow "+r.PathValue("action"), func(ctx context.Context) (any, error) {
		return fn(ctx, r, r.PathValue("id"))
	})
}

func (s *Server) apiNodeAction(w http.ResponseWriter, r *http.Request) {
	fn, ok := s.nodeActions[r.PathValue("action")]
	if !ok {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("unknown node action %q", r.PathValue("action")))
		return
	}
	path := r.URL.Query().Get("path")
	if path == "" {
		s.writeError(w, r, fmt.Errorf("%w: ?path= is required", errBadRequest))
		return
	}
	s.runAction(w, r, "node "+r.PathValue("action"), func(ctx context.Context) (any, error) {
		return fn(ctx, r, r.PathValue("id"), path)
	})
}

// runAction runs one action and logs it (who acted, never with what
// credential).
func (s *Server) runAction(w http.ResponseWriter, r *http.Request, what string, fn func(context.Context) (any, error)) {
	res, err := fn(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.cfg.Logger.Info("console action", "action", what, "workflow", r.PathValue("id"), "role", identityOf(r).Role.String(),
		"remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, res)
}

// CancelAnswer is POST /api/workflows/{id}/cancel's answer, the shape of
// `enqueue cancel -o json`.
type CancelAnswer struct {
	ID    string `json:"id"`
	Nodes int    `json:"nodes"`
	Jobs  int    `json:"jobs"`
}

func (s *Server) cancel(ctx context.Context, _ *http.Request, wf string) (any, error) {
	res, err := s.cfg.Flow.Cancel(ctx, wf)
	if err != nil {
		return nil, err
	}
	return CancelAnswer{ID: wf, Nodes: res.Nodes, Jobs: res.Jobs}, nil
}

// RetryAnswer is POST /api/workflows/{id}/retry's answer, the shape of
// `enqueue retry -o json`.
type RetryAnswer struct {
	ID    string `json:"id"`
	Mode  string `json:"mode"`
	Nodes int    `json:"nodes"`
	Jobs  int    `json:"jobs"`
}

// retry takes its mode from ?mode=, a form field or a JSON body
// {"mode": ...}; failed-only by default.
func (s *Server) retry(ctx context.Context, r *http.Request, wf string) (any, error) {
	mode := r.URL.Query().Get("mode")
	if mode == "" {
		mode = r.PostFormValue("mode")
	}
	if mode == "" {
		mode = string(flow.RetryFailedOnly)
	}
	res, err := s.cfg.Flow.Retry(ctx, wf, flow.RetryMode(mode))
	if err != nil {
		return nil, err
	}
	return RetryAnswer{ID: wf, Mode: mode, Nodes: res.Nodes, Jobs: res.Jobs}, nil
}

// why is `enqueue why`'s answer for one node ("deps: ...", "throttled:
// ..."), or nil for a node that is running or final.
func (s *Server) why(ctx context.Context, wf, path string) (*string, error) {
	rep, err := s.cfg.Flow.Why(ctx, wf, path)
	if err != nil {
		return nil, err
	}
	for _, n := range rep.Nodes {
		if n.ID == path {
			answer := n.Reason
			if n.Detail != "" {
				answer += ": " + n.Detail
			}
			return &answer, nil
		}
	}
	return nil, nil
}

// PauseAnswer is POST /api/workflows/{id}/pause's and resume's answer.
type PauseAnswer struct {
	ID     string `json:"id"`
	Paused bool   `json:"paused"`
}

func (s *Server) pause(ctx context.Context, _ *http.Request, wf string) (any, error) {
	if _, err := s.cfg.Flow.Pause(ctx, flow.PauseTarget{Workflow: wf}); err != nil {
		return nil, err
	}
	return PauseAnswer{ID: wf, Paused: true}, nil
}

func (s *Server) resume(ctx context.Context, _ *http.Request, wf string) (any, error) {
	if _, err := s.cfg.Flow.Resume(ctx, flow.PauseTarget{Workflow: wf}); err != nil {
		return nil, err
	}
	return PauseAnswer{ID: wf, Paused: false}, nil
}

// NodeAnswer is POST /api/workflows/{id}/nodes/{cancel|retry}?path=P's
// answer.
type NodeAnswer struct {
	ID    string `json:"id"`
	Node  string `json:"node"`
	Nodes int    `json:"nodes"`
	Jobs  int    `json:"jobs"`
}

func (s *Server) cancelNode(ctx context.Context, _ *http.Request, wf, path string) (any, error) {
	res, err := s.cfg.Flow.CancelNode(ctx, wf, path)
	if err != nil {
		return nil, err
	}
	return NodeAnswer{ID: wf, Node: path, Nodes: res.Nodes, Jobs: res.Jobs}, nil
}

func (s *Server) retryNode(ctx context.Context, _ *http.Request, wf, path string) (any, error) {
	res, err := s.cfg.Flow.RetryNode(ctx, wf, path)
	if err != nil {
		return nil, err
	}
	return NodeAnswer{ID: wf, Node: path, Nodes: res.Nodes, Jobs: res.Jobs}, nil
}
