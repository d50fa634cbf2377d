package main

import (
	"bytes"
	"encoding/json"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Board is one generated dashboard: its file name under
// deploy/grafana/dashboards and how to build it.
type Board struct {
	File  string
	Build func() (dashboard.Dashboard, error)
}

// Boards lists every dashboard the generator writes, in a fixed order.
var Boards = []Board{
	{File: "quantumflow-fleet.json", Build: fleetDashboard},
	{File: "quantumflow-workflows.json", Build: workflowsDashboard},
}

// Render encodes a dashboard the way the committed files are written:
// two-space indentation, no HTML escaping (PromQL has < and >), and a final
// newline.
func Render(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Every panel queries the data source the dashboard's datasource variable
// selects.
func datasourceRef() common.DataSourceRef {
	typ, uid := "prometheus", "${datasource}"
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// target is one PromQL query of a panel and its legend.
type target struct {
	expr   string
	legend string
}

func q(expr, legend string) target { return target{expr: expr, legend: legend} }

func (t target) builder(refID string) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().
		Datasource(datasourceRef()).
		RefId(refID).
		Expr(t.expr).
		Range()
	if t.legend != "" {
		b = b.LegendFormat(t.legend)
	}
	return b
}

func refID(i int) string { return string(rune('A' + i)) }

// board numbers panels in the order they are added, so that the ids (and
// the JSON) do not depend on anything but the code.
type board struct {
	b      *dashboard.DashboardBuilder
	nextID uint32
}

func newBoard(uid, title, description string, tags []string, withQueue bool) *board {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags(tags).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone("browser").
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus"))
	if withQueue {
		b = b.WithVariable(dashboard.NewQueryVariableBuilder("queue").
			Label("Queue").
			Description("River queues, from the workers' quantumflow_queue_max_workers series.").
			Datasource(datasourceRef()).
			Query(dashboard.StringOrMap{String: strptr("label_values(quantumflow_queue_max_workers, queue)")}).
			Definition("label_values(quantumflow_queue_max_workers, queue)").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*"))
	}
	return &board{b: b}
}

func strptr(s string) *string { return &s }

func (bd *board) id() uint32 {
	bd.nextID++
	return bd.nextID
}

func (bd *board) row(title string) {
	bd.b = bd.b.WithRow(dashboard.NewRowBuilder(title).Id(bd.id()))
}

// graph adds a time series panel w columns wide (of 24) and 8 high.
func (bd *board) graph(w uint32, title, description, unit string, targets ...target) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Id(bd.id()).
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		Span(w).
		Height(8).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
	for i, t := range targets {
		p = p.WithTarget(t.builder(refID(i)))
	}
	return p
}

func (bd *board) addGraph(w uint32, title, description, unit string, targets ...target) {
	bd.b = bd.b.WithPanel(bd.graph(w, title, description, unit, targets...))
}

func (bd *board) addStackedGraph(w uint32, title, description, unit string, targets ...target) {
	bd.b = bd.b.WithPanel(bd.graph(w, title, description, unit, targets...).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		FillOpacity(30))
}

// addStat adds a stat panel w columns wide and 4 high showing the last value.
func (bd *board) addStat(w uint32, title, description, unit string, targets ...target) {
	p := stat.NewPanelBuilder().
		Id(bd.id()).
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		Span(w).
		Height(4).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeNone).
		TextMode(common.BigValueTextModeAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().
			Calcs([]string{"lastNotNull"}).
			Values(false))
	for i, t := range targets {
		p = p.WithTarget(t.builder(refID(i)))
	}
	bd.b = bd.b.WithPanel(p)
}

// quantiles gives the p50 and p95 queries of a histogram, summed over the
// fleet and kept apart by the labels in by (empty: one series each).
func quantiles(metric, selector, by, legend string) []target {
	group := "le"
	if by != "" {
		group = by + ", le"
	}
	var out []target
	for _, qv := range []struct{ q, name string }{{"0.5", "p50"}, {"0.95", "p95"}} {
		l := qv.name
		if legend != "" {
			l += " " + legend
		}
		out = append(out, q(
			"histogram_quantile("+qv.q+", sum by ("+group+") (rate("+metric+"_bucket"+selector+"[$__rate_interval])))",
			l))
	}
	return out
}
