package store

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCouch is a hand-written in-memory CouchDB speaking the subset of the HTTP API the store uses. It
// records every request and can inject failures.
type fakeCouch struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	dbs      map[string]map[string]*fakeDoc
	views    map[string][]string // "<db>/<ddoc>/<view>" → row keys
	requests []fakeRequest
	faults   []*fault
	// honorIfMatch makes GET answer 412 when If-Match names another revision (CouchDB ignores it).
	honorIfMatch bool
	// gate, when set, is called (outside the lock) before a request is served.
	gate func(r *http.Request)
	user string
	pass string
}

type fakeDoc struct {
	fields  map[string]json.RawMessage // without _id/_rev/_attachments
	rev     string
	seq     int
	deleted bool
	atts    map[string]fakeAttachment
}

type fakeAttachment struct {
	contentType string
	data        []byte
	revpos      int
}

// fakeRequest is what the fake saw.
type fakeRequest struct {
	Method     string
	RequestURI string
	Segments   []string // decoded path segments
	Header     http.Header
	Body       []byte
}

// fault answers matching requests with status (or drops the connection when status == 0) while times > 0.
type fault struct {
	match  func(fakeRequest) bool
	status int
	body   string
	times  int // < 0: forever
}

func newFakeCouch(t testing.TB) *fakeCouch {
	t.Helper()
	f := &fakeCouch{
		t:     t,
		dbs:   map[string]map[string]*fakeDoc{},
		views: map[string][]string{},
		user:  "nemo",
		pass:  "s3cret",
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config points a store at the fake with databases w/a/s.
func (f *fakeCouch) config() Config {
	u, _ := url.Parse(f.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	return Config{
		Protocol: "http", Host: u.Hostname(), Port: port, Username: f.user, Password: f.pass,
		WhisksDB: "test_whisks", ActivationsDB: "test_activations", SubjectsDB: "test_subjects",
	}
}

func (f *fakeCouch) createDBs(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range names {
		if f.dbs[n] == nil {
			f.dbs[n] = map[string]*fakeDoc{}
		}
	}
}

// seedDoc stores a raw document as is, keeping its _id and _rev (fixtures carry both).
func (f *fakeCouch) seedDoc(db string, raw []byte, atts map[string]fakeAttachment) {
	f.t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		f.t.Fatalf("seed: %v", err)
	}
	var id, rev string
	_ = json.Unmarshal(fields["_id"], &id)
	_ = json.Unmarshal(fields["_rev"], &rev)
	delete(fields, "_id")
	delete(fields, "_rev")
	delete(fields, "_attachments")
	seq := 1
	if rev == "" {
		rev = "1-" + fakeHash(raw)
	} else if n, err := strconv.Atoi(strings.SplitN(rev, "-", 2)[0]); err == nil {
		seq = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dbs[db] == nil {
		f.dbs[db] = map[string]*fakeDoc{}
	}
	f.dbs[db][id] = &fakeDoc{fields: fields, rev: rev, seq: seq, atts: atts}
}

func (f *fakeCouch) setView(db, ddoc, view string, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.views[db+"/"+ddoc+"/"+view] = keys
}

// deleteDoc marks a document deleted (GET then answers 404 reason "deleted").
func (f *fakeCouch) deleteDoc(db, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dbs[db][id]; d != nil {
		d.deleted = true
	}
}

// bumpRev gives a document a new revision without changing its content (a concurrent update).
func (f *fakeCouch) bumpRev(db, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dbs[db][id]; d != nil {
		f.nextRev(d, []byte("bump"))
	}
}

func (f *fakeCouch) addFault(fl *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fl)
}

func (f *fakeCouch) requestsMatching(match func(fakeRequest) bool) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if match == nil || match(r) {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCouch) docCount(db string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.dbs[db])
}

func (f *fakeCouch) hasDoc(db, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.dbs[db][id]
	return ok && !d.deleted
}

// isMethodSegs builds a matcher on method and decoded segment count / prefix.
func isReq(method string, segs ...string) func(fakeRequest) bool {
	return func(r fakeRequest) bool {
		if r.Method != method || len(r.Segments) != len(segs) {
			return false
		}
		for i, s := range segs {
			if s != "*" && r.Segments[i] != s {
				return false
			}
		}
		return true
	}
}

func fakeHash(b []byte) string {
	sum := md5.Sum(b)
	return fmt.Sprintf("%x", sum)
}

func (f *fakeCouch) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/") {
		if s == "" {
			continue
		}
		d, err := url.QueryUnescape(s) // Java URLEncoder's inverse: "+" is a space
		if err != nil {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		segs = append(segs, d)
	}
	req := fakeRequest{Method: r.Method, RequestURI: r.RequestURI, Segments: segs, Header: r.Header.Clone(), Body: body}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		gate(r)
	}
	f.mu.Lock()
	for _, fl := range f.faults {
		if fl.times != 0 && fl.match(req) {
			if fl.times > 0 {
				fl.times--
			}
			f.mu.Unlock()
			if fl.status == 0 { // drop the connection without an answer
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			writeJSON(w, fl.status, fl.body)
			return
		}
	}
	defer f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pass {
		writeJSON(w, 401, `{"error":"unauthorized","reason":"Name or password is incorrect."}`)
		return
	}
	switch {
	case len(segs) == 0:
		writeJSON(w, 200, `{"couchdb":"Welcome","version":"fake"}`)
	case len(segs) == 1:
		f.serveDB(w, r.Method, segs[0])
	case len(segs) == 2 && segs[1] == "_bulk_docs" && r.Method == http.MethodPost:
		f.serveBulk(w, segs[0], body)
	case len(segs) == 5 && segs[1] == "_design" && segs[3] == "_view" && r.Method == http.MethodGet:
		keys, ok := f.views[segs[0]+"/"+segs[2]+"/"+segs[4]]
		if !ok {
			writeJSON(w, 404, `{"error":"not_found","reason":"missing"}`)
			return
		}
		rows := make([]map[string]any, len(keys))
		for i, k := range keys {
			rows[i] = map[string]any{"id": "x", "key": k, "value": 1}
		}
		b, _ := json.Marshal(map[string]any{"total_rows": len(keys), "offset": 0, "rows": rows})
		writeJSON(w, 200, string(b))
	case len(segs) == 2:
		f.serveDoc(w, r, segs[0], segs[1], body)
	case len(segs) == 3:
		f.serveAttachment(w, r, segs[0], segs[1], segs[2], body)
	default:
		writeJSON(w, 400, `{"error":"bad_request"}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (f *fakeCouch) serveDB(w http.ResponseWriter, method, db string) {
	switch method {
	case http.MethodPut:
		if f.dbs[db] != nil {
			writeJSON(w, 412, `{"error":"file_exists","reason":"The database could not be created, the file already exists."}`)
			return
		}
		f.dbs[db] = map[string]*fakeDoc{}
		writeJSON(w, 201, `{"ok":true}`)
	case http.MethodGet:
		if f.dbs[db] == nil {
			writeJSON(w, 404, `{"error":"not_found","reason":"Database does not exist."}`)
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"db_name":%q,"doc_count":%d}`, db, len(f.dbs[db])))
	case http.MethodDelete:
		if f.dbs[db] == nil {
			writeJSON(w, 404, `{"error":"not_found","reason":"Database does not exist."}`)
			return
		}
		delete(f.dbs, db)
		writeJSON(w, 200, `{"ok":true}`)
	default:
		writeJSON(w, 405, `{"error":"method_not_allowed"}`)
	}
}

