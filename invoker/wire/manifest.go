package wire

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ImageName is a container image reference split as OpenWhisk does: [registry/][prefix/]name[:tag], plus
// the digest NEMO keeps (OpenWhisk drops it): a blackbox image pinned as name@sha256:… runs that image
// and no other, whatever the tag points to now.
type ImageName struct {
	Registry string
	Prefix   string
	Name     string
	Tag      string // "" means latest when matching
	Digest   string // "sha256:<64 hex>" or "" (not part of matching)
}

var (
	imagePathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	imageTagRE           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageDigestRE        = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	sha256DigestRE       = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	imageDomainRE        = regexp.MustCompile(`^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*:[0-9]+)$`)
)

// ParseImageName reads "[registry/][prefix/]name[:tag][@digest]" following the docker reference grammar that
// ImageName.fromString uses: the first component is a registry only when it contains a dot or a port.
func ParseImageName(s string) (ImageName, error) {
	bad := func(why string) (ImageName, error) {
		return ImageName{}, malformed("image name", "%q: %s", s, why)
	}
	ref := s
	var n ImageName
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		// The digest does not take part in naming or matching, but the image run is the one it names.
		n.Digest = ref[i+1:]
		ref = ref[:i]
		if !imageDigestRE.MatchString(n.Digest) || strings.HasPrefix(n.Digest, "sha256:") && !sha256DigestRE.MatchString(n.Digest) {
			return bad("invalid digest")
		}
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		n.Tag = ref[i+1:]
		ref = ref[:i]
		if !imageTagRE.MatchString(n.Tag) {
			return bad("invalid tag")
		}
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && imageDomainRE.MatchString(parts[0]) {
		n.Registry = parts[0]
		parts = parts[1:]
	}
	for _, p := range parts {
		if !imagePathComponentRE.MatchString(p) {
			return bad("invalid path component " + strconv.Quote(p))
		}
	}
	n.Name = parts[len(parts)-1]
	n.Prefix = strings.Join(parts[:len(parts)-1], "/")
	return n, nil
}

// Resolve is ImageName.resolveImageName: the image's own registry, else systemRegistry, then prefix, name,
// tag, and the digest when there is one (the engine then runs exactly that image).
func (n ImageName) Resolve(systemRegistry string) string {
	var b strings.Builder
	reg := n.Registry
	if reg == "" {
		reg = systemRegistry
	}
	if reg != "" {
		b.WriteString(reg)
		if !strings.HasSuffix(reg, "/") {
			b.WriteByte('/')
		}
	}
	if n.Prefix != "" {
		b.WriteString(n.Prefix)
		b.WriteByte('/')
	}
	b.WriteString(n.Name)
	if n.Tag != "" {
		b.WriteString(":" + n.Tag)
	}
	if n.Digest != "" {
		b.WriteString("@" + n.Digest)
	}
	return b.String()
}

// String is Resolve("").
func (n ImageName) String() string { return n.Resolve("") }

// Matches is OpenWhisk's ImageName equality: same registry, prefix and name, tags equal with "latest" as default.
func (n ImageName) Matches(o ImageName) bool {
	tag := func(t string) string {
		if t == "" {
			return "latest"
		}
		return t
	}
	return n.Registry == o.Registry && n.Prefix == o.Prefix && n.Name == o.Name && tag(n.Tag) == tag(o.Tag)
}

// ReactiveConfig is a stem cell's reactive prewarming configuration.
type ReactiveConfig struct {
	MinCount  int
	MaxCount  int
	TTL       time.Duration
	Threshold int
	Increment int
}

// StemCell is a prewarm configuration of one runtime kind.
type StemCell struct {
	Kind     string
	Image    string // resolved image
	Count    int    // initialCount (alias "count")
	MemoryMB int
	Reactive *ReactiveConfig // nil when not reactive
}

// RuntimeKind is one manifest entry, resolved.
type RuntimeKind struct {
	Kind            string
	Family          string
	Image           string    // resolved "[registry/][prefix/]name[:tag]"
	ImageName       ImageName // as written in the manifest
	Default         bool
	Deprecated      bool
	Attached        bool // code is stored as an attachment (all current kinds)
	AttachmentName  string
	AttachmentType  string
	SentinelledLogs bool // log collection waits for the two sentinels (default true)
	RequireMain     bool
	StemCells       []StemCell
	Pull            bool // blackbox only: not a native image, docker pull before run
}

