package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

func bars(series ...Series) Bars {
	return Bars{Title: "t", XLabel: "group", YLabel: "value (s)", Groups: []string{"a", "b"}, Series: series}
}

func lines(x []float64, series ...Series) Lines {
	return Lines{Title: "t", XLabel: "x (MB)", YLabel: "y (s)", X: x, Series: series}
}

func renderPNG(t *testing.T, f Figure) image.Image {
	t.Helper()
	var b bytes.Buffer
	if err := f.Write(&b, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestPNGHasTheAskedSize(t *testing.T) {
	for _, tc := range []struct {
		w, h       vg.Length
		wantW, wnH int // pixels at 96 dpi
	}{{0, 0, 864, 480}, {6 * vg.Inch, 4 * vg.Inch, 576, 384}, {10 * vg.Inch, 3 * vg.Inch, 960, 288}} {
		f := Figure{Width: tc.w, Height: tc.h, Panels: []Panel{bars(Series{"s", []Value{Exact(1), Exact(2)}})}}
		b := renderPNG(t, f).Bounds()
		if b.Dx() != tc.wantW || b.Dy() != tc.wnH {
			t.Errorf("%v × %v: PNG is %d × %d px, want %d × %d", tc.w, tc.h, b.Dx(), b.Dy(), tc.wantW, tc.wnH)
		}
	}
}

func TestSVGIsWellFormedWithTheAskedSizeAndText(t *testing.T) {
	f := Figure{Title: "a title", Width: 5 * vg.Inch, Height: 3 * vg.Inch, Cols: 1, Panels: []Panel{
		lines([]float64{1, 2, 3}, Series{"series one", []Value{Exact(1), {2, 1.5, 2.5}, Exact(3)}})}}
	var b bytes.Buffer
	if err := f.Write(&b, "svg"); err != nil {
		t.Fatal(err)
	}
	var root struct {
		XMLName xml.Name
		Width   string `xml:"width,attr"`
		Height  string `xml:"height,attr"`
	}
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("SVG does not parse: %v", err)
	}
	if root.XMLName.Local != "svg" || root.Width != "360pt" || root.Height != "216pt" {
		t.Fatalf("root <%s width=%q height=%q>, want <svg width=360pt height=216pt>", root.XMLName.Local, root.Width, root.Height)
	}
	for _, text := range []string{"a title", "series one", "x (MB)", "y (s)"} {
		if !strings.Contains(b.String(), ">"+text+"<") {
			t.Errorf("SVG lacks the text %q", text)
		}
	}
}

func TestSaveChoosesTheFormatByExtension(t *testing.T) {
	dir := t.TempDir()
	f := Figure{Panels: []Panel{bars(Series{"s", []Value{Exact(1), Exact(2)}})}}
	for ext, magic := range map[string]string{".png": "\x89PNG", ".svg": "<?xml", ".PDF": "%PDF"} {
		path := filepath.Join(dir, "f"+ext)
		if err := f.Save(path); err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, []byte(magic)) {
			t.Errorf("%s: starts %q, want %q (err %v)", ext, b[:min(len(b), 8)], magic, err)
		}
	}
	for _, bad := range []string{"f.gif", "f", "f.png.txt"} {
		path := filepath.Join(dir, bad)
		if err := f.Save(path); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "image format") {
			t.Errorf("Save(%s): %v, want an unknown-format error", bad, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("Save(%s) left a file behind", bad)
		}
	}
	// A bad figure creates no file either, even with a good name.
	path := filepath.Join(dir, "bad.png")
	if err := (Figure{}).Save(path); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty figure: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a figure that failed to draw left a file behind")
	}
}

// diffBox is the bounding box of the pixels where a and b differ.
func diffBox(a, b image.Image) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return box, n
}

// An error bar is a tall narrow mark: rendering the same figure with and
// without a range on one value changes only a narrow vertical strip, and the
// strip holds dark (bars: black) or series-coloured (lines) pixels.
func TestErrorBarsAppearForRangedValuesOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		panel  func(v Value) Panel
		ranged Value
	}{
		{"bars", func(v Value) Panel {
			return bars(Series{"s", []Value{v, Exact(1)}}, Series{"tall", []Value{Exact(10), Exact(10)}})
		}, Value{4, 2, 8}},
		{"lines", func(v Value) Panel {
			return lines([]float64{1, 2, 3}, Series{"s", []Value{Exact(1), v, Exact(1)}}, Series{"tall", []Value{Exact(10), Exact(10), Exact(10)}})
		}, Value{4, 2, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := renderPNG(t, Figure{Panels: []Panel{tc.panel(Exact(4))}})
			again := renderPNG(t, Figure{Panels: []Panel{tc.panel(Exact(4))}})
			if _, n := diffBox(plain, again); n != 0 {
				t.Fatalf("the same figure drawn twice differs in %d pixels", n)
			}
			ranged := renderPNG(t, Figure{Panels: []Panel{tc.panel(tc.ranged)}})
			box, n := diffBox(plain, ranged)
			if n == 0 {
				t.Fatal("a value with a range drew no error bar")
			}
			// 2→8 on an axis of 0→10 is 60 % of a ~400 px data height; the cap is 4 pt wide.
			if box.Dy() < 150 || box.Dx() > 12 {
				t.Fatalf("the range changed a %d × %d px box, want a tall narrow error bar", box.Dx(), box.Dy())
			}
			dark := 0
			for y := box.Min.Y; y < box.Max.Y; y++ {
				for x := box.Min.X; x < box.Max.X; x++ {
					r, g, b, _ := ranged.At(x, y).RGBA()
					if r+g+b < 3*0xa000 && (r != g || g != b || r < 0x1000) {
						dark++
					}
				}
			}
			if dark < box.Dy() {
				t.Fatalf("only %d dark pixels in the error bar's %d rows", dark, box.Dy())
			}
		})
	}
}

