package papereval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Row kinds of the CSV (column "kind").
const (
	RowMeta       = "meta"       // key, value: machine, settings, commands
	RowRun        = "run"        // one finished run (or one phase of an nf-alone run): its NF and CPU figures
	RowInvocation = "invocation" // one activation seen by the controller
	RowSample     = "sample"     // one second of an NF's life during a run (Fig. 6)
	RowCalibrate  = "calibrate"  // the offered rate chosen for an (NF, size)
)

// Columns is the CSV header, in order. Every row kind fills the identifying columns and its own.
var Columns = []string{
	"kind", "run_id", "run_kind", "config", "nf", "size", "prio", "gap_s", "rep", "seed", "phase",
	// meta
	"key", "value",
	// invocation
	"function", "seq", "at_s", "aid", "latency_ms", "completion_ms", "init_ms", "wait_ms", "duration_ms",
	"cold", "state", "container", "status", "answered",
	// run and sample
	"t_s", "window_s", "offered_pps", "gen_sent", "gen_in_trains", "nf_received", "nf_forwarded",
	"nf_kernel_drops", "nf_lost", "nf_cpu", "core_busy", "svc_core_busy", "invoker_cpu_s", "harvest_on",
	"harvest_switches", "s1", "s2", "s3", "s41", "s42", "invocations", "errors", "unanswered", "cold_starts",
	"loadavg", "wall_s", "train", "note",
}

// Row is one CSV row as column -> value; absent columns are empty.
type Row map[string]string

// Set stores a value formatted for the CSV (floats with 6 significant digits).
func (r Row) Set(col string, v any) Row {
	switch x := v.(type) {
	case string:
		r[col] = x
	case float64:
		r[col] = strconv.FormatFloat(x, 'g', 6, 64)
	case int:
		r[col] = strconv.Itoa(x)
	case int64:
		r[col] = strconv.FormatInt(x, 10)
	case uint64:
		r[col] = strconv.FormatUint(x, 10)
	case bool:
		if x {
			r[col] = "1"
		} else {
			r[col] = "0"
		}
	default:
		r[col] = fmt.Sprint(x)
	}
	return r
}

// F reads a float column; ok is false when empty or unparsable.
func (r Row) F(col string) (float64, bool) {
	s := r[col]
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// Fz reads a float column, 0 when absent.
func (r Row) Fz(col string) float64 {
	v, _ := r.F(col)
	return v
}

// I reads an integer column, 0 when absent.
func (r Row) I(col string) int {
	v, _ := strconv.Atoi(r[col])
	return v
}

// ErrBadCSV wraps every problem reading a results file.
var ErrBadCSV = errors.New("papereval: bad results CSV")

// ReadCSV reads a results file. A missing file is an empty result.
func ReadCSV(path string) ([]Row, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeCSV(f)
}

// DecodeCSV parses rows; the header may name the columns in any order, and unknown columns are kept.
func DecodeCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSV, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	head := recs[0]
	if len(head) == 0 || head[0] != "kind" {
		return nil, fmt.Errorf("%w: header does not start with \"kind\": %q", ErrBadCSV, strings.Join(head, ","))
	}
	var rows []Row
	for i, rec := range recs[1:] {
		if len(rec) != len(head) {
			return nil, fmt.Errorf("%w: line %d has %d fields, header %d", ErrBadCSV, i+2, len(rec), len(head))
		}
		row := Row{}
		for j, v := range rec {
			if v != "" {
				row[head[j]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// AppendCSV appends rows to path, writing the header when the file is new or empty. The rows of one run
// are appended in one write, so an interrupted run leaves no partial rows behind a complete file.
func AppendCSV(path string, rows []Row) error {
	st, err := os.Stat(path)
	newFile := errors.Is(err, os.ErrNotExist) || (err == nil && st.Size() == 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if newFile {
		_ = w.Write(Columns)
	} else if err := checkHeader(path); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(Columns))
		for i, c := range Columns {
			rec[i] = r[c]
		}
		for c := range r {
			if !isColumn(c) {
				return fmt.Errorf("papereval: row has unknown column %q", c)
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head, err := csv.NewReader(f).Read()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadCSV, path, err)
	}
	if strings.Join(head, ",") != strings.Join(Columns, ",") {
		return fmt.Errorf("%w: %s was written with other columns; move it away or use another -csv", ErrBadCSV, path)
	}
	return nil
}

func isColumn(c string) bool {
	for _, x := range Columns {
		if x == c {
			return true
		}
	}
	return false
}

// Select returns the rows of one kind.
func Select(rows []Row, kind string) []Row {
	var out []Row
	for _, r := range rows {
		if r["kind"] == kind {
			out = append(out, r)
		}
	}
	return out
}

// CompletedRuns returns the ids of runs with a run row (a run's rows are written together, the run row
// among them, so these runs are complete).
func CompletedRuns(rows []Row) map[string]bool {
	out := map[string]bool{}
	for _, r := range Select(rows, RowRun) {
		out[r["run_id"]] = true
	}
	return out
}

// Meta returns the last value of every meta key.
func Meta(rows []Row) map[string]string {
	out := map[string]string{}
	for _, r := range Select(rows, RowMeta) {
		out[r["key"]] = r["value"]
	}
	return out
}

// MetaKeys returns meta keys in first-seen order.
func MetaKeys(rows []Row) []string {
	seen := map[string]int{}
	for i, r := range Select(rows, RowMeta) {
		if _, ok := seen[r["key"]]; !ok {
			seen[r["key"]] = i
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return seen[keys[a]] < seen[keys[b]] })
	return keys
}