// Manifest is the RUNTIMES_MANIFEST: runtime families and native blackbox images.
type Manifest struct {
	Families   map[string][]*RuntimeKind
	Blackboxes []ImageName
	// RuntimesRegistry and UserImagesRegistry are whisk.container-factory.{runtimes,user-images}-registry.url;
	// set them with SetRegistries. LocalImagePrefix (runtimes.local-image-prefix, effective only with
	// bypass-pull-for-local-images) marks blackbox images with that prefix as native.
	RuntimesRegistry   string
	UserImagesRegistry string
	LocalImagePrefix   string

	kinds    map[string]*RuntimeKind
	defaults map[string]string
}

var defaultKindRE = regexp.MustCompile(`^([a-z0-9]+):default$`)

// ParseManifest reads the manifest JSON ("runtimes" and "blackboxes"; other members are ignored) and checks its
// rules: exactly one default per family with several versions, unique kinds, stem cell and reactive ranges.
func ParseManifest(b []byte) (*Manifest, error) {
	o, err := decodeObject(b, "runtimes manifest")
	if err != nil {
		return nil, err
	}
	m := &Manifest{Families: map[string][]*RuntimeKind{}, kinds: map[string]*RuntimeKind{}, defaults: map[string]string{}}
	if ro, ok, err := o.sub("runtimes", false); err != nil {
		return nil, err
	} else if ok {
		for family, raw := range ro.fields {
			if err := m.parseFamily(family, raw); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := o.get("blackboxes"); ok {
		var elems []jsonRaw
		if err := unmarshalArray(v, &elems); err != nil {
			return nil, o.wrongType("blackboxes", "array of image objects", v)
		}
		for i, e := range elems {
			io, err := decodeObject(e, "runtimes manifest.blackboxes["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			img, err := parseManifestImage(io)
			if err != nil {
				return nil, err
			}
			m.Blackboxes = append(m.Blackboxes, img)
		}
	}
	m.SetRegistries("", "")
	return m, nil
}

func invalidManifest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
}

func (m *Manifest) parseFamily(family string, raw jsonRaw) error {
	var elems []jsonRaw
	if err := unmarshalArray(raw, &elems); err != nil {
		return malformed("runtimes manifest", "family %q: want an array", family)
	}
	var defaults []string
	for i, e := range elems {
		o, err := decodeObject(e, fmt.Sprintf("runtimes manifest.runtimes.%s[%d]", family, i))
		if err != nil {
			return err
		}
		rk, err := parseRuntimeKind(o)
		if err != nil {
			return err
		}
		rk.Family = family
		if _, dup := m.kinds[rk.Kind]; dup {
			return invalidManifest("kind %q listed twice", rk.Kind)
		}
		m.kinds[rk.Kind] = rk
		m.Families[family] = append(m.Families[family], rk)
		if rk.Default {
			defaults = append(defaults, rk.Kind)
		}
	}
	switch {
	case len(defaults) == 1:
		m.defaults[family] = defaults[0]
	case len(defaults) == 0 && len(elems) == 1:
		m.defaults[family] = m.Families[family][0].Kind
	case len(defaults) == 0 && len(elems) > 1:
		return invalidManifest("family %q has several versions but no default", family)
	case len(defaults) > 1:
		return invalidManifest("family %q has more than one default: %s", family, strings.Join(defaults, ","))
	}
	return nil
}

func parseManifestImage(o object) (ImageName, error) {
	var n ImageName
	var err error
	if n.Name, err = o.str("name", true); err != nil {
		return n, err
	}
	if n.Prefix, err = o.str("prefix", false); err != nil {
		return n, err
	}
	if n.Tag, err = o.str("tag", false); err != nil {
		return n, err
	}
	if n.Registry, err = o.str("registry", false); err != nil {
		return n, err
	}
	if n.Name == "" {
		return n, malformed(o.what, "empty image name")
	}
	return n, nil
}

func parseRuntimeKind(o object) (*RuntimeKind, error) {
	rk := &RuntimeKind{}
	var err error
	if rk.Kind, err = o.str("kind", true); err != nil {
		return nil, err
	}
	rk.Kind = strings.ToLower(rk.Kind)
	if rk.Kind == "" || rk.Kind == KindBlackbox || rk.Kind == KindSequence {
		return nil, invalidManifest("kind %q cannot be a managed runtime", rk.Kind)
	}
	io, _, err := o.sub("image", true)
	if err != nil {
		return nil, err
	}
	if rk.ImageName, err = parseManifestImage(io); err != nil {
		return nil, err
	}
	if rk.Deprecated, err = o.boolean("deprecated", false, false); err != nil {
		return nil, err
	}
	if rk.Default, err = o.boolean("default", false, false); err != nil {
		return nil, err
	}
	if ao, ok, err := o.sub("attached", false); err != nil {
		return nil, err
	} else if ok {
		rk.Attached = true
		if rk.AttachmentName, err = ao.str("attachmentName", true); err != nil {
			return nil, err
		}
		if rk.AttachmentType, err = ao.str("attachmentType", true); err != nil {
			return nil, err
		}
	}
	if rk.RequireMain, err = o.boolean("requireMain", false, false); err != nil {
		return nil, err
	}
	if rk.SentinelledLogs, err = o.boolean("sentinelledLogs", false, true); err != nil {
		return nil, err
	}
	if v, ok := o.get("stemCells"); ok {
		var elems []jsonRaw
		if err := unmarshalArray(v, &elems); err != nil {
			return nil, o.wrongType("stemCells", "array", v)
		}
		for i, e := range elems {
			so, err := decodeObject(e, fmt.Sprintf("%s.stemCells[%d]", o.what, i))
			if err != nil {
				return nil, err
			}
			sc, err := parseStemCell(so)
			if err != nil {
				return nil, err
			}
			sc.Kind = rk.Kind
			rk.StemCells = append(rk.StemCells, sc)
		}
	}
	return rk, nil
}

func parseStemCell(o object) (StemCell, error) {
	var sc StemCell
	key := "initialCount"
	if !o.has(key) {
		key = "count"
	}
	n, err := o.intField(key, true, 0)
	if err != nil {
		return sc, err
	}
	if n <= 0 {
		return sc, invalidManifest("%s: initialCount must be positive, got %d", o.what, n)
	}
	sc.Count = n
	mem, err := o.str("memory", true)
	if err != nil {
		return sc, err
	}
	bytes, err := ParseByteSize(mem)
	if err != nil {
		return sc, err
	}
	sc.MemoryMB = int(bytes >> 20)
	if sc.MemoryMB <= 0 {
		return sc, invalidManifest("%s: memory %q is below 1 MB", o.what, mem)
	}
	ro, ok, err := o.sub("reactive", false)
	if err != nil || !ok {
		return sc, err
	}
	r := &ReactiveConfig{}
	for _, f := range []struct {
		key string
		dst *int
	}{{"minCount", &r.MinCount}, {"maxCount", &r.MaxCount}, {"threshold", &r.Threshold}, {"increment", &r.Increment}} {
		if *f.dst, err = ro.intField(f.key, true, 0); err != nil {
			return sc, err
		}
	}
	ttl, err := ro.str("ttl", true)
	if err != nil {
		return sc, err
	}
	if r.TTL, err = ParseScalaDuration(ttl); err != nil {
		return sc, err
	}
	switch {
	case r.MinCount < 0 || r.MinCount > r.MaxCount:
		return sc, invalidManifest("%s: need 0 <= minCount <= maxCount", ro.what)
	case r.MaxCount <= 0:
		return sc, invalidManifest("%s: maxCount must be positive", ro.what)
	case r.TTL <= 0:
		return sc, invalidManifest("%s: ttl must be positive", ro.what)
	case r.Threshold <= 0:
		return sc, invalidManifest("%s: threshold must be positive", ro.what)
	case r.Increment <= 0 || r.Increment > r.MaxCount:
		return sc, invalidManifest("%s: need 0 < increment <= maxCount", ro.what)
	}
	sc.Reactive = r
	return sc, nil
}

// ParseScalaDuration reads a HOCON/Scala duration such as "2 minutes", "10 s", "50 milliseconds" (or a Go
// duration such as "2m").
func ParseScalaDuration(s string) (time.Duration, error) {
	m := scalaDurationRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
			return d, nil
		}
		return 0, malformed("duration", "%q is not \"<n> <unit>\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, malformed("duration", "%q: %v", s, err)
	}
	unit, ok := scalaUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, malformed("duration", "%q: unknown unit %q", s, m[2])
	}
	if n > int64(1<<63-1)/int64(unit) {
		return 0, malformed("duration", "%q overflows", s)
	}
	return time.Duration(n) * unit, nil
}

