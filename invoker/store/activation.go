package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// PutActivation records an activation in the activations database. Records are written in batches by one
// background batcher (POST /{activations}/_bulk_docs, up to the batch size, after a short linger), and the
// caller waits for its own document's result:
//   - nil: written;
//   - ErrConflict (wrapped): a record with this _id ("<namespace>/<activationId>") already exists, i.e. the
//     activation is already recorded (duplicate guard);
//   - ErrRejected: CouchDB refused the document for another reason;
//   - ErrUnavailable: the batch kept failing (3 attempts by default) or ctx ended while waiting. In the ctx
//     case the record may still be written; a retry then gets ErrConflict.
//   - ErrClosed after Close.
func (s *Store) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	if a == nil {
		return fmt.Errorf("%w: nil activation", ErrInvalid)
	}
	doc, err := a.Document(s.set.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("%w: activation %s/%s: %w", ErrInvalid, a.Namespace, a.ActivationID, err)
	}
	// Document writes compact JSON and knows its _id: no second pass over the record (logs included).
	return s.put(ctx, a.DocID(), doc)
}

// PutActivationDoc is PutActivation for an already encoded activation document (it must carry "_id").
func (s *Store) PutActivationDoc(ctx context.Context, doc []byte) error {
	var head struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("%w: activation document: %v", ErrInvalid, err)
	}
	if head.ID == "" {
		return fmt.Errorf("%w: activation document has no _id", ErrInvalid)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return fmt.Errorf("%w: activation document %s: %v", ErrInvalid, head.ID, err)
	}
	return s.put(ctx, head.ID, compact.Bytes())
}

// put queues one compact activation document with its _id for the batcher and waits for its result.
func (s *Store) put(ctx context.Context, id string, doc []byte) error {
	p := &pending{id: id, doc: doc, done: make(chan error, 1)}
	if err := s.bulk.submit(ctx, p); err != nil {
		return err
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: activation %s: %w (the record may still be written)", ErrUnavailable, p.id, ctx.Err())
	}
}

// GetActivation reads activation record "<namespace>/<activationID>" (used by the duplicate guard to
// re-ack a recorded activation instead of running it again). A missing record gives ErrNotFound.
func (s *Store) GetActivation(ctx context.Context, namespace, activationID string) (*wire.WhiskActivation, error) {
	if namespace == "" || activationID == "" {
		return nil, fmt.Errorf("%w: activation needs a namespace and an id", ErrInvalid)
	}
	id := namespace + "/" + activationID
	req := &request{method: http.MethodGet, path: escapedPath(s.cfg.ActivationsDB, id)}
	resp, err := s.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("activation %s: %w", id, err)
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: activation %s: %w", ErrNotFound, id, resp.httpError(req))
	default:
		return nil, fmt.Errorf("%w: activation %s: %w", ErrUnavailable, id, resp.httpError(req))
	}
	a, _, err := wire.ParseActivationDocument(resp.body)
	if err != nil {
		return nil, fmt.Errorf("%w: activation %s: %w", ErrUnreadable, id, err)
	}
	return a, nil
}

// pending is one record waiting for its batch; done receives exactly one result.
type pending struct {
	id   string
	doc  []byte
	done chan error
}

// batcher owns the _bulk_docs traffic: one goroutine groups records, at most batchWorkers batches fly.
type batcher struct {
	s         *Store
	mu        sync.RWMutex // guards closed against submits racing close(queue)
	closed    bool
	queue     chan *pending
	sem       chan struct{}
	inflight  sync.WaitGroup
	stopped   chan struct{}
	closeOnce sync.Once
	accepted  atomic.Int64 // records queued so far (tests sequence on it)
}

func newBatcher(s *Store) *batcher {
	b := &batcher{
		s:       s,
		queue:   make(chan *pending, s.set.batchSize),
		sem:     make(chan struct{}, s.set.batchWorkers),
		stopped: make(chan struct{}),
	}
	go b.run()
	return b
}

func (b *batcher) submit(ctx context.Context, p *pending) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: activation %s: %w", ErrUnavailable, p.id, err)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("%w: activation %s not recorded", ErrClosed, p.id)
	}
	select {
	case b.queue <- p:
		b.accepted.Add(1)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: activation %s: %w", ErrUnavailable, p.id, ctx.Err())
	}
}

// close stops intake, lets run() flush what is queued and waits for every batch to finish.
func (b *batcher) close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.queue)
		b.mu.Unlock()
	})
	<-b.stopped
}

