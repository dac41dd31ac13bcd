// Command plot turns the CSV written by nfbench into PNG charts and a
// Markdown table (TEST EQUIPMENT reporting; standard library plus
// golang.org/x/image/font/basicfont only). Every figure shows the median over
// the repetitions of a point.
//
//	plot -csv docs/nf-burst.csv -img docs/img -md docs/nf-burst-table.md
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	csvPath := fs.String("csv", "docs/nf-burst.csv", "nfbench CSV")
	imgDir := fs.String("img", "docs/img", "directory for nf-burst.png and nf-burst-train.png")
	mdPath := fs.String("md", "", "write the Markdown tables here (\"\" = stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readRows(f)
	if err != nil {
		return err
	}
	pts := aggregate(rows)
	if err := os.MkdirAll(*imgDir, 0o755); err != nil {
		return err
	}
	if err := writePNG(filepath.Join(*imgDir, "nf-burst.png"), renderSweeps(pts)); err != nil {
		return err
	}
	if err := writePNG(filepath.Join(*imgDir, "nf-burst-train.png"), renderIdle(pts)); err != nil {
		return err
	}
	out := stdout
	if *mdPath != "" {
		mf, err := os.Create(*mdPath)
		if err != nil {
			return err
		}
		defer mf.Close()
		out = mf
	}
	return writeMarkdown(out, pts)
}

// row is one CSV line of nfbench.
type row map[string]string