var scalaDurationRE = regexp.MustCompile(`^([0-9]+)\s*([A-Za-zµ]+)$`)

var scalaUnits = func() map[string]time.Duration {
	m := map[string]time.Duration{}
	add := func(d time.Duration, names ...string) {
		for _, n := range names {
			m[n] = d
		}
	}
	add(24*time.Hour, "d", "day", "days")
	add(time.Hour, "h", "hr", "hrs", "hour", "hours")
	add(time.Minute, "m", "min", "mins", "minute", "minutes")
	add(time.Second, "s", "sec", "secs", "second", "seconds")
	add(time.Millisecond, "ms", "milli", "millis", "millisecond", "milliseconds")
	add(time.Microsecond, "µs", "us", "micro", "micros", "microsecond", "microseconds")
	add(time.Nanosecond, "ns", "nano", "nanos", "nanosecond", "nanoseconds")
	return m
}()

// SetRegistries sets the runtimes and user-images registries and re-resolves every image name.
func (m *Manifest) SetRegistries(runtimesRegistry, userImagesRegistry string) {
	m.RuntimesRegistry, m.UserImagesRegistry = runtimesRegistry, userImagesRegistry
	for _, rk := range m.kinds {
		rk.Image = rk.ImageName.Resolve(runtimesRegistry)
		for i := range rk.StemCells {
			rk.StemCells[i].Image = rk.Image
		}
	}
}

