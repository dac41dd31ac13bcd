// Command plot turns the CSV written by nfbench into two figures (drawn by
// package chart, gonum/plot) and Markdown tables (TEST EQUIPMENT reporting).
// The figures show the median of the repetitions of each point with their
// range (min–max) as an error bar; the tables show the medians.
//
//	plot -csv docs/nf-burst.csv -img docs/img -md docs/nf-burst-table.md
//	plot -csv docs/nf-burst.csv -img /tmp -ext svg
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"

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
	imgDir := fs.String("img", "docs/img", "directory for nf-burst.EXT and nf-burst-train.EXT")
	ext := fs.String("ext", "png", "image format: png, svg or pdf")
	mdPath := fs.String("md", "", "write the Markdown tables here (\"\" = stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := chart.FormatOf("x." + *ext); err != nil {
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
	if err := sweeps(pts).Save(filepath.Join(*imgDir, "nf-burst."+*ext)); err != nil {
		return err
	}
	if err := idleShare(pts).Save(filepath.Join(*imgDir, "nf-burst-train."+*ext)); err != nil {
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

// point holds the repetitions of a key: the two plotted quantities as median
// and range, the rest as medians.
type point struct {
	key
	N                                      int
	Util, CPUPerPkt                        chart.Value
	GenPPS, NFPPS, PerWake, Drops, Offered float64
}

func median(v []float64) float64 { return chart.Spread(v).Mid }

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
		out[k] = &point{key: k, N: len(a.util), Util: chart.Spread(a.util), CPUPerPkt: chart.Spread(a.cpu), GenPPS: median(a.gen),
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

// sizeAxis is the frame sizes of a series as x values.
func sizeAxis(sizes []int) []float64 {
	xs := make([]float64, len(sizes))
	for i, s := range sizes {
		xs[i] = float64(s)
	}
	return xs
}

// offered names the rate a series was offered at, from its largest frame.
func offered(pts map[key]*point, series string) string {
	sizes := values(pts, series, func(k key) int { return k.Size })
	for i := len(sizes) - 1; i >= 0; i-- {
		for k, p := range pts {
			if k.Series != series || k.Size != sizes[i] || !(p.Offered > 0) {
				continue
			}
			if series == "bitrate" {
				return fmt.Sprintf("%.0f Mbit/s", p.Offered*float64(k.Size)*8/1e6)
			}
			return fmt.Sprintf("%.0f frames/s", p.Offered)
		}
	}
	return series
}

// sweeps: row 1 = NF CPU utilisation at a fixed bit rate (cf. paper Fig. 2);
// row 2 = NF CPU per packet at a fixed frame rate; one column per NF.
func sweeps(pts map[key]*point) chart.Figure {
	ms := modes(pts)
	rowsDef := []struct {
		series, ylabel string
		val            func(*point) chart.Value
	}{
		{"bitrate", "NF CPU (% of one core)", func(p *point) chart.Value { return scale(p.Util, 100) }},
		{"fixed-pps", "NF CPU per packet (µs)", func(p *point) chart.Value { return scale(p.CPUPerPkt, 1e-3) }},
	}
	f := chart.Figure{Title: "Reference NF on veth: burst off vs on (median and range of the repetitions)",
		Width: 13 * vg.Inch, Height: 7.5 * vg.Inch, Cols: len(ms), ShareY: true}
	for _, rd := range rowsDef {
		sizes := values(pts, rd.series, func(k key) int { return k.Size })
		off, on := bursts(pts, rd.series)
		rate := offered(pts, rd.series)
		for _, m := range ms {
			var ss []chart.Series
			for _, b := range []struct {
				burst int
				name  string
			}{{off, fmt.Sprintf("burst %d (off)", off)}, {on, fmt.Sprintf("burst %d (on)", on)}} {
				se := chart.Series{Name: b.name}
				for _, s := range sizes {
					v := chart.Missing()
					if pt := pts[key{rd.series, m, s, b.burst, 1}]; pt != nil {
						v = rd.val(pt)
					}
					se.Values = append(se.Values, v)
				}
				ss = append(ss, se)
			}
			f.Panels = append(f.Panels, chart.Lines{Title: fmt.Sprintf("%s, %s offered", m, rate),
				XLabel: "frame size (bytes)", YLabel: rd.ylabel, X: sizeAxis(sizes), LogX: true, Series: ss})
		}
	}
	return f
}

// scale multiplies a value and its range by k.
func scale(v chart.Value, k float64) chart.Value {
	return chart.Value{Mid: v.Mid * k, Lo: v.Lo * k, Hi: v.Hi * k}
}

// idleShare: idle CPU share of the NF core (100 - NF CPU %) for the large
// sizes, with and without trains (the stand-in for interrupt coalescing) and
// burst (cf. paper Fig. 3).
func idleShare(pts map[key]*point) chart.Figure {
	ms := modes(pts)
	sizes := values(pts, "train", func(k key) int { return k.Size })
	trains := values(pts, "train", func(k key) int { return k.Train })
	off, on := bursts(pts, "train")
	train := 1
	if len(trains) > 0 {
		train = trains[len(trains)-1]
	}
	cfgs := []struct {
		name         string
		series       string
		train, burst int
	}{
		{fmt.Sprintf("smooth, burst %d (off)", off), "fixed-pps", 1, off},
		{fmt.Sprintf("smooth, burst %d (on)", on), "fixed-pps", 1, on},
		{fmt.Sprintf("trains of %d, burst %d (off)", train, off), "train", train, off},
		{fmt.Sprintf("trains of %d, burst %d (on)", train, on), "train", train, on},
	}
	var groups []string
	for _, m := range ms {
		for _, s := range sizes {
			groups = append(groups, fmt.Sprintf("%s %d B", m, s))
		}
	}
	bars := chart.Bars{Title: fmt.Sprintf("%s offered; trains stand in for interrupt coalescing", offered(pts, "train")),
		XLabel: "NF and frame size", YLabel: "idle share of the NF core (%)", Groups: groups, ValueFormat: "%.0f"}
	for _, cf := range cfgs {
		se := chart.Series{Name: cf.name}
		for _, m := range ms {
			for _, s := range sizes {
				v := chart.Missing()
				if pt := pts[key{cf.series, m, s, cf.burst, cf.train}]; pt != nil && !pt.Util.Missing() {
					u := pt.Util // idle = 100 − NF CPU %: the busiest repetition is the least idle
					v = chart.Value{Mid: idle(u.Mid), Lo: idle(u.Hi), Hi: idle(u.Lo)}
				}
				se.Values = append(se.Values, v)
			}
		}
		bars.Series = append(bars.Series, se)
	}
	return chart.Figure{Title: "Idle share of the NF core (100 % − NF CPU), median and range of the repetitions",
		Width: 11 * vg.Inch, Height: 5 * vg.Inch, Panels: []chart.Panel{bars}}
}

func idle(util float64) float64 { return math.Max(0, 100*(1-util)) }

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
						fmtF(po.GenPPS, 0), fmtF(pn.GenPPS, 0), fmtF(100*po.Util.Mid, 1), fmtF(100*pn.Util.Mid, 1),
						fmtF(po.CPUPerPkt.Mid/1000, 1), fmtF(pn.CPUPerPkt.Mid/1000, 1), fmtF(pn.CPUPerPkt.Mid/po.CPUPerPkt.Mid, 2), fmtF(pn.PerWake, 1))
				}
			}
		}
	}
	var idle []string
	for k, p := range pts {
		if k.Series == "idle" {
			idle = append(idle, fmt.Sprintf("%s burst %d: %s%%", k.Mode, k.Burst, fmtF(100*p.Util.Mid, 2)))
		}
	}
	if len(idle) > 0 {
		sort.Strings(idle)
		fmt.Fprintf(&b, "\nIdle NF (no traffic; polling the socket every 50 ms and clickshm every 10 ms): %s\n", strings.Join(idle, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