func (d *fakeDoc) render(id string) []byte {
	out := map[string]json.RawMessage{}
	for k, v := range d.fields {
		out[k] = v
	}
	out["_id"], _ = json.Marshal(id)
	out["_rev"], _ = json.Marshal(d.rev)
	if len(d.atts) > 0 {
		stubs := map[string]any{}
		for name, a := range d.atts {
			sum := md5.Sum(a.data)
			stubs[name] = map[string]any{
				"content_type": a.contentType, "revpos": a.revpos, "length": len(a.data), "stub": true,
				"digest": "md5-" + base64.StdEncoding.EncodeToString(sum[:]),
			}
		}
		out["_attachments"], _ = json.Marshal(stubs)
	}
	b, _ := json.Marshal(out)
	return b
}

func (f *fakeCouch) nextRev(d *fakeDoc, salt []byte) {
	d.seq++
	d.rev = strconv.Itoa(d.seq) + "-" + fakeHash(append([]byte(d.rev), salt...))
}

func (f *fakeCouch) serveDoc(w http.ResponseWriter, r *http.Request, db, id string, body []byte) {
	docs := f.dbs[db]
	if docs == nil {
		writeJSON(w, 404, `{"error":"not_found","reason":"Database does not exist."}`)
		return
	}
	d := docs[id]
	switch r.Method {
	case http.MethodGet:
		if d == nil || d.deleted {
			reason := "missing"
			if d != nil {
				reason = "deleted"
			}
			writeJSON(w, 404, fmt.Sprintf(`{"error":"not_found","reason":%q}`, reason))
			return
		}
		if im := r.Header.Get("If-Match"); f.honorIfMatch && im != "" && im != `"`+d.rev+`"` {
			writeJSON(w, 412, `{"error":"precondition_failed"}`)
			return
		}
		w.Header().Set("ETag", `"`+d.rev+`"`)
		writeJSON(w, 200, string(d.render(id)))
	case http.MethodPut:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			writeJSON(w, 400, `{"error":"bad_request","reason":"invalid json"}`)
			return
		}
		var rev string
		_ = json.Unmarshal(fields["_rev"], &rev)
		if d != nil && !d.deleted && rev != d.rev {
			writeJSON(w, 409, `{"error":"conflict","reason":"Document update conflict."}`)
			return
		}
		delete(fields, "_id")
		delete(fields, "_rev")
		delete(fields, "_attachments")
		if d == nil || d.deleted {
			d = &fakeDoc{}
			docs[id] = d
		}
		d.fields = fields
		f.nextRev(d, body)
		writeJSON(w, 201, fmt.Sprintf(`{"ok":true,"id":%q,"rev":%q}`, id, d.rev))
	default:
		writeJSON(w, 405, `{"error":"method_not_allowed"}`)
	}
}

