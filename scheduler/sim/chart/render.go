package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette is the series colours in order of first appearance (the
// Tableau 10 colours matplotlib uses by default).
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// shapes are the line markers, so that series stay apart in grey print.
var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

const (
	maxMarkers   = 40 // more points than this: lines without markers
	maxDataTicks = 12 // at most this many x values: a labelled tick at each
	groupWidth   = 0.8
	margin       = vg.Length(6)
)

// legend collects one entry per series name across the panels; the first
// panel that draws a name gives its thumbnail, and its colour and marker
// stay the same everywhere.
type legend struct {
	names  []string
	index  map[string]int
	thumbs map[string][]plot.Thumbnailer
}

func (l *legend) style(name string) (color.Color, draw.GlyphDrawer) {
	i, ok := l.index[name]
	if !ok {
		i = len(l.names)
		l.index[name] = i
		l.names = append(l.names, name)
	}
	return palette[i%len(palette)], shapes[i%len(shapes)]
}

func (l *legend) thumb(name string, t ...plot.Thumbnailer) {
	if _, ok := l.thumbs[name]; !ok {
		l.thumbs[name] = t
	}
}

// built is a panel turned into a gonum plot; bars get their width once the
// panel's place on the page is known.
type built struct {
	p        *plot.Plot
	bars     []*plotter.BarChart
	barWidth float64 // in x data units
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.Title.Padding = 4
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	return p
}

// horizontalGrid is light grid lines at the y ticks (bars need no vertical
// ones: their groups are categories).
func horizontalGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = color.Gray{0xdc}
	return g
}

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

// rangeBars are the error bars over the ranged values among xs/vs.
func rangeBars(xs []float64, vs []Value, col color.Color) (*plotter.YErrorBars, error) {
	var e struct {
		plotter.XYs
		plotter.YErrors
	}
	for i, v := range vs {
		if v.Ranged() {
			e.XYs = append(e.XYs, plotter.XY{X: xs[i], Y: v.Mid})
			e.YErrors = append(e.YErrors, struct{ Low, High float64 }{v.Mid - v.Lo, v.Hi - v.Mid})
		}
	}
	if len(e.XYs) == 0 {
		return nil, nil
	}
	eb, err := plotter.NewYErrorBars(e)
	if err != nil {
		return nil, err
	}
	eb.Color = col
	eb.Width = vg.Points(1)
	eb.CapWidth = vg.Points(4)
	return eb, nil
}

func (b Bars) build(lg *legend) (*built, error) {
	p := newPlot(b.Title, b.XLabel, b.YLabel)
	p.Add(horizontalGrid())
	n := len(b.Series)
	slot := groupWidth / float64(n)
	out := &built{p: p, barWidth: slot * 0.9}
	ymax := 0.0
	for s, se := range b.Series {
		col, _ := lg.style(se.Name)
		off := -groupWidth/2 + slot*(float64(s)+0.5)
		xs := make([]float64, len(b.Groups))
		heights := make(plotter.Values, len(b.Groups))
		var labels plotter.XYLabels
		for g, v := range se.Values {
			xs[g] = float64(g) + off
			if v.Missing() {
				continue // a bar of height 0 draws nothing
			}
			heights[g] = v.Mid
			ymax = math.Max(ymax, v.Hi)
			if b.ValueFormat != "" {
				labels.XYs = append(labels.XYs, plotter.XY{X: xs[g], Y: v.Hi})
				labels.Labels = append(labels.Labels, fmt.Sprintf(b.ValueFormat, v.Mid))
			}
		}
		bc, err := plotter.NewBarChart(heights, 1) // width set by place
		if err != nil {
			return nil, err
		}
		bc.XMin = off
		bc.Color = col
		bc.LineStyle.Width = 0
		p.Add(bc)
		out.bars = append(out.bars, bc)
		lg.thumb(se.Name, bc)
		eb, err := rangeBars(xs, se.Values, color.Black)
		if err != nil {
			return nil, err
		}
		if eb != nil {
			p.Add(eb)
		}
		if len(labels.XYs) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return nil, err
			}
			for i := range l.TextStyle {
				l.TextStyle[i] = textStyle(7)
				l.TextStyle[i].XAlign = draw.XCenter
			}
			l.Offset.Y = 2
			p.Add(l)
		}
	}
	ticks := make([]plot.Tick, len(b.Groups))
	for g, name := range b.Groups {
		ticks[g] = plot.Tick{Value: float64(g), Label: name}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Length = 0
	p.X.Min, p.X.Max = -0.5, float64(len(b.Groups))-0.5
	p.Y.Min, p.Y.Max = 0, ymax
	if ymax == 0 {
		p.Y.Max = 1
	}
	p.Y.Tick.Marker = linearTicks{}
	p.Y.AutoRescale = true
	return out, nil
}

