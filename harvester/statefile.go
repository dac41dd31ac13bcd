package harvester

import (
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

// save records iface's original, unless an original is already recorded (the
// first one is the true original; a later read would see our own setting).
func (s *stateFile) save(iface string, c ethtool.Coalesce) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := st.Interfaces[iface]; ok {
		return nil
	}
	st.Interfaces[iface] = savedCoalesce{Coalesce: c, SavedAt: time.Now().UTC(), PID: os.Getpid()}
	return s.write(st)
}

func (s *stateFile) remove(iface string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := st.Interfaces[iface]; !ok {
		return nil
	}
	delete(st.Interfaces, iface)
	return s.write(st)
}

func (s *stateFile) entries() (map[string]savedCoalesce, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load()
	return st.Interfaces, err
}
