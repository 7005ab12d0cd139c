// Package dagsvg draws a workflow's jobs as a directed acyclic graph in
// inline SVG, on the server: jobs in columns by their depth in the requires
// graph (a job sits one column right of the deepest job it requires), each
// node coloured by its status the way CircleCI's workflow map is, approval
// jobs drawn as pills, jobs that did not run dashed and greyed.
//
// The SVG uses classes only (the page's stylesheet colours them: the UI's
// Content-Security-Policy allows no inline style) and escapes every label.
package dagsvg

import (
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
)

// Node is one job of the graph.
type Node struct {
	// Name identifies the job in its workflow; Requires name other nodes.
	Name     string
	Requires []string
	// Status is what the node says under its name ("success", "on_hold").
	Status string
	// Class is the colour class of the status ("ok", "bad", "run", "hold",
	// "idle"), the UI's badge classes.
	Class string
	// Href links the node (the job's page); "" draws it without a link.
	Href string
	// Approval draws the node as an approval job (a pill with a pause mark).
	Approval bool
	// NotRun draws the node dashed and greyed: the job never ran.
	NotRun bool
}

// Geometry of the drawing, in SVG user units (CSS pixels).
const (
	nodeW    = 180
	nodeH    = 40
	colGap   = 44
	rowGap   = 14
	pad      = 6
	maxLabel = 22 // runes of a name shown in the node; the tooltip has all of it
)

// glyphs mark a status beside its colour (colour is not the only cue).
var glyphs = map[string]string{"ok": "✓", "bad": "✕", "run": "●", "hold": "‖", "idle": "–"}

// Layout places the nodes: the column and the row of each, by index.
func Layout(nodes []Node) (col, row []int) {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.Name] = i
	}
	col = make([]int, len(nodes))
	state := make([]byte, len(nodes)) // 0 new, 1 on the path, 2 done
	var depth func(i int) int
	depth = func(i int) int {
		switch state[i] {
		case 1:
			return 0 // a cycle (the compiler refuses them): break it here
		case 2:
			return col[i]
		}
		state[i] = 1
		d := 0
		for _, req := range nodes[i].Requires {
			if j, ok := index[req]; ok {
				d = max(d, depth(j)+1)
			}
		}
		col[i], state[i] = d, 2
		return d
	}
	columns := 0
	for i := range nodes {
		columns = max(columns, depth(i)+1)
	}
	// Rows: the first column in the given order, each next column by the
	// mean row of the jobs each requires (fewer crossing edges).
	row = make([]int, len(nodes))
	for c := 0; c < columns; c++ {
		var members []int
		key := map[int]float64{}
		for i := range nodes {
			if col[i] != c {
				continue
			}
			members = append(members, i)
			sum, k := 0.0, 0
			for _, req := range nodes[i].Requires {
				if j, ok := index[req]; ok && col[j] < c {
					sum += float64(row[j])
					k++
				}
			}
			key[i] = float64(i) / float64(len(nodes)+1) // ties keep the given order
			if k > 0 {
				key[i] += sum / float64(k)
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
		for r, i := range members {
			row[i] = r
		}
	}
	return col, row
}

// Render draws the graph; title names it for assistive technology.
func Render(title string, nodes []Node) template.HTML {
	col, row := Layout(nodes)
	cols, rows := 0, 0
	for i := range nodes {
		cols, rows = max(cols, col[i]+1), max(rows, row[i]+1)
	}
	w := pad*2 + cols*nodeW + max(cols-1, 0)*colGap
	h := pad*2 + rows*nodeH + max(rows-1, 0)*rowGap
	x := func(i int) int { return pad + col[i]*(nodeW+colGap) }
	y := func(i int) int { return pad + row[i]*(nodeH+rowGap) }
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.Name] = i
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="group" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d">`,
		html.EscapeString(title), w, h, w, h)
	for i, n := range nodes {
		for _, req := range n.Requires {
			j, ok := index[req]
			if !ok {
				continue
			}
			x1, y1 := x(j)+nodeW, y(j)+nodeH/2
			x2, y2 := x(i), y(i)+nodeH/2
			mid := (x1 + x2) / 2
			fmt.Fprintf(&b, `<path class="dag-edge" d="M%d %dC%d %d %d %d %d %d"/>`, x1, y1, mid, y1, mid, y2, x2, y2)
		}
	}
	for i, n := range nodes {
		node(&b, n, x(i), y(i))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every label is escaped above
}

func node(b *strings.Builder, n Node, x, y int) {
	class := "dag-node s-" + n.Class
	if n.NotRun {
		class += " not-run"
	}
	if n.Approval {
		class += " approval"
	}
	label := n.Name + ", " + strings.ReplaceAll(n.Status, "_", " ")
	if n.Approval {
		label = n.Name + " (approval), " + strings.ReplaceAll(n.Status, "_", " ")
	}
	if n.Href != "" {
		// The link's name is its visible text (name and status), as WCAG
		// wants; the title is the tooltip with the full name.
		fmt.Fprintf(b, `<a href="%s">`, html.EscapeString(n.Href))
	} else {
		fmt.Fprintf(b, `<g role="img" aria-label="%s">`, html.EscapeString(label))
	}
	rx := 4
	if n.Approval {
		rx = nodeH / 2
	}
	fmt.Fprintf(b, `<g class="%s"><title>%s</title>`, class, html.EscapeString(label))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" rx="%d"/>`, x, y, nodeW, nodeH, rx)
	fmt.Fprintf(b, `<text class="dag-glyph" x="%d" y="%d" aria-hidden="true">%s</text>`, x+14, y+nodeH/2+5, glyphs[n.Class])
	fmt.Fprintf(b, `<text class="dag-name" x="%d" y="%d">%s</text>`, x+30, y+17, html.EscapeString(truncate(n.Name)))
	sub := strings.ReplaceAll(n.Status, "_", " ")
	if n.Approval {
		sub = "approval · " + sub
	}
	fmt.Fprintf(b, `<text class="dag-status" x="%d" y="%d">%s</text>`, x+30, y+32, html.EscapeString(sub))
	b.WriteString(`</g>`)
	if n.Href != "" {
		b.WriteString(`</a>`)
	} else {
		b.WriteString(`</g>`)
	}
}

func truncate(s string) string {
	r := []rune(s)
	if len(r) <= maxLabel {
		return s
	}
	return string(r[:maxLabel-1]) + "…"
}
