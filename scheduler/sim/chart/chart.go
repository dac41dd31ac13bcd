package chart

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot/vg"
)

// ErrInvalid is wrapped by every error about the figure's own content or
// format (as opposed to an I/O error while writing it).
var ErrInvalid = errors.New("chart: invalid figure")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Value is one plotted number: Mid (the median, or the only measurement) and
// the range [Lo, Hi] around it. Lo == Mid == Hi draws no error bar. A NaN Mid
// is a missing value.
type Value struct{ Mid, Lo, Hi float64 }

// Exact is a single measurement (no range).
func Exact(v float64) Value { return Value{v, v, v} }

// Missing is a value that was not measured: no bar, a gap in a line.
func Missing() Value { return Value{math.NaN(), math.NaN(), math.NaN()} }

// Spread is the median of the samples with their minimum and maximum, NaN
// samples left out; Missing when none is left.
func Spread(samples []float64) Value {
	xs := make([]float64, 0, len(samples))
	for _, x := range samples {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return Missing()
	}
	slices.Sort(xs)
	m := len(xs) / 2
	mid := xs[m]
	if len(xs)%2 == 0 {
		mid = (xs[m-1] + xs[m]) / 2
	}
	return Value{mid, xs[0], xs[len(xs)-1]}
}

// Missing reports whether v was not measured.
func (v Value) Missing() bool { return math.IsNaN(v.Mid) }

// Ranged reports whether v carries a range wider than a point.
func (v Value) Ranged() bool { return !v.Missing() && v.Hi > v.Lo }

func (v Value) check() error {
	if v.Missing() {
		return nil
	}
	for _, x := range []float64{v.Mid, v.Lo, v.Hi} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("value %+v is not finite", v)
		}
	}
	if v.Lo > v.Mid || v.Mid > v.Hi {
		return fmt.Errorf("value %+v: want Lo ≤ Mid ≤ Hi", v)
	}
	return nil
}

// Series is one named set of values: one per group (Bars) or per x (Lines).
type Series struct {
	Name   string
	Values []Value
}

// Panel is one plot of a Figure: Bars or Lines.
type Panel interface {
	title() string
	logY() bool
	validate() error
	build(*legend) (*built, error)
}

// Bars is a grouped bar chart: in each group one bar per series, in series
// order, from 0 up to the value's Mid, with an error bar over its range.
type Bars struct {
	Title, XLabel, YLabel string
	Groups                []string // category names along x
	Series                []Series // Values[g] is the bar in Groups[g]
	// ValueFormat, when set, prints each bar's Mid above it (e.g. "%.3f").
	ValueFormat string
}

// Lines is one line per series over shared x values, with markers at the
// data points (up to 40 of them) and error bars over ranged values.
type Lines struct {
	Title, XLabel, YLabel string
	X                     []float64
	Series                []Series // Values[i] is the value at X[i]
	LogX, LogY            bool
	// XTicks are the labelled x positions; nil = every x when there are at
	// most 12, else chosen by the axis.
	XTicks []float64
}

func (b Bars) title() string  { return b.Title }
func (b Bars) logY() bool     { return false }
func (l Lines) title() string { return l.Title }
func (l Lines) logY() bool    { return l.LogY }

