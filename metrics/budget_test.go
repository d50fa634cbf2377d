package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/quantumflow/quantumflow/flowtype"
	"github.com/quantumflow/quantumflow/internal/pgtest"
	"github.com/quantumflow/quantumflow/metrics"
)

// seriesBudget bounds the series of one worker's scrape.
const seriesBudget = 1500

// TestSeriesBudget: a worker with 20 kinds and 5 queues, every kind worked
// with every outcome on every queue, every workflow outcome observed, and the
// database collector exporting its figures for those queues, exposes fewer
// than seriesBudget series (lines of the text format that are not comments).
func TestSeriesBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	m := metrics.New()
	var kinds []string
	for i := range 20 {
		kinds = append(kinds, fmt.Sprintf("kind_%02d", i))
	}
	queues := map[string]int{}
	var queueNames []string
	for i := range 5 {
		q := fmt.Sprintf("queue_%d", i)
		queues[q] = 100
		queueNames = append(queueNames, q)
	}
	m.InitKinds(kinds...)
	m.SetQueues(queues)
	m.SetWorkerInfo("host-1-cafe", "v1.2.3")
	require.NoError(t, m.RegisterDB(metrics.DBConfig{DB: db.Pool, Queues: queueNames}))
	for _, q := range queueNames {
		_, err := db.Pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state) VALUES ('{}', 'kind_00', 1, $1, 'available')`, q)
		require.NoError(t, err)
	}

	// Every kind on every queue, with every outcome the middleware tells
	// apart (panics aside: they unwind through the caller).
	mw := m.Middleware()
	now := time.Now()
	results := []error{nil, fmt.Errorf("boom"), river.JobCancel(fmt.Errorf("stop")), river.JobSnooze(time.Minute)}
	for _, k := range kinds {
		for _, q := range queueNames {
			for _, res := range results {
				at := now
				job := &rivertype.JobRow{Kind: k, Queue: q, Attempt: 1, AttemptedAt: &at, CreatedAt: now.Add(-time.Second),
					ScheduledAt: now.Add(-time.Second), Metadata: []byte(`{"qf_wf":"w","qf_n":1}`)}
				_ = mw.Work(ctx, job, func(context.Context) error { return res })
			}
		}
	}
	o := m.Observer()
	o.NodesReleased(3)
	o.CompletionBatch(7)
	o.WorkersSwept(1, 1, 1)
	for _, s := range []flowtype.WorkflowState{flowtype.WorkflowCompleted, flowtype.WorkflowFailed, flowtype.WorkflowCancelled} {
		o.WorkflowsFinished(s, 1)
		o.WorkflowDuration(s, time.Second)
	}

	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	series := 0
	byFamily := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series++
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suffix)
		}
		byFamily[name]++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 1.0, float64(byFamily["quantumflow_db_collector_up"]), "the collector exported")
	t.Logf("%d series: %v", series, byFamily)
	require.Less(t, series, seriesBudget)
}