func (l Lines) build(lg *legend) (*built, error) {
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	g := horizontalGrid()
	g.Vertical = g.Horizontal
	p.Add(g)
	if l.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	if l.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if !l.LogX {
		p.X.Tick.Marker = linearTicks{}
	}
	xt := l.XTicks
	if xt == nil && len(l.X) <= maxDataTicks {
		xt = l.X
	}
	if xt != nil {
		ticks := make([]plot.Tick, len(xt))
		for i, x := range xt {
			ticks[i] = plot.Tick{Value: x, Label: formatTick(x)}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	for _, se := range l.Series {
		col, shape := lg.style(se.Name)
		ls := draw.LineStyle{Color: col, Width: vg.Points(1.5)}
		var pts, run plotter.XYs
		flush := func() error {
			if len(run) > 1 {
				ln, err := plotter.NewLine(run)
				if err != nil {
					return err
				}
				ln.LineStyle = ls
				p.Add(ln)
			}
			run = nil
			return nil
		}
		for i, v := range se.Values {
			if v.Missing() {
				if err := flush(); err != nil {
					return nil, err
				}
				continue
			}
			xy := plotter.XY{X: l.X[i], Y: v.Mid}
			run = append(run, xy)
			pts = append(pts, xy)
		}
		if err := flush(); err != nil {
			return nil, err
		}
		thumbs := []plot.Thumbnailer{&plotter.Line{LineStyle: ls}}
		if len(l.X) <= maxMarkers || len(pts) == 1 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Shape: shape, Radius: vg.Points(2.5)}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		lg.thumb(se.Name, thumbs...)
		eb, err := rangeBars(l.X, se.Values, col)
		if err != nil {
			return nil, err
		}
		if eb != nil {
			p.Add(eb)
		}
	}
	if !l.LogY {
		p.Y.Min = math.Min(p.Y.Min, 0) // a linear y axis shows its zero
		p.Y.Tick.Marker = linearTicks{}
		p.Y.AutoRescale = true
	}
	return &built{p: p}, nil
}

// place gives bars their width in points now that the panel's canvas is known.
func (b *built) place(c draw.Canvas) {
	if len(b.bars) == 0 {
		return
	}
	dc := b.p.DataCanvas(c)
	unit := (dc.Max.X - dc.Min.X) / vg.Length(b.p.X.Max-b.p.X.Min)
	for _, bc := range b.bars {
		bc.Width = unit * vg.Length(b.barWidth)
	}
}

func formatTick(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// linearTicks labels about five steps of 1, 2, 2.5 or 5 × 10^k, from the
// step at or below the axis minimum to the one at or above its maximum, so
// that an AutoRescale axis ends on a labelled tick (gonum's DefaultTicks
// aims at three labels).
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	raw := (hi - lo) / 5
	exp := int(math.Floor(math.Log10(raw)))
	mant := 10.0
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*math.Pow10(exp) >= raw {
			mant = m
			break
		}
	}
	if mant == 10 {
		mant, exp = 1, exp+1
	}
	step := mant * math.Pow10(exp)
	decimals := -exp // digits after the point that step needs
	if mant == 2.5 {
		decimals++
	}
	decimals = max(0, decimals)
	var ts []plot.Tick
	for k := math.Floor(lo/step + 1e-9); k <= math.Ceil(hi/step-1e-9); k++ {
		v := k * step
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ts
}

// logTicks marks 1…9 × 10^k; it labels the powers of ten, and 2 and 5 × 10^k
// as well when the axis spans at most two decades (LogTicks labels powers of
// ten only, which leaves a narrow axis with one label or none).
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi >= lo) || math.IsInf(hi, 0) {
		return nil // no decade to walk (validate keeps such axes out)
	}
	dense := math.Log10(hi)-math.Log10(lo) <= 2
	var ts []plot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1; m <= 9; m++ {
			v, _ := strconv.ParseFloat(strconv.Itoa(m)+"e"+strconv.Itoa(int(e)), 64) // exact decimal, no 3×0.1 noise
			t := plot.Tick{Value: v}
			if m == 1 || dense && (m == 2 || m == 5) {
				t.Label = formatTick(v)
				if v >= lo && v <= hi {
					labelled++
				}
			}
			ts = append(ts, t)
		}
	}
	if labelled < 2 { // inside one short stretch of a decade: label every mark
		for i := range ts {
			ts[i].Label = formatTick(ts[i].Value)
		}
	}
	return ts
}

