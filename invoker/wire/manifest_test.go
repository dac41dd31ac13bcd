package wire

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func manifestWith(families string) []byte {
	return []byte(`{"runtimes":{` + families + `},"blackboxes":[{"prefix":"openwhisk","name":"dockerskeleton","tag":"nightly"}]}`)
}

const nodeEntry = `{"kind":"nodejs:20","default":true,"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"}}`

func TestParseManifestRules(t *testing.T) {
	cases := []struct {
		name     string
		families string
		want     error
		mention  string
	}{
		{"two defaults", `"nodejs":[` + nodeEntry + `,{"kind":"nodejs:18","default":true,"image":{"name":"n18"}}]`, ErrInvalidManifest, "more than one default"},
		{"no default among several", `"nodejs":[{"kind":"nodejs:20","image":{"name":"a"}},{"kind":"nodejs:18","image":{"name":"b"}}]`, ErrInvalidManifest, "no default"},
		{"duplicate kind", `"nodejs":[` + nodeEntry + `],"node2":[` + nodeEntry + `]`, ErrInvalidManifest, "twice"},
		{"blackbox as managed kind", `"x":[{"kind":"blackbox","image":{"name":"a"}}]`, ErrInvalidManifest, "blackbox"},
		{"missing image", `"x":[{"kind":"x:1"}]`, ErrMalformed, "image"},
		{"image without name", `"x":[{"kind":"x:1","image":{"prefix":"p"}}]`, ErrMalformed, "name"},
		{"family not an array", `"x":{}`, ErrMalformed, "array"},
		{"zero initialCount", `"x":[{"kind":"x:1","image":{"name":"a"},"stemCells":[{"initialCount":0,"memory":"256 MB"}]}]`, ErrInvalidManifest, "initialCount"},
		{"bad memory", `"x":[{"kind":"x:1","image":{"name":"a"},"stemCells":[{"initialCount":1,"memory":"lots"}]}]`, ErrMalformed, "lots"},
		{"memory under 1 MB", `"x":[{"kind":"x:1","image":{"name":"a"},"stemCells":[{"initialCount":1,"memory":"10 KB"}]}]`, ErrInvalidManifest, "below"},
		{"missing memory", `"x":[{"kind":"x:1","image":{"name":"a"},"stemCells":[{"initialCount":1}]}]`, ErrMalformed, "memory"},
		{"reactive min > max", reactive(`"minCount":5,"maxCount":4,"ttl":"2 minutes","threshold":1,"increment":1`), ErrInvalidManifest, "minCount"},
		{"reactive max 0", reactive(`"minCount":0,"maxCount":0,"ttl":"2 minutes","threshold":1,"increment":1`), ErrInvalidManifest, "maxCount"},
		{"reactive threshold 0", reactive(`"minCount":1,"maxCount":4,"ttl":"2 minutes","threshold":0,"increment":1`), ErrInvalidManifest, "threshold"},
		{"reactive increment > max", reactive(`"minCount":1,"maxCount":4,"ttl":"2 minutes","threshold":1,"increment":5`), ErrInvalidManifest, "increment"},
		{"reactive ttl 0", reactive(`"minCount":1,"maxCount":4,"ttl":"0 seconds","threshold":1,"increment":1`), ErrInvalidManifest, "ttl"},
		{"reactive bad ttl", reactive(`"minCount":1,"maxCount":4,"ttl":"soon","threshold":1,"increment":1`), ErrMalformed, "soon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseManifest(manifestWith(c.families))
			if m != nil || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("m=%v err=%v, want %v mentioning %q", m, err, c.want, c.mention)
			}
		})
	}
	for _, bad := range []string{"", "[]", `{"runtimes":[]}`, `{"blackboxes":{}}`} {
		if _, err := ParseManifest([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func reactive(fields string) string {
	return `"x":[{"kind":"x:1","image":{"name":"a"},"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{` + fields + `}}]}]`
}

func TestManifestSingleVersionIsDefaultAndCountAlias(t *testing.T) {
	m, err := ParseManifest(manifestWith(`"go":[{"kind":"go:1.20","image":{"name":"go","tag":"t"},"sentinelledLogs":false,"stemCells":[{"count":3,"memory":"512m"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	rk, err := m.Resolve("go:default")
	if err != nil || rk.Kind != "go:1.20" || rk.SentinelledLogs || rk.Attached {
		t.Fatalf("%+v %v", rk, err)
	}
	if sc := m.StemCells(); len(sc) != 1 || sc[0].Count != 3 || sc[0].MemoryMB != 512 || sc[0].Reactive != nil || sc[0].Image != "go:t" {
		t.Fatalf("stem cells %+v", sc)
	}
	// Resolve returns a copy: changing it does not change the manifest.
	rk.StemCells[0].Count = 99
	if m.StemCells()[0].Count != 3 {
		t.Fatal("Resolve leaked the manifest's entry")
	}
}

func TestManifestResolve(t *testing.T) {
	m := mustManifest(t, readFixture(t, "runtimes.json"))
	for _, kind := range []string{"NODEJS:DEFAULT", "Nodejs:20"} {
		if rk, err := m.Resolve(kind); err != nil || rk.Kind != "nodejs:20" {
			t.Fatalf("%s: %+v %v", kind, rk, err)
		}
	}
	for _, kind := range []string{"cobol:1", "cobol:default", "blackbox", "sequence", ""} {
		if _, err := m.Resolve(kind); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("Resolve(%q) err = %v, want ErrUnknownKind", kind, err)
		}
	}
	if _, err := m.ResolveExec(&Exec{Kind: "java:8"}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("java without main: %v", err)
	}
	if rk, err := m.ResolveExec(&Exec{Kind: "java:8", Main: "Hello"}); err != nil || rk.Kind != "java:8" {
		t.Fatalf("java with main: %+v %v", rk, err)
	}
	native, err := m.ResolveExec(&Exec{Kind: KindBlackbox, Image: "openwhisk/dockerskeleton:nightly"})
	if err != nil || native.Pull || !native.SentinelledLogs {
		t.Fatalf("native blackbox %+v %v", native, err)
	}
	m.SetRegistries("runtimes.example:5000", "users.example")
	user, err := m.ResolveExec(&Exec{Kind: KindBlackbox, Image: "me/img"})
	if err != nil || !user.Pull || user.SentinelledLogs || user.Image != "users.example/me/img" {
		t.Fatalf("user blackbox %+v %v", user, err)
	}
	own, _ := m.ResolveExec(&Exec{Kind: KindBlackbox, Image: "my.registry:443/me/img:1"})
	if own.Image != "my.registry:443/me/img:1" {
		t.Fatalf("an image's own registry must win: %s", own.Image)
	}
	// A blackbox pinned by digest runs that digest, not whatever its tag points to.
	digest := "sha256:" + strings.Repeat("5e", 32)
	pinned, err := m.ResolveExec(&Exec{Kind: KindBlackbox, Image: "me/img:1@" + digest})
	if err != nil || pinned.Image != "users.example/me/img:1@"+digest {
		t.Fatalf("pinned blackbox: %+v %v", pinned, err)
	}
	if m.DefaultKind("python") != "python:3.10" || m.DefaultKind("cobol") != "" {
		t.Fatal("DefaultKind")
	}
}

func TestBlackboxNativity(t *testing.T) {
	m := mustManifest(t, manifestWith(`"nodejs":[`+nodeEntry+`]`))
	for image, want := range map[string]bool{
		"openwhisk/dockerskeleton:nightly":           true,
		"openwhisk/dockerskeleton:latest":            false,
		"openwhisk/dockerskeleton":                   false,
		"other/dockerskeleton:nightly":               false,
		"docker.io/openwhisk/dockerskeleton:nightly": false, // registry is part of equality
		"not an image":                               false,
	} {
		if got := m.IsBlackboxNative(image); got != want {
			t.Errorf("IsBlackboxNative(%q) = %v, want %v", image, got, want)
		}
	}
	latest := mustManifest(t, []byte(`{"blackboxes":[{"prefix":"openwhisk","name":"skel"}]}`))
	if !latest.IsBlackboxNative("openwhisk/skel:latest") || !latest.IsBlackboxNative("openwhisk/skel") {
		t.Fatal("untagged blackbox must match tag latest")
	}
	latest.LocalImagePrefix = "local"
	if !latest.IsBlackboxNative("local/anything:1") || latest.IsBlackboxNative("remote/anything:1") {
		t.Fatal("local image prefix")
	}
}

func TestParseImageName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ImageName
	}{
		{"nodejs", ImageName{Name: "nodejs"}},
		{"openwhisk/action-nodejs-v20:nightly", ImageName{Prefix: "openwhisk", Name: "action-nodejs-v20", Tag: "nightly"}},
		{"docker-custom.com/openwhisk-runtime/magic/nodejs:0.0.1", ImageName{Registry: "docker-custom.com", Prefix: "openwhisk-runtime/magic", Name: "nodejs", Tag: "0.0.1"}},
		{"localhost:5000/img", ImageName{Registry: "localhost:5000", Name: "img"}},
		{"localhost/img", ImageName{Prefix: "localhost", Name: "img"}},
		{"a/b@sha256:" + strings.Repeat("0123456789abcdef", 4), ImageName{Prefix: "a", Name: "b", Digest: "sha256:" + strings.Repeat("0123456789abcdef", 4)}},
		{"a/b:1.0@sha512:" + strings.Repeat("ab", 64), ImageName{Prefix: "a", Name: "b", Tag: "1.0", Digest: "sha512:" + strings.Repeat("ab", 64)}},
		{"my_img.v2__x-y", ImageName{Name: "my_img.v2__x-y"}},
	} {
		got, err := ParseImageName(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseImageName(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", ":", "Upper/case", "a//b", "a/b:", "a/b:-tag", "/a", "a/", "a b",
		"a/b@sha256:0123456789abcdef0123456789abcdef", "a/b@sha256:" + strings.Repeat("G", 64), "a/b@", "a/b@latest"} {
		if _, err := ParseImageName(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseImageName(%q) err = %v", bad, err)
		}
	}
	n := ImageName{Prefix: "p", Name: "n", Tag: "t"}
	if n.Resolve("") != "p/n:t" || n.Resolve("reg") != "reg/p/n:t" || n.Resolve("reg/") != "reg/p/n:t" {
		t.Fatal("Resolve")
	}
	pinned := ImageName{Prefix: "p", Name: "n", Tag: "t", Digest: "sha256:" + strings.Repeat("a", 64)}
	if pinned.Resolve("reg") != "reg/p/n:t@sha256:"+strings.Repeat("a", 64) || !pinned.Matches(n) {
		t.Fatal("a digest is kept by Resolve and ignored by Matches")
	}
	if !(ImageName{Name: "n"}).Matches(ImageName{Name: "n", Tag: "latest"}) || (ImageName{Name: "n"}).Matches(ImageName{Name: "n", Tag: "1"}) {
		t.Fatal("Matches tag default")
	}
}

func TestParseScalaDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2 minutes": 2 * time.Minute, "10 seconds": 10 * time.Second, "50 milliseconds": 50 * time.Millisecond,
		"1 hour": time.Hour, "3d": 72 * time.Hour, "10s": 10 * time.Second, "5 min": 5 * time.Minute, "1m30s": 90 * time.Second,
	} {
		if got, err := ParseScalaDuration(in); err != nil || got != want {
			t.Errorf("%q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "2 fortnights", "-1 s", "99999999999999999999 days"} {
		if _, err := ParseScalaDuration(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
