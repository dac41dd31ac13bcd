package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"

	"strings"
)

// Exec kinds with special handling.
const (
	KindBlackbox = "blackbox"
	KindSequence = "sequence"
)

// Attachment is an exec code reference: {"attachmentName","attachmentType","length"?,"digest"?}.
type Attachment struct {
	Name   string // "mem:<base64url>", "couch:<uuid>" or a legacy relative name such as "codefile"
	Type   string // content type
	Length int64  // 0 when absent
	Digest string // "sha256-<hex>", "" when absent
}

// Attachment schemes returned by Scheme.
const (
	SchemeMem      = "mem"      // bytes inline in the name, no CouchDB attachment
	SchemeCouch    = "couch"    // GET /{db}/{docid}/{uuid}
	SchemeLegacy   = "legacy"   // relative name: GET /{db}/{docid}/{name}
	SchemeExternal = "external" // another AttachmentStore (S3, Azure…): out of scope
)

// Scheme classifies the attachment name: "mem", "couch", "legacy" (no scheme) or "external" (any other
// "<scheme>:" prefix, which only a configured external attachment store could serve).
func (a Attachment) Scheme() string {
	switch {
	case strings.HasPrefix(a.Name, "mem:"):
		return SchemeMem
	case strings.HasPrefix(a.Name, "couch:"):
		return SchemeCouch
	case strings.Contains(a.Name, ":"):
		return SchemeExternal
	default:
		return SchemeLegacy
	}
}

// CouchName is the CouchDB attachment name: the uuid after "couch:", or the legacy name itself.
func (a Attachment) CouchName() string { return strings.TrimPrefix(a.Name, "couch:") }

// MarshalJSON writes the reference; length and digest only when set.
func (a Attachment) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("attachmentName", a.Name)
	w.str("attachmentType", a.Type)
	if a.Length != 0 {
		w.num("length", a.Length)
	}
	if a.Digest != "" {
		w.str("digest", a.Digest)
	}
	return w.bytes()
}

func parseAttachment(o object) (*Attachment, error) {
	a := &Attachment{}
	var err error
	if a.Name, err = o.str("attachmentName", true); err != nil {
		return nil, err
	}
	if a.Name == "" {
		return nil, malformed(o.what, "empty attachmentName")
	}
	if a.Type, err = o.str("attachmentType", true); err != nil {
		return nil, err
	}
	if a.Length, err = o.integer("length", false, 0); err != nil {
		return nil, err
	}
	if a.Length < 0 {
		return nil, malformed(o.what, "negative length %d", a.Length)
	}
	if a.Digest, err = o.str("digest", false); err != nil {
		return nil, err
	}
	return a, nil
}

// DecodeMemAttachment decodes the bytes inlined in a "mem:<base64url>" attachment name (padded or not).
func DecodeMemAttachment(name string) ([]byte, error) {
	data, ok := strings.CutPrefix(name, "mem:")
	if !ok {
		return nil, malformed("mem attachment", "name does not start with \"mem:\"")
	}
	enc := base64.RawURLEncoding
	if strings.Contains(data, "=") {
		enc = base64.URLEncoding
	}
	b, err := enc.DecodeString(data)
	if err != nil {
		return nil, malformed("mem attachment", "%v", err)
	}
	return b, nil
}

// CheckAttachmentBytes verifies fetched or decoded bytes against the reference's length and sha256 digest when
// the document carries them.
func CheckAttachmentBytes(a Attachment, b []byte) error {
	if a.Length != 0 && int64(len(b)) != a.Length {
		return malformed("attachment "+a.Name, "length %d, document says %d", len(b), a.Length)
	}
	if hexDigest, ok := strings.CutPrefix(a.Digest, "sha256-"); ok {
		sum := sha256.Sum256(b)
		if !strings.EqualFold(hexDigest, hex.EncodeToString(sum[:])) {
			return malformed("attachment "+a.Name, "sha256 digest mismatch")
		}
	}
	return nil
}

// CodeFromBytes is the /init code string for attachment bytes: standard padded base64 when binary, UTF-8 otherwise.
func CodeFromBytes(b []byte, binary bool) string {
	if binary {
		return base64.StdEncoding.EncodeToString(b)
	}
	return string(b)
}

var base64CodeRE = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// IsBinaryCode is Exec.isBinaryCode: the trimmed code is non-empty, its length is a multiple of 4 and it is
// standard base64. It decides "binary" for inline string code.
func IsBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	return len(t) > 0 && len(t)%4 == 0 && base64CodeRE.MatchString(t)
}

