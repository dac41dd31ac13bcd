package itest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Registry is a minimal in-memory container registry (the Docker Registry HTTP API v2 subset `docker push`
// and `docker pull` use) on 127.0.0.1, which the engine trusts without TLS. A test pushes an image to it so
// that the engine records a repository digest for the image: without a registry no local image has one,
// and a reference pinned by digest could not be tested. Test equipment.
type Registry struct {
	// Host is 127.0.0.1:<port>, the registry part of image names.
	Host string

	mu        sync.Mutex
	blobs     map[string][]byte // digest → content
	uploads   map[string][]byte // upload id → content so far
	manifests map[string]manifest
}

type manifest struct {
	mediaType string
	body      []byte
	digest    string
}

// StartRegistry serves a registry until the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Host: ln.Addr().String(), blobs: map[string][]byte{}, uploads: map[string][]byte{},
		manifests: map[string]manifest{}}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ServeHTTP routes /v2/<name>/{blobs,manifests}/… (names may contain slashes).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	if path == "" || path == req.URL.Path {
		w.WriteHeader(http.StatusOK)
		return
	}
	for _, kind := range []string{"/blobs/uploads/", "/manifests/", "/blobs/"} {
		if i := strings.LastIndex(path, kind); i >= 0 {
			name, rest := path[:i], path[i+len(kind):]
			switch kind {
			case "/blobs/uploads/":
				r.upload(w, req, name, rest)
			case "/manifests/":
				r.manifest(w, req, name, rest)
			default:
				r.blob(w, req, rest)
			}
			return
		}
	}
	http.NotFound(w, req)
}

func (r *Registry) upload(w http.ResponseWriter, req *http.Request, name, id string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method == http.MethodPost {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
		r.uploads[id] = body
	} else {
		cur, ok := r.uploads[id]
		if !ok {
			http.Error(w, "unknown upload", http.StatusNotFound)
			return
		}
		r.uploads[id] = append(cur, body...)
	}
	if d := req.URL.Query().Get("digest"); d != "" && req.Method == http.MethodPut {
		content := r.uploads[id]
		if digestOf(content) != d {
			http.Error(w, "digest mismatch", http.StatusBadRequest)
			return
		}
		delete(r.uploads, id)
		r.blobs[d] = content
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Location", "/v2/"+name+"/blobs/"+d)
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.Header().Set("Location", "/v2/"+name+"/blobs/uploads/"+id)
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(len(r.uploads[id])-1, 0)))
	w.WriteHeader(http.StatusAccepted)
}

func (r *Registry) blob(w http.ResponseWriter, req *http.Request, digest string) {
	r.mu.Lock()
	b, ok := r.blobs[digest]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Content-Type", "application/octet-stream")
	if req.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

func (r *Registry) manifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	key := name + "@" + ref
	if req.Method == http.MethodPut {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m := manifest{mediaType: req.Header.Get("Content-Type"), body: body, digest: digestOf(body)}
		r.mu.Lock()
		r.manifests[key] = m
		r.manifests[name+"@"+m.digest] = m
		r.mu.Unlock()
		w.Header().Set("Docker-Content-Digest", m.digest)
		w.Header().Set("Location", "/v2/"+name+"/manifests/"+m.digest)
		w.WriteHeader(http.StatusCreated)
		return
	}
	r.mu.Lock()
	m, ok := r.manifests[key]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Docker-Content-Digest", m.digest)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
	if req.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(m.body)
}
