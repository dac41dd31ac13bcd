package harvester

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/safchain/ethtool"
)

// ErrStateFile wraps failures to read or write the NIC state file.
var ErrStateFile = errors.New("harvester: nic state file")

// nicStateVersion is bumped on incompatible changes of the file format.
const nicStateVersion = 1

// nicState is the persisted form: the original coalescing parameters of every
// interface the harvester has changed and not yet restored.
type nicState struct {
	Version    int                      `json:"version"`
	Interfaces map[string]savedCoalesce `json:"interfaces"`
}

type savedCoalesce struct {
	Coalesce ethtool.Coalesce `json:"coalesce"`
	SavedAt  time.Time        `json:"saved_at"`
	PID      int              `json:"pid"`
}

// stateFile persists originals before the first change (write temp, fsync,
// rename, fsync dir), so a crash at any point leaves either the old or the new
// complete file.
type stateFile struct {
	path string
	mu   sync.Mutex
}

func (s *stateFile) load() (nicState, error) {
	st := nicState{Version: nicStateVersion, Interfaces: map[string]savedCoalesce{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("%w: read %s: %w", ErrStateFile, s.path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w: %s is not valid JSON (left untouched; inspect and restore rx-usecs by hand, then delete it): %w", ErrStateFile, s.path, err)
	}
	if st.Version != nicStateVersion {
		return st, fmt.Errorf("%w: %s has version %d, want %d (left untouched)", ErrStateFile, s.path, st.Version, nicStateVersion)
	}
	if st.Interfaces == nil {
		st.Interfaces = map[string]savedCoalesce{}
	}
	return st, nil
}

func (s *stateFile) write(st nicState) error {
	if len(st.Interfaces) == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: remove %s: %w", ErrStateFile, s.path, err)
		}
		return nil
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode: %w", ErrStateFile, err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: mkdir %s: %w", ErrStateFile, dir, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStateFile, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: write %s: %w", ErrStateFile, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: fsync %s: %w", ErrStateFile, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrStateFile, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("%w: rename to %s: %w", ErrStateFile, s.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// lockPath is the host lock of every read-modify-write of the file (see hostlock.go); mu covers the
// goroutines of this process, which share one open lock file only inside withFlock.
func (s *stateFile) lockPath() string { return hostLockPath(s.path, "", "lock") }

// locked runs fn holding both the process mutex and the host lock, bounded by switchTimeout when ctx
// has no earlier deadline.
func (s *stateFile) locked(ctx context.Context, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, switchTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	return withFlock(ctx, s.lockPath(), fn)
}

// save records iface's original, unless an original is already recorded (the
// first one is the true original; a later read would see our own setting).
func (s *stateFile) save(ctx context.Context, iface string, c ethtool.Coalesce) error {
	_, err := s.originalOrSave(ctx, iface, func() (ethtool.Coalesce, error) { return c, nil })
	return err
}

// originalOrSave returns iface's recorded original, or reads it with get and records it, as one
// step under the host lock: another invoker harvesting the same NIC has recorded the true original
// before changing it, and get would now read that invoker's setting.
func (s *stateFile) originalOrSave(ctx context.Context, iface string, get func() (ethtool.Coalesce, error)) (ethtool.Coalesce, error) {
	var orig ethtool.Coalesce
	err := s.locked(ctx, func() error {
		st, err := s.load()
		if err != nil {
			return err
		}
		if saved, ok := st.Interfaces[iface]; ok {
			orig = saved.Coalesce
			return nil
		}
		c, err := get()
		if err != nil {
			return err
		}
		st.Interfaces[iface] = savedCoalesce{Coalesce: c, SavedAt: time.Now().UTC(), PID: os.Getpid()}
		if err := s.write(st); err != nil {
			return err
		}
		orig = c
		return nil
	})
	return orig, err
}

// remove forgets iface's original when keep (called under the host lock) says nobody needs it.
func (s *stateFile) remove(ctx context.Context, iface string, keep func() (bool, error)) error {
	return s.locked(ctx, func() error {
		st, err := s.load()
		if err != nil {
			return err
		}
		if _, ok := st.Interfaces[iface]; !ok {
			return nil
		}
		if keep != nil {
			if k, err := keep(); k || err != nil {
				return err
			}
		}
		delete(st.Interfaces, iface)
		return s.write(st)
	})
}

func (s *stateFile) entries(ctx context.Context) (map[string]savedCoalesce, error) {
	var out map[string]savedCoalesce
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		// Nothing recorded: no lock file needed (its directory may not be writable, which only
		// matters once an original must be recorded).
		return map[string]savedCoalesce{}, nil
	}
	err := s.locked(ctx, func() error {
		st, err := s.load()
		out = st.Interfaces
		return err
	})
	return out, err
}
