package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// maxFailedListed caps the failed nodes named when a followed workflow fails.
const maxFailedListed = 20

// followRetryFor is how long following tolerates a status it cannot read
// (the database restarting, a network blip) before it gives up.
const followRetryFor = time.Minute

// progress is what the follower shows of a workflow.
type progress struct {
	status  flowtype.WorkflowState
	total   int // nodes, groups included
	final   int // nodes completed, failed, cancelled or skipped
	failed  int // leaves that failed
	elapsed time.Duration
}

func (p progress) String() string {
	return fmt.Sprintf("%s: %d/%d nodes final, %d failed, %s", p.status, p.final, p.total, p.failed, fmtDuration(p.elapsed))
}

func (a *app) progressOf(p *flow.Progress) progress {
	out := progress{status: p.Status, total: p.Nodes, final: p.Final, failed: p.Failed}
	end := a.now()
	if p.FinishedAt != nil {
		end = *p.FinishedAt
	}
	out.elapsed = max(end.Sub(p.CreatedAt), 0)
	return out
}

// follow polls the workflow's status until it is final, reporting progress
// on stderr. It returns nil when the workflow completed and an error with
// ExitWorkflowFailed when it failed or was cancelled. With -o json the final
// status goes to stdout.
func (a *app) follow(ctx context.Context, client *flow.Client, id string, pollInterval time.Duration, output string) error {
	rep := a.newReporter()
	var (
		last         progress
		failingSince time.Time // start of consecutive failed reads
	)
	for {
		began := time.Now()
		pr, err := client.Progress(ctx, id)
		var st *flow.WorkflowStatus
		if err == nil && pr.Status.IsFinal() {
			// Final: read the nodes once, to name the failed ones (and
			// print the status with -o json).
			st, err = client.Status(ctx, id)
		}
		wait := pollInterval
		switch {
		case err == nil:
			failingSince = time.Time{}
			last = a.progressOf(pr)
			if st != nil {
				rep.finish(last)
				return a.finished(st, last, output)
			}
			rep.update(last)
			// Progress counts every node: on a large workflow, poll less
			// often than it takes to count, so following never loads the
			// server.
			wait = max(pollInterval, 4*time.Since(began))
		case ctx.Err() != nil:
			rep.stop()
			return a.stoppedFollowing(ctx, id, last)
		case !transient(err):
			rep.stop()
			return a.runtimeErr(ctx, err)
		default:
			// The workflow goes on without us: ride out a database restart
			// or a network blip rather than end a long wait.
			if failingSince.IsZero() {
				failingSince = began
			}
			if time.Since(failingSince) > followRetryFor {
				rep.stop()
				return fmt.Errorf("following workflow %s: status unreadable for %s, giving up (the workflow goes on): %w",
					id, followRetryFor, err)
			}
			rep.note(fmt.Sprintf("cannot read the status of workflow %s, retrying for up to %s: %s",
				id, followRetryFor, oneLine(cliutil.Redact(err.Error()))))
			wait = max(pollInterval, time.Second)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			rep.stop()
			return a.stoppedFollowing(ctx, id, last)
		case <-timer.C:
		}
	}
}

// transient reports whether a failed status read is worth retrying: a lost
// or refused connection, a server shutting down or out of connections, a
// serialization failure. Other server errors (a missing schema, say) and the
// runtime's own errors are not.
func transient(err error) bool {
	if errors.Is(err, flow.ErrNotFound) || errors.Is(err, flow.ErrInvalidID) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57": // connection, rollback, resources, operator intervention
			return true
		}
		return false
	}
	return true
}

// stoppedFollowing explains that only the following stopped.
func (a *app) stoppedFollowing(ctx context.Context, id string, last progress) error {
	why := "interrupted"
	if errors.Is(context.Cause(ctx), errTimeout) {
		why = "gave up after --timeout " + a.timeout.String()
	}
	state := "still going"
	if last.status != "" {
		state = "still " + string(last.status)
	}
	return fmt.Errorf("%s: stopped following workflow %s, which is %s and goes on without us "+
		"(follow it again with 'enqueue wait %s', stop it with 'enqueue cancel %s')", why, id, state, id, id)
}

// finished reports a final workflow and returns its exit status.
func (a *app) finished(st *flow.WorkflowStatus, p progress, output string) error {
	if output == outJSON {
		if err := a.printJSON(st); err != nil {
			return err
		}
	}
	if st.Status == flowtype.WorkflowCompleted {
		fmt.Fprintf(a.stderr, "workflow %s (%s) completed: %d nodes in %s\n", st.ID, st.Name, p.total, fmtDuration(p.elapsed))
		return nil
	}
	fmt.Fprintf(a.stderr, "workflow %s (%s) %s after %s: %s\n", st.ID, st.Name, st.Status, fmtDuration(p.elapsed), stateCounts(st.Nodes))
	a.listFailures(st)
	return cliutil.WithCode(cliutil.ExitWorkflowFailed, fmt.Errorf("workflow %s %s", st.ID, st.Status))
}

// listFailures names the leaves that failed (or were cancelled with an
// error) and their errors, at most maxFailedListed of them.
func (a *app) listFailures(st *flow.WorkflowStatus) {
	var failed []*flow.NodeStatus
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if n.Kind != nil && (n.State == flowtype.NodeFailed || (n.State == flowtype.NodeCancelled && n.Error != nil)) {
			failed = append(failed, n)
		}
	}
	for i, n := range failed {
		if i == maxFailedListed {
			fmt.Fprintf(a.stderr, "  ... and %d more (enqueue status %s --failed lists them all)\n", len(failed)-i, st.ID)
			break
		}
		msg := "no error recorded"
		if n.Error != nil {
			msg = oneLine(*n.Error)
		}
		fmt.Fprintf(a.stderr, "  %s %s after %s: %s\n", n.ID, n.State, plural(n.Attempts, "attempt"), msg)
	}
}

// stateCounts summarises nodes by state: "6 completed, 1 failed, 2 cancelled".
func stateCounts(nodes []flow.NodeStatus) string {
	order := []flowtype.NodeState{flowtype.NodeCompleted, flowtype.NodeFailed, flowtype.NodeCancelled, flowtype.NodeSkipped,
		flowtype.NodeRunning, flowtype.NodeRetryable, flowtype.NodeAvailable, flowtype.NodeWaiting}
	counts := map[flowtype.NodeState]int{}
	for i := range nodes {
		counts[nodes[i].State]++
	}
	var parts []string
	for _, s := range order {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			delete(counts, s)
		}
	}
	for s, c := range counts { // states added later
		parts = append(parts, fmt.Sprintf("%d %s", c, s))
	}
	if len(parts) == 0 {
		return "no nodes"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// oneLine keeps the first line of a message.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// fmtDuration prints a duration for people: 812ms, 4.1s, 2m03s, 3h05m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
