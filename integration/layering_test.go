package integration

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/nemo-edge/nemo"

// allowedImports is the import graph the folders promise, bottom first: for every package, the packages of
// this module it may import (its tests included). Each row restates what the package's doc.go says it must
// not touch; a new package fails TestImportsPointOneWay until it gets a row here.
var allowedImports = map[string][]string{
	// The bottom: formats and mechanisms with no I/O policy of their own.
	"clickshm":            {},
	"pool/proxy":          {},
	"invoker/metrics":     {},
	"scheduler/sim/chart": {},

	// Harvesting knows NFs and Click, never containers, the scheduler or OpenWhisk.
	"harvester": {"clickshm"},

	// The pool runs containers and speaks only the action proxy's protocol; its Docker backend is beneath
	// the invoker, never above the pool.
	"pool":        {"pool/proxy"},
	"pool/docker": {"pool", "pool/proxy"},

	// The function controller acts through the pool only (its scenario tests drive it through schedtest);
	// schedtest couples controller and pool for tests and the simulator, which replays workloads on it.
	"scheduler":           {"pool", "pool/proxy", "scheduler/schedtest"},
	"scheduler/schedtest": {"scheduler", "pool", "pool/proxy"},
	"scheduler/sim":       {"scheduler", "pool", "pool/proxy", "scheduler/schedtest", "scheduler/sim/chart"},

	// The invoker speaks OpenWhisk and sits on top of everything else.
	"invoker/wire":       {"pool/proxy"},
	"invoker/messaging":  {"invoker/wire", "pool/proxy"},
	"invoker/store":      {"invoker/wire", "pool/proxy"},
	"invoker/filestore":  {"invoker/wire", "pool/proxy"},
	"invoker/server":     {"invoker/metrics"},
	"invoker/instanceid": {}, // OpenWhisk's ZooKeeper id assignment: ZooKeeper only
	"invoker/activation": {"invoker/wire", "invoker/metrics", "pool", "pool/proxy"},
	"invoker/tlsconf":    {}, // Java key stores into tls.Configs: no OpenWhisk, no I/O beyond the files
	"invoker/config": {"invoker/wire", "invoker/messaging", "invoker/store", "invoker/activation", "invoker/instanceid",
		"pool", "pool/docker", "pool/proxy", "scheduler", "harvester", "invoker/fpc", "invoker/tlsconf"},
	"invoker/app": {"invoker/activation", "invoker/messaging", "invoker/metrics", "invoker/wire", "pool",
		"pool/proxy", "scheduler", "harvester"},
	// OpenWhisk 2.x's scheduler (FPC): mode selection, the gRPC client, the etcd session and the container
	// lifecycle decisions, each speaking OpenWhisk through invoker/wire and nothing of the pool yet.
	"invoker/fpc":              {"invoker/wire"},
	"invoker/fpc/activationpb": {},
	"invoker/fpc/etcdreg":      {"invoker/wire"},
	"invoker/fpc/fetch":        {"invoker/fpc/activationpb", "invoker/wire"},
	"invoker/fpc/lifecycle":    {"invoker/wire", "pool/proxy"},
	"invoker/cmd/nemo":         {"*"}, // the binary assembles everything (but test equipment)
}

// testEquipment is the prefix of packages that only tests and benchmarks use.
const testEquipment = "integration"

type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Name         string
}

// listPackages runs go list over the module, with and without the integration build tag, so the imports of
// tagged test files count too.
func listPackages(t *testing.T) map[string][]string {
	t.Helper()
	imports := map[string][]string{}
	names := map[string]string{}
	for _, tags := range []string{"", "integration"} {
		args := []string{"list", "-e", "-json"}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		cmd := exec.Command("go", append(args, module+"/...")...)
		cmd.Dir = ".."
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("go list: %v\n%s", err, ee.Stderr)
			}
			t.Fatalf("go list: %v", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for {
			var p listedPackage
			if err := dec.Decode(&p); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("go list output: %v", err)
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
			names[rel] = p.Name
			for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
				if imp == module || strings.HasPrefix(imp, module+"/") {
					dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
					if dep != rel && !slices.Contains(imports[rel], dep) {
						imports[rel] = append(imports[rel], dep)
					}
				}
			}
			if _, ok := imports[rel]; !ok {
				imports[rel] = nil
			}
		}
	}
	for rel, name := range names {
		if name == "main" && !strings.HasPrefix(rel, testEquipment) && !strings.Contains(rel, "/cmd/") {
			t.Errorf("%s is a main package outside a cmd/ folder", rel)
		}
	}
	return imports
}

// TestImportsPointOneWay fails when a package imports one above it (or beside it without a row saying so),
// when production code imports test equipment, or when anything imports a main package.
func TestImportsPointOneWay(t *testing.T) {
	pkgs := listPackages(t)
	var names []string
	for rel := range pkgs {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		for _, dep := range pkgs[rel] {
			if strings.Contains(dep, "/cmd/") || strings.HasSuffix(dep, "/cmd") {
				t.Errorf("%s imports %s, a main package", rel, dep)
			}
		}
		if rel == testEquipment || strings.HasPrefix(rel, testEquipment+"/") {
			continue // test equipment may use anything it tests
		}
		allowed, known := allowedImports[rel]
		if !known {
			t.Errorf("%s has no row in allowedImports: add one that says what it may import (its doc.go's rule)", rel)
			continue
		}
		for _, dep := range pkgs[rel] {
			if strings.HasPrefix(dep, testEquipment+"/") || dep == testEquipment {
				t.Errorf("%s imports test equipment %s", rel, dep)
				continue
			}
			if !slices.Contains(allowed, "*") && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which its layer must not touch (allowed: %v)", rel, dep, allowed)
			}
		}
	}
	for rel := range allowedImports {
		if _, ok := pkgs[rel]; !ok {
			t.Errorf("allowedImports names %s, which no longer exists", rel)
		}
	}
}
