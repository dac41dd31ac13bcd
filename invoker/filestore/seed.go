package filestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// The demo's sample action.
const (
	SampleNamespace = "guest"
	SampleName      = "hello"
	SampleDocID     = SampleNamespace + "/" + SampleName
	// DefaultSampleImage is the test image scripts/build-images.sh builds: the Go action proxy with the test
	// action (integration/actionproxy/testaction) baked in as the default executable, so an /init without code
	// runs it. It greets {"name":…} and answers {"greeting":"Hello <name>!","runs":n,…}.
	DefaultSampleImage = "nemo/action-go:latest"
)

// SampleAction is the sample action document: blackbox action guest/hello running image, without code (the
// image carries its action), limits timeout 60000 ms, memory 256 MB, logs 10 MB, concurrency 1, annotations
// exec=blackbox and provide-api-key=false, as the controller would create it.
func SampleAction(image string, updatedMillis int64) *wire.Action {
	return &wire.Action{
		ID:         SampleDocID,
		Namespace:  SampleNamespace,
		Name:       SampleName,
		Exec:       wire.Exec{Kind: wire.KindBlackbox, Image: image},
		Limits:     wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 1},
		Parameters: []wire.KeyValue{},
		Annotations: []wire.KeyValue{
			wire.KV("exec", wire.KindBlackbox),
			wire.KV("provide-api-key", false),
		},
		Version: "0.0.1",
		Updated: updatedMillis,
	}
}

// SeedSample writes the sample action (SampleAction) for image and returns its document id, "guest/hello".
// It is idempotent: when the stored document already has the same content it is left alone (its revision does
// not change, so warm containers stay valid); a different stored version is updated to a new revision. A
// stored document that cannot be read is not overwritten (ErrUnreadable). An empty or malformed image name
// gives ErrInvalid.
func SeedSample(ctx context.Context, s *Store, image string) (docID string, err error) {
	if image == "" {
		return "", fmt.Errorf("%w: sample action needs an image", errdefs.ErrInvalidArgument)
	}
	if _, err := wire.ParseImageName(image); err != nil {
		return "", fmt.Errorf("%w: sample action image: %w", errdefs.ErrInvalidArgument, err)
	}
	a := SampleAction(image, s.now().UnixMilli())
	cur, err := s.GetAction(ctx, SampleDocID, "")
	switch {
	case err == nil:
		if cur.ContentHash() == a.ContentHash() {
			return SampleDocID, nil
		}
		a.Rev = cur.Rev
	case errors.Is(err, errdefs.ErrNotFound):
	default:
		return "", fmt.Errorf("seed sample action: %w", err)
	}
	doc, err := a.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("%w: sample action: %w", errdefs.ErrInvalidArgument, err)
	}
	if _, err := s.PutActionDoc(ctx, doc); err != nil {
		return "", fmt.Errorf("seed sample action: %w", err)
	}
	s.log.Info().Str("action", SampleDocID).Str("image", image).Msg("seeded the sample action")
	return SampleDocID, nil
}
