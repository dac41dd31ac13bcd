package papereval

import (
	"embed"
	"fmt"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

//go:embed actions/*.py
var actionFS embed.FS

// Function is one action of the workload (paper §5.1: 4 edge functions from Table 1 and 6 kernels of the
// Python Performance Benchmark Suite). Each action's source under actions/ does its expensive preparation
// at module load, i.e. at /init, so /init dominates a cold invocation as in the paper's Fig. 4.
type Function struct {
	Name string // the action name (guest/<Name>)
	File string // source under actions/
	Edge bool   // one of the paper's four edge functions (Table 1); false: a benchmark kernel
}

// Functions is the workload in a fixed order: the four edge functions first.
var Functions = []Function{
	{"markdown", "markdown.py", true},
	{"img-resize", "img_resize.py", true},
	{"sentiment", "sentiment.py", true},
	{"ocr-img", "ocr_img.py", true},
	{"json_loads", "json_loads.py", false},
	{"float", "float_bench.py", false},
	{"nbody", "nbody.py", false},
	{"fannkuch", "fannkuch.py", false},
	{"spectral_norm", "spectral_norm.py", false},
	{"pidigits", "pidigits.py", false},
}

// EdgeFunctions returns the names of the paper's four edge functions.
func EdgeFunctions() []string {
	var out []string
	for _, f := range Functions {
		if f.Edge {
			out = append(out, f.Name)
		}
	}
	return out
}

// AllFunctions returns every function name in order.
func AllFunctions() []string {
	out := make([]string, len(Functions))
	for i, f := range Functions {
		out[i] = f.Name
	}
	return out
}

// FunctionByName finds a function.
func FunctionByName(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Source returns the Python source of a function.
func (f Function) Source() (string, error) {
	b, err := actionFS.ReadFile("actions/" + f.File)
	if err != nil {
		return "", fmt.Errorf("papereval: source of %s: %w", f.Name, err)
	}
	return string(b), nil
}

// Kind is the runtime kind of every workload action (the manifest maps it to the project's Python image).
const Kind = "python:3"

// MemoryMB is every action's memory limit (paper §5.1: OpenWhisk gives each function 256 MB).
const MemoryMB = 256

// ActionDoc is the action document the controller would store for function f under name (the function's
// own name, or a copy's name for forced cold starts): kind python:3, inline code, 256 MB, 5-minute
// timeout, logs 10 MB, concurrency 1.
func ActionDoc(f Function, name string, updated time.Time) (*wire.Action, error) {
	src, err := f.Source()
	if err != nil {
		return nil, err
	}
	return &wire.Action{
		ID: Namespace + "/" + name, Namespace: Namespace, Name: name,
		Exec:        wire.Exec{Kind: Kind, Code: src, Main: "main"},
		Limits:      wire.ActionLimits{TimeoutMs: 300000, MemoryMB: MemoryMB, LogsMB: 10, Concurrency: 1},
		Parameters:  []wire.KeyValue{},
		Annotations: []wire.KeyValue{wire.KV("exec", "python:3"), wire.KV("provide-api-key", false)},
		Version:     "0.0.1",
		Updated:     updated.UnixMilli(),
	}, nil
}

// Namespace is the OpenWhisk namespace the workload runs in.
const Namespace = "guest"
