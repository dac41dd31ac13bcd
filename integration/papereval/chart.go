package papereval

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// palette is a colour-blind-safe set (Okabe-Ito).
var palette = []color.RGBA{
	{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
}

func colorAt(i int) color.RGBA { return palette[i%len(palette)] }

// Series is one bar per category (NaN = no bar), with an optional range [Lo, Hi] drawn as a whisker.
type Series struct {
	Name       string
	Values     []float64
	Lo, Hi     []float64
	StackOnPre bool // stack on the previous series (stacked bars share a slot)
}

// BarPanel is one grouped (or stacked) bar chart.
type BarPanel struct {
	Title, YLabel string
	Categories    []string
	Series        []Series
	LogY          bool
	RefLine       float64 // a dashed horizontal line at this value (0 = none)
}

// barsPlotter draws grouped bars in data coordinates: category i spans [i-0.4, i+0.4], divided among
// the slots (series that are not stacked on the previous one).
type barsPlotter struct {
	p    BarPanel
	base float64
}

func (b *barsPlotter) slots() (slotOf []int, n int) {
	slotOf = make([]int, len(b.p.Series))
	for i, s := range b.p.Series {
		if i > 0 && s.StackOnPre {
			slotOf[i] = slotOf[i-1]
			continue
		}
		slotOf[i] = n
		n++
	}
	return slotOf, n
}

func (b *barsPlotter) Plot(c draw.Canvas, plt *plot.Plot) {
	tx, ty := plt.Transforms(&c)
	slotOf, n := b.slots()
	w := 0.8 / float64(max(n, 1))
	for ci := range b.p.Categories {
		bottoms := make([]float64, n)
		for k := range bottoms {
			bottoms[k] = b.base
		}
		for si, s := range b.p.Series {
			if ci >= len(s.Values) || math.IsNaN(s.Values[ci]) {
				continue
			}
			slot := slotOf[si]
			x0 := float64(ci) - 0.4 + float64(slot)*w
			lo := bottoms[slot]
			hi := s.Values[ci]
			if s.StackOnPre || (si+1 < len(b.p.Series) && b.p.Series[si+1].StackOnPre) {
				hi = lo + s.Values[ci]
			}
			bottoms[slot] = hi
			rect := vg.Rectangle{Min: vg.Point{X: tx(x0 + 0.05*w), Y: ty(lo)}, Max: vg.Point{X: tx(x0 + 0.95*w), Y: ty(hi)}}
			c.SetColor(colorAt(si))
			var path vg.Path
			path.Move(rect.Min)
			path.Line(vg.Point{X: rect.Max.X, Y: rect.Min.Y})
			path.Line(rect.Max)
			path.Line(vg.Point{X: rect.Min.X, Y: rect.Max.Y})
			path.Close()
			c.Fill(path)
			if ci < len(s.Lo) && ci < len(s.Hi) && !math.IsNaN(s.Lo[ci]) && !math.IsNaN(s.Hi[ci]) && s.Lo[ci] != s.Hi[ci] {
				xm := tx(x0 + 0.5*w)
				sty := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
				c.StrokeLine2(sty, xm, ty(s.Lo[ci]), xm, ty(s.Hi[ci]))
				cap := (tx(x0+0.95*w) - tx(x0+0.05*w)) / 4
				c.StrokeLine2(sty, xm-cap, ty(s.Lo[ci]), xm+cap, ty(s.Lo[ci]))
				c.StrokeLine2(sty, xm-cap, ty(s.Hi[ci]), xm+cap, ty(s.Hi[ci]))
			}
		}
	}
	if b.p.RefLine != 0 {
		sty := draw.LineStyle{Color: color.Gray{Y: 90}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
		c.StrokeLine2(sty, tx(-0.5), ty(b.p.RefLine), tx(float64(len(b.p.Categories))-0.5), ty(b.p.RefLine))
	}
}

func (b *barsPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = math.Inf(1), math.Inf(-1)
	slotOf, n := b.slots()
	for ci := range b.p.Categories {
		tops := make([]float64, n)
		for si, s := range b.p.Series {
			if ci >= len(s.Values) || math.IsNaN(s.Values[ci]) {
				continue
			}
			v := s.Values[ci]
			if s.StackOnPre || (si+1 < len(b.p.Series) && b.p.Series[si+1].StackOnPre) {
				tops[slotOf[si]] += v
				v = tops[slotOf[si]]
			}
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			if ci < len(s.Hi) && !math.IsNaN(s.Hi[ci]) {
				ymax = math.Max(ymax, s.Hi[ci])
			}
			if ci < len(s.Lo) && !math.IsNaN(s.Lo[ci]) {
				ymin = math.Min(ymin, s.Lo[ci])
			}
		}
	}
	if b.p.RefLine != 0 {
		ymin, ymax = math.Min(ymin, b.p.RefLine), math.Max(ymax, b.p.RefLine)
	}
	if math.IsInf(ymin, 0) {
		ymin, ymax = 0, 1
	}
	if b.p.LogY && ymin <= 0 {
		ymin = 0.01 // plot() starts a log axis there; the plot widens its axis to this range
	}
	return -0.5, float64(len(b.p.Categories)) - 0.5, ymin, ymax
}

type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	var p vg.Path
	p.Move(c.Min)
	p.Line(vg.Point{X: c.Max.X, Y: c.Min.Y})
	p.Line(c.Max)
	p.Line(vg.Point{X: c.Min.X, Y: c.Max.Y})
	p.Close()
	c.SetColor(s.c)
	c.Fill(p)
}

// categoryTicks labels integer positions with category names.
type categoryTicks []string

func (t categoryTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for i, s := range t {
		out = append(out, plot.Tick{Value: float64(i), Label: s})
	}
	return out
}

func (p BarPanel) plot() *plot.Plot {
	plt := plot.New()
	plt.Title.Text = p.Title
	plt.Y.Label.Text = p.YLabel
	bp := &barsPlotter{p: p}
	_, _, ymin, ymax := bp.DataRange()
	if p.LogY {
		plt.Y.Scale = plot.LogScale{}
		plt.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		if ymin <= 0 || math.IsNaN(ymin) {
			ymin = 0.01
		}
		plt.Y.Min = math.Pow(10, math.Floor(math.Log10(ymin)))
		// headroom for the legend, which sits at the top
		plt.Y.Max = math.Max(ymax, plt.Y.Min*10) * math.Pow(10, 0.15*float64(len(p.Series)+1))
		bp.base = plt.Y.Min
	} else {
		plt.Y.Min = math.Min(0, ymin)
		plt.Y.Max = ymax * (1.1 + 0.09*float64(len(p.Series)))
		if plt.Y.Max <= plt.Y.Min {
			plt.Y.Max = plt.Y.Min + 1
		}
	}
	plt.Add(plotter.NewGrid())
	plt.Add(bp)
	plt.X.Min, plt.X.Max = -0.5, float64(len(p.Categories))-0.5
	plt.X.Tick.Marker = categoryTicks(p.Categories)
	plt.X.Tick.Label.Rotation = 0
	if len(p.Categories) > 6 {
		plt.X.Tick.Label.Rotation = math.Pi / 6
		plt.X.Tick.Label.XAlign = draw.XRight
		plt.X.Tick.Label.YAlign = draw.YCenter
	}
	for i, s := range p.Series {
		if s.Name != "" {
			plt.Legend.Add(s.Name, swatch{colorAt(i)})
		}
	}
	legendStyle(plt)
	return plt
}

func legendStyle(plt *plot.Plot) {
	plt.Legend.Top = true
	plt.Legend.TextStyle.Font.Size = vg.Points(8)
	plt.Legend.ThumbnailWidth = vg.Points(10)
	plt.Legend.Padding = vg.Points(1)
}

// Line is one curve of a LinePanel, with an optional band [Lo, Hi] drawn as whiskers.
type Line struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64
	Dashed bool
}

