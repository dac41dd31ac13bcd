package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// PutActivation records an activation as activations/<esc(ns/activationId)>.json, the document wire's
// WhiskActivation.Document builds (updated = the store's clock). The write is atomic, fsynced and create-only:
//   - nil: written;
//   - ErrConflict (wrapped): a record with this id already exists, i.e. the activation is already recorded
//     (duplicate guard); the existing record is left as it was;
//   - ErrInvalid: nil activation or one that cannot be encoded;
//   - ErrUnavailable: the file could not be written (nothing partial is left) or ctx had ended;
//   - ErrClosed after Close.
func (s *Store) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	if a == nil {
		return fmt.Errorf("%w: nil activation", errdefs.ErrInvalidArgument)
	}
	doc, err := a.Document(s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("%w: activation %s/%s: %w", errdefs.ErrInvalidArgument, a.Namespace, a.ActivationID, err)
	}
	return s.PutActivationDoc(ctx, doc)
}

// PutActivationDoc is PutActivation for an already encoded activation document. It must carry "_id" and read
// back as an activation document (so GetActivation can return it); otherwise ErrInvalid and nothing is written.
func (s *Store) PutActivationDoc(ctx context.Context, doc []byte) error {
	a, _, err := wire.ParseActivationDocument(doc)
	if err != nil {
		return fmt.Errorf("%w: activation document: %w", errdefs.ErrInvalidArgument, err)
	}
	var head struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(doc, &head); err != nil || head.ID == "" {
		return fmt.Errorf("%w: activation document %s has no _id", errdefs.ErrInvalidArgument, a.DocID())
	}
	path, err := s.activationPath(head.ID)
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return fmt.Errorf("%w: activation document %s: %v", errdefs.ErrInvalidArgument, head.ID, err)
	}
	compact.WriteByte('\n')
	done, err := s.beginWrite(ctx, "activation "+head.ID)
	if err != nil {
		return err
	}
	defer done()
	switch err := s.createFile(path, compact.Bytes()); {
	case err == nil:
		return nil
	case errors.Is(err, errExists):
		return fmt.Errorf("%w: activation %s: already recorded in %s", errdefs.ErrConflict, head.ID, path)
	default:
		s.log.Warn().Err(err).Str("activation", head.ID).Msg("activation record not written")
		return fmt.Errorf("activation %s: %w", head.ID, err)
	}
}

// GetActivation reads activation record "<namespace>/<activationID>" (the duplicate guard re-acks a recorded
// activation instead of running it again). Errors: ErrNotFound when absent, ErrUnreadable when the file is not
// an activation document, ErrInvalid for an empty namespace or id, ErrUnavailable for I/O.
func (s *Store) GetActivation(ctx context.Context, namespace, activationID string) (*wire.WhiskActivation, error) {
	if namespace == "" || activationID == "" {
		return nil, fmt.Errorf("%w: activation needs a namespace and an id", errdefs.ErrInvalidArgument)
	}
	id := namespace + "/" + activationID
	if err := checkRead(ctx, "activation "+id); err != nil {
		return nil, err
	}
	path, err := s.activationPath(id)
	if err != nil {
		return nil, err
	}
	b, err := readFile(path, "activation "+id)
	if err != nil {
		return nil, err
	}
	a, _, err := wire.ParseActivationDocument(b)
	if err != nil {
		return nil, fmt.Errorf("%w: activation %s (%s): %w", errdefs.ErrDataLoss, id, path, err)
	}
	if a.DocID() != id {
		return nil, fmt.Errorf("%w: activation %s (%s): the file holds %s", errdefs.ErrDataLoss, id, path, a.DocID())
	}
	return a, nil
}