func (r row) f(k string) float64 {
	v, err := strconv.ParseFloat(r[k], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func (r row) i(k string) int { n, _ := strconv.Atoi(r[k]); return n }

var errNoRows = errors.New("plot: CSV has no data rows")

func readRows(r io.Reader) ([]row, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("plot: read CSV: %w", err)
	}
	if len(recs) < 2 {
		return nil, errNoRows
	}
	head := recs[0]
	for _, need := range []string{"series", "mode", "size", "burst", "train", "nf_cpu_util", "cpu_ns_per_pkt", "gen_pps", "nf_pps"} {
		if !slices.Contains(head, need) {
			return nil, fmt.Errorf("plot: CSV lacks column %q", need)
		}
	}
	var out []row
	for _, rec := range recs[1:] {
		if len(rec) != len(head) {
			return nil, fmt.Errorf("plot: row has %d fields, header %d", len(rec), len(head))
		}
		m := row{}
		for i, h := range head {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
	return out, nil
}

// key identifies a point across repetitions.
type key struct {
	Series, Mode       string
	Size, Burst, Train int
}

// point holds medians over the repetitions of a key.
type point struct {
	key
	N                                              int
	Util, CPUPerPkt, GenPPS, NFPPS, PerWake, Drops float64
	Offered                                        float64
}

func median(v []float64) float64 {
	var xs []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

func aggregate(rows []row) map[key]*point {
	type acc struct{ util, cpu, gen, nf, wake, drops, offered []float64 }
	accs := map[key]*acc{}
	for _, r := range rows {
		k := key{r["series"], r["mode"], r.i("size"), r.i("burst"), r.i("train")}
		a := accs[k]
		if a == nil {
			a = &acc{}
			accs[k] = a
		}
		a.util = append(a.util, r.f("nf_cpu_util"))
		a.cpu = append(a.cpu, r.f("cpu_ns_per_pkt"))
		a.gen = append(a.gen, r.f("gen_pps"))
		a.nf = append(a.nf, r.f("nf_pps"))
		a.wake = append(a.wake, r.f("pkts_per_wakeup"))
		a.drops = append(a.drops, r.f("kernel_drops"))
		a.offered = append(a.offered, r.f("offered_pps"))
	}
	out := map[key]*point{}
	for k, a := range accs {
		out[k] = &point{key: k, N: len(a.util), Util: median(a.util), CPUPerPkt: median(a.cpu), GenPPS: median(a.gen),
			NFPPS: median(a.nf), PerWake: median(a.wake), Drops: median(a.drops), Offered: median(a.offered)}
	}
	return out
}

// values lists the distinct values of one key field, sorted.
func values[T int | string](pts map[key]*point, series string, get func(key) T) []T {
	var out []T
	for k := range pts {
		if k.Series == series && !slices.Contains(out, get(k)) {
			out = append(out, get(k))
		}
	}
	slices.Sort(out)
	return out
}

func modes(pts map[key]*point) []string {
	var out []string
	for k := range pts {
		if k.Series != "idle" && !slices.Contains(out, k.Mode) {
			out = append(out, k.Mode)
		}
	}
	order := map[string]int{"firewall": 0, "nat": 1, "lb": 2}
	slices.SortFunc(out, func(a, b string) int { return order[a] - order[b] })
	return out
}

// bursts returns (off, on) burst values seen in a series.
func bursts(pts map[key]*point, series string) (int, int) {
	bs := values(pts, series, func(k key) int { return k.Burst })
	if len(bs) == 0 {
		return 1, 1
	}
	return bs[0], bs[len(bs)-1]
}

// ---- drawing ----

var (
	black  = color.RGBA{0, 0, 0, 255}
	grey   = chart.Grey
	blue   = chart.Palette[0]
	orange = chart.Palette[1]
	green  = chart.Palette[2]
	red    = chart.Palette[3]
)

// canvas is chart.Canvas with this tool's legend.
type canvas struct{ chart.Canvas }

func newCanvas(w, h int) canvas { return canvas{chart.New(w, h)} }

// panel is a plot area with a categorical x axis and a linear y axis from 0.
type panel struct {
	c          canvas
	r          image.Rectangle // plot area
	ymax       float64
	categories []string
}

func niceMax(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func (p panel) x(i int) int {
	n := len(p.categories)
	return p.r.Min.X + (2*i+1)*p.r.Dx()/(2*n)
}

func (p panel) y(v float64) int {
	return p.r.Max.Y - int(v/p.ymax*float64(p.r.Dy()))
}

func (p panel) frame(title, ylabel, xlabel string) {
	c := p.c
	for i := 0; i <= 4; i++ {
		v := p.ymax * float64(i) / 4
		y := p.y(v)
		c.Line(p.r.Min.X, y, p.r.Max.X, y, grey, 1)
		lab := strconv.FormatFloat(v, 'f', -1, 64)
		c.Text(p.r.Min.X-chart.TextWidth(lab)-4, y+4, lab, black)
	}
	c.Line(p.r.Min.X, p.r.Min.Y, p.r.Min.X, p.r.Max.Y, black, 1)
	c.Line(p.r.Min.X, p.r.Max.Y, p.r.Max.X, p.r.Max.Y, black, 1)
	for i, cat := range p.categories {
		c.Text(p.x(i)-chart.TextWidth(cat)/2, p.r.Max.Y+15, cat, black)
	}
	c.Text(p.r.Min.X+(p.r.Dx()-chart.TextWidth(title))/2, p.r.Min.Y-22, title, black)
	c.Text(p.r.Min.X-40, p.r.Min.Y-8, ylabel, black)
	c.Text(p.r.Min.X+(p.r.Dx()-chart.TextWidth(xlabel))/2, p.r.Max.Y+30, xlabel, black)
}

func (p panel) series(vals []float64, col color.Color) {
	prev := -1
	for i, v := range vals {
		if math.IsNaN(v) {
			prev = -1
			continue
		}
		x, y := p.x(i), p.y(v)
		p.c.Rect(x-3, y-3, x+4, y+4, col)
		if prev >= 0 {
			p.c.Line(p.x(prev), p.y(vals[prev]), x, y, col, 2)
		}
		prev = i
	}
}

func (c canvas) legend(x, y int, labels []string, cols []color.Color) {
	for i, l := range labels {
		c.Rect(x, y+i*16-8, x+12, y+i*16+2, cols[i])
		c.Text(x+18, y+i*16+2, l, black)
	}
}

func sizeLabels(sizes []int) []string {
	var out []string
	for _, s := range sizes {
		out = append(out, strconv.Itoa(s))
	}
	return out
}

// renderSweeps: row 1 = NF CPU utilisation at a fixed bit rate (cf. paper
// Fig. 2); row 2 = NF CPU per packet at a fixed frame rate.
func renderSweeps(pts map[key]*point) *image.RGBA {
	ms := modes(pts)
	const pw, ph = 330, 220
	W := 70 + len(ms)*(pw+80)
	H := 2*(ph+110) + 40
	c := newCanvas(W, H)
	c.Text(20, 20, "Reference NF on veth: burst off vs on (median of repetitions)", black)
	rowsDef := []struct {
		series, ylabel string
		val            func(*point) float64
	}{
		{"bitrate", "NF CPU %", func(p *point) float64 { return 100 * p.Util }},
		{"fixed-pps", "CPU us/pkt", func(p *point) float64 { return p.CPUPerPkt / 1000 }},
	}
	for ri, rd := range rowsDef {
		sizes := values(pts, rd.series, func(k key) int { return k.Size })
		off, on := bursts(pts, rd.series)
		ymax := 0.0
		for k, p := range pts {
			if k.Series == rd.series {
				ymax = math.Max(ymax, rd.val(p))
			}
		}
		rate := ""
		for k, p := range pts {
			if k.Series == rd.series && k.Series == "fixed-pps" {
				rate = fmt.Sprintf(" @ %.0f pps", p.Offered)
			}
		}
		for mi, m := range ms {
			x0 := 80 + mi*(pw+80)
			y0 := 70 + ri*(ph+110)
			p := panel{c: c, r: image.Rect(x0, y0, x0+pw, y0+ph), ymax: niceMax(ymax * 1.05), categories: sizeLabels(sizes)}
			title := fmt.Sprintf("%s, %s%s", m, rd.series, rate)
			p.frame(title, rd.ylabel, "frame size (bytes)")
			for bi, b := range []int{off, on} {
				var vals []float64
				for _, s := range sizes {
					v := math.NaN()
					if pt := pts[key{rd.series, m, s, b, 1}]; pt != nil {
						v = rd.val(pt)
					}
					vals = append(vals, v)
				}
				p.series(vals, []color.Color{blue, orange}[bi])
			}
			c.legend(x0+pw-120, y0+12, []string{fmt.Sprintf("burst %d (off)", off), fmt.Sprintf("burst %d (on)", on)}, []color.Color{blue, orange})
		}
	}
	return c.RGBA
}

// renderIdle: idle CPU share of the NF core (100 - NF CPU %) for the large
// sizes, with and without trains (the stand-in for interrupt coalescing) and
// burst (cf. paper Fig. 3).
func renderIdle(pts map[key]*point) *image.RGBA {
	ms := modes(pts)
	sizes := values(pts, "train", func(k key) int { return k.Size })
	trains := values(pts, "train", func(k key) int { return k.Train })
	off, on := bursts(pts, "train")
	train := 1
	if len(trains) > 0 {
		train = trains[len(trains)-1]
	}
	type cfg struct {
		label       string
		series      string
		train, burs int
		col         color.Color
	}
	cfgs := []cfg{
		{"no train, burst off", "fixed-pps", 1, off, blue},
		{"no train, burst on", "fixed-pps", 1, on, orange},
		{fmt.Sprintf("train %d, burst off", train), "train", train, off, green},
		{fmt.Sprintf("train %d, burst on", train), "train", train, on, red},
	}
	const gw = 150
	W := max(90+len(ms)*len(sizes)*gw+40, 720)
	H := 360
	c := newCanvas(W, H)
	c.Text(20, 20, "Idle share of the NF core (100% - NF CPU), same frame rate; trains stand in for coalescing", black)
	r := image.Rect(70, 70, W-40, H-90)
	var cats []string
	for _, m := range ms {
		for _, s := range sizes {
			cats = append(cats, fmt.Sprintf("%s %dB", m, s))
		}
	}
	p := panel{c: c, r: r, ymax: 100, categories: cats}
	p.frame("", "idle %", "")
	for gi := range cats {
		m, s := ms[gi/len(sizes)], sizes[gi%len(sizes)]
		bw := (r.Dx()/len(cats) - 20) / len(cfgs)
		x := p.x(gi) - bw*len(cfgs)/2
		for ci, cf := range cfgs {
			pt := pts[key{cf.series, m, s, cf.burs, cf.train}]
			if pt == nil || math.IsNaN(pt.Util) {
				continue
			}
			idle := math.Max(0, 100*(1-pt.Util))
			c.Rect(x+ci*bw, p.y(idle), x+(ci+1)*bw-2, r.Max.Y, cf.col)
		}
	}
	var labels []string
	var cols []color.Color
	for _, cf := range cfgs {
		labels = append(labels, cf.label)
		cols = append(cols, cf.col)
	}
	c.legend(r.Min.X+10, H-50, labels[:2], cols[:2])
	c.legend(r.Min.X+260, H-50, labels[2:], cols[2:])
	return c.RGBA
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---- markdown ----

func fmtF(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func writeMarkdown(w io.Writer, pts map[key]*point) error {
	var b strings.Builder
	for _, series := range []string{"fixed-pps", "bitrate", "train"} {
		sizes := values(pts, series, func(k key) int { return k.Size })
		if len(sizes) == 0 {
			continue
		}
		off, on := bursts(pts, series)
		trains := values(pts, series, func(k key) int { return k.Train })
		fmt.Fprintf(&b, "\n**%s** (median of repetitions; burst %d = off, %d = on; train %v)\n\n", series, off, on, trains)
		b.WriteString("| NF | size B | offered pps | gen pps off/on | NF CPU % off | NF CPU % on | CPU µs/pkt off | CPU µs/pkt on | on/off per pkt | pkts/wake-up on |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range modes(pts) {
			for _, s := range sizes {
				for _, tr := range trains {
					po, pn := pts[key{series, m, s, off, tr}], pts[key{series, m, s, on, tr}]
					if po == nil || pn == nil {
						continue
					}
					fmt.Fprintf(&b, "| %s | %d | %s | %s / %s | %s | %s | %s | %s | %s | %s |\n", m, s, fmtF(po.Offered, 0),
						fmtF(po.GenPPS, 0), fmtF(pn.GenPPS, 0), fmtF(100*po.Util, 1), fmtF(100*pn.Util, 1),
						fmtF(po.CPUPerPkt/1000, 1), fmtF(pn.CPUPerPkt/1000, 1), fmtF(pn.CPUPerPkt/po.CPUPerPkt, 2), fmtF(pn.PerWake, 1))
				}
			}
		}
	}
	var idle []string
	for k, p := range pts {
		if k.Series == "idle" {
			idle = append(idle, fmt.Sprintf("%s burst %d: %s%%", k.Mode, k.Burst, fmtF(100*p.Util, 2)))
		}
	}
	if len(idle) > 0 {
		sort.Strings(idle)
		fmt.Fprintf(&b, "\nIdle NF (no traffic; polling the socket every 50 ms and clickshm every 10 ms): %s\n", strings.Join(idle, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