// Kinds lists every managed kind, sorted.
func (m *Manifest) Kinds() []string {
	out := make([]string, 0, len(m.kinds))
	for k := range m.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefaultKind is the default kind of a family ("" when the family is unknown).
func (m *Manifest) DefaultKind(family string) string { return m.defaults[family] }

// Resolve finds a managed kind; "<family>:default" resolves to the family's default. The result is a copy.
// Errors wrap ErrUnknownKind ("blackbox" included: use ResolveExec for docker actions).
func (m *Manifest) Resolve(kind string) (*RuntimeKind, error) {
	k := strings.ToLower(kind)
	if f := defaultKindRE.FindStringSubmatch(k); f != nil {
		d, ok := m.defaults[f[1]]
		if !ok {
			return nil, fmt.Errorf("%w: %q (no family %q)", ErrUnknownKind, kind, f[1])
		}
		k = d
	}
	rk, ok := m.kinds[k]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	c := *rk
	c.StemCells = append([]StemCell(nil), rk.StemCells...)
	return &c, nil
}

// ResolveExec resolves an action's exec. A managed kind is looked up (requireMain kinds need exec.main, else
// ErrMalformed). A blackbox gets a synthetic entry: Image resolved against the user-images registry,
// SentinelledLogs = native, Pull = !native.
func (m *Manifest) ResolveExec(e *Exec) (*RuntimeKind, error) {
	if e.IsBlackbox() {
		img, err := ParseImageName(e.Image)
		if err != nil {
			return nil, err
		}
		native := m.isNative(img)
		return &RuntimeKind{
			Kind: KindBlackbox, Family: KindBlackbox, Image: img.Resolve(m.UserImagesRegistry), ImageName: img,
			SentinelledLogs: native, Pull: !native,
		}, nil
	}
	rk, err := m.Resolve(e.Kind)
	if err != nil {
		return nil, err
	}
	if rk.RequireMain && e.Main == "" {
		return nil, malformed("exec", "kind %q requires main", rk.Kind)
	}
	return rk, nil
}

// IsBlackboxNative reports whether a blackbox image is one of the manifest's blackboxes (tag default latest) or
// carries the local image prefix: such images are not pulled and write sentinels.
func (m *Manifest) IsBlackboxNative(image string) bool {
	img, err := ParseImageName(image)
	if err != nil {
		return false
	}
	return m.isNative(img)
}

func (m *Manifest) isNative(img ImageName) bool {
	for _, b := range m.Blackboxes {
		if b.Matches(img) {
			return true
		}
	}
	return m.LocalImagePrefix != "" && img.Prefix == m.LocalImagePrefix
}

// StemCells lists every stem cell of the manifest, sorted by kind.
func (m *Manifest) StemCells() []StemCell {
	var out []StemCell
	for _, k := range m.Kinds() {
		out = append(out, m.kinds[k].StemCells...)
	}
	return out
}
