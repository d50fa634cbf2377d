package console

// The DAG view draws one level of a workflow at a time: the members of one
// group (or the top level). Layout places them in layers, left to right:
// a member's layer is one more than its deepest dep's, so every edge points
// right. Within a layer members are ordered by the mean position of their
// deps (one barycentre pass, which untangles fan-outs and fan-ins, the
// common shapes), and a layer taller than LayoutMaxRows wraps into several
// columns so that a fan-out of a thousand nodes stays on a screen's height
// of scrolling rather than thirty.

import (
	"slices"
)

// Layout geometry, in SVG user units (CSS pixels at zoom 1).
const (
	NodeWidth     = 168
	NodeHeight    = 54
	layerGap      = 52 // between the last column of a layer and the next layer
	columnGap     = 18 // between the wrapped columns of one layer
	rowGap        = 12
	margin        = 16
	LayoutMaxRows = 25
)

// Point is a member's top-left corner.
type Point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// Layout is where a level's members go.
type Layout struct {
	Width  int     `json:"width"`
	Height int     `json:"height"`
	Pos    []Point `json:"-"`
	// Layer is each member's layer (0 for members without deps).
	Layer []int `json:"-"`
	// Span is the x of the first and of the last column of each member's
	// layer (equal unless the layer wraps): edges run behind a wrapped
	// layer's columns instead of across them.
	Span [][2]int `json:"-"`
}

// LayoutLevel places n members whose deps are given as member indexes
// (deps[i] lists the members i waits for). Deps naming an index out of
// range are ignored; a cycle (which validation forbids) is broken at the
// member where it is found.
func LayoutLevel(n int, deps [][]int) *Layout {
	layer := make([]int, n)
	const unset, visiting = -1, -2
	for i := range layer {
		layer[i] = unset
	}
	var visit func(i int) int
	visit = func(i int) int {
		switch layer[i] {
		case visiting:
			return 0
		case unset:
		default:
			return layer[i]
		}
		layer[i] = visiting
		l := 0
		for _, d := range deps[i] {
			if d >= 0 && d < n && d != i {
				l = max(l, visit(d)+1)
			}
		}
		layer[i] = l
		return l
	}
	layers := 0
	for i := range n {
		layers = max(layers, visit(i)+1)
	}

	// Members of each layer in input (plan) order, then by barycentre.
	byLayer := make([][]int, layers)
	for i := range n {
		byLayer[layer[i]] = append(byLayer[layer[i]], i)
	}
	rank := make([]float64, n) // position within its layer, for the next layer's barycentres
	for l, members := range byLayer {
		if l > 0 {
			key := make(map[int]float64, len(members))
			for pos, i := range members {
				sum, cnt := 0.0, 0
				for _, d := range deps[i] {
					if d >= 0 && d < n && d != i {
						sum += rank[d]
						cnt++
					}
				}
				if cnt == 0 {
					key[i] = float64(pos)
				} else {
					key[i] = sum / float64(cnt)
				}
			}
			slices.SortStableFunc(members, func(a, b int) int {
				switch {
				case key[a] < key[b]:
					return -1
				case key[a] > key[b]:
					return 1
				}
				return 0
			})
		}
		for pos, i := range members {
			rank[i] = float64(pos)
		}
	}

	out := &Layout{Pos: make([]Point, n), Layer: layer, Span: make([][2]int, n)}
	rows := 1
	for _, members := range byLayer {
		rows = max(rows, min(len(members), LayoutMaxRows))
	}
	x := margin
	for _, members := range byLayer {
		cols := (len(members) + LayoutMaxRows - 1) / LayoutMaxRows
		perCol := min(len(members), LayoutMaxRows)
		// Centre short layers vertically against the tallest one.
		offset := (rows - perCol) * (NodeHeight + rowGap) / 2
		last := x + (cols-1)*(NodeWidth+columnGap)
		for pos, i := range members {
			col, row := pos/LayoutMaxRows, pos%LayoutMaxRows
			out.Pos[i] = Point{X: x + col*(NodeWidth+columnGap), Y: margin + offset + row*(NodeHeight+rowGap)}
			out.Span[i] = [2]int{x, last}
		}
		x += cols*(NodeWidth+columnGap) - columnGap + layerGap
	}
	out.Width = max(x-layerGap+margin, 2*margin+NodeWidth)
	out.Height = 2*margin + rows*(NodeHeight+rowGap) - rowGap
	return out
}
