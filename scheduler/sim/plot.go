package sim

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

// The simulator's figures, drawn by package chart (gonum/plot). The image
// format follows the name of the file w writes to (.png, .svg or .pdf); a
// writer that is not a named file, or a name without an extension, gets PNG.

func formatOf(w io.Writer) (string, error) {
	if f, ok := w.(interface{ Name() string }); ok && filepath.Ext(f.Name()) != "" {
		return chart.FormatOf(f.Name())
	}
	return "png", nil
}

func exact(row []float64) []chart.Value {
	out := make([]chart.Value, len(row))
	for i, v := range row {
		out[i] = chart.Exact(v)
	}
	return out
}

func seriesOf(names []string, values [][]float64) ([]chart.Series, error) {
	if len(names) != len(values) {
		return nil, fmt.Errorf("sim: %d series names for %d value rows", len(names), len(values))
	}
	out := make([]chart.Series, len(names))
	for i, n := range names {
		out[i] = chart.Series{Name: n, Values: exact(values[i])}
	}
	return out, nil
}

func writeFigure(w io.Writer, p chart.Panel) error {
	format, err := formatOf(w)
	if err != nil {
		return err
	}
	return chart.Figure{Panels: []chart.Panel{p}}.Write(w, format)
}

// BarChart draws one group of bars per workload (groups, along x) with one
// bar per series, each labelled with its value. values[s][g].
func BarChart(w io.Writer, title, ylabel string, groups, series []string, values [][]float64) error {
	ss, err := seriesOf(series, values)
	if err != nil {
		return err
	}
	return writeFigure(w, chart.Bars{Title: title, XLabel: "workload", YLabel: ylabel, Groups: groups, Series: ss,
		ValueFormat: "%.3f"})
}

// LineChart draws one line per series over shared x values, x on a log
// scale (memory sizes grow by factors). values[s][i].
func LineChart(w io.Writer, title, xlabel, ylabel string, xs []float64, series []string, values [][]float64) error {
	ss, err := seriesOf(series, values)
	if err != nil {
		return err
	}
	return writeFigure(w, chart.Lines{Title: title, XLabel: xlabel, YLabel: ylabel, X: xs, Series: ss, LogX: true})
}
