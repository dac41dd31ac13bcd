package chart

import (
	"bytes"
	"image/color"
	"image/png"
	"testing"
)

func TestLineReachesBothEndsWithTheGivenPen(t *testing.T) {
	red := color.RGBA{255, 0, 0, 255}
	for _, tc := range []struct {
		x0, y0, x1, y1, thick int
	}{{2, 2, 30, 17, 1}, {30, 17, 2, 2, 2}, {5, 25, 5, 3, 3}, {3, 9, 28, 9, 1}} {
		c := New(40, 40)
		c.Line(tc.x0, tc.y0, tc.x1, tc.y1, red, tc.thick)
		for _, p := range [][2]int{{tc.x0, tc.y0}, {tc.x1, tc.y1}} {
			if got := c.At(p[0], p[1]); got != color.Color(red) {
				t.Errorf("%+v: end (%d,%d) is %v, not drawn", tc, p[0], p[1], got)
			}
		}
		// The pen is thick px wide: the pixel just beyond it across a horizontal or vertical line stays white.
		if tc.y0 == tc.y1 {
			lo, hi := -(tc.thick-1)/2, tc.thick/2
			if c.At(tc.x0, tc.y0+lo-1) != color.Color(color.RGBA{255, 255, 255, 255}) || c.At(tc.x0, tc.y0+hi) != color.Color(red) {
				t.Errorf("%+v: pen is not %d px", tc, tc.thick)
			}
		}
	}
}

func TestCanvasStartsWhiteAndEncodes(t *testing.T) {
	c := New(20, 10)
	c.Rect(15, 8, 5, 2, Palette[0]) // corners in any order
	c.Text(1, 9, "x", color.Black)
	if got := c.At(0, 0); got != color.Color(color.RGBA{255, 255, 255, 255}) {
		t.Fatalf("background %v", got)
	}
	if got := c.At(10, 5); got != color.Color(Palette[0]) {
		t.Fatalf("rect not filled: %v", got)
	}
	var b bytes.Buffer
	if err := c.WritePNG(&b); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil || img.Bounds().Dx() != 20 {
		t.Fatalf("decode: %v %v", err, img)
	}
	if TextWidth("abc") != 21 {
		t.Fatalf("TextWidth(abc) = %d", TextWidth("abc"))
	}
}
