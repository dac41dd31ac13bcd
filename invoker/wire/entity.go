package wire

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ValidActivationID reports whether s is an OpenWhisk ActivationId: 32 lowercase hex characters.
func ValidActivationID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkActivationID(what, s string) error {
	if !ValidActivationID(s) {
		return fmt.Errorf("%w: %s: %q is not 32 lowercase hex characters", ErrInvalidActivationID, what, s)
	}
	return nil
}

// FullyQualifiedName is OpenWhisk's FullyQualifiedEntityName: {"path":"guest[/pkg]","name":"hello","version"?,"binding"?}.
// The reader also accepts a plain string "ns[/pkg]/name" (optionally with a leading slash).
type FullyQualifiedName struct {
	Path    string
	Name    string
	Version string // empty when absent
	Binding string // package binding path, empty when absent
}

// DocID is the whisks document id: "guest/hello" or "guest/pkg/hello".
func (f FullyQualifiedName) DocID() string { return f.Path + "/" + f.Name }

// WithLeadingSlash is "/guest/hello", the form of __OW_ACTION_NAME and action_name.
func (f FullyQualifiedName) WithLeadingSlash() string { return "/" + f.DocID() }

// String is "guest/hello@0.0.1" (the version suffix only when set), as OpenWhisk logs it.
func (f FullyQualifiedName) String() string {
	if f.Version != "" {
		return f.DocID() + "@" + f.Version
	}
	return f.DocID()
}

// ParseFullyQualifiedName reads the object or plain-string form.
func ParseFullyQualifiedName(raw []byte) (FullyQualifiedName, error) {
	const what = "fully qualified name"
	switch kindOf(raw) {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return FullyQualifiedName{}, malformed(what, "%v", err)
		}
		return fqnFromString(s)
	case "object":
	default:
		return FullyQualifiedName{}, malformed(what, "want an object or a string, got %s", kindOf(raw))
	}
	o, err := decodeObject(raw, what)
	if err != nil {
		return FullyQualifiedName{}, err
	}
	var f FullyQualifiedName
	if f.Path, err = o.str("path", true); err != nil {
		return f, err
	}
	if f.Name, err = o.str("name", true); err != nil {
		return f, err
	}
	if f.Version, err = o.str("version", false); err != nil {
		return f, err
	}
	if f.Binding, err = o.str("binding", false); err != nil {
		return f, err
	}
	if strings.Trim(f.Path, "/") == "" || f.Name == "" || strings.Contains(f.Name, "/") {
		return f, malformed(what, "path %q and name %q must be non-empty and the name must have no '/'", f.Path, f.Name)
	}
	f.Path = strings.TrimPrefix(f.Path, "/")
	return f, nil
}

func fqnFromString(s string) (FullyQualifiedName, error) {
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	if len(parts) < 2 {
		return FullyQualifiedName{}, malformed("fully qualified name", "%q needs at least a namespace and a name", s)
	}
	for _, p := range parts {
		if p == "" {
			return FullyQualifiedName{}, malformed("fully qualified name", "%q has an empty segment", s)
		}
	}
	return FullyQualifiedName{Path: strings.Join(parts[:len(parts)-1], "/"), Name: parts[len(parts)-1]}, nil
}

// MarshalJSON writes the object form; version and binding only when set.
func (f FullyQualifiedName) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("path", f.Path)
	w.str("name", f.Name)
	if f.Version != "" {
		w.str("version", f.Version)
	}
	if f.Binding != "" {
		w.str("binding", f.Binding)
	}
	return w.bytes()
}