func (f *fakeCouch) serveAttachment(w http.ResponseWriter, r *http.Request, db, id, name string, body []byte) {
	d := f.dbs[db][id]
	switch r.Method {
	case http.MethodGet:
		if d == nil || d.deleted {
			writeJSON(w, 404, `{"error":"not_found","reason":"missing"}`)
			return
		}
		if im := r.Header.Get("If-Match"); f.honorIfMatch && im != "" && im != `"`+d.rev+`"` {
			writeJSON(w, 412, `{"error":"precondition_failed"}`)
			return
		}
		a, ok := d.atts[name]
		if !ok {
			writeJSON(w, 404, `{"error":"not_found","reason":"Document is missing attachment"}`)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(200)
		_, _ = w.Write(a.data)
	case http.MethodPut:
		if d == nil {
			writeJSON(w, 404, `{"error":"not_found","reason":"missing"}`)
			return
		}
		if rev := r.URL.Query().Get("rev"); rev != d.rev {
			writeJSON(w, 409, `{"error":"conflict","reason":"Document update conflict."}`)
			return
		}
		if d.atts == nil {
			d.atts = map[string]fakeAttachment{}
		}
		f.nextRev(d, body)
		d.atts[name] = fakeAttachment{contentType: r.Header.Get("Content-Type"), data: append([]byte(nil), body...), revpos: d.seq}
		writeJSON(w, 201, fmt.Sprintf(`{"ok":true,"id":%q,"rev":%q}`, id, d.rev))
	default:
		writeJSON(w, 405, `{"error":"method_not_allowed"}`)
	}
}

func (f *fakeCouch) serveBulk(w http.ResponseWriter, db string, body []byte) {
	docs := f.dbs[db]
	if docs == nil {
		writeJSON(w, 404, `{"error":"not_found","reason":"Database does not exist."}`)
		return
	}
	var req struct {
		Docs []map[string]json.RawMessage `json:"docs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, `{"error":"bad_request","reason":"invalid json"}`)
		return
	}
	results := make([]map[string]string, 0, len(req.Docs))
	for _, fields := range req.Docs {
		var id string
		_ = json.Unmarshal(fields["_id"], &id)
		switch {
		case strings.Contains(id, "forbidden"):
			results = append(results, map[string]string{"id": id, "error": "forbidden", "reason": "nope"})
		case docs[id] != nil:
			results = append(results, map[string]string{"id": id, "error": "conflict", "reason": "Document update conflict."})
		default:
			delete(fields, "_id")
			d := &fakeDoc{fields: fields}
			raw, _ := json.Marshal(fields)
			f.nextRev(d, raw)
			docs[id] = d
			results = append(results, map[string]string{"ok": "true", "id": id, "rev": d.rev})
		}
	}
	b, _ := json.Marshal(results)
	writeJSON(w, 201, string(b))
}

// waitFor polls cond (tests use it to sequence goroutines, never to assert durations).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
