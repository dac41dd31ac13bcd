package filestore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// GetAction reads action docID ("guest/hello", "guest/pkg/hello") and resolves its code, with the CouchDB
// store's semantics: the file holds the latest revision only, so when rev is set and differs from it, the
// latest revision is returned (OpenWhisk's revision-mismatch retry, docs/protocol.md#revisions). Code is resolved for
// attachments: mem: is decoded from its name, couch:<uuid> and legacy names are read from
// whisks/<esc(docid)>.<esc(name)>. Binary code becomes standard base64, other code a UTF-8 string.
//
// Errors wrap errdefs.ErrNotFound (no document or no attachment file), errdefs.ErrDataLoss (not an action, bad
// JSON, no _rev, _id of another document, attachment bytes not matching length/digest), errdefs.ErrNotImplemented (a
// sequence, an external attachment scheme), errdefs.ErrUnavailable (I/O, ctx) or errdefs.ErrInvalidArgument (empty id).
func (s *Store) GetAction(ctx context.Context, docID, rev string) (*wire.Action, error) {
	if docID == "" {
		return nil, fmt.Errorf("%w: empty action id", errdefs.ErrInvalidArgument)
	}
	if err := checkRead(ctx, "action "+docID); err != nil {
		return nil, err
	}
	path, err := s.docPath(docID)
	if err != nil {
		return nil, err
	}
	s.whisksMu.RLock()
	defer s.whisksMu.RUnlock()
	b, err := readFile(path, "action "+docID)
	if err != nil {
		return nil, err
	}
	a, err := wire.ParseAction(b)
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrNotExecutable):
		return nil, fmt.Errorf("%w: action %s (%s): %w", errdefs.ErrNotImplemented, docID, path, err)
	default:
		return nil, fmt.Errorf("%w: action %s (%s): %w", errdefs.ErrDataLoss, docID, path, err)
	}
	if a.Rev == "" {
		return nil, fmt.Errorf("%w: action %s (%s): document has no _rev", errdefs.ErrDataLoss, docID, path)
	}
	switch a.ID {
	case "":
		a.ID = docID
	case docID:
	default:
		return nil, fmt.Errorf("%w: action %s (%s): document _id is %q", errdefs.ErrDataLoss, docID, path, a.ID)
	}
	if rev != "" && a.Rev != rev {
		s.logger(ctx).Debug().Str("action", docID).Str("requestedRev", rev).Str("storedRev", a.Rev).
			Msg("revision mismatch, returning the latest revision")
	}
	if err := s.resolveCode(a); err != nil {
		return nil, err
	}
	return a, nil
}

// resolveCode fills a.Exec.Code from the attachment a.Exec.CodeRef points at (no-op for inline code).
func (s *Store) resolveCode(a *wire.Action) error {
	ref := a.Exec.CodeRef
	if ref == nil {
		return nil
	}
	var data []byte
	switch ref.Scheme() {
	case wire.SchemeMem:
		var err error
		if data, err = wire.DecodeMemAttachment(ref.Name); err != nil {
			return fmt.Errorf("%w: action %s: mem: attachment: %w", errdefs.ErrDataLoss, a.ID, err)
		}
	case wire.SchemeCouch, wire.SchemeLegacy:
		name := ref.CouchName()
		path, err := s.attachmentPath(a.ID, name)
		if err != nil {
			return fmt.Errorf("%w: action %s: attachment %q: %w", errdefs.ErrDataLoss, a.ID, name, err)
		}
		if data, err = readFile(path, "action "+a.ID+" code attachment "+name); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: action %s: attachment %q needs an external attachment store", errdefs.ErrNotImplemented, a.ID, ref.Name)
	}
	if err := wire.CheckAttachmentBytes(*ref, data); err != nil {
		return fmt.Errorf("%w: action %s: %w", errdefs.ErrDataLoss, a.ID, err)
	}
	a.Exec.Code = wire.CodeFromBytes(data, a.Exec.Binary)
	return nil
}

