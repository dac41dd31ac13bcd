package filestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/errdefs"
)

// errExists: a create-only write found the name taken.
var errExists = errors.New("file already exists")

// writeTemp writes data to a new temporary file in dir and fsyncs it. On failure nothing is left behind.
func (s *Store) writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return "", err
	}
	n, err := s.ops.write(f, data)
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fail(fmt.Errorf("write %s: %w", tmp, err))
	}
	if err := s.ops.sync(f); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("close %s: %w", tmp, err)
	}
	return tmp, nil
}

// replaceFile atomically replaces (or creates) path with data: readers see the old content or the new one,
// never a part. Errors wrap ErrUnavailable.
func (s *Store) replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := s.writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	s.syncDir(dir)
	return nil
}

// createFile atomically creates path with data unless it exists (errExists, and the existing file is left
// untouched). It publishes the fsynced temporary file with a hard link, which fails when the name is taken even
// if another process races us; where hard links are not supported it falls back to a check-then-rename under an
// in-process lock. Other errors wrap ErrUnavailable.
func (s *Store) createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := s.writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	err = s.ops.link(tmp, path)
	switch {
	case err == nil:
		_ = os.Remove(tmp)
		s.syncDir(dir)
		return nil
	case errors.Is(err, fs.ErrExist):
		_ = os.Remove(tmp)
		return errExists
	case !linkUnsupported(err):
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	s.exclMu.Lock()
	defer s.exclMu.Unlock()
	if _, err := os.Lstat(path); err == nil {
		_ = os.Remove(tmp)
		return errExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	s.syncDir(dir)
	return nil
}

// linkUnsupported reports a filesystem that refuses hard links (some FUSE and network filesystems).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EMLINK)
}

// syncDir makes a rename or link durable. A failure only weakens durability, so it is logged, not returned.
func (s *Store) syncDir(dir string) {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		_ = d.Close()
	}
	if err != nil {
		s.log.Warn().Err(err).Str("dir", dir).Msg("directory fsync failed")
	}
}