// UnmarshalJSON accepts the object or plain-string form.
func (f *FullyQualifiedName) UnmarshalJSON(b []byte) error {
	p, err := ParseFullyQualifiedName(b)
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// Namespace is the invoking namespace of an Identity.
type Namespace struct {
	Name string
	UUID string
}

// UserLimits holds the namespace limits carried in the message. Every field is optional and the set grew from 5
// (1.0.0) to 19 (HEAD), so all members are kept raw in Fields and re-emitted; StoreActivations is decoded because
// the activation path needs it.
type UserLimits struct {
	StoreActivations *bool
	Fields           map[string]json.RawMessage // every member as received, including unknown ones
}

func parseUserLimits(o object) (UserLimits, error) {
	l := UserLimits{Fields: o.fields}
	if _, ok := o.get("storeActivations"); ok {
		b, err := o.boolean("storeActivations", false, true)
		if err != nil {
			return l, err
		}
		l.StoreActivations = &b
	}
	return l, nil
}

// MarshalJSON writes every member kept in Fields, with StoreActivations overriding its raw member.
func (l UserLimits) MarshalJSON() ([]byte, error) {
	m := make(map[string]json.RawMessage, len(l.Fields)+1)
	for k, v := range l.Fields {
		m[k] = v
	}
	if l.StoreActivations != nil {
		m["storeActivations"] = json.RawMessage(strconv.FormatBool(*l.StoreActivations))
	}
	return MarshalNoEscape(m)
}

// Identity is the invoking user of an ActivationMessage.
type Identity struct {
	Subject   string
	Namespace Namespace
	AuthKey   json.RawMessage // GenericAuthKey.toEnvironment, e.g. {"api_key":"uuid:key"}
	Rights    []string
	Limits    UserLimits
}

// AuthEnvironment is the authkey object's members: they go into /run bodies as-is and into /init env as
// __OW_<UPPER(key)> when the action's provide-api-key annotation is truthy.
func (i Identity) AuthEnvironment() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(i.AuthKey, &m) != nil {
		return nil
	}
	return m
}

func parseIdentity(o object) (Identity, error) {
	var id Identity
	var err error
	if id.Subject, err = o.str("subject", true); err != nil {
		return id, err
	}
	ns, _, err := o.sub("namespace", true)
	if err != nil {
		return id, err
	}
	if id.Namespace.Name, err = ns.str("name", true); err != nil {
		return id, err
	}
	if id.Namespace.UUID, err = ns.str("uuid", true); err != nil {
		return id, err
	}
	ak, ok := o.get("authkey")
	if !ok {
		return id, o.missing("authkey")
	}
	if kindOf(ak) != "object" {
		return id, o.wrongType("authkey", "object", ak)
	}
	id.AuthKey = append(json.RawMessage(nil), ak...)
	if id.Rights, err = o.strings("rights", false); err != nil {
		return id, err
	}
	lim, ok, err := o.sub("limits", false)
	if err != nil {
		return id, err
	}
	if ok {
		if id.Limits, err = parseUserLimits(lim); err != nil {
			return id, err
		}
	}
	return id, nil
}

// MarshalJSON writes subject, namespace, authkey, rights (always an array) and limits (always an object).
func (i Identity) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("subject", i.Subject)
	w.key("namespace")
	nw := newWriter()
	nw.str("name", i.Namespace.Name)
	nw.str("uuid", i.Namespace.UUID)
	nb, _ := nw.bytes()
	w.buf.Write(nb)
	if len(i.AuthKey) == 0 {
		w.raw("authkey", json.RawMessage("{}"))
	} else {
		w.raw("authkey", i.AuthKey)
	}
	w.strs("rights", i.Rights)
	w.value("limits", i.Limits)
	return w.bytes()
}

// ControllerInstanceID names the controller that expects the acks: topic "completed" + AsString.
type ControllerInstanceID struct {
	AsString     string
	InstanceType string // "controller"
}

var topicSafe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func parseControllerInstanceID(o object) (ControllerInstanceID, error) {
	var c ControllerInstanceID
	var err error
	if c.AsString, err = o.str("asString", true); err != nil {
		return c, err
	}
	if !topicSafe.MatchString(c.AsString) {
		return c, malformed(o.what, "asString %q cannot form a Kafka topic name", c.AsString)
	}
	if c.InstanceType, err = o.str("instanceType", false); err != nil {
		return c, err
	}
	if c.InstanceType == "" {
		c.InstanceType = "controller"
	}
	return c, nil
}

// MarshalJSON writes {"asString":…,"instanceType":…}.
func (c ControllerInstanceID) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("asString", c.AsString)
	t := c.InstanceType
	if t == "" {
		t = "controller"
	}
	w.str("instanceType", t)
	return w.bytes()
}