// PutActionDoc writes an action document (any whisks document) the way CouchDB's PUT /{whisks}/{id} does and
// returns its new revision "N-<md5 hex>":
//   - a new id must come without "_rev" (revision 1-…), an existing one with its current "_rev"; anything
//     else is ErrConflict and nothing is written;
//   - "_attachments" entries are either stubs ({"stub":true}) of attachments the stored revision already has
//     (kept; an unknown stub is ErrRejected, as CouchDB's missing_stub) or inline {"data":<base64>,
//     "content_type":…} (written as attachment files); stored attachments the new revision does not list are
//     deleted, as CouchDB does.
//
// Bad JSON, a missing _id or a bad attachment entry give ErrInvalid; a corrupt stored revision gives
// ErrUnreadable (fix or delete the file; it is not overwritten).
func (s *Store) PutActionDoc(ctx context.Context, doc []byte) (string, error) {
	fields, err := decodeFields(doc)
	if err != nil {
		return "", fmt.Errorf("%w: action document: %v", errdefs.ErrInvalidArgument, err)
	}
	id, err := stringField(fields, "_id")
	if err != nil {
		return "", fmt.Errorf("%w: action document: %v", errdefs.ErrInvalidArgument, err)
	}
	if id == "" {
		return "", fmt.Errorf("%w: action document has no _id", errdefs.ErrInvalidArgument)
	}
	rev, err := stringField(fields, "_rev")
	if err != nil {
		return "", fmt.Errorf("%w: action document %s: %v", errdefs.ErrInvalidArgument, id, err)
	}
	path, err := s.docPath(id)
	if err != nil {
		return "", err
	}
	done, err := s.beginWrite(ctx, "action "+id)
	if err != nil {
		return "", err
	}
	defer done()
	s.whisksMu.Lock()
	defer s.whisksMu.Unlock()

	cur, curRev, curN, err := s.readStoredFields(id, path)
	if err != nil {
		return "", err
	}
	if err := checkRev(id, cur != nil, curRev, rev); err != nil {
		return "", err
	}
	n := curN + 1

	curAtts, err := attachmentsOf(cur)
	if err != nil {
		return "", fmt.Errorf("%w: %s (%s): stored _attachments: %v", errdefs.ErrDataLoss, id, path, err)
	}
	newAtts, files, err := s.resolveAttachments(fields, id, curAtts, n)
	if err != nil {
		return "", err
	}
	if len(newAtts) > 0 {
		raw, err := wire.MarshalNoEscape(newAtts)
		if err != nil {
			return "", fmt.Errorf("%w: action %s: _attachments: %v", errdefs.ErrInvalidArgument, id, err)
		}
		fields["_attachments"] = raw
	} else {
		delete(fields, "_attachments")
	}
	newRev, body, err := withRevision(fields, curRev, n, nil)
	if err != nil {
		return "", fmt.Errorf("%w: action %s: %v", errdefs.ErrInvalidArgument, id, err)
	}
	for _, f := range files {
		if err := s.replaceFile(f.path, f.data); err != nil {
			return "", fmt.Errorf("action %s attachment %s: %w", id, f.name, err)
		}
	}
	if err := s.replaceFile(path, body); err != nil {
		return "", fmt.Errorf("action %s: %w", id, err)
	}
	for name := range curAtts {
		if _, kept := newAtts[name]; kept {
			continue
		}
		if p, err := s.attachmentPath(id, name); err == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn().Err(err).Str("action", id).Str("attachment", name).Msg("could not delete a dropped attachment")
			}
		}
	}
	return newRev, nil
}

