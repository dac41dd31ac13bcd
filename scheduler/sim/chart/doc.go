// Package chart draws the project's figures with gonum.org/v1/plot: the
// simulator's (nemo simulate -png) and the benchmarks' (test equipment under
// integration/ may import it). It owns one house style so that every figure
// reads alike:
//
//   - a Figure is one or more panels on a grid (Cols per row) under a title,
//     with one legend for the whole figure drawn in a strip to the right of
//     the panels, never over the data; a series keeps its colour and marker
//     in every panel (colours by first appearance of its name);
//   - Bars: grouped bars (one bar per series in each group), y from 0;
//   - Lines: one line per series over shared x values, linear or log axes;
//     a missing value (NaN) breaks the line;
//   - every value is a Value — a median with its range (min–max over
//     repetitions); a range that is not a single point is drawn as an error
//     bar, so medians with ranges need no extra code;
//   - the output format follows the file name: .png (96 dpi), .svg or .pdf.
//
// Bad input (mismatched lengths, unnamed or duplicate series, values out of
// order, non-positive values on a log axis, an unknown format) returns an
// error wrapping ErrInvalid before gonum sees it; should gonum still panic
// while drawing, Write recovers and returns that as an ErrInvalid too.
// Spread (median, min, max) is also what integration/bench's tables use, so
// a table and its figure agree.
//
// It must not touch anything but the figure it is asked to write: no
// simulation, no measurement, no reading of data files.
package chart