// Exec is the exec member of an action document.
type Exec struct {
	Kind       string      // lower-cased; "blackbox" for docker actions
	Code       string      // inline code, or the resolved attachment (base64 when Binary)
	CodeRef    *Attachment // attachment reference; nil when the code is inline
	Binary     bool
	Main       string   // "" when absent ("main" is used)
	Image      string   // blackbox image as written, e.g. "openwhisk/dockerskeleton:nightly"
	Components []string // sequences only
	legacyJar  bool     // code came from the old Java "jar" member
}

// IsBlackbox reports a docker action.
func (e Exec) IsBlackbox() bool { return e.Kind == KindBlackbox }

// HasCode reports whether there is code to send to /init (inline or by reference).
func (e Exec) HasCode() bool { return e.CodeRef != nil || e.Code != "" || !e.IsBlackbox() }

// EntryPoint is exec.main, defaulting to "main".
func (e Exec) EntryPoint() string {
	if e.Main != "" {
		return e.Main
	}
	return "main"
}

// MarshalJSON writes the exec as OpenWhisk stores it.
func (e Exec) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("kind", e.Kind)
	switch e.Kind {
	case KindSequence:
		w.strs("components", e.Components)
		return w.bytes()
	case KindBlackbox:
		w.str("image", e.Image)
	}
	codeKey := "code"
	if e.legacyJar {
		codeKey = "jar"
	}
	switch {
	case e.CodeRef != nil:
		w.value(codeKey, *e.CodeRef)
	case e.Code != "" || !e.IsBlackbox():
		w.str(codeKey, e.Code)
	}
	w.boolean("binary", e.Binary)
	if e.Main != "" {
		w.str("main", e.Main)
	}
	return w.bytes()
}

func parseExec(o object) (*Exec, error) {
	e := &Exec{}
	kind, err := o.str("kind", true)
	if err != nil {
		return nil, err
	}
	e.Kind = strings.ToLower(kind)
	if e.Kind == "" {
		return nil, malformed(o.what, "empty kind")
	}
	if e.Kind == KindSequence {
		if e.Components, err = o.strings("components", false); err != nil {
			return nil, err
		}
		return e, fmt.Errorf("%w: kind %q is run by the controller", ErrNotExecutable, KindSequence)
	}
	if e.Main, err = o.str("main", false); err != nil {
		return nil, err
	}
	binaryField, err := o.boolean("binary", false, false)
	if err != nil {
		return nil, err
	}
	codeRaw, hasCode := o.get("code")
	if !hasCode && e.Kind != KindBlackbox {
		if codeRaw, hasCode = o.get("jar"); hasCode {
			e.legacyJar = true
		}
	}
	if e.Kind == KindBlackbox {
		if e.Image, err = o.str("image", true); err != nil {
			return nil, err
		}
		if _, err := ParseImageName(e.Image); err != nil {
			return nil, err
		}
	} else if !hasCode {
		return nil, malformed(o.what, "'code' must be defined for %q actions", e.Kind)
	}
	if hasCode {
		switch kindOf(codeRaw) {
		case "string":
			_ = json.Unmarshal(codeRaw, &e.Code)
			if e.Kind == KindBlackbox && strings.TrimSpace(e.Code) == "" {
				e.Code = "" // blank code on a blackbox counts as none
			}
			e.Binary = IsBinaryCode(e.Code)
			if e.legacyJar {
				e.Binary = true
			}
		case "object":
			ao, err := decodeObject(codeRaw, o.what+".code")
			if err != nil {
				return nil, err
			}
			if e.CodeRef, err = parseAttachment(ao); err != nil {
				return nil, err
			}
			e.Binary = binaryField
		default:
			return nil, o.wrongType("code", "string or attachment", codeRaw)
		}
	}
	return e, nil
}

// ActionLimits are an action's limits: timeout (ms) and memory (MB) required; logs (MB) defaults to 10,
// concurrency to 1; instances is optional (0 = absent).
type ActionLimits struct {
	TimeoutMs   int
	MemoryMB    int
	LogsMB      int
	Concurrency int
	Instances   int
}

// Default limits applied when the document omits them.
const (
	DefaultLogsMB      = 10
	DefaultConcurrency = 1
)

// MarshalJSON writes {"timeout","memory","logs","concurrency"} (+"instances" when set): the limits annotation.
func (l ActionLimits) MarshalJSON() ([]byte, error) {
	w := newWriter()
	l.write(w)
	return w.bytes()
}

