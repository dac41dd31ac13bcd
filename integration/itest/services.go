package itest

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// ActionImage is the locally built action image (scripts/build-images.sh) every seeded action runs.
	ActionImage = "nemo/action-go:latest"
	// Namespace is the OpenWhisk namespace (and subject) of every seeded action and activation.
	Namespace = "guest"
	// UserMemory is the invoker's user memory as a deployment sets it (CONFIG_whisk_containerPool_userMemory).
	UserMemory = "2048m"
	// RuntimesManifest maps ActionImage as the go runtime and as a native blackbox (so its logs are
	// sentinelled), without stem cells: every container a test sees is one it caused.
	RuntimesManifest = `{"runtimes":{"go":[{"kind":"go:1.22","default":true,` +
		`"image":{"prefix":"nemo","name":"action-go","tag":"latest"},` +
		`"attached":{"attachmentName":"codefile","attachmentType":"application/octet-stream"}}]},` +
		`"blackboxes":[{"prefix":"nemo","name":"action-go","tag":"latest"}]}`
)

// Services names the shared services of this machine, as the environment gives them.
type Services struct {
	Kafka string   // host:port of the broker
	Couch *url.URL // http://user:pass@127.0.0.1:5984
}

// NeedServices skips the test unless Kafka (NEMO_KAFKA), CouchDB (NEMO_COUCHDB) and Docker (NEMO_DOCKER=1)
// are named in the environment, both addresses are loopback (these tests dial only 127.0.0.1), the CouchDB
// URL carries credentials and ActionImage is built. A malformed NEMO_KAFKA or NEMO_COUCHDB fails the test.
func NeedServices(t testing.TB) Services {
	t.Helper()
	var missing []string
	k := os.Getenv("NEMO_KAFKA")
	if k == "" {
		missing = append(missing, "NEMO_KAFKA (e.g. 127.0.0.1:9092)")
	}
	c := os.Getenv("NEMO_COUCHDB")
	if c == "" {
		missing = append(missing, "NEMO_COUCHDB (e.g. http://nemo:nemo@127.0.0.1:5984)")
	}
	if os.Getenv("NEMO_DOCKER") != "1" {
		missing = append(missing, "NEMO_DOCKER=1")
	}
	if len(missing) > 0 {
		t.Skipf("integration test needs the real services (Kafka, CouchDB, Docker); unset: %s "+
			"(eval \"$(scripts/services.sh env)\")", strings.Join(missing, ", "))
	}
	u, err := url.Parse(c)
	require.NoError(t, err, "NEMO_COUCHDB")
	kh, _, err := net.SplitHostPort(k)
	require.NoError(t, err, "NEMO_KAFKA")
	for _, h := range []string{kh, u.Hostname()} {
		if h != "127.0.0.1" && h != "localhost" {
			t.Skipf("integration tests dial only 127.0.0.1; NEMO_KAFKA/NEMO_COUCHDB name %q", h)
		}
	}
	if u.User == nil {
		t.Skip("NEMO_COUCHDB has no credentials; pouchdb-server needs Basic auth on every request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", ActionImage).Run(); err != nil {
		t.Skipf("image %s is not built (scripts/build-images.sh builds it): %v", ActionImage, err)
	}
	return Services{Kafka: k, Couch: u}
}

// CleanEnviron is this process's environment minus everything that would configure an invoker behind the
// test's back (CONFIG_*, NEMO_*, WHISK_*, OPENWHISK_*, KAFKA_HOSTS, PORT, RUNTIMES_MANIFEST, DB_PREFIX).
func CleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "CONFIG_"), strings.HasPrefix(k, "NEMO_"), strings.HasPrefix(k, "WHISK_"),
			strings.HasPrefix(k, "OPENWHISK_"), k == "KAFKA_HOSTS", k == "PORT", k == "RUNTIMES_MANIFEST", k == "DB_PREFIX":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// InvokerEnv is what an OpenWhisk deployment tells the invoker container about its services.
type InvokerEnv struct {
	Kafka    string   // broker host:port
	Couch    *url.URL // with credentials
	DBPrefix string   // the databases are DBPrefix + whisks, activations, subjects
	Port     int      // the invoker's HTTP port
}

// Environ is CleanEnviron plus the deployment's variables for e, with RuntimesManifest and UserMemory.
func (e InvokerEnv) Environ() []string {
	pass, _ := e.Couch.User.Password()
	port := e.Couch.Port()
	if port == "" {
		port = "5984"
	}
	return append(CleanEnviron(),
		"KAFKA_HOSTS="+e.Kafka,
		// 3.9 is the broker's level; at ≥ 2.3 the consumer is a static group member, so a restarted
		// invoker gets its partition back at once (with 2.1.0 it waits out the 30 s session timeout).
		"NEMO_KAFKA_VERSION=3.9.0",
		"CONFIG_whisk_couchdb_protocol="+e.Couch.Scheme,
		"CONFIG_whisk_couchdb_host="+e.Couch.Hostname(),
		"CONFIG_whisk_couchdb_port="+port,
		"CONFIG_whisk_couchdb_username="+e.Couch.User.Username(),
		"CONFIG_whisk_couchdb_password="+pass,
		"CONFIG_whisk_couchdb_databases_WhiskEntity="+e.DBPrefix+"whisks",
		"CONFIG_whisk_couchdb_databases_WhiskActivation="+e.DBPrefix+"activations",
		"CONFIG_whisk_couchdb_databases_WhiskAuth="+e.DBPrefix+"subjects",
		"RUNTIMES_MANIFEST="+RuntimesManifest,
		"PORT="+strconv.Itoa(e.Port),
		"CONFIG_whisk_containerPool_userMemory="+UserMemory,
	)
}
