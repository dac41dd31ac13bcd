package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Directory and file names under the root.
const (
	WhisksDir       = "whisks"
	ActivationsDir  = "activations"
	BlockedFile     = "blocked-namespaces.json"
	docSuffix       = ".json"
	tempPrefix      = ".tmp-"
	reservedAttName = "json" // whisks/<id>.json is the document itself
	maxFileName     = 255    // NAME_MAX on Linux filesystems
	staleTempAge    = 10 * time.Minute
)

// Store is a file-backed artifact store. It is safe for concurrent use. Close it before exit so that no write
// is cut short.
type Store struct {
	root string
	log  zerolog.Logger
	now  func() time.Time
	ops  fileOps

	whisksMu sync.RWMutex // action documents and their attachments: readers see a document with its attachment
	exclMu   sync.Mutex   // create-only writes when hard links are not supported

	closeMu sync.RWMutex // writes hold it shared; Close takes it exclusively
	closed  bool
}

// fileOps are the system calls a write goes through; tests replace them to simulate failures.
type fileOps struct {
	write func(f *os.File, b []byte) (int, error)
	sync  func(f *os.File) error
	link  func(oldname, newname string) error
}

func defaultFileOps() fileOps {
	return fileOps{
		write: func(f *os.File, b []byte) (int, error) { return f.Write(b) },
		sync:  func(f *os.File) error { return f.Sync() },
		link:  os.Link,
	}
}

// Option tunes a Store.
type Option func(*Store)

// New opens (creating when needed) the store rooted at dir: it creates dir/whisks and dir/activations and
// removes temporary files older than 10 minutes that an interrupted write left behind.
func New(dir string, log zerolog.Logger, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: file store needs a root directory", errdefs.ErrInvalidArgument)
	}
	s := &Store{
		root: filepath.Clean(dir),
		log:  log.With().Str("component", "filestore").Logger(),
		now:  time.Now,
		ops:  defaultFileOps(),
	}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{s.root, s.dir(WhisksDir), s.dir(ActivationsDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("%w: create %s: %w", errdefs.ErrUnavailable, d, err)
		}
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory", errdefs.ErrUnavailable, d)
		}
	}
	s.removeStaleTemps()
	return s, nil
}

// Root is the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) dir(name string) string { return filepath.Join(s.root, name) }

// Close stops accepting writes and waits for the writes in progress. Reads keep working, as with the CouchDB
// store. Later writes return ErrClosed. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	return nil
}

// beginWrite admits one write; call the returned function when it is over.
func (s *Store) beginWrite(ctx context.Context, what string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errdefs.ErrUnavailable, what, err)
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, fmt.Errorf("%w: %s not written", errdefs.ErrFailedPrecondition, what)
	}
	return s.closeMu.RUnlock, nil
}

// checkRead fails fast on an ended ctx (file reads themselves are not interruptible).
func checkRead(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", errdefs.ErrUnavailable, what, err)
	}
	return nil
}

// Ping checks that the whisks directory exists and the activations directory is writable.
func (s *Store) Ping(ctx context.Context) error {
	if err := checkRead(ctx, "ping"); err != nil {
		return err
	}
	st, err := os.Stat(s.dir(WhisksDir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: whisks directory: %w", errdefs.ErrNotFound, err)
	case err != nil:
		return fmt.Errorf("%w: ping: %w", errdefs.ErrUnavailable, err)
	case !st.IsDir():
		return fmt.Errorf("%w: ping: %s is not a directory", errdefs.ErrUnavailable, s.dir(WhisksDir))
	}
	if err := unix.Access(s.dir(ActivationsDir), unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%w: ping: activations directory %s not writable: %w", errdefs.ErrUnavailable, s.dir(ActivationsDir), err)
	}
	return nil
}

// escape keeps [A-Za-z0-9_-] and writes every other byte as %XX (upper-case hex). '.' is escaped so that
// the first '.' of a stored name is the suffix separator; '/' is escaped so that ids stay one file name.
func escape(seg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(seg) + 8)
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// fileName is esc(id) + "." + suffix, or ErrInvalid when it cannot be one file name.
func fileName(id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty document id", errdefs.ErrInvalidArgument)
	}
	n := escape(id) + "." + suffix
	if len(n) > maxFileName {
		return "", fmt.Errorf("%w: id %q is too long for a file name (%d bytes escaped, at most %d)",
			errdefs.ErrInvalidArgument, id, len(n), maxFileName)
	}
	return n, nil
}

// docPath is whisks/<esc(id)>.json.
func (s *Store) docPath(id string) (string, error) {
	n, err := fileName(id, strings.TrimPrefix(docSuffix, "."))
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir(WhisksDir), n), nil
}

// attachmentPath is whisks/<esc(id)>.<esc(name)>.
func (s *Store) attachmentPath(id, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty attachment name", errdefs.ErrInvalidArgument)
	}
	if name == reservedAttName {
		return "", fmt.Errorf("%w: attachment name %q is reserved by the file store", errdefs.ErrInvalidArgument, name)
	}
	n, err := fileName(id, escape(name))
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir(WhisksDir), n), nil
}

// activationPath is activations/<esc(ns/aid)>.json.
func (s *Store) activationPath(id string) (string, error) {
	n, err := fileName(id, strings.TrimPrefix(docSuffix, "."))
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir(ActivationsDir), n), nil
}

// readFile classifies a read: missing → ErrNotFound, other failures → ErrUnavailable.
func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s: %w", errdefs.ErrNotFound, what, err)
	default:
		return nil, fmt.Errorf("%w: %s: %w", errdefs.ErrUnavailable, what, err)
	}
}

// removeStaleTemps deletes temporary files an interrupted write left behind. Young ones are kept: another
// process may be writing them right now.
func (s *Store) removeStaleTemps() {
	cutoff := time.Now().Add(-staleTempAge)
	for _, d := range []string{s.dir(WhisksDir), s.dir(ActivationsDir), s.root} {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tempPrefix) {
				continue
			}
			info, err := e.Info()
			if err != nil || info.ModTime().After(cutoff) {
				continue
			}
			if err := os.Remove(filepath.Join(d, e.Name())); err == nil {
				s.log.Info().Str("file", filepath.Join(d, e.Name())).Msg("removed a temporary file left by an interrupted write")
			}
		}
	}
}

// logger prefers a request-scoped logger from ctx (it carries the transid) over the store's own.
func (s *Store) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l != nil && l.GetLevel() != zerolog.Disabled && l != zerolog.DefaultContextLogger {
		ll := l.With().Str("component", "filestore").Logger()
		return &ll
	}
	return &s.log
}