// PutAttachment stores body as attachment name of document docID at revision rev (CouchDB's
// PUT /{whisks}/{id}/{name}?rev=), as the controller does for couch: and legacy code, and returns the document's
// new revision. The document gets the stub {"content_type","digest":"md5-<base64>","length","revpos","stub":true}.
// Errors: ErrInvalid (empty id, rev or name, the reserved name "json"), ErrNotFound (no such document),
// ErrConflict (rev is not the stored revision), ErrUnreadable (the stored document is corrupt), ErrClosed.
func (s *Store) PutAttachment(ctx context.Context, docID, rev, name, contentType string, body []byte) (string, error) {
	if docID == "" || rev == "" || name == "" {
		return "", fmt.Errorf("%w: attachment needs a document id, a revision and a name", errdefs.ErrInvalidArgument)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	path, err := s.docPath(docID)
	if err != nil {
		return "", err
	}
	attPath, err := s.attachmentPath(docID, name)
	if err != nil {
		return "", err
	}
	done, err := s.beginWrite(ctx, "attachment "+name+" of "+docID)
	if err != nil {
		return "", err
	}
	defer done()
	s.whisksMu.Lock()
	defer s.whisksMu.Unlock()

	cur, curRev, curN, err := s.readStoredFields(docID, path)
	if err != nil {
		return "", err
	}
	if cur == nil {
		return "", fmt.Errorf("%w: %s: no such document to attach %s to", errdefs.ErrNotFound, docID, name)
	}
	if err := checkRev(docID, true, curRev, rev); err != nil {
		return "", err
	}
	n := curN + 1
	atts, err := attachmentsOf(cur)
	if err != nil {
		return "", fmt.Errorf("%w: %s (%s): stored _attachments: %v", errdefs.ErrDataLoss, docID, path, err)
	}
	if atts == nil {
		atts = map[string]json.RawMessage{}
	}
	stub, err := newStub(contentType, body, n)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, docID, err)
	}
	atts[name] = stub
	raw, err := wire.MarshalNoEscape(atts)
	if err != nil {
		return "", fmt.Errorf("%w: %s: _attachments: %v", errdefs.ErrDataLoss, docID, err)
	}
	cur["_attachments"] = raw
	sum := md5.Sum(body)
	newRev, doc, err := withRevision(cur, curRev, n, sum[:])
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", errdefs.ErrDataLoss, docID, err)
	}
	if err := s.replaceFile(attPath, body); err != nil {
		return "", fmt.Errorf("action %s attachment %s: %w", docID, name, err)
	}
	if err := s.replaceFile(path, doc); err != nil {
		return "", fmt.Errorf("action %s: %w", docID, err)
	}
	return newRev, nil
}

// readStoredFields reads the stored revision of id: (nil, "", 0, nil) when there is none.
func (s *Store) readStoredFields(id, path string) (fields map[string]json.RawMessage, rev string, n int, err error) {
	b, err := readFile(path, "action "+id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, "", 0, nil
	}
	if err != nil {
		return nil, "", 0, err
	}
	fields, err = decodeFields(b)
	if err == nil {
		rev, err = stringField(fields, "_rev")
	}
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: stored document %s (%s): %v", errdefs.ErrDataLoss, id, path, err)
	}
	n, err = revNumber(rev)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: %s (%s): %v", errdefs.ErrDataLoss, id, path, err)
	}
	return fields, rev, n, nil
}

// checkRev applies CouchDB's update rule: a new document without _rev, an existing one with its current _rev.
func checkRev(id string, exists bool, stored, given string) error {
	switch {
	case !exists && given != "":
		return fmt.Errorf("%w: %s: revision %q given but the document does not exist", errdefs.ErrConflict, id, given)
	case exists && given == "":
		return fmt.Errorf("%w: %s: document exists at revision %s, an update must carry it", errdefs.ErrConflict, id, stored)
	case exists && given != stored:
		return fmt.Errorf("%w: %s: revision %s given, stored revision is %s", errdefs.ErrConflict, id, given, stored)
	}
	return nil
}

// revNumber is N of "N-<hash>".
func revNumber(rev string) (int, error) {
	num, _, ok := strings.Cut(rev, "-")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 {
		return 0, fmt.Errorf("bad revision %q, want N-<hash>", rev)
	}
	return n, nil
}

