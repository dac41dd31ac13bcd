package testrun

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
)

// Event is one line of `go test -json` (cmd/test2json), with the build events of `go test -json`.
type Event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output and build-fail events
}

// Skip is one skipped test and the message it skipped with.
type Skip struct {
	Package string // import path
	Test    string
	Message string
}

func (s Skip) String() string { return fmt.Sprintf("%s %s: %s", s.Package, s.Test, s.Message) }

// Result is what a whole `go test -json` stream amounts to.
type Result struct {
	Packages []string // one line per package, as plain go test prints it
	Failed   []string // failed tests as "package Test", and failed packages without a failed test
	Skips    []Skip
	// Failures holds the output to show for each entry of Failed.
	Failures []string
	// BuildErrors holds build-output of packages that did not build.
	BuildErrors []string
}

// OK reports whether nothing failed.
func (r Result) OK() bool { return len(r.Failed) == 0 && len(r.BuildErrors) == 0 }

type key struct{ pkg, test string }

// Read consumes a `go test -json` stream. Lines that are not JSON (a tool printing to stdout) are kept as
// package-less output. echo, when non-nil, receives each package's line as soon as the package ends.
func Read(r io.Reader, echo func(line string)) (Result, error) {
	var res Result
	out := map[key][]string{}
	running := map[key]bool{} // tests that started and have not ended
	build := map[string][]string{}
	var stray []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev Event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			stray = append(stray, string(line))
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "run":
			running[k] = true
		case "pass", "fail", "skip":
			delete(running, k)
		}
		switch ev.Action {
		case "output":
			out[k] = append(out[k], ev.Output)
		case "build-output":
			build[ev.ImportPath] = append(build[ev.ImportPath], ev.Output)
		case "build-fail":
			res.BuildErrors = append(res.BuildErrors, fmt.Sprintf("%s: build failed\n%s", ev.ImportPath,
				strings.Join(build[ev.ImportPath], "")))
		case "skip":
			if ev.Test == "" {
				// A package without test files; plain go test prints "?".
				l := fmt.Sprintf("?   \t%s\t[no test files]", ev.Package)
				res.Packages = append(res.Packages, l)
				continue
			}
			res.Skips = append(res.Skips, Skip{Package: ev.Package, Test: ev.Test, Message: skipMessage(out[k])})
		case "fail":
			if ev.Test != "" {
				res.Failed = append(res.Failed, ev.Package+" "+ev.Test)
				res.Failures = append(res.Failures, strings.Join(out[k], ""))
				continue
			}
			l := fmt.Sprintf("FAIL\t%s\t%.3fs", ev.Package, ev.Elapsed)
			res.Packages = append(res.Packages, l)
			if echo != nil {
				echo(l)
			}
			if !slices.ContainsFunc(res.Failed, func(f string) bool { return strings.HasPrefix(f, ev.Package+" ") }) {
				// No test failed: a panic outside a test, TestMain, a timeout, a build error in a test file.
				// The output of tests that never ended (the one a timeout panic names) belongs to the story.
				text := strings.Join(out[k], "")
				for _, rk := range slices.SortedFunc(maps.Keys(running), func(a, b key) int { return strings.Compare(a.test, b.test) }) {
					if rk.pkg == ev.Package {
						text += fmt.Sprintf("(%s did not end)\n%s", rk.test, strings.Join(out[rk], ""))
						delete(running, rk)
					}
				}
				res.Failed = append(res.Failed, ev.Package)
				res.Failures = append(res.Failures, text)
			}
		case "pass":
			if ev.Test == "" {
				l := fmt.Sprintf("ok  \t%s\t%.3fs", ev.Package, ev.Elapsed)
				res.Packages = append(res.Packages, l)
				if echo != nil {
					echo(l)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("testrun: reading go test -json: %w", err)
	}
	if len(stray) > 0 && !res.OK() {
		res.Failures = append(res.Failures, "output outside go test -json:\n"+strings.Join(stray, "\n"))
	}
	return res, nil
}

// skipMessage is what a skipped test printed, without the framework's own lines.
func skipMessage(lines []string) string {
	var msg []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, t)
	}
	return strings.Join(msg, " ")
}

// Allow is one entry of the allow-list: a package and a test (path.Match patterns) and why this machine
// cannot run it.
type Allow struct {
	Package, Test, Why string
	Line               int
}

// ErrAllowList wraps every problem with the allow-list file.
var ErrAllowList = errors.New("testrun: allow-list")

// ParseAllowList reads the allow-list: one entry per line, "<package> <test> <why…>"; the package is an
// import path relative to module (or absolute), both may be path.Match patterns; # starts a comment line.
// An entry without a reason is an error.
func ParseAllowList(r io.Reader, module string) ([]Allow, error) {
	var out []Allow
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("%w: line %d: want \"<package> <test> <why this machine cannot run it>\", got %q",
				ErrAllowList, n, line)
		}
		pkg := f[0]
		if pkg != module && !strings.HasPrefix(pkg, module+"/") {
			pkg = module + "/" + pkg
		}
		for _, p := range []string{pkg, f[1]} {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("%w: line %d: bad pattern %q: %w", ErrAllowList, n, p, err)
			}
		}
		out = append(out, Allow{Package: pkg, Test: f[1], Why: strings.Join(f[2:], " "), Line: n})
	}
	return out, sc.Err()
}

// Check splits skips into allowed and unexpected ones; used lists the allow-list lines that matched.
func Check(skips []Skip, allow []Allow) (allowed []Skip, why []string, unexpected []Skip, used map[int]bool) {
	used = map[int]bool{}
	for _, s := range skips {
		i := slices.IndexFunc(allow, func(a Allow) bool { return a.matches(s) })
		if i < 0 {
			unexpected = append(unexpected, s)
			continue
		}
		used[allow[i].Line] = true
		allowed = append(allowed, s)
		why = append(why, allow[i].Why)
	}
	return allowed, why, unexpected, used
}

func (a Allow) matches(s Skip) bool {
	p, _ := path.Match(a.Package, s.Package)
	t, _ := path.Match(a.Test, s.Test)
	return p && t
}
