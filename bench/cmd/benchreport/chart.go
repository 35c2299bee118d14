package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// The charts are SVG written here rather than by a plotting library, so
// that their layout does not depend on the fonts of the machine that writes
// them nor of the one that shows them: text is set in a generic font stack,
// and room for it is reserved from a width estimate (textWidth) that
// exceeds what the common sans-serif fonts need.

// logSpread is the ratio of the largest bar to the smallest above which a
// chart uses a logarithmic axis, so that the short bars stay visible. The
// axis title says so.
const logSpread = 30

// fontFamily is the font stack of every text: fonts found on most systems,
// then the generic family.
const fontFamily = `system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif`

// Bar colours, one pair per kind of row: the first series darker, the
// second lighter. ginlimit stands out, the baseline recedes.
var barColors = map[rowKind][2]string{
	ginlimitRow: {"#007d9c", "#7fc4d6"},
	peerRow:     {"#6b7280", "#c3c7ce"},
	baselineRow: {"#b8bcc4", "#e2e4e8"},
}

// A rowKind says how a bar is coloured.
type rowKind int

const (
	peerRow rowKind = iota
	ginlimitRow
	baselineRow
)

// A chart is a horizontal bar chart of durations, one group of bars per
// row, one bar per series.
type chart struct {
	// File is the chart's file name under docs/benchmarks.
	File string
	// Title says what is measured and which way is better.
	Title string
	// Measure names the quantity on the axis, such as "time per
	// decision"; the axis title adds the unit or the scale.
	Measure string
	// Series names the bars of each row, for the legend; a chart of one
	// series has no legend.
	Series []string
	Rows   []chartRow
}

// A chartRow is one library's bars: Values[i] is series i, in nanoseconds;
// NaN for none.
type chartRow struct {
	Label  string
	Kind   rowKind
	Values []float64
}

// Layout, in pixels (SVG user units).
const (
	chartWidth   = 760.0
	chartPad     = 16.0
	titleSize    = 16.0
	labelSize    = 13.0
	tickSize     = 12.0
	barHeight    = 14.0
	barGap       = 3.0  // between the bars of a row
	rowGap       = 10.0 // between rows
	legendSize   = 12.0
	legendSwatch = 12.0
)