// LinePanel is one line chart.
type LinePanel struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	LogX, LogY            bool
	YMin                  float64 // NaN = automatic
}

func (p LinePanel) plot() (*plot.Plot, error) {
	plt := plot.New()
	plt.Title.Text = p.Title
	plt.X.Label.Text = p.XLabel
	plt.Y.Label.Text = p.YLabel
	if p.LogX {
		plt.X.Scale = plot.LogScale{}
		plt.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if p.LogY {
		plt.Y.Scale = plot.LogScale{}
		plt.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, l := range p.Lines {
		var pts plotter.XYs
		var errs plotter.YErrors
		for k := range l.X {
			if math.IsNaN(l.Y[k]) || (p.LogY && l.Y[k] <= 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: l.X[k], Y: l.Y[k]})
			if k < len(l.Lo) {
				errs = append(errs, struct{ Low, High float64 }{l.Y[k] - l.Lo[k], l.Hi[k] - l.Y[k]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		ln, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		ln.Color, sc.Color = colorAt(i), colorAt(i)
		ln.Width = vg.Points(1.2)
		sc.Radius = vg.Points(2)
		if l.Dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		plt.Add(ln, sc)
		if len(errs) == len(pts) {
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{pts, errs})
			if err == nil {
				eb.Color = colorAt(i)
				plt.Add(eb)
			}
		}
		plt.Legend.Add(l.Name, ln)
	}
	if !math.IsNaN(p.YMin) {
		plt.Y.Min = p.YMin
	}
	legendStyle(plt)
	plt.Add(plotter.NewGrid())
	return plt, nil
}

// SavePanels writes plots in a grid of cols columns as a PNG of the given size in inches.
func SavePanels(path string, plots []*plot.Plot, cols int, wIn, hIn float64) error {
	if len(plots) == 0 {
		return fmt.Errorf("papereval: no panels for %s", path)
	}
	rows := (len(plots) + cols - 1) / cols
	img := vgimg.New(vg.Length(wIn)*vg.Inch, vg.Length(hIn)*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for c := range grid[r] {
			if i := r*cols + c; i < len(plots) {
				grid[r][c] = plots[i]
			}
		}
	}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c := range grid[r] {
			if grid[r][c] != nil {
				grid[r][c].Draw(canvases[r][c])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SaveBars draws bar panels.
func SaveBars(path string, panels []BarPanel, cols int, wIn, hIn float64) error {
	var plots []*plot.Plot
	for _, p := range panels {
		plots = append(plots, p.plot())
	}
	return SavePanels(path, plots, cols, wIn, hIn)
}

// SaveLines draws line panels.
func SaveLines(path string, panels []LinePanel, cols int, wIn, hIn float64) error {
	var plots []*plot.Plot
	for _, p := range panels {
		plt, err := p.plot()
		if err != nil {
			return err
		}
		plots = append(plots, plt)
	}
	return SavePanels(path, plots, cols, wIn, hIn)
}