// Write draws the figure in format (png, svg or pdf) to w.
func (f Figure) Write(w io.Writer, format string) (err error) {
	if err := f.validate(format); err != nil {
		return err
	}
	defer func() {
		// validate keeps gonum's panics (log of 0, NaN, empty ranges) out of
		// reach; should one still happen, the caller gets an error, not a crash.
		if r := recover(); r != nil {
			err = invalid("%q: gonum/plot: %v", f.Title, r)
		}
	}()
	lg := &legend{index: map[string]int{}, thumbs: map[string][]plot.Thumbnailer{}}
	panels := make([]*built, len(f.Panels))
	for i, p := range f.Panels {
		b, err := p.build(lg)
		if err != nil {
			return fmt.Errorf("chart: %q panel %d: %w", f.Title, i, err)
		}
		panels[i] = b
	}
	rows, cols := f.grid()
	if f.ShareY {
		shareY(panels, cols)
	}
	width, height := f.size()
	cv, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return invalid("%v", err)
	}
	dc := draw.New(cv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	dc = draw.Crop(dc, margin, -margin, margin, -margin)
	if f.Title != "" {
		sty := textStyle(12)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y}, f.Title)
		dc.Max.Y -= sty.Rectangle(f.Title).Size().Y + margin
	}
	dc = drawLegend(dc, lg)
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	for i, b := range panels {
		plots[i/cols][i%cols] = b.p
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: 4 * margin, PadY: 3 * margin}
	canvases := plot.Align(plots, tiles, dc)
	for i, b := range panels {
		c := canvases[i/cols][i%cols]
		b.place(c)
		b.p.Draw(c)
	}
	if _, err := cv.WriteTo(w); err != nil {
		return fmt.Errorf("chart: write %s: %w", format, err)
	}
	return nil
}

// shareY gives each row of panels the union of their y ranges.
func shareY(panels []*built, cols int) {
	for r := 0; r < len(panels); r += cols {
		row := panels[r:min(r+cols, len(panels))]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, b := range row {
			lo, hi = math.Min(lo, b.p.Y.Min), math.Max(hi, b.p.Y.Max)
		}
		for _, b := range row {
			b.p.Y.Min, b.p.Y.Max = lo, hi
		}
	}
}

// drawLegend draws the legend in a strip at the right of c, level with the
// top of the panels, and returns what is left of c for the panels.
func drawLegend(c draw.Canvas, lg *legend) draw.Canvas {
	l := plot.NewLegend()
	l.TextStyle = textStyle(10)
	l.Top, l.Left = true, true
	l.Padding = 3
	for _, n := range lg.names {
		l.Add(n, lg.thumbs[n]...)
	}
	w := l.Rectangle(c).Size().X
	strip := c
	strip.Min.X = c.Max.X - w
	strip.Max.Y -= 2 * margin
	l.Draw(strip)
	c.Max.X -= w + 2*margin
	return c
}

// Save writes the figure to path in the format its extension names.
func (f Figure) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var b bytes.Buffer // drawn in full first: a bad figure leaves no file behind
	if err := f.Write(&b, format); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}
