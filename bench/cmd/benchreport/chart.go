package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// logSpread is the ratio of the slowest bar to the fastest above which a
// chart uses a logarithmic axis, so that the fast bars stay visible.
const logSpread = 30

// Bar colours: ginlimit stands out, the baseline recedes.
var (
	ginlimitColor = color.NRGBA{R: 0x00, G: 0x7d, B: 0x9c, A: 0xff}
	peerColor     = color.NRGBA{R: 0xa0, G: 0xa8, B: 0xb4, A: 0xff}
	baselineColor = color.NRGBA{R: 0xdc, G: 0xdc, B: 0xdc, A: 0xff}
)

// renderChart returns an SVG horizontal bar chart of the median ns/op of
// every row of sc, fastest at the top. The same scenario always gives the
// same bytes.
func renderChart(sc *scenario) ([]byte, error) {
	if len(sc.Rows) == 0 {
		return nil, fmt.Errorf("scenario %s has no results", sc.Name)
	}
	p := plot.New()
	sans := func(f *font.Font) { f.Variant = "Sans" }
	sans(&p.Title.TextStyle.Font)
	sans(&p.X.Label.TextStyle.Font)
	sans(&p.X.Tick.Label.Font)
	sans(&p.Y.Tick.Label.Font)
	p.Title.Text = sc.Name
	p.X.Label.Text = "ns/op (lower is better)"

	b := &bars{Label: p.X.Tick.Label}
	lo, hi := math.Inf(1), 0.0
	for i := len(sc.Rows) - 1; i >= 0; i-- { // the first row is drawn last, at the top
		r := sc.Rows[i]
		c := peerColor
		switch r.Library {
		case referenceLibrary:
			c = ginlimitColor
		case baselineLibrary:
			c = baselineColor
		}
		b.Values = append(b.Values, r.Ns.Center)
		b.Colors = append(b.Colors, c)
		b.Names = append(b.Names, r.Label())
		lo, hi = math.Min(lo, r.Ns.Center), math.Max(hi, r.Ns.Center)
	}
	if lo > 0 && hi/lo > logSpread {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = durationTicks{}
		p.X.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		p.X.Max = hi * 4 // room for the value label
	} else {
		p.X.Min = 0
		p.X.Max = max(hi*1.2, 1) // an axis from 0 to 0 cannot be drawn
	}
	b.Base = p.X.Min
	p.Add(b)
	p.NominalY(b.Names...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(b.Values))-0.4

	height := vg.Points(float64(70 + 24*len(b.Values)))
	w, err := p.WriterTo(7*vg.Inch, height, "svg")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bars is a plot.Plotter of horizontal bars at y = 0, 1, ..., each from Base
// to its value, in its own colour, and labelled with the value.
type bars struct {
	Values []float64
	Colors []color.Color
	Names  []string
	// Base is where the bars start: 0, or the axis minimum on a
	// logarithmic axis, which cannot show 0.
	Base float64
	// Label is the style of the value labels.
	Label draw.TextStyle
}

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	style := b.Label
	style.XAlign, style.YAlign = draw.XLeft, draw.YCenter
	const width = 14 // bar thickness, in points
	for i, v := range b.Values {
		y := trY(float64(i))
		x0, x1 := trX(b.Base), trX(v)
		c.FillPolygon(b.Colors[i], []vg.Point{
			{X: x0, Y: y - width/2}, {X: x1, Y: y - width/2},
			{X: x1, Y: y + width/2}, {X: x0, Y: y + width/2},
		})
		c.FillText(style, vg.Point{X: x1 + 4, Y: y}, formatNum(v))
	}
}

// DataRange implements plot.DataRanger.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = b.Base, b.Base
	for _, v := range b.Values {
		xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
	}
	return xmin, xmax, 0, float64(len(b.Values) - 1)
}

// durationTicks marks a logarithmic axis of nanoseconds at every power of
// ten, labelled as a duration (100ns, 1µs, ..., 10s), and at the multiples
// in between.
type durationTicks struct{}

// Ticks implements plot.Ticker.
func (durationTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for decade := math.Pow(10, math.Floor(math.Log10(min))); decade <= max; decade *= 10 {
		label := time.Duration(decade).String()
		if decade < 1 {
			label = formatNum(decade) + "ns"
		}
		ticks = append(ticks, plot.Tick{Value: decade, Label: label})
		for i := 2.0; i < 10 && i*decade <= max; i++ {
			ticks = append(ticks, plot.Tick{Value: i * decade})
		}
	}
	return ticks
}