func TestRangeBarsOnlyForRangedValues(t *testing.T) {
	eb, err := rangeBars([]float64{1, 2, 3, 4}, []Value{Exact(1), {2, 1, 5}, Missing(), {3, 3, 4}}, color.Black)
	if err != nil {
		t.Fatal(err)
	}
	if eb == nil || len(eb.XYs) != 2 || eb.XYs[0].X != 2 || eb.XYs[1].X != 4 {
		t.Fatalf("error bars %+v, want at x = 2 and 4", eb)
	}
	if lo, hi := eb.YError(0); lo != 1 || hi != 3 {
		t.Fatalf("error at x = 2: -%g +%g, want -1 +3", lo, hi)
	}
	if eb, err := rangeBars([]float64{1}, []Value{Exact(1)}, color.Black); eb != nil || err != nil {
		t.Fatalf("exact values only: %v %v, want no error bars", eb, err)
	}
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	good := Series{"s", []Value{Exact(1), Exact(2)}}
	x3 := []float64{1, 2, 3}
	three := []Value{Exact(1), Exact(2), Exact(3)}
	for _, tc := range []struct {
		name, format, want string
		fig                Figure
	}{
		{"no panels", "png", "no panels", Figure{}},
		{"unknown format", "gif", "image format", Figure{Panels: []Panel{bars(good)}}},
		{"nil panel", "png", "nil", Figure{Panels: []Panel{nil}}},
		{"too small", "png", "too small", Figure{Width: 10, Height: 10, Panels: []Panel{bars(good)}}},
		{"negative columns", "png", "columns", Figure{Cols: -1, Panels: []Panel{bars(good)}}},
		{"bars: short series", "png", "has 1 values for 2 groups", Figure{Panels: []Panel{bars(Series{"s", []Value{Exact(1)}})}}},
		{"bars: no groups", "png", "no groups", Figure{Panels: []Panel{Bars{Series: []Series{{"s", nil}}}}}},
		{"bars: no series", "png", "no series", Figure{Panels: []Panel{bars()}}},
		{"bars: negative", "png", "negative", Figure{Panels: []Panel{bars(Series{"s", []Value{Exact(-1), Exact(2)}})}}},
		{"duplicate series", "png", "twice", Figure{Panels: []Panel{bars(good, good)}}},
		{"unnamed series", "png", "no name", Figure{Panels: []Panel{bars(Series{"", good.Values})}}},
		{"range out of order", "png", "Lo ≤ Mid ≤ Hi", Figure{Panels: []Panel{bars(Series{"s", []Value{{2, 3, 4}, Exact(1)}})}}},
		{"infinite value", "png", "not finite", Figure{Panels: []Panel{bars(Series{"s", []Value{Exact(math.Inf(1)), Exact(1)}})}}},
		{"lines: long series", "png", "has 4 values for 3 x values", Figure{Panels: []Panel{lines(x3, Series{"s", append(three, Exact(4))})}}},
		{"lines: no x", "png", "no x values", Figure{Panels: []Panel{lines(nil, Series{"s", nil})}}},
		{"lines: NaN x", "png", "not finite", Figure{Panels: []Panel{lines([]float64{1, math.NaN(), 3}, Series{"s", three})}}},
		{"lines: all missing", "png", "every value is missing", Figure{Panels: []Panel{lines(x3, Series{"s", []Value{Missing(), Missing(), Missing()}})}}},
		{"share y across log and linear", "png", "log y axis", Figure{ShareY: true, Panels: []Panel{
			lines(x3, Series{"s", three}), Lines{X: x3, LogY: true, Series: []Series{{"s", three}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fig.Write(&bytes.Buffer{}, tc.format)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

func TestLogAxesRejectNonPositiveValues(t *testing.T) {
	x := []float64{1, 10, 100}
	for _, tc := range []struct {
		name, want string
		l          Lines
	}{
		{"zero on log y", "log y axis needs positive values", Lines{X: x, LogY: true, Series: []Series{{"s", []Value{Exact(1), Exact(0), Exact(2)}}}}},
		{"negative on log y", "log y axis needs positive values", Lines{X: x, LogY: true, Series: []Series{{"s", []Value{Exact(1), Exact(-3), Exact(2)}}}}},
		{"range down to zero on log y", "log y axis needs positive values", Lines{X: x, LogY: true, Series: []Series{{"s", []Value{Exact(1), {1, 0, 2}, Exact(2)}}}}},
		{"zero on log x", "log x axis needs positive x", Lines{X: []float64{0, 1, 2}, LogX: true, Series: []Series{{"s", []Value{Exact(1), Exact(1), Exact(2)}}}}},
		{"negative tick on log x", "positive ticks", Lines{X: x, LogX: true, XTicks: []float64{-1, 10}, Series: []Series{{"s", []Value{Exact(1), Exact(1), Exact(2)}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Figure{Panels: []Panel{tc.l}}.Write(&bytes.Buffer{}, "png")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
	// A missing value is no value: it does not trip the log axis check.
	ok := Lines{X: x, LogX: true, LogY: true, Series: []Series{{"s", []Value{Exact(1), Missing(), {2, 1, 3}}}}}
	if err := (Figure{Panels: []Panel{ok}}).Write(&bytes.Buffer{}, "png"); err != nil {
		t.Fatalf("positive values with a gap on log axes: %v", err)
	}
}

func TestSpreadIsMedianWithMinAndMax(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Value
	}{
		{[]float64{3, 1, 2}, Value{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, Value{2.5, 1, 4}},
		{[]float64{5, math.NaN(), 7}, Value{6, 5, 7}},
		{[]float64{2}, Exact(2)},
	} {
		if got := Spread(tc.in); got != tc.want {
			t.Errorf("Spread(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if got := Spread([]float64{math.NaN()}); !got.Missing() {
		t.Errorf("Spread(NaN) = %+v, want missing", got)
	}
	if Exact(1).Ranged() || !(Value{1, 0, 1}).Ranged() || Missing().Ranged() {
		t.Error("Ranged wrong")
	}
}

func TestLinearTicksEndOnLabelledSteps(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 0.4, []string{"0.0", "0.1", "0.2", "0.3", "0.4"}},
		{0, 0.406, []string{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5"}},
		{0, 95, []string{"0", "20", "40", "60", "80", "100"}},
		{0, 12, []string{"0.0", "2.5", "5.0", "7.5", "10.0", "12.5"}},
		{-3, 3, []string{"-4", "-2", "0", "2", "4"}},
	} {
		var got []string
		for _, tk := range (linearTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ticks on [%g, %g] = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestLogTicksLabelEnoughMarks(t *testing.T) {
	inRange := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" && tk.Value >= lo && tk.Value <= hi {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{2, 100, []string{"2", "5", "10", "20", "50", "100"}},
		{0.001, 1000, []string{"0.001", "0.01", "0.1", "1", "10", "100", "1000"}},
		{3, 4.5, []string{"3", "4"}},
		// 0.5 would be the only label in range, so every mark is labelled
		{0.3, 0.9, []string{"0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"}},
	} {
		got := inRange(tc.lo, tc.hi)
		if !slices.Equal(got, tc.want) {
			t.Errorf("log ticks on [%g, %g] = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestLogTicksOfANonPositiveRangeAreNone(t *testing.T) {
	for _, r := range [][2]float64{{0, 10}, {-1, 10}, {1, math.Inf(1)}, {5, 1}} {
		if ts := (logTicks{}).Ticks(r[0], r[1]); ts != nil {
			t.Errorf("log ticks on %v: %d ticks, want none", r, len(ts))
		}
	}
}

// panicky is a panel whose drawing panics, as gonum does on input it cannot draw.
type panicky struct{ Bars }

func (panicky) build(*legend) (*built, error) {
	panic("Values must be greater than 0 for a log scale.")
}

func TestAPanicWhileDrawingIsAnError(t *testing.T) {
	p := panicky{bars(Series{"s", []Value{Exact(1), Exact(2)}})}
	err := Figure{Title: "f", Panels: []Panel{p}}.Write(&bytes.Buffer{}, "png")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "greater than 0") {
		t.Fatalf("error %v, want ErrInvalid carrying gonum's message", err)
	}
}

func TestASeriesKeepsItsColourAcrossPanels(t *testing.T) {
	lg := &legend{index: map[string]int{}}
	a1, _ := lg.style("a")
	b1, _ := lg.style("b")
	a2, _ := lg.style("a")
	if a1 != a2 || a1 == b1 || !slices.Equal(lg.names, []string{"a", "b"}) {
		t.Fatalf("colours a %v/%v b %v, names %v", a1, a2, b1, lg.names)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]string{"a/b.png": "png", "x.SVG": "svg", "y.pdf": "pdf"} {
		if got, err := FormatOf(path); got != want || err != nil {
			t.Errorf("FormatOf(%s) = %q, %v", path, got, err)
		}
	}
}
