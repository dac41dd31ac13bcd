package sim

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

func plotTo(t *testing.T, path string, ms []*Metrics) ([]byte, error) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	perr := Plot(fh, ms)
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, perr
}

func metrics(mems ...int) []*Metrics {
	var ms []*Metrics
	for _, mb := range mems {
		for i, pol := range []string{"ttl-10m", "greedy-dual"} {
			ms = append(ms, &Metrics{Workload: "T50", Policy: pol, MemoryMB: mb, ColdRatio: 0.1 / float64(mb/1024+i)})
		}
	}
	return ms
}

// The figure's format follows the file's name: -png x.svg writes SVG.
func TestPlotFormatFollowsTheFileName(t *testing.T) {
	dir := t.TempDir()
	svg, err := plotTo(t, filepath.Join(dir, "sweep.svg"), metrics(2048, 4096, 8192))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", ">ttl-10m<", ">greedy-dual<", ">pool memory (MB)<", ">4096<"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("memory sweep SVG lacks %q", want)
		}
	}
	for _, name := range []string{"bars.png", "bars"} { // no extension: PNG, as -png always wrote
		b, err := plotTo(t, filepath.Join(dir, name), metrics(2048))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
	}
	if _, err := plotTo(t, filepath.Join(dir, "bars.gif"), metrics(2048)); !errors.Is(err, chart.ErrInvalid) {
		t.Fatalf(".gif: %v, want an unknown-format error", err)
	}
}

func TestPlotToAWriterIsPNGAndBarsCarryTheirValues(t *testing.T) {
	var b bytes.Buffer
	if err := Plot(&b, metrics(2048)); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&b); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	svg, err := plotTo(t, filepath.Join(t.TempDir(), "bars.svg"), metrics(2048))
	if err != nil {
		t.Fatal(err)
	}
	// ColdRatio 0.1/2 and 0.1/3, printed above the bars.
	for _, want := range []string{">0.050<", ">0.033<", ">workload<", ">T50<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("bar chart SVG lacks %q", want)
		}
	}
}

func TestLineChartRejectsNonPositiveMemory(t *testing.T) {
	err := LineChart(&bytes.Buffer{}, "t", "x", "y", []float64{0, 1024}, []string{"s"}, [][]float64{{1, 2}})
	if !errors.Is(err, chart.ErrInvalid) || !strings.Contains(err.Error(), "log x axis") {
		t.Fatalf("memory 0 on the log axis: %v", err)
	}
	err = LineChart(&bytes.Buffer{}, "t", "x", "y", []float64{1024, 2048}, []string{"s"}, [][]float64{{1}})
	if !errors.Is(err, chart.ErrInvalid) {
		t.Fatalf("short row: %v", err)
	}
}
