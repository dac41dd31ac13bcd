package sim

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// A tiny plotting kit: grouped bar charts and line charts drawn with the
// standard image packages and basicfont (7×13 px glyphs). Enough for the
// simulator's figures without a plotting dependency.

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
}

type canvas struct {
	img *image.RGBA
}

func newCanvas(w, h int) *canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	return &canvas{img: img}
}

func (c *canvas) text(x, y int, s string, col color.Color) {
	d := &font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13,
		Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(s string) int { return 7 * len(s) }

func (c *canvas) rect(x0, y0, x1, y1 int, col color.Color) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	draw.Draw(c.img, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
}

// line draws a 2-px line with Bresenham steps.
func (c *canvas) line(x0, y0, x1, y1 int, col color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		c.img.Set(x0, y0, col)
		c.img.Set(x0+1, y0, col)
		c.img.Set(x0, y0+1, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

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
	c                      *canvas
	left, top, right, bott int
	ymax                   float64
}

func newFrame(c *canvas, title, ylabel string, ymax float64) frame {
	b := c.img.Bounds()
	f := frame{c: c, left: 70, top: 40, right: b.Dx() - 20, bott: b.Dy() - 70, ymax: niceMax(ymax)}
	c.text((b.Dx()-textWidth(title))/2, 22, title, color.Black)
	c.text(8, f.top-8, ylabel, color.Black)
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	for i := 0; i <= 5; i++ {
		v := f.ymax * float64(i) / 5
		y := f.y(v)
		c.rect(f.left, y, f.right, y+1, grey)
		lbl := fmt.Sprintf("%.3g", v)
		c.text(f.left-8-textWidth(lbl), y+4, lbl, color.Black)
	}
	c.rect(f.left, f.top, f.left+1, f.bott, color.Black)
	c.rect(f.left, f.bott, f.right, f.bott+1, color.Black)
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
	y := f.c.img.Bounds().Dy() - 18
	for i, n := range names {
		f.c.rect(x, y-10, x+12, y+2, palette[i%len(palette)])
		f.c.text(x+16, y, n, color.Black)
		x += 16 + textWidth(n) + 18
	}
}

// BarChart draws groups (x categories) of bars (one per series). values[s][g].
func BarChart(w io.Writer, title, ylabel string, groups, series []string, values [][]float64) error {
	if len(series) != len(values) {
		return fmt.Errorf("sim: bar chart: %d series names for %d value rows", len(series), len(values))
	}
	c := newCanvas(900, 480)
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
			f.c.rect(x0, f.y(v), x1, f.bott, palette[s%len(palette)])
			lbl := strings.TrimPrefix(fmt.Sprintf("%.3f", v), "0")
			if bw >= float64(textWidth(lbl)) {
				f.c.text(x0, f.y(v)-3, lbl, color.Black)
			}
		}
		cx := int(float64(f.left) + gw*float64(g) + gw/2)
		f.c.text(cx-textWidth(gname)/2, f.bott+18, gname, color.Black)
	}
	f.legend(series)
	return png.Encode(w, c.img)
}

// LineChart draws one polyline per series over shared x values. values[s][i].
func LineChart(w io.Writer, title, xlabel, ylabel string, xs []float64, series []string, values [][]float64) error {
	if len(series) != len(values) || len(xs) == 0 {
		return fmt.Errorf("sim: line chart: %d series, %d rows, %d x values", len(series), len(values), len(xs))
	}
	c := newCanvas(900, 480)
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
		c.text(px(x)-textWidth(lbl)/2, f.bott+18, lbl, color.Black)
		c.rect(px(x), f.bott, px(x)+1, f.bott+5, color.Black)
	}
	c.text((f.left+f.right-textWidth(xlabel))/2, f.bott+36, xlabel, color.Black)
	for s, row := range values {
		col := palette[s%len(palette)]
		for i := range row {
			x, y := px(xs[i]), f.y(row[i])
			c.rect(x-3, y-3, x+4, y+4, col)
			if i > 0 {
				c.line(px(xs[i-1]), f.y(row[i-1]), x, y, col)
			}
		}
	}
	f.legend(series)
	return png.Encode(w, c.img)
}
