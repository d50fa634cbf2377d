package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quantumflow/quantumflow/flow"
	"github.com/quantumflow/quantumflow/internal/cliutil"
)

// Report is everything one run measured: -o json prints it as one object.
type Report struct {
	Date      time.Time `json:"date"`
	Command   []string  `json:"command"` // passwords redacted
	DurationS float64   `json:"duration_s"`
	Machine   Machine   `json:"machine"`
	Postgres  Postgres  `json:"postgres"`
	Config    *config   `json:"config"`
	Isolation string    `json:"isolation"`
	// Database is the database created for the run ("" with --isolation
	// schema), Schema the schema; both are dropped at the end unless --keep.
	Database    string         `json:"database,omitempty"`
	Schema      string         `json:"schema"`
	Shapes      []*ShapeResult `json:"shapes"`
	Notes       []string       `json:"notes"`
	FailedCount int            `json:"failed_shapes"`
}

// ShapeResult is one shape: both sides, the rows of the table, and any
// further phases (wide's smaller N).
type ShapeResult struct {
	Name        string                 `json:"name"`
	Params      map[string]int         `json:"params"`
	River       *SideResult            `json:"river"`
	QuantumFlow *SideResult            `json:"quantumflow"`
	Extra       map[string]*SideResult `json:"extra,omitempty"`
	Rows        []Row                  `json:"rows"`
	Notes       []string               `json:"notes,omitempty"`
	Error       string                 `json:"error,omitempty"`
	WallSeconds float64                `json:"wall_s"`
}

// Machine describes where the bench ran.
type Machine struct {
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	CPU         string `json:"cpu,omitempty"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	GoVersion   string `json:"go_version"`
	River       string `json:"river_version"`
	Revision    string `json:"revision,omitempty"` // QuantumFlow's VCS revision, when the build recorded it
	// LoadAvgStart and LoadAvgEnd are /proc/loadavg's 1-minute load when the
	// run started and ended: other work on the machine competes for its cores.
	LoadAvgStart string `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

// Postgres describes the server.
type Postgres struct {
	Version  string            `json:"version"`
	Server   string            `json:"server"` // user@host:port/database, no password
	Settings map[string]string `json:"settings"`
}

// pgSettings are the server settings a reader needs to compare runs.
var pgSettings = []string{
	"fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers",
	"max_connections", "max_wal_size", "checkpoint_timeout", "commit_delay", "work_mem",
}

func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	m.MemoryBytes = procField("/proc/meminfo", "MemTotal:") * 1024
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/riverqueue/river" {
				m.River = d.Version
			}
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				m.Revision = s.Value
			}
		}
	}
	return m
}

// loadAvg is the 1-, 5- and 15-minute load averages; "" without /proc.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// procField reads a "Name: N kB" line of a /proc file; 0 when missing.
func procField(path, name string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name); ok {
			var n int64
			_, _ = fmt.Sscan(rest, &n)
			return n
		}
	}
	return 0
}

func postgresInfo(ctx context.Context, pool *pgxpool.Pool, databaseURL string) (Postgres, error) {
	p := Postgres{Server: cliutil.Describe(databaseURL), Settings: map[string]string{}}
	if err := pool.QueryRow(ctx, `SELECT version()`).Scan(&p.Version); err != nil {
		return p, fmt.Errorf("read server version: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1)`, pgSettings)
	if err != nil {
		return p, fmt.Errorf("read server settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return p, fmt.Errorf("read server settings: %w", err)
		}
		p.Settings[k] = v
	}
	return p, rows.Err()
}

// writeJSON prints the report as one indented object.
func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeText prints the header and the table.
func (r *Report) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "date:      %s (%.0f s)\n", r.Date.Format(time.RFC3339), r.DurationS)
	fmt.Fprintf(bw, "command:   %s\n", strings.Join(r.Command, " "))
	m := r.Machine
	fmt.Fprintf(bw, "machine:   %d cores, %.1f GiB, %s, %s/%s, %s, river %s\n",
		m.Cores, float64(m.MemoryBytes)/(1<<30), orUnknown(m.CPU), m.OS, m.Arch, m.GoVersion, m.River)
	if m.LoadAvgStart != "" {
		fmt.Fprintf(bw, "load avg:  %s at the start, %s at the end (1, 5, 15 min)\n", m.LoadAvgStart, m.LoadAvgEnd)
	}
	fmt.Fprintf(bw, "postgres:  %s\n", r.Postgres.Version)
	var settings []string
	for _, k := range pgSettings {
		if v, ok := r.Postgres.Settings[k]; ok {
			settings = append(settings, k+"="+v)
		}
	}
	fmt.Fprintf(bw, "settings:  %s\n", strings.Join(settings, " "))
	c := r.Config
	batch := fmt.Sprintf("%d (flow's default)", flow.CompletionBatchMaxDefault)
	if c.BatchMax > 0 {
		batch = fmt.Sprint(c.BatchMax)
	}
	fmt.Fprintf(bw, "workers:   MaxWorkers %d, pool %d, FetchCooldown %s, FetchPollInterval %s (both sides); QuantumFlow CompletionBatchMax %s\n",
		c.MaxWorkers, c.PoolMaxConns, c.FetchCooldown, c.FetchPollInterval, batch)
	fmt.Fprintf(bw, "isolation: %s\n\n", r.Isolation)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "shape\tmetric\tRiver\tQuantumFlow\tQF ÷ River\tgoal (issue 4)")
	fmt.Fprintln(tw, "-----\t------\t-----\t-----------\t----------\t--------------")
	for _, s := range r.Shapes {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\tFAILED: %s\t\t\t\t\n", s.Name, oneLine(s.Error))
		}
		for i, row := range s.Rows {
			name := s.Name
			if i > 0 {
				name = ""
			}
			metric := row.Metric
			if row.Unit != "" {
				metric += " (" + row.Unit + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, metric, fmtNum(row.River), fmtNum(row.QuantumFlow), fmtRatio(row.Ratio), fmtGoal(row))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "note: %s\n", n)
		}
	}
	for _, s := range r.Shapes {
		for _, n := range s.Notes {
			fmt.Fprintf(bw, "note: %s: %s\n", s.Name, n)
		}
		for _, row := range s.Rows {
			if row.Caveat != "" {
				fmt.Fprintf(bw, "note: %s: %s\n", s.Name, row.Caveat)
			}
		}
	}
	return bw.Flush()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