// renderChart returns c as an SVG document. The same chart always gives
// the same bytes.
func renderChart(c chart) ([]byte, error) {
	if len(c.Rows) == 0 {
		return nil, fmt.Errorf("chart %s has no rows", c.File)
	}
	nseries := len(c.Rows[0].Values)
	lo, hi := math.Inf(1), 0.0
	for _, r := range c.Rows {
		if len(r.Values) != nseries {
			return nil, fmt.Errorf("chart %s: row %s has %d values, want %d", c.File, r.Label, len(r.Values), nseries)
		}
		for _, v := range r.Values {
			if v > 0 && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 1 // nothing to draw but zeros: an axis to 1 ns
	}
	ax := newAxis(lo, hi)

	// Horizontal layout: labels, plot, room for the longest value label.
	labelW, valueW := 0.0, 0.0
	for _, r := range c.Rows {
		labelW = math.Max(labelW, textWidth(r.Label, labelSize, false))
		for _, v := range r.Values {
			valueW = math.Max(valueW, textWidth(valueLabel(v), tickSize, false))
		}
	}
	axisTitle := c.Measure + ax.title()
	width := chartWidth
	width = math.Max(width, textWidth(c.Title, titleSize, true)+2*chartPad)
	legendW := 0.0
	if nseries > 1 {
		for _, s := range c.Series {
			legendW += legendSwatch + 6 + textWidth(s, legendSize, false) + 18
		}
		width = math.Max(width, legendW+2*chartPad)
	}
	x0 := chartPad + labelW + 10
	x1 := width - chartPad - valueW - 6
	if min := x0 + 200; x1 < min { // keep a plot 200 px wide at least
		width += min - x1
		x1 = min
	}
	width = math.Max(width, x0+textWidth(axisTitle, tickSize, false)+chartPad)

	// Vertical layout: title, legend, rows, axis.
	y := chartPad + titleSize
	titleY := y
	legendY := 0.0
	if nseries > 1 {
		y += 10 + legendSize
		legendY = y
	}
	plotTop := y + 12
	rowH := float64(nseries)*barHeight + float64(nseries-1)*barGap
	plotBottom := plotTop + float64(len(c.Rows))*(rowH+rowGap)
	height := plotBottom + 6 + tickSize + 8 + tickSize + chartPad

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`+"\n",
		num(width), num(height), num(width), num(height), esc(c.Title))
	p("<title>%s</title>\n", esc(c.Title))
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<g font-family="%s" fill="#1f2328">`+"\n", esc(fontFamily))
	p(`<text x="%s" y="%s" font-size="%s" font-weight="bold">%s</text>`+"\n", num(chartPad), num(titleY), num(titleSize), esc(c.Title))
	if nseries > 1 {
		lx := chartPad
		for i, s := range c.Series {
			p(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				num(lx), num(legendY-legendSwatch+1), num(legendSwatch), num(legendSwatch), barColors[peerRow][i%2])
			lx += legendSwatch + 6
			p(`<text x="%s" y="%s" font-size="%s">%s</text>`+"\n", num(lx), num(legendY), num(legendSize), esc(s))
			lx += textWidth(s, legendSize, false) + 18
		}
	}

	scale := func(v float64) float64 { return x0 + ax.pos(v)*(x1-x0) }
	for _, t := range ax.ticks {
		x := scale(t.value)
		p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d0d4da" stroke-width="1"/>`+"\n", num(x), num(plotTop-4), num(x), num(plotBottom))
		p(`<text x="%s" y="%s" font-size="%s" text-anchor="middle">%s</text>`+"\n", num(x), num(plotBottom+6+tickSize), num(tickSize), esc(t.label))
	}
	p(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#57606a" stroke-width="1"/>`+"\n", num(x0), num(plotTop-4), num(x0), num(plotBottom))
	p(`<text x="%s" y="%s" font-size="%s">%s</text>`+"\n", num(x0), num(plotBottom+6+tickSize+8+tickSize), num(tickSize), esc(axisTitle))

	for i, r := range c.Rows {
		top := plotTop + float64(i)*(rowH+rowGap) + rowGap/2
		p(`<text x="%s" y="%s" font-size="%s" text-anchor="end" dominant-baseline="central">%s</text>`+"\n",
			num(x0-8), num(top+rowH/2), num(labelSize), esc(r.Label))
		for j, v := range r.Values {
			by := top + float64(j)*(barHeight+barGap)
			end := x0
			if v > 0 && !math.IsInf(v, 0) {
				end = math.Max(scale(v), x0+1) // a bar too short to see still shows
				p(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
					num(x0), num(by), num(end-x0), num(barHeight), barColors[r.Kind][j%2])
			}
			p(`<text x="%s" y="%s" font-size="%s" dominant-baseline="central">%s</text>`+"\n",
				num(end+4), num(by+barHeight/2), num(tickSize), esc(valueLabel(v)))
		}
	}
	p("</g>\n</svg>\n")
	return b.Bytes(), nil
}

// valueLabel formats a bar's value, in nanoseconds, as a duration.
func valueLabel(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return formatDuration(v)
}

// An axis maps durations in nanoseconds to [0, 1]: linearly from zero, or
// logarithmically when the values spread over more than logSpread.
type axis struct {
	log      bool
	min, max float64 // nanoseconds; min is 0 on a linear axis
	unit     durationUnit
	ticks    []tick
}

type tick struct {
	value float64 // nanoseconds
	label string
}

func newAxis(lo, hi float64) axis {
	if hi/lo > logSpread {
		a := axis{log: true, min: math.Pow(10, math.Floor(math.Log10(lo))), max: math.Pow(10, math.Ceil(math.Log10(hi)))}
		if a.max == a.min {
			a.max *= 10
		}
		for v := a.min; v <= a.max*1.0001; v *= 10 {
			a.ticks = append(a.ticks, tick{v, formatDuration(v)})
		}
		return a
	}
	u := unitFor(hi)
	step := niceStep(hi / u.ns / 5)
	n := math.Ceil(hi / u.ns / step)
	a := axis{max: n * step * u.ns, unit: u}
	for i := 0.0; i <= n; i++ {
		a.ticks = append(a.ticks, tick{i * step * u.ns, strconv.FormatFloat(roundTo(i*step, step), 'f', -1, 64)})
	}
	return a
}

// pos returns where v lies on the axis, from 0 to 1.
func (a axis) pos(v float64) float64 {
	if a.log {
		return math.Log10(v/a.min) / math.Log10(a.max/a.min)
	}
	return v / a.max
}

// title returns what the axis title adds to the measure: the unit, or that
// the scale is logarithmic.
func (a axis) title() string {
	if a.log {
		return ", logarithmic scale: each gridline is 10× the one before"
	}
	return " (" + a.unit.symbol + "), linear scale from zero"
}

// niceStep returns the smallest of 1, 2 and 5 times a power of ten that is
// at least v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// roundTo rounds v to the decimals of step, so that ticks print as 0.6, not
// 0.6000000000000001.
func roundTo(v, step float64) float64 {
	d := math.Pow(10, math.Max(0, -math.Floor(math.Log10(step))))
	return math.Round(v*d) / d
}

// textWidth returns an upper estimate of the width of s set in size pixels
// in any common sans-serif font (DejaVu Sans, one of the widest, included),
// bold if asked: per-character widths in ems a little above those fonts'
// widest, and a tenth more.
func textWidth(s string, size float64, bold bool) float64 {
	em := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune("iljI.,:;'|!()[] ", r):
			em += 0.36
		case strings.ContainsRune("mwMW@%—", r):
			em += 1.0
		case r >= 'A' && r <= 'Z':
			em += 0.78
		default:
			em += 0.64
		}
	}
	if bold {
		em *= 1.1
	}
	return em * size * 1.1
}

// num formats a coordinate.
func num(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func esc(s string) string { return html.EscapeString(s) }
