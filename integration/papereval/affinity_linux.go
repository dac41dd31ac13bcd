package papereval

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ServicePins moves the shared services (the Kafka broker, the CouchDB-API server, dockerd and
// containerd) to the service core for the length of a run, as the paper's node layout puts them beside
// the invoker and away from the NF's core, and puts every thread back on its original CPUs afterwards.
// Processes are found precisely: the listeners of the broker's and the store's TCP ports, and the pid
// files of dockerd and of its containerd. Nothing else is touched.
type ServicePins struct {
	saved map[int]unix.CPUSet // pid -> the main thread's original mask
	Names []string            // "kafka(pid 123)", for the report
}

// PinServices pins the processes listening on ports and dockerd/containerd to core.
func PinServices(ports []int, core int) (*ServicePins, error) {
	pids := map[int]string{}
	for _, port := range ports {
		pid, err := listenerPID(port)
		if err != nil {
			return nil, err
		}
		pids[pid] = fmt.Sprintf("port %d", port)
	}
	for name, file := range map[string]string{"dockerd": "/var/run/docker.pid", "containerd": "/run/docker/containerd/containerd.pid"} {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				pids[pid] = name
			}
		}
	}
	sp := &ServicePins{saved: map[int]unix.CPUSet{}}
	var set unix.CPUSet
	set.Set(core)
	for pid, what := range pids {
		var orig unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &orig); err != nil {
			continue // gone
		}
		sp.saved[pid] = orig
		if err := setThreads(pid, &set); err != nil {
			_ = sp.Restore() // best effort: the pin error is the one to report
			return nil, fmt.Errorf("papereval: pin %s (pid %d): %w", what, pid, err)
		}
		sp.Names = append(sp.Names, fmt.Sprintf("%s=%s(pid %d)", what, comm(pid), pid))
	}
	return sp, nil
}

// Restore gives every thread of the pinned processes (also threads started during the run) the original
// mask of its process.
func (sp *ServicePins) Restore() error {
	var errs []error
	for pid, orig := range sp.saved {
		if err := setThreads(pid, &orig); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func setThreads(pid int, set *unix.CPUSet) error {
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tids {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// listenerPID finds the process holding a TCP socket listening on port (IPv4 or IPv6).
func listenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || fl[3] != "0A" { // 0A = LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fl[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes[fl[9]] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("papereval: nothing listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid, nil
		}
	}
	return 0, fmt.Errorf("papereval: no process found for the listener on port %d", port)
}
