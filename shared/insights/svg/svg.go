// Package svg draws the Insights charts as static SVG on the server: no
// JavaScript, the same bytes for the same figures (golden-file tested),
// every label escaped, and each chart accessible: role="img", an
// aria-labelledby pointing at its <title> and <desc>, the desc saying in
// words what the chart shows, and a <title> on every point and bar (the
// browser's tooltip).
//
//	figures (insights.Point, tests) ─▶ Line / Bars (this package) ─▶ <svg> in the UI page
package svg

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Geometry of every chart, in SVG user units.
const (
	width, height             = 640, 240
	left, right, top, bottom  = 64, 16, 32, 44
	plotW, plotH              = width - left - right, height - top - bottom
	maxXLabels                = 8
	barRowH, barLabelW, barsW = 22, 240, width - 240 - right - 56
)

// palette: colours with at least 4.5:1 contrast on white.
var palette = []string{"#1f5fa8", "#b3261e", "#1b7f3b", "#7a4fb0"}

// Chart says what a chart is, for its title, description and id.
type Chart struct {
	// ID prefixes the ids of the title and desc, unique in the page.
	ID string
	// Title is the chart's title, shown and read out.
	Title string
	// Desc describes the chart in a sentence for screen readers; Line and
	// Bars add a summary of the data to it.
	Desc string
	// Unit formats values: Seconds, Percent or Count.
	Unit Unit
}

// Unit formats a value for axis labels and tooltips.
type Unit int

// Units.
const (
	Count Unit = iota
	Seconds
	Percent // a fraction 0..1 shown as 0–100 %, to a tenth
)

func (u Unit) format(v float64) string {
	switch u {
	case Seconds:
		return Duration(v)
	case Percent:
		return num(v*100) + "%"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Duration formats seconds as CircleCI shows durations: 45s, 3m 05s, 1h 02m.
func Duration(secs float64) string {
	s := int64(math.Round(secs))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
}

// Series is one line of a Line chart.
type Series struct {
	Name   string
	Values []float64 // one per label; NaN leaves a gap
}

// Bar is one bar of a Bars chart.
type Bar struct {
	Label string
	Value float64
}

func esc(s string) string { return html.EscapeString(s) }

func num(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// open writes the svg element with its title and desc.
func open(b *strings.Builder, c Chart, h int, summary string) {
	desc := strings.TrimSpace(c.Desc + " " + summary)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-title %s-desc" class="chart">`+"\n",
		width, h, width, h, esc(c.ID), esc(c.ID))
	fmt.Fprintf(b, `<title id="%s-title">%s</title>`+"\n", esc(c.ID), esc(c.Title))
	fmt.Fprintf(b, `<desc id="%s-desc">%s</desc>`+"\n", esc(c.ID), esc(desc))
	fmt.Fprintf(b, `<text x="%d" y="18" font-size="14" font-weight="bold" fill="#222">%s</text>`+"\n", left, esc(c.Title))
}

// niceMax is the smallest 1, 2 or 5 × 10ⁿ at or above v (1 for v ≤ 0).
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func empty(b *strings.Builder, h int) {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" fill="#444" text-anchor="middle">No runs in this window</text>`+"\n", width/2, h/2)
	b.WriteString("</svg>\n")
}

// Line draws series over labels (dates, hours): the y axis from 0 to a
// round maximum with five grid lines, a legend, a dot with a tooltip on
// every value.
func Line(c Chart, labels []string, series []Series) string {
	var b strings.Builder
	hi, n := 0.0, 0
	for _, s := range series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				hi, n = math.Max(hi, v), n+1
			}
		}
	}
	summary := ""
	if n > 0 && len(labels) > 0 {
		summary = fmt.Sprintf("From %s to %s, %d values; highest %s.", labels[0], labels[len(labels)-1], n, c.Unit.format(hi))
	}
	open(&b, c, height, summary)
	if n == 0 {
		empty(&b, height)
		return b.String()
	}
	ymax := niceMax(hi)
	if c.Unit == Percent {
		ymax = 1
	}
	y := func(v float64) float64 { return float64(top) + float64(plotH)*(1-v/ymax) }
	x := func(i int) float64 {
		if len(labels) == 1 {
			return float64(left) + float64(plotW)/2
		}
		return float64(left) + float64(plotW)*float64(i)/float64(len(labels)-1)
	}
	b.WriteString(`<g class="axes" font-size="11" fill="#444">` + "\n")
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#ddd"/><text x="%d" y="%s" text-anchor="end">%s</text>`+"\n",
			left, width-right, num(y(v)), num(y(v)), left-6, num(y(v)+4), esc(c.Unit.format(v)))
	}
	step := max(1, (len(labels)+maxXLabels-1)/maxXLabels)
	for i := 0; i < len(labels); i += step {
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", num(x(i)), height-bottom+18, esc(labels[i]))
	}
	b.WriteString("</g>\n")
	for si, s := range series {
		col := palette[si%len(palette)]
		fmt.Fprintf(&b, `<g class="series" aria-label="%s">`+"\n", esc(s.Name))
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
			}
			pts = nil
		}
		for i, v := range s.Values {
			if i >= len(labels) {
				break
			}
			if math.IsNaN(v) {
				flush()
				continue
			}
			pts = append(pts, num(x(i))+","+num(y(v)))
		}
		flush()
		for i, v := range s.Values {
			if i < len(labels) && !math.IsNaN(v) {
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s %s: %s</title></circle>`+"\n",
					num(x(i)), num(y(v)), col, esc(s.Name), esc(labels[i]), esc(c.Unit.format(v)))
			}
		}
		lx := left + si*140
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12" fill="#222">%s</text>`+"\n",
			lx, height-14, col, lx+16, height-4, esc(s.Name))
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// Bars draws horizontal bars, one row each, in the order given, each
// labelled and with its value written beside it.
func Bars(c Chart, bars []Bar) string {
	var b strings.Builder
	h := top + len(bars)*barRowH + 12
	if len(bars) == 0 {
		h = height
	}
	summary := ""
	if len(bars) > 0 {
		summary = fmt.Sprintf("%d bars; the first, %s, is %s.", len(bars), bars[0].Label, c.Unit.format(bars[0].Value))
	}
	open(&b, c, h, summary)
	if len(bars) == 0 {
		empty(&b, h)
		return b.String()
	}
	hi := 0.0
	for _, br := range bars {
		hi = math.Max(hi, br.Value)
	}
	ymax := niceMax(hi)
	for i, br := range bars {
		yy := top + i*barRowH
		w := float64(barsW) * br.Value / ymax
		label := br.Label
		if r := []rune(label); len(r) > 36 {
			label = string(r[:35]) + "…"
		}
		fmt.Fprintf(&b, `<g class="bar"><title>%s: %s</title><text x="%d" y="%d" font-size="12" fill="#222" text-anchor="end">%s</text>`+
			`<rect x="%d" y="%d" width="%s" height="%d" fill="%s"/><text x="%s" y="%d" font-size="11" fill="#444">%s</text></g>`+"\n",
			esc(br.Label), esc(c.Unit.format(br.Value)), barLabelW-8, yy+15, esc(label),
			barLabelW, yy+3, num(w), barRowH-6, palette[0], num(float64(barLabelW)+w+6), yy+15, esc(c.Unit.format(br.Value)))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