// withRevision sets _rev to "n-<md5(prevRev, document without _rev, extra)>" and encodes the document.
func withRevision(fields map[string]json.RawMessage, prevRev string, n int, extra []byte) (string, []byte, error) {
	delete(fields, "_rev")
	content, err := wire.MarshalNoEscape(fields)
	if err != nil {
		return "", nil, err
	}
	h := md5.New()
	h.Write([]byte(prevRev))
	h.Write([]byte{0})
	h.Write(content)
	h.Write([]byte{0})
	h.Write(extra)
	rev := strconv.Itoa(n) + "-" + hex.EncodeToString(h.Sum(nil))
	fields["_rev"], _ = json.Marshal(rev)
	body, err := wire.MarshalNoEscape(fields)
	if err != nil {
		return "", nil, err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		return "", nil, err
	}
	pretty.WriteByte('\n')
	return rev, pretty.Bytes(), nil
}

// attachmentsOf returns a document's _attachments object (nil when absent or null).
func attachmentsOf(fields map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	raw, ok := fields["_attachments"]
	if !ok {
		return nil, nil
	}
	var atts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &atts); err != nil {
		return nil, fmt.Errorf("_attachments must be an object: %v", err)
	}
	return atts, nil
}

// pendingFile is an attachment body to write before the document that lists it.
type pendingFile struct {
	name, path string
	data       []byte
}

// resolveAttachments turns the new document's _attachments into stored stubs plus the files to write.
func (s *Store) resolveAttachments(fields map[string]json.RawMessage, id string, stored map[string]json.RawMessage, n int) (map[string]json.RawMessage, []pendingFile, error) {
	given, err := attachmentsOf(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, id, err)
	}
	out := make(map[string]json.RawMessage, len(given))
	var files []pendingFile
	for name, raw := range given {
		path, err := s.attachmentPath(id, name)
		if err != nil {
			return nil, nil, err
		}
		var entry struct {
			Stub        bool    `json:"stub"`
			Data        *string `json:"data"`
			ContentType string  `json:"content_type"`
		}
		if err := json.Unmarshal(raw, &entry); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: _attachments.%s: %v", errdefs.ErrInvalidArgument, id, name, err)
		}
		switch {
		case entry.Data != nil:
			data, err := base64.StdEncoding.DecodeString(*entry.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %s: _attachments.%s.data is not base64: %v", errdefs.ErrInvalidArgument, id, name, err)
			}
			ct := entry.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			stub, err := newStub(ct, data, n)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, id, err)
			}
			out[name] = stub
			files = append(files, pendingFile{name: name, path: path, data: data})
		case entry.Stub:
			old, ok := stored[name]
			if !ok {
				return nil, nil, fmt.Errorf("%w: %s: stub for attachment %q that the stored revision does not have", errdefs.ErrInvalidArgument, id, name)
			}
			out[name] = old
		default:
			return nil, nil, fmt.Errorf("%w: %s: _attachments.%s needs \"stub\":true or \"data\"", errdefs.ErrInvalidArgument, id, name)
		}
	}
	return out, files, nil
}

// newStub is CouchDB's attachment stub for body.
func newStub(contentType string, body []byte, revpos int) (json.RawMessage, error) {
	sum := md5.Sum(body)
	return wire.MarshalNoEscape(map[string]any{
		"content_type": contentType,
		"digest":       "md5-" + base64.StdEncoding.EncodeToString(sum[:]),
		"length":       len(body),
		"revpos":       revpos,
		"stub":         true,
	})
}

// decodeFields reads a JSON object keeping every member raw. The caller wraps the error in its sentinel.
func decodeFields(b []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if fields == nil {
		return nil, errors.New("not a JSON object: null")
	}
	return fields, nil
}

// stringField reads an optional string member ("" when absent or null).
func stringField(fields map[string]json.RawMessage, key string) (string, error) {
	raw, ok := fields[key]
	if !ok {
		return "", nil
	}
	var v *string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%q must be a string", key)
	}
	if v == nil {
		return "", nil
	}
	return *v, nil
}