// write writes the members of MarshalJSON's object.
func (l ActionLimits) write(w *writer) {
	w.num("timeout", int64(l.TimeoutMs))
	w.num("memory", int64(l.MemoryMB))
	w.num("logs", int64(l.LogsMB))
	w.num("concurrency", int64(l.Concurrency))
	if l.Instances != 0 {
		w.num("instances", int64(l.Instances))
	}
}

func parseActionLimits(o object) (ActionLimits, error) {
	var l ActionLimits
	var err error
	if l.TimeoutMs, err = o.intField("timeout", true, 0); err != nil {
		return l, err
	}
	if l.MemoryMB, err = o.intField("memory", true, 0); err != nil {
		return l, err
	}
	if l.LogsMB, err = o.intField("logs", false, DefaultLogsMB); err != nil {
		return l, err
	}
	if l.Concurrency, err = o.intField("concurrency", false, DefaultConcurrency); err != nil {
		return l, err
	}
	if l.Instances, err = o.intField("instances", false, 0); err != nil {
		return l, err
	}
	if l.TimeoutMs <= 0 || l.MemoryMB <= 0 || l.LogsMB < 0 || l.Concurrency < 1 || l.Instances < 0 {
		return l, malformed(o.what, "out of range: timeout %d ms, memory %d MB, logs %d MB, concurrency %d, instances %d",
			l.TimeoutMs, l.MemoryMB, l.LogsMB, l.Concurrency, l.Instances)
	}
	return l, nil
}

// AttachmentStub is one entry of a document's _attachments.
type AttachmentStub struct {
	ContentType string
	Digest      string // "md5-<base64>"
	Length      int64
	RevPos      int64
	Stub        bool
}

// Action is an action document of the whisks DB as returned by GET /{db}/{docid}.
type Action struct {
	ID          string // _id, "" when absent (serdes fixtures)
	Rev         string // _rev, "" when absent
	Namespace   string // "guest" or "guest/pkg"
	Name        string
	Exec        Exec
	Limits      ActionLimits
	Parameters  []KeyValue
	Annotations []KeyValue
	Version     string
	Publish     bool
	Updated     int64
	Attachments map[string]AttachmentStub // _attachments; at most one entry
}

// DocID is _id, or namespace/name when the document had none.
func (a *Action) DocID() string {
	if a.ID != "" {
		return a.ID
	}
	return a.FullyQualifiedName()
}

// FullyQualifiedName is "namespace/name" without a leading slash: the "path" annotation of its activations.
func (a *Action) FullyQualifiedName() string { return a.Namespace + "/" + a.Name }

// AnnotationTruthy applies Parameters.isTruthy to an annotation (dflt when missing).
func (a *Action) AnnotationTruthy(key string, dflt bool) bool {
	return IsTruthy(a.Annotations, key, dflt)
}

// ProvideAPIKey reports whether the invocation's api key is passed to the action (annotation provide-api-key,
// missing counts as true).
func (a *Action) ProvideAPIKey() bool { return a.AnnotationTruthy("provide-api-key", true) }

// LogsToBeCollected is OpenWhisk's split condition: limits.logs != 0 (the json-file log store is in-band).
func (a *Action) LogsToBeCollected() bool { return a.Limits.LogsMB != 0 }

