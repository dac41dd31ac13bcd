package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// BlockedNamespaces reads blocked-namespaces.json under the root, a JSON array of namespace names (the file
// counterpart of the subjects DB's blockedNamespaces view). A missing file means no namespace is blocked: an
// empty list, not an error. Blank names are skipped. A file that is not an array of strings gives ErrUnreadable.
func (s *Store) BlockedNamespaces(ctx context.Context) ([]string, error) {
	if err := checkRead(ctx, "blocked namespaces"); err != nil {
		return nil, err
	}
	path := filepath.Join(s.root, BlockedFile)
	b, err := readFile(path, "blocked namespaces")
	if errors.Is(err, errdefs.ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("%w: blocked namespaces (%s): want a JSON array of strings: %v", errdefs.ErrDataLoss, path, err)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// SetBlockedNamespaces replaces blocked-namespaces.json atomically (nil or empty unblocks every namespace).
func (s *Store) SetBlockedNamespaces(ctx context.Context, namespaces []string) error {
	if namespaces == nil {
		namespaces = []string{}
	}
	b, err := wire.MarshalNoEscape(namespaces)
	if err != nil {
		return fmt.Errorf("%w: blocked namespaces: %v", errdefs.ErrInvalidArgument, err)
	}
	done, err := s.beginWrite(ctx, "blocked namespaces")
	if err != nil {
		return err
	}
	defer done()
	return s.replaceFile(filepath.Join(s.root, BlockedFile), append(b, '\n'))
}
