package instanceid

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite testdata/scenarios/*.golden from the fake's results")

// A scenario (testdata/scenarios/NAME.txt) is a list of steps, one per line ('#' starts a comment):
//
//	put PATH HEX...                    write a znode (missing parents created), as OpenWhisk would have
//	assign NAME [--overwriteId N]      one invoker start with --uniqueName NAME
//
// Its transcript (NAME.golden) has one line per assign (the id and outcome, or the error) and then the
// tree under /invokers. The unit test runs every scenario on the in-memory fake; the integration test
// runs the same files on a real ZooKeeper and must produce the same transcripts.

// scenarioTree is where a scenario runs: the fake or a real server under a fresh chroot.
type scenarioTree interface {
	put(t *testing.T, path string, data []byte)
	dump(t *testing.T) string
	assigner() *Assigner
}

func scenarioFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata/scenarios: %v", err)
	}
	return files
}

func runScenario(t *testing.T, file string, tree scenarioTree) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for n, line := range strings.Split(string(src), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n+1)
		switch f[0] {
		case "put":
			if len(f) < 2 {
				t.Fatalf("%s: put PATH HEX...", where)
			}
			data, err := hex.DecodeString(strings.Join(f[2:], ""))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			tree.put(t, f[1], data)
		case "assign":
			var overwrite *int
			switch {
			case len(f) == 4 && f[2] == "--overwriteId":
				n, err := strconv.Atoi(f[3])
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				overwrite = &n
			case len(f) != 2:
				t.Fatalf("%s: assign NAME [--overwriteId N]", where)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			d, err := tree.assigner().Assign(ctx, f[1], overwrite)
			cancel()
			fmt.Fprintf(&out, "%s: ", strings.Join(f, " "))
			if err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
				continue
			}
			fmt.Fprintf(&out, "%d (%s", d.ID, d.Outcome)
			if len(d.Displaced) > 0 {
				fmt.Fprintf(&out, "; displaced %s", strings.Join(d.Displaced, " "))
			}
			if len(d.Unreadable) > 0 {
				fmt.Fprintf(&out, "; unreadable %s", strings.Join(d.Unreadable, " "))
			}
			out.WriteString(")\n")
		default:
			t.Fatalf("%s: unknown step %q", where, f[0])
		}
	}
	out.WriteString("tree:\n")
	out.WriteString(tree.dump(t))
	out.WriteString("\n")
	return out.String()
}

// checkTranscript compares got with NAME.golden (rewriting it under -update when allowUpdate).
func checkTranscript(t *testing.T, file, got string, allowUpdate bool) {
	t.Helper()
	golden := strings.TrimSuffix(file, ".txt") + ".golden"
	if allowUpdate && *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestScenarios -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: transcript differs from %s\n--- got\n%s--- want\n%s", file, golden, got, want)
	}
}

type fakeTree struct{ f *fakeZK }

func (ft fakeTree) put(t *testing.T, p string, data []byte) { ft.f.put(p, data) }
func (ft fakeTree) dump(t *testing.T) string                { return ft.f.dump("") }
func (ft fakeTree) assigner() *Assigner {
	return New(Hosts{Servers: []string{"fake:2181"}}, zerolog.Nop(), WithDialer(ft.f.dialer()))
}

func TestScenarios(t *testing.T) {
	for _, file := range scenarioFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			got := runScenario(t, file, fakeTree{newFakeZK()})
			checkTranscript(t, file, got, true)
		})
	}
}
