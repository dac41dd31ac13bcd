package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families and writes them in the Prometheus text exposition format
// (version 0.0.4). It is safe for concurrent use.
type Registry struct {
	mu         sync.Mutex
	families   map[string]family
	collectors []func(Emit)
}

type family interface {
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]family{}}
}

func (r *Registry) add(name string, f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic("metrics: duplicate metric " + name)
	}
	r.families[name] = f
}

// Counter registers a counter family with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{vec: newVec(name, help, "counter", labels)}
	r.add(name, c)
	return c
}

// Gauge registers a gauge family with the given label names.
func (r *Registry) Gauge(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{vec: newVec(name, help, "gauge", labels)}
	r.add(name, g)
	return g
}

// GaugeFunc registers an unlabelled gauge whose value is read from f at scrape time.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.add(name, gaugeFunc{name: name, help: help, f: f})
}

// Emit reports one sample at scrape time: the name, help and type ("counter" or "gauge") of its family, its
// value, and its labels as name/value pairs. Components that keep their own numbers (the pool, the
// function controller, the harvester) report them through an Emit, so they need not import this package
// and only this package writes the exposition format.
type Emit = func(name, help, typ string, value float64, labels ...string)

// CollectFunc registers collect, called at every scrape to emit a component's samples. The first sample of
// a family fixes its help and type; a family may not also be registered with Counter, Gauge or GaugeFunc.
func (r *Registry) CollectFunc(collect func(Emit)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, collect)
}

// Write writes every family, sorted by name, registered and collected alike.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	fams := make(map[string]family, len(r.families))
	for n, f := range r.families {
		fams[n] = f
	}
	collectors := append([]func(Emit){}, r.collectors...)
	r.mu.Unlock()
	collected := map[string]*collectedFamily{}
	for _, collect := range collectors {
		collect(func(name, help, typ string, value float64, labels ...string) {
			f := collected[name]
			if f == nil {
				if _, dup := fams[name]; dup {
					panic("metrics: collected family " + name + " is also registered")
				}
				f = &collectedFamily{name: name, help: help, typ: typ}
				collected[name] = f
				fams[name] = f
			}
			if len(labels)%2 != 0 {
				panic(fmt.Sprintf("metrics: %s: labels must be name/value pairs, got %q", name, labels))
			}
			f.samples = append(f.samples, collectedSample{labels: labels, value: value})
		})
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fams[n].write(w)
	}
}

type collectedSample struct {
	labels []string // name/value pairs
	value  float64
}

type collectedFamily struct {
	name, help, typ string
	samples         []collectedSample
}

func (f *collectedFamily) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
	for _, s := range f.samples {
		names := make([]string, 0, len(s.labels)/2)
		values := make([]string, 0, len(s.labels)/2)
		for i := 0; i+1 < len(s.labels); i += 2 {
			names = append(names, s.labels[i])
			values = append(values, s.labels[i+1])
		}
		fmt.Fprintf(w, "%s%s %s\n", f.name, labelString(names, values), formatValue(s.value))
	}
}

type vec struct {
	name, help, typ string
	labels          []string
	mu              sync.Mutex
	series          map[string]*series
}

type series struct {
	labelValues []string
	mu          sync.Mutex
	value       float64
}

func newVec(name, help, typ string, labels []string) vec {
	return vec{name: name, help: help, typ: typ, labels: labels, series: map[string]*series{}}
}

func (v *vec) with(values []string) *series {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d label values, got %d", v.name, len(v.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.series[key]
	if !ok {
		s = &series{labelValues: append([]string(nil), values...)}
		v.series[key] = s
	}
	return s
}

func (v *vec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", v.name, escapeHelp(v.help), v.name, v.typ)
	v.mu.Lock()
	keys := make([]string, 0, len(v.series))
	for k := range v.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ss := make([]*series, len(keys))
	for i, k := range keys {
		ss[i] = v.series[k]
	}
	v.mu.Unlock()
	for _, s := range ss {
		s.mu.Lock()
		val := s.value
		s.mu.Unlock()
		fmt.Fprintf(w, "%s%s %s\n", v.name, labelString(v.labels, s.labelValues), formatValue(val))
	}
}

// CounterVec is a family of monotonically increasing counters.
type CounterVec struct{ vec }

// Counter is one labelled series of a CounterVec.
type Counter struct{ s *series }

// With returns the series for the given label values (created on first use).
func (c *CounterVec) With(values ...string) Counter { return Counter{c.with(values)} }

// Inc adds one.
func (c Counter) Inc() { c.Add(1) }

// Add adds v, which must not be negative.
func (c Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: counter decreased")
	}
	c.s.mu.Lock()
	c.s.value += v
	c.s.mu.Unlock()
}

// Value reports the current value (for tests and logs).
func (c Counter) Value() float64 {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.value
}

// GaugeVec is a family of gauges.
type GaugeVec struct{ vec }

// Gauge is one labelled series of a GaugeVec.
type Gauge struct{ s *series }

// With returns the series for the given label values (created on first use).
func (g *GaugeVec) With(values ...string) Gauge { return Gauge{g.with(values)} }

// Set sets the gauge.
func (g Gauge) Set(v float64) {
	g.s.mu.Lock()
	g.s.value = v
	g.s.mu.Unlock()
}

// Add adds v (may be negative).
func (g Gauge) Add(v float64) {
	g.s.mu.Lock()
	g.s.value += v
	g.s.mu.Unlock()
}

// Value reports the current value.
func (g Gauge) Value() float64 {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	return g.s.value
}

type gaugeFunc struct {
	name, help string
	f          func() float64
}

func (g gaugeFunc) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, escapeHelp(g.help), g.name, g.name, formatValue(g.f()))
}

func labelString(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
