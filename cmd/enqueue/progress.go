package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// plainInterval is how often a follower without a terminal prints a line.
const plainInterval = 2 * time.Second

// reporter shows a followed workflow's progress on stderr.
type reporter interface {
	// update shows the progress of a workflow that is not final.
	update(p progress)
	// finish shows the final progress.
	finish(p progress)
	// stop ends the display without a final state (interrupted).
	stop()
	// note shows a message line, such as a failed read.
	note(msg string)
}

func (a *app) newReporter() reporter {
	if a.stderrTTY() {
		return &barReporter{w: a.stderr}
	}
	return &plainReporter{w: a.stderr}
}

// plainReporter prints a line at the first update, then every
// plainInterval, and at the end: "running: 812/5002 nodes final, 0 failed, 4.1s".
type plainReporter struct {
	w       io.Writer
	printed time.Time
}

func (r *plainReporter) update(p progress) {
	if !r.printed.IsZero() && time.Since(r.printed) < plainInterval {
		return
	}
	r.printed = time.Now()
	fmt.Fprintln(r.w, p)
}

func (r *plainReporter) finish(p progress) { fmt.Fprintln(r.w, p) }

func (r *plainReporter) stop() {}

func (r *plainReporter) note(msg string) { fmt.Fprintln(r.w, msg) }

// barReporter draws a progress bar: nodes final of total, the workflow's
// status, failures and elapsed time.
type barReporter struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (r *barReporter) describe(p progress) string {
	return fmt.Sprintf("%-9s %d failed  %s", p.status, p.failed, fmtDuration(p.elapsed))
}

func (r *barReporter) update(p progress) {
	if r.bar == nil {
		r.bar = progressbar.NewOptions64(int64(max(p.total, 1)),
			progressbar.OptionSetWriter(r.w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription(r.describe(p)),
		)
	}
	if int64(p.total) != r.bar.GetMax64() && p.total > 0 {
		r.bar.ChangeMax64(int64(p.total)) // an expansion added nodes
	}
	// A bar at its max finishes for good; the workflow is not final yet.
	_ = r.bar.Set64(min(int64(p.final), r.bar.GetMax64()-1))
	r.bar.Describe(r.describe(p)) // renders the new count too
}

func (r *barReporter) finish(p progress) {
	if r.bar == nil {
		r.update(p)
	}
	if int64(p.total) != r.bar.GetMax64() && p.total > 0 {
		r.bar.ChangeMax64(int64(p.total))
	}
	r.bar.Describe(r.describe(p))
	if p.final < p.total {
		// Not every node is final (cancelled while some were settling):
		// keep the count it has.
		_ = r.bar.Set64(int64(p.final))
		_ = r.bar.Exit()
	} else {
		_ = r.bar.Finish()
	}
	fmt.Fprintln(r.w)
}

func (r *barReporter) note(msg string) {
	if r.bar != nil {
		_ = r.bar.Clear() // the bar comes back with the next update
	}
	fmt.Fprintln(r.w, msg)
}

func (r *barReporter) stop() {
	if r.bar != nil {
		_ = r.bar.Exit()
		fmt.Fprintln(r.w)
	}
}
