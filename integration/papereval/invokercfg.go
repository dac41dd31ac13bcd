package papereval

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Manifest maps python:3 to the project's Python action image with two stem cells, as OpenWhisk's
// default manifest gives its default kind (nodejs) two.
const Manifest = `{"runtimes":{"python":[{"kind":"python:3","default":true,` +
	`"image":{"prefix":"nemo","name":"action-python","tag":"3.11"},` +
	`"stemCells":[{"initialCount":2,"memory":"256 MB"}]}]},"blackboxes":[]}`

// NFBinding is what the invoker's harvester needs to know about the running NF.
type NFBinding struct {
	Name        string // the NF's tag name (firewall, nat, lb)
	Interface   string // its receive interface
	PID         int    // for CPU accounting
	Core        int    // the core it is pinned to
	Shm         string // the clickshm segment it follows
	SysClassNet string // sysfs class/net directory that shows Interface (the NF's namespace)
}

// InvokerSetup is an invoker configuration file plus the user memory to give it.
type InvokerSetup struct {
	Config       map[string]any
	UserMemoryMB int
}

// JSON is the config file.
func (s InvokerSetup) JSON() ([]byte, error) { return json.MarshalIndent(s.Config, "", "  ") }

// openWhiskLike are the settings that make NEMO's invoker behave as OpenWhisk's: no function controller
// (keep-alive, LRU eviction and stem cells only), no warm-count bound, no cold reserve.
func openWhiskLike(c map[string]any) {
	c["scheduler"] = map[string]any{"enabled": false}
	c["pool"] = map[string]any{"maxWarm": -1, "coldReserveMB": 0}
}

// InvokerConfigFor builds the invoker's configuration for a run. Everything not set here is the invoker's
// shipped default (pool 2048 MB, 6 warm, 512 MB cold reserve, 3-s pre-warm tick, keep-alive 10 min,
// pause grace 10 s, the scheduler's default score, harvest profiles and linger).
//
//   - Every configuration pins action containers, stem cells included, to the NF's core
//     (docker.cpuset and one edgeFunctions entry per function): the paper binds EFs to the NF's core.
//   - native, native-warm, colocated, harvest: openWhiskLike; native-warm also gets memory for every
//     function and never removes idle containers.
//   - prewarm, nemo, nemo-no-tm: NEMO's function controller with its defaults; nemo-no-tm turns
//     scheduler.threadManagement off.
//   - harvest, nemo, nemo-no-tm: the harvester on, with the running NF; veth has no interrupt coalescing,
//     so nic_coalescing is off and the generator's trains stand in for it (see trafficgen.Coalescing).
//   - controlled runs: openWhiskLike, no stem cells (every first call is a real cold start), memory for
//     all functions and their copies (no eviction inside the measurement).
func InvokerConfigFor(spec RunSpec, nf *NFBinding, nfCore int, topicPrefix, workDir string) (InvokerSetup, error) {
	c := map[string]any{
		"invoker": map[string]any{"listenHost": "127.0.0.1", "logLevel": "info"},
		"kafka":   map[string]any{"topicPrefix": topicPrefix},
		"docker":  map[string]any{"mode": "publish", "publishHost": "127.0.0.1", "cpuset": fmt.Sprint(nfCore)},
	}
	var efs []map[string]any
	for _, f := range Functions {
		efs = append(efs, map[string]any{"namespace": Namespace, "action": f.Name, "cpuset": fmt.Sprint(nfCore)})
	}
	c["edgeFunctions"] = efs
	mem := 2048
	harvest := false
	switch spec.Config {
	case CfgNative, CfgColocated:
		openWhiskLike(c)
	case CfgHarvest:
		openWhiskLike(c)
		harvest = true
	case CfgNativeWarm:
		openWhiskLike(c)
		c["pool"].(map[string]any)["idleTimeout"] = "-1s"
		mem = MemoryMB * (len(Functions) + 2)
	case CfgPrewarm:
	case CfgNEMO:
		harvest = true
	case CfgNEMONoTM:
		harvest = true
		c["scheduler"] = map[string]any{"threadManagement": false}
	default:
		return InvokerSetup{}, fmt.Errorf("papereval: no invoker configuration %q", spec.Config)
	}
	if spec.Kind == KindControlled {
		openWhiskLike(c)
		c["pool"].(map[string]any)["stemCells"] = []any{}
		mem = 4096
	}
	if harvest {
		if nf == nil {
			return InvokerSetup{}, fmt.Errorf("papereval: configuration %s harvests but the run has no NF", spec.Config)
		}
		nicOff := false
		c["harvester"] = map[string]any{
			"enabled":        true,
			"state_file":     filepath.Join(workDir, "harvester-nic.json"),
			"nic_coalescing": nicOff,
			"sys_class_net":  nf.SysClassNet,
			"nfs": []map[string]any{{
				"name": nf.Name, "interface": nf.Interface, "pid": nf.PID, "cores": []int{nf.Core}, "shm": nf.Shm,
			}},
		}
	}
	return InvokerSetup{Config: c, UserMemoryMB: mem}, nil
}