// run groups records as OpenWhisk's Batcher does: a record goes out at once when a worker is free, and
// records only accumulate (up to the batch size) while every worker is busy, so batches grow with load
// instead of every record waiting. A positive linger additionally holds each batch open that long.
func (b *batcher) run() {
	defer close(b.stopped)
	set := &b.s.set
	for {
		first, ok := <-b.queue
		if !ok {
			break
		}
		batch := []*pending{first}
		var lingerC <-chan time.Time
		var linger *time.Timer
		if set.linger > 0 {
			linger = time.NewTimer(set.linger)
			lingerC = linger.C
		}
		sem := b.sem // set to nil once a worker slot is held
	fill:
		for len(batch) < set.batchSize {
			if sem == nil && lingerC == nil {
				// A worker is ours and nothing to wait for: take only what is already queued.
				select {
				case p, ok := <-b.queue:
					if !ok {
						break fill
					}
					batch = append(batch, p)
					continue
				default:
					break fill
				}
			}
			select {
			case p, ok := <-b.queue:
				if !ok {
					break fill // closing: flush this batch, the outer receive then ends the loop
				}
				batch = append(batch, p)
			case sem <- struct{}{}:
				sem = nil
			case <-lingerC:
				lingerC = nil
			}
		}
		if linger != nil {
			linger.Stop()
		}
		if sem != nil {
			sem <- struct{}{}
		}
		b.inflight.Add(1)
		go func() {
			defer func() { <-b.sem; b.inflight.Done() }()
			b.send(batch)
		}()
	}
	b.inflight.Wait()
}

// bulkResult is one element of the _bulk_docs answer.
type bulkResult struct {
	ID     string `json:"id"`
	Rev    string `json:"rev"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// send posts one batch and hands every caller its own result. Every pending gets exactly one answer.
func (b *batcher) send(batch []*pending) {
	s := b.s
	var body bytes.Buffer
	body.WriteString(`{"docs":[`)
	for i, p := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(p.doc)
	}
	body.WriteString(`]}`)
	req := &request{
		method:   http.MethodPost,
		path:     escapedPath(s.cfg.ActivationsDB, "_bulk_docs"),
		body:     body.Bytes(),
		attempts: s.set.bulkAttempts,
	}
	// Not the caller's ctx: the batch serves many callers, each of which stops waiting on its own ctx.
	// Every attempt is still bounded by the request timeout, and attempts by bulkAttempts.
	resp, err := s.do(context.Background(), req)
	if err == nil && resp.status != http.StatusCreated && resp.status != http.StatusOK {
		kind := ErrRejected
		if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden || resp.status == http.StatusNotFound {
			kind = ErrUnavailable // configuration problem, not this document's fault
		}
		err = fmt.Errorf("%w: %w", kind, resp.httpError(req))
	}
	var results []bulkResult
	if err == nil {
		if jerr := json.Unmarshal(resp.body, &results); jerr != nil {
			err = fmt.Errorf("%w: _bulk_docs answer: %v", ErrUnavailable, jerr)
		}
	}
	if err != nil {
		s.log.Warn().Err(err).Int("docs", len(batch)).Msg("activation batch not recorded")
		for _, p := range batch {
			p.done <- fmt.Errorf("activation %s: %w", p.id, err)
		}
		s.stats.bulkFailures.Add(1)
		return
	}
	s.stats.bulkRequests.Add(1)
	// CouchDB answers in request order; fall back to matching by id if the lengths or ids disagree.
	byID := map[string][]bulkResult{}
	aligned := len(results) == len(batch)
	for i, r := range results {
		if aligned && r.ID != batch[i].id {
			aligned = false
		}
		byID[r.ID] = append(byID[r.ID], r)
	}
	for i, p := range batch {
		var r bulkResult
		switch {
		case aligned:
			r = results[i]
		case len(byID[p.id]) > 0:
			r, byID[p.id] = byID[p.id][0], byID[p.id][1:]
		default:
			p.done <- fmt.Errorf("%w: activation %s: no result in _bulk_docs answer", ErrUnavailable, p.id)
			continue
		}
		p.done <- r.err(p.id)
	}
}

func (r bulkResult) err(id string) error {
	switch r.Error {
	case "":
		return nil
	case "conflict":
		return fmt.Errorf("%w: activation %s: %s", ErrConflict, id, r.Reason)
	default:
		return fmt.Errorf("%w: activation %s: %s: %s", ErrRejected, id, r.Error, r.Reason)
	}
}
