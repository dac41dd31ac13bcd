// Package chart is a small PNG drawing kit: a white canvas with text (basicfont's 7×13 px glyphs), filled
// rectangles and lines with a square pen, drawn with the standard image packages. The simulator's figures
// (nemo simulate -png) and the NF benchmark's plots (integration/refnf/cmd/plot, test equipment) share it
// instead of each carrying a copy. It owns no chart layout: axes, legends and scales stay with each figure.
package chart

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Palette is the series colours, in order (matplotlib's first six).
var Palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
}

// Grey is the colour of grid lines.
var Grey = color.RGBA{200, 200, 200, 255}

// Canvas is an RGBA image being drawn on.
type Canvas struct{ *image.RGBA }

// New returns a white w×h canvas.
func New(w, h int) Canvas {
	c := Canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	draw.Draw(c.RGBA, c.Bounds(), image.White, image.Point{}, draw.Src)
	return c
}

// TextWidth is the width in pixels of s in the canvas font.
func TextWidth(s string) int { return 7 * len(s) }

// Text draws s with its baseline starting at (x, y).
func (c Canvas) Text(x, y int, s string, col color.Color) {
	d := &font.Drawer{Dst: c.RGBA, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// Rect fills the rectangle between two corners, in any order.
func (c Canvas) Rect(x0, y0, x1, y1 int, col color.Color) {
	draw.Draw(c.RGBA, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
}

// Line draws from (x0, y0) to (x1, y1) with a square pen thick px wide (Bresenham steps).
func (c Canvas) Line(x0, y0, x1, y1 int, col color.Color, thick int) {
	lo, hi := -(thick-1)/2, thick/2
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for ox := lo; ox <= hi; ox++ {
			for oy := lo; oy <= hi; oy++ {
				c.Set(x0+ox, y0+oy, col)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// WritePNG encodes the canvas.
func (c Canvas) WritePNG(w io.Writer) error { return png.Encode(w, c.RGBA) }

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
