package sim

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

// The simulator's figures: grouped bar charts and line charts on the chart
// package's canvas.

// niceMax rounds v up to 1, 2 or 5 × 10^k.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

type frame struct {
	c                      chart.Canvas
	left, top, right, bott int
	ymax                   float64
}

func newFrame(c chart.Canvas, title, ylabel string, ymax float64) frame {
	b := c.Bounds()
	f := frame{c: c, left: 70, top: 40, right: b.Dx() - 20, bott: b.Dy() - 70, ymax: niceMax(ymax)}
	c.Text((b.Dx()-chart.TextWidth(title))/2, 22, title, color.Black)
	c.Text(8, f.top-8, ylabel, color.Black)
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	for i := 0; i <= 5; i++ {
		v := f.ymax * float64(i) / 5
		y := f.y(v)
		c.Rect(f.left, y, f.right, y+1, grey)
		lbl := fmt.Sprintf("%.3g", v)
		c.Text(f.left-8-chart.TextWidth(lbl), y+4, lbl, color.Black)
	}
	c.Rect(f.left, f.top, f.left+1, f.bott, color.Black)
	c.Rect(f.left, f.bott, f.right, f.bott+1, color.Black)
	return f
}

func (f frame) y(v float64) int {
	if v > f.ymax {
		v = f.ymax
	}
	return f.bott - int(float64(f.bott-f.top)*v/f.ymax)
}

func (f frame) legend(names []string) {
	x := f.left + 10
	y := f.c.Bounds().Dy() - 18
	for i, n := range names {
		f.c.Rect(x, y-10, x+12, y+2, chart.Palette[i%len(chart.Palette)])
		f.c.Text(x+16, y, n, color.Black)
		x += 16 + chart.TextWidth(n) + 18
	}
}

// BarChart draws groups (x categories) of bars (one per series). values[s][g].
func BarChart(w io.Writer, title, ylabel string, groups, series []string, values [][]float64) error {
	if len(series) != len(values) {
		return fmt.Errorf("sim: bar chart: %d series names for %d value rows", len(series), len(values))
	}
	c := chart.New(900, 480)
	ymax := 0.0
	for _, row := range values {
		if len(row) != len(groups) {
			return fmt.Errorf("sim: bar chart: row has %d values for %d groups", len(row), len(groups))
		}
		for _, v := range row {
			ymax = math.Max(ymax, v)
		}
	}
	f := newFrame(c, title, ylabel, ymax)
	gw := float64(f.right-f.left) / float64(max(1, len(groups)))
	bw := gw * 0.8 / float64(max(1, len(series)))
	for g, gname := range groups {
		gx := float64(f.left) + gw*float64(g) + gw*0.1
		for s := range series {
			x0 := int(gx + bw*float64(s))
			x1 := int(gx + bw*float64(s+1) - 2)
			v := values[s][g]
			f.c.Rect(x0, f.y(v), x1, f.bott, chart.Palette[s%len(chart.Palette)])
			lbl := strings.TrimPrefix(fmt.Sprintf("%.3f", v), "0")
			if bw >= float64(chart.TextWidth(lbl)) {
				f.c.Text(x0, f.y(v)-3, lbl, color.Black)
			}
		}
		cx := int(float64(f.left) + gw*float64(g) + gw/2)
		f.c.Text(cx-chart.TextWidth(gname)/2, f.bott+18, gname, color.Black)
	}
	f.legend(series)
	return c.WritePNG(w)
}

// LineChart draws one polyline per series over shared x values. values[s][i].
func LineChart(w io.Writer, title, xlabel, ylabel string, xs []float64, series []string, values [][]float64) error {
	if len(series) != len(values) || len(xs) == 0 {
		return fmt.Errorf("sim: line chart: %d series, %d rows, %d x values", len(series), len(values), len(xs))
	}
	c := chart.New(900, 480)
	ymax := 0.0
	for _, row := range values {
		if len(row) != len(xs) {
			return fmt.Errorf("sim: line chart: row has %d values for %d x", len(row), len(xs))
		}
		for _, v := range row {
			ymax = math.Max(ymax, v)
		}
	}
	f := newFrame(c, title, ylabel, ymax)
	xmin, xmax := xs[0], xs[len(xs)-1]
	if xmax <= xmin {
		xmax = xmin + 1
	}
	px := func(x float64) int {
		return f.left + 10 + int(float64(f.right-f.left-20)*(x-xmin)/(xmax-xmin))
	}
	for _, x := range xs {
		lbl := fmt.Sprintf("%g", x)
		c.Text(px(x)-chart.TextWidth(lbl)/2, f.bott+18, lbl, color.Black)
		c.Rect(px(x), f.bott, px(x)+1, f.bott+5, color.Black)
	}
	c.Text((f.left+f.right-chart.TextWidth(xlabel))/2, f.bott+36, xlabel, color.Black)
	for s, row := range values {
		col := chart.Palette[s%len(chart.Palette)]
		for i := range row {
			x, y := px(xs[i]), f.y(row[i])
			c.Rect(x-3, y-3, x+4, y+4, col)
			if i > 0 {
				c.Line(px(xs[i-1]), f.y(row[i-1]), x, y, col, 2)
			}
		}
	}
	f.legend(series)
	return c.WritePNG(w)
}
