package papereval

import (
	"math"
	"sort"
	"strconv"
)

// Cond is an NF condition: NF, frame size and priority ("" NF = no NF traffic).
type Cond struct {
	NF   string
	Size int
	Prio string
}

func condOf(r Row) Cond { return Cond{NF: r["nf"], Size: r.I("size"), Prio: r["prio"]} }

// Label is "firewall-1024" (or "no NF").
func (c Cond) Label() string {
	if c.NF == "" {
		return "no NF"
	}
	return c.NF + "-" + strconv.Itoa(c.Size)
}

// dataset indexes the CSV for the report.
type dataset struct {
	rows  []Row
	runs  []Row
	invs  []Row // without warm-up calls
	samps []Row
	meta  map[string]string
}

func newDataset(rows []Row) *dataset {
	d := &dataset{rows: rows, runs: Select(rows, RowRun), samps: Select(rows, RowSample), meta: Meta(rows)}
	for _, r := range Select(rows, RowInvocation) {
		if r["phase"] != "warmup" {
			d.invs = append(d.invs, r)
		}
	}
	return d
}

// uniq returns the distinct values of col among rows, in first-seen order (numeric order for sizes).
func uniq(rows []Row, col string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if v := r[col]; v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if col == "size" || col == "rep" || col == "gap_s" {
		sort.Slice(out, func(a, b int) bool {
			x, _ := strconv.ParseFloat(out[a], 64)
			y, _ := strconv.ParseFloat(out[b], 64)
			return x < y
		})
	}
	return out
}

func filter(rows []Row, keep func(Row) bool) []Row {
	var out []Row
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func eq(col, v string) func(Row) bool { return func(r Row) bool { return r[col] == v } }

func and(fs ...func(Row) bool) func(Row) bool {
	return func(r Row) bool {
		for _, f := range fs {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

func condIs(c Cond) func(Row) bool {
	return func(r Row) bool {
		return r["nf"] == c.NF && (c.NF == "" || r.I("size") == c.Size && r["prio"] == c.Prio)
	}
}

// perRep applies f to the rows of each repetition and returns the values (NaN results dropped), keyed by
// repetition.
func perRep(rows []Row, f func([]Row) float64) map[int]float64 {
	by := map[int][]Row{}
	for _, r := range rows {
		by[r.I("rep")] = append(by[r.I("rep")], r)
	}
	out := map[int]float64{}
	for rep, rs := range by {
		if v := f(rs); !math.IsNaN(v) {
			out[rep] = v
		}
	}
	return out
}

func values(m map[int]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// ratioPerRep divides a by b repetition by repetition (only repetitions present in both).
func ratioPerRep(a, b map[int]float64) []float64 {
	var out []float64
	for rep, x := range a {
		if y, ok := b[rep]; ok && y != 0 {
			out = append(out, x/y)
		}
	}
	return out
}

func col(rows []Row, c string) []float64 {
	var out []float64
	for _, r := range rows {
		if v, ok := r.F(c); ok {
			out = append(out, v)
		}
	}
	return out
}

func medianCol(c string) func([]Row) float64 {
	return func(rs []Row) float64 { return Summarize(col(rs, c)).Median }
}

// answered keeps invocations that got a result.
func answered(r Row) bool { return r["answered"] == "1" }