// ParseByteSize reads OpenWhisk's ByteSize string "<n> <unit>" with unit B, K, KB, M, MB, G or GB
// (case-insensitive, space optional). K is 1024.
func ParseByteSize(s string) (int64, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, malformed("byte size", "%q is not \"<n> B|K|KB|M|MB|G|GB\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, malformed("byte size", "%q: %v", s, err)
	}
	var mult int64
	switch strings.ToUpper(m[2]) {
	case "B":
		mult = 1
	case "K", "KB":
		mult = 1 << 10
	case "M", "MB":
		mult = 1 << 20
	case "G", "GB":
		mult = 1 << 30
	}
	if n > (1<<63-1)/mult {
		return 0, malformed("byte size", "%q overflows", s)
	}
	return n * mult, nil
}

var byteSizeRE = regexp.MustCompile(`(?i)^\s*([0-9]+)\s*(B|KB|K|MB|M|GB|G)\s*$`)

// FormatByteSize writes bytes the way the invoker advertises them: "<n> B".
func FormatByteSize(bytes int64) string { return strconv.FormatInt(bytes, 10) + " B" }

// InvokerInstanceID is this invoker's identity in pings and acks.
type InvokerInstanceID struct {
	Instance            int
	UserMemoryBytes     int64
	UniqueName          string // optional
	DisplayedName       string // optional
	BusyMemoryBytes     *int64 // optional
	Tags                []string
	DedicatedNamespaces []string
}

// String is "invoker0[/uniqueName][/displayedName]" (InvokerInstanceId.toString).
func (i InvokerInstanceID) String() string {
	s := i.Source()
	if i.UniqueName != "" {
		s += "/" + i.UniqueName
	}
	if i.DisplayedName != "" {
		s += "/" + i.DisplayedName
	}
	return s
}

// Source is "invoker<N>", the source field of user events.
func (i InvokerInstanceID) Source() string { return "invoker" + strconv.Itoa(i.Instance) }

// MarshalJSON always writes instanceType, tags and dedicatedNamespaces (2021+ controllers require the last two).
func (i InvokerInstanceID) MarshalJSON() ([]byte, error) {
	w := newWriter()
	i.write(w)
	return w.bytes()
}

// write writes the members of MarshalJSON's object.
func (i InvokerInstanceID) write(w *writer) {
	w.num("instance", int64(i.Instance))
	w.byteSize("userMemory", i.UserMemoryBytes)
	w.str("instanceType", "invoker")
	if i.UniqueName != "" {
		w.str("uniqueName", i.UniqueName)
	}
	if i.DisplayedName != "" {
		w.str("displayedName", i.DisplayedName)
	}
	if i.BusyMemoryBytes != nil {
		w.byteSize("busyMemory", *i.BusyMemoryBytes)
	}
	w.strs("tags", i.Tags)
	w.strs("dedicatedNamespaces", i.DedicatedNamespaces)
}

// UnmarshalJSON reads both the 1.0.0 form (no tags) and the 2021+ form.
func (i *InvokerInstanceID) UnmarshalJSON(b []byte) error {
	o, err := decodeObject(b, "invoker instance id")
	if err != nil {
		return err
	}
	p, err := parseInvokerInstanceID(o)
	if err != nil {
		return err
	}
	*i = p
	return nil
}

func parseInvokerInstanceID(o object) (InvokerInstanceID, error) {
	var i InvokerInstanceID
	var err error
	if i.Instance, err = o.intField("instance", true, 0); err != nil {
		return i, err
	}
	if i.Instance < 0 {
		return i, malformed(o.what, "instance %d is negative", i.Instance)
	}
	mem, err := o.str("userMemory", true)
	if err != nil {
		return i, err
	}
	if i.UserMemoryBytes, err = ParseByteSize(mem); err != nil {
		return i, err
	}
	typ, err := o.str("instanceType", false)
	if err != nil {
		return i, err
	}
	if typ != "" && typ != "invoker" {
		return i, malformed(o.what, "instanceType %q, want \"invoker\"", typ)
	}
	if i.UniqueName, err = o.str("uniqueName", false); err != nil {
		return i, err
	}
	if i.DisplayedName, err = o.str("displayedName", false); err != nil {
		return i, err
	}
	busy, err := o.str("busyMemory", false)
	if err != nil {
		return i, err
	}
	if busy != "" {
		n, err := ParseByteSize(busy)
		if err != nil {
			return i, err
		}
		i.BusyMemoryBytes = &n
	}
	if i.Tags, err = o.strings("tags", false); err != nil {
		return i, err
	}
	if i.DedicatedNamespaces, err = o.strings("dedicatedNamespaces", false); err != nil {
		return i, err
	}
	return i, nil
}