func checkSeries(ss []Series, n int, what string) error {
	if len(ss) == 0 {
		return errors.New("no series")
	}
	seen := map[string]bool{}
	for _, s := range ss {
		if s.Name == "" {
			return errors.New("a series has no name")
		}
		if seen[s.Name] {
			return fmt.Errorf("series %q appears twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.Values) != n {
			return fmt.Errorf("series %q has %d values for %d %s", s.Name, len(s.Values), n, what)
		}
		for i, v := range s.Values {
			if err := v.check(); err != nil {
				return fmt.Errorf("series %q, %s %d: %w", s.Name, what, i, err)
			}
		}
	}
	return nil
}

func (b Bars) validate() error {
	if len(b.Groups) == 0 {
		return errors.New("no groups")
	}
	if err := checkSeries(b.Series, len(b.Groups), "groups"); err != nil {
		return err
	}
	for _, s := range b.Series {
		for g, v := range s.Values {
			if v.Lo < 0 {
				return fmt.Errorf("series %q, group %q: bars start at 0, value %+v is negative", s.Name, b.Groups[g], v)
			}
		}
	}
	return nil
}

func (l Lines) validate() error {
	if len(l.X) == 0 {
		return errors.New("no x values")
	}
	for i, x := range l.X {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("x[%d] = %g is not finite", i, x)
		}
		if l.LogX && x <= 0 {
			return fmt.Errorf("log x axis needs positive x, x[%d] = %g", i, x)
		}
	}
	for i, x := range l.XTicks {
		if l.LogX && x <= 0 {
			return fmt.Errorf("log x axis needs positive ticks, XTicks[%d] = %g", i, x)
		}
	}
	if err := checkSeries(l.Series, len(l.X), "x values"); err != nil {
		return err
	}
	measured := false
	for _, s := range l.Series {
		for i, v := range s.Values {
			if v.Missing() {
				continue
			}
			measured = true
			if l.LogY && v.Lo <= 0 {
				return fmt.Errorf("log y axis needs positive values, series %q has %+v at x = %g", s.Name, v, l.X[i])
			}
		}
	}
	if !measured {
		return errors.New("every value is missing")
	}
	return nil
}

// Figure is one image: Panels on a grid of Cols columns (0 = all in one
// row), a Title above them and one legend for all of them on the right.
type Figure struct {
	Title         string
	Width, Height vg.Length // 0 = DefaultWidth, DefaultHeight
	Cols          int
	Panels        []Panel
	// ShareY gives the panels of each row one y range, so that they compare
	// at a glance; a row must then be all log or all linear in y.
	ShareY bool
}

// Default figure size: 864×480 px in PNG.
const (
	DefaultWidth  = 9 * vg.Inch
	DefaultHeight = 5 * vg.Inch
)

// Formats are the output formats, by file extension without the dot.
var Formats = []string{"png", "svg", "pdf"}

// FormatOf returns the format named by path's extension (png, svg or pdf).
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if !slices.Contains(Formats, ext) {
		return "", invalid("%s: unknown image format %q (want .png, .svg or .pdf)", path, ext)
	}
	return ext, nil
}

func (f Figure) validate(format string) error {
	if !slices.Contains(Formats, format) {
		return invalid("unknown image format %q (want png, svg or pdf)", format)
	}
	if len(f.Panels) == 0 {
		return invalid("%q has no panels", f.Title)
	}
	if f.Cols < 0 {
		return invalid("%q: %d columns", f.Title, f.Cols)
	}
	if w, h := f.size(); w < vg.Inch || h < vg.Inch {
		return invalid("%q: %v × %v is too small to draw (at least 1 inch each way)", f.Title, w, h)
	}
	_, cols := f.grid()
	for i, p := range f.Panels {
		if p == nil {
			return invalid("%q: panel %d is nil", f.Title, i)
		}
		if err := p.validate(); err != nil {
			return invalid("%q: panel %d (%q): %v", f.Title, i, p.title(), err)
		}
		if first := f.Panels[i/cols*cols]; f.ShareY && first != nil && p.logY() != first.logY() {
			return invalid("%q: panels %d and %d share a y range but only one has a log y axis", f.Title, i/cols*cols, i)
		}
	}
	return nil
}

func (f Figure) size() (vg.Length, vg.Length) {
	w, h := f.Width, f.Height
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	return w, h
}

func (f Figure) grid() (rows, cols int) {
	cols = f.Cols
	if cols == 0 || cols > len(f.Panels) {
		cols = len(f.Panels)
	}
	return (len(f.Panels) + cols - 1) / cols, cols
}