// ContentHash identifies the executable content for warm-container matching: namespace, name, exec (with the
// resolved code), parameters, limits, version, publish and annotations — everything but the revision
// (ExecutableWhiskAction equality).
func (a *Action) ContentHash() string {
	h := sha256.New()
	exec := a.Exec
	exec.legacyJar = false
	if exec.Code != "" {
		exec.CodeRef = nil // resolved code is what runs; the reference name may change across revisions
	}
	parts := []any{a.Namespace, a.Name, exec, a.Limits, a.Version, a.Publish}
	for _, p := range parts {
		b, _ := MarshalNoEscape(p)
		h.Write(b)
		h.Write([]byte{0})
	}
	for _, kvs := range [][]KeyValue{a.Parameters, a.Annotations} {
		for _, kv := range kvs {
			b, _ := kv.MarshalJSON()
			h.Write(b)
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ParseAction reads an action document. Errors: ErrNotAction when entityType is present and not "action",
// ErrNotExecutable for sequences, ErrMalformed for anything unreadable. Kinds are checked against the
// manifest later, by Manifest.Resolve.
func ParseAction(b []byte) (*Action, error) {
	o, err := decodeObject(b, "action document")
	if err != nil {
		return nil, err
	}
	et, err := o.str("entityType", false)
	if err != nil {
		return nil, err
	}
	if o.has("entityType") && et != "action" {
		return nil, fmt.Errorf("%w: entityType %q", ErrNotAction, et)
	}
	a := &Action{}
	if a.ID, err = o.str("_id", false); err != nil {
		return nil, err
	}
	if a.Rev, err = o.str("_rev", false); err != nil {
		return nil, err
	}
	if a.Namespace, err = o.str("namespace", true); err != nil {
		return nil, err
	}
	if a.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if a.Namespace == "" || a.Name == "" {
		return nil, malformed(o.what, "empty namespace or name")
	}
	eo, _, err := o.sub("exec", true)
	if err != nil {
		return nil, err
	}
	exec, err := parseExec(eo)
	if err != nil {
		return nil, err
	}
	a.Exec = *exec
	lo, _, err := o.sub("limits", true)
	if err != nil {
		return nil, err
	}
	if a.Limits, err = parseActionLimits(lo); err != nil {
		return nil, err
	}
	if a.Parameters, err = parseKeyValues(o, "parameters"); err != nil {
		return nil, err
	}
	if a.Annotations, err = parseKeyValues(o, "annotations"); err != nil {
		return nil, err
	}
	if a.Version, err = o.str("version", false); err != nil {
		return nil, err
	}
	if a.Publish, err = o.boolean("publish", false, false); err != nil {
		return nil, err
	}
	if a.Updated, err = o.integer("updated", false, 0); err != nil {
		return nil, err
	}
	if err := a.parseAttachments(o); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Action) parseAttachments(o object) error {
	ao, ok, err := o.sub("_attachments", false)
	if err != nil || !ok {
		return err
	}
	if len(ao.fields) > 1 {
		return malformed(o.what, "%d _attachments entries, at most one is allowed", len(ao.fields))
	}
	if len(ao.fields) == 1 {
		a.Attachments = map[string]AttachmentStub{}
	}
	for name, raw := range ao.fields {
		so, err := decodeObject(raw, o.what+"._attachments."+name)
		if err != nil {
			return err
		}
		var s AttachmentStub
		if s.ContentType, err = so.str("content_type", false); err != nil {
			return err
		}
		if s.Digest, err = so.str("digest", false); err != nil {
			return err
		}
		if s.Length, err = so.integer("length", false, 0); err != nil {
			return err
		}
		if s.RevPos, err = so.integer("revpos", false, 0); err != nil {
			return err
		}
		if s.Stub, err = so.boolean("stub", false, false); err != nil {
			return err
		}
		a.Attachments[name] = s
	}
	if ref := a.Exec.CodeRef; ref != nil {
		switch ref.Scheme() {
		case SchemeCouch, SchemeLegacy:
			if _, ok := a.Attachments[ref.CouchName()]; !ok {
				return malformed(o.what, "attachment %q is not in _attachments", ref.CouchName())
			}
		}
	}
	return nil
}

// MarshalJSON writes the document (entityType "action"; _id, _rev and _attachments only when set).
func (a *Action) MarshalJSON() ([]byte, error) {
	w := newWriter()
	if a.ID != "" {
		w.str("_id", a.ID)
	}
	if a.Rev != "" {
		w.str("_rev", a.Rev)
	}
	w.str("entityType", "action")
	w.str("name", a.Name)
	w.str("namespace", a.Namespace)
	w.value("exec", a.Exec)
	writeKVs(w, "parameters", a.Parameters)
	w.value("limits", a.Limits)
	w.str("version", a.Version)
	w.boolean("publish", a.Publish)
	writeKVs(w, "annotations", a.Annotations)
	w.num("updated", a.Updated)
	if len(a.Attachments) > 0 {
		w.key("_attachments")
		aw := newWriter()
		for name, s := range a.Attachments {
			sw := newWriter()
			sw.str("content_type", s.ContentType)
			sw.str("digest", s.Digest)
			sw.num("length", s.Length)
			sw.num("revpos", s.RevPos)
			sw.boolean("stub", s.Stub)
			sb, _ := sw.bytes()
			aw.key(name)
			aw.buf.Write(sb)
		}
		ab, _ := aw.bytes()
		w.buf.Write(ab)
	}
	return w.bytes()
}

func writeKVs(w *writer, key string, kvs []KeyValue) {
	w.key(key)
	var b bytes.Buffer
	b.WriteByte('[')
	for i, kv := range kvs {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := kv.MarshalJSON()
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			continue
		}
		b.Write(kb)
	}
	b.WriteByte(']')
	w.buf.Write(b.Bytes())
}
