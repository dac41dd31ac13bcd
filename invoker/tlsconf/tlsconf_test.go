package tlsconf

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The stores are written by the JDK's keytool and openssl, as ansible's genssl.sh writes OpenWhisk's:
// a self-signed invoker certificate in a PKCS#12 store, and a Kafka JKS store holding a key whose
// certificate a CA signed plus that CA as a trusted entry.

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: openjdk-17-jre-headless, openssl)", tool)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
}

// invokerP12 is genssl.sh "openwhisk-invokers" server: a self-signed certificate and its key in PKCS#12.
func invokerP12(t *testing.T, dir, cn string) string {
	run(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cn+"-key.pem", "-out", cn+"-cert.pem",
		"-days", "2", "-subj", "/C=US/ST=NY/L=Yorktown/O=OpenWhisk/CN="+cn)
	run(t, dir, "openssl", "pkcs12", "-export", "-name", cn, "-passout", "pass:openwhisk",
		"-in", cn+"-cert.pem", "-inkey", cn+"-key.pem", "-out", cn+"-keystore.p12")
	return filepath.Join(dir, cn+"-keystore.p12")
}

// kafkaJKS is genssl.sh "openwhisk-kafka" server_with_JKS_keystore, with -storetype JKS spelled out (Java
// 17's keytool would otherwise write PKCS#12 into the .jks file: see TestKeytoolDefaultStoreIsPKCS12).
func kafkaJKS(t *testing.T, dir, storetype string) string {
	name := "kafka-" + storetype + ".jks"
	run(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
		"-days", "2", "-subj", "/CN=openwhisk-kafka-ca")
	st := []string{}
	if storetype != "" {
		st = []string{"-storetype", storetype}
	}
	run(t, dir, "keytool", append([]string{"-genkeypair", "-alias", "openwhisk-kafka", "-dname", "CN=openwhisk-kafka",
		"-keystore", name, "-storepass", "openwhisk", "-keypass", "openwhisk", "-keyalg", "RSA", "-validity", "2"}, st...)...)
	run(t, dir, "keytool", "-keystore", name, "-alias", "openwhisk-kafka", "-certreq", "-file", "req.csr", "-storepass", "openwhisk")
	run(t, dir, "openssl", "x509", "-req", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-in", "req.csr",
		"-out", "signed.pem", "-days", "2", "-CAcreateserial")
	run(t, dir, "keytool", "-keystore", name, "-alias", "CARoot", "-import", "-file", "ca-cert.pem", "-storepass", "openwhisk", "-noprompt")
	run(t, dir, "keytool", "-keystore", name, "-alias", "openwhisk-kafka", "-import", "-file", "signed.pem", "-storepass", "openwhisk", "-noprompt")
	return filepath.Join(dir, name)
}

// fixtures are the stores, generated once for the package's tests (keytool starts a JVM each time).
type storeFiles struct {
	once                              sync.Once
	dir, invoker, stranger, jks, p12k string
}

var fixtures storeFiles

func stores(t *testing.T) *storeFiles {
	t.Helper()
	need(t, "openssl", "keytool")
	fixtures.once.Do(func() {
		dir, err := os.MkdirTemp("", "tlsconf-test-")
		require.NoError(t, err)
		fixtures.dir = dir
		fixtures.invoker = invokerP12(t, dir, "openwhisk-invokers")
		fixtures.stranger = invokerP12(t, dir, "stranger")
		fixtures.jks = kafkaJKS(t, dir, "JKS")
		fixtures.p12k = kafkaJKS(t, dir, "")
	})
	require.NotEmpty(t, fixtures.p12k, "fixtures failed earlier")
	return &fixtures
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		_ = os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

func TestPKCS12AsAnsibleGeneratesIt(t *testing.T) {
	ks, err := Load(stores(t).invoker, "openwhisk", "PKCS12", "")
	require.NoError(t, err)
	require.NotNil(t, ks.Certificate)
	assert.Equal(t, "openwhisk-invokers", ks.Certificate.Leaf.Subject.CommonName)
	assert.Len(t, ks.Trusted, 1)
	assert.Equal(t, `key for "openwhisk-invokers", 1 trusted certificate(s)`, ks.Describe())
}

func TestJKSWithASignedKeyAndItsCA(t *testing.T) {
	ks, err := Load(stores(t).jks, "openwhisk", "JKS", "")
	require.NoError(t, err)
	require.NotNil(t, ks.Certificate)
	assert.Equal(t, "openwhisk-kafka", ks.Certificate.Leaf.Subject.CommonName)
	assert.Len(t, ks.Certificate.Certificate, 2, "leaf and CA")
	var cns []string
	for _, c := range ks.Trusted {
		cns = append(cns, c.Subject.CommonName)
	}
	assert.Contains(t, cns, "openwhisk-kafka-ca")
}

// Java 17's keytool writes PKCS#12 unless told otherwise, whatever the file is called; Java reads it as
// "JKS" all the same, and so does Load.
func TestKeytoolDefaultStoreIsPKCS12(t *testing.T) {
	path := stores(t).p12k
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, byte(0x30), raw[0], "keytool wrote PKCS#12")
	ks, err := Load(path, "openwhisk", "JKS", "")
	require.NoError(t, err)
	require.NotNil(t, ks.Certificate)
	assert.Equal(t, "openwhisk-kafka", ks.Certificate.Leaf.Subject.CommonName)
	assert.Len(t, ks.Trusted, 2, "the key's certificate and the CA")
}

func TestLoadErrors(t *testing.T) {
	f := stores(t)
	dir := t.TempDir()
	p12, jks := f.invoker, f.jks
	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, []byte("not a store"), 0o600))
	run(t, dir, "keytool", "-genseckey", "-alias", "s", "-keyalg", "AES", "-keysize", "128", "-storetype", "JCEKS",
		"-keystore", "s.jceks", "-storepass", "openwhisk", "-keypass", "openwhisk")
	for name, tc := range map[string]struct{ path, pass, msg string }{
		"missing file":        {filepath.Join(dir, "nope.p12"), "openwhisk", "no such file"},
		"PKCS#12 password":    {p12, "wrong", "PKCS#12"},
		"JKS password":        {jks, "wrong", "JKS"},
		"neither format":      {junk, "openwhisk", "neither PKCS#12 nor JKS"},
		"JCEKS not supported": {filepath.Join(dir, "s.jceks"), "openwhisk", "JCEKS stores are not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.path, tc.pass, "", "")
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrStore), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// handshake runs a TLS handshake between a server and a client config over a pipe.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err == nil {
			_, err = io.WriteString(s, "x")
		}
		_ = s.Close()
		done <- err
	}()
	c := tls.Client(b, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		buf := make([]byte, 1)
		_, clientErr = io.ReadFull(c, buf)
	}
	_ = c.Close()
	return <-done, clientErr
}

// OpenWhisk's rule: the invoker's key store is its own trust store, so a client holding the invoker's
// key and certificate (ansible's /ping poll) gets in, a client without a certificate or with a stranger's
// does not.
func TestServerClientAuthAsOpenWhisk(t *testing.T) {
	f := stores(t)
	inv, err := Load(f.invoker, "openwhisk", "PKCS12", "")
	require.NoError(t, err)
	stranger, err := Load(f.stranger, "openwhisk", "PKCS12", "")
	require.NoError(t, err)
	srv, err := Server(inv, true)
	require.NoError(t, err)

	client := func(key *Store) *tls.Config {
		c, err := Client(inv, key, false)
		require.NoError(t, err)
		return c
	}
	serr, cerr := handshake(t, srv, client(inv))
	require.NoError(t, serr)
	require.NoError(t, cerr)

	serr, _ = handshake(t, srv, client(nil))
	require.Error(t, serr, "no client certificate")
	serr, _ = handshake(t, srv, client(stranger))
	require.Error(t, serr, "a certificate the key store does not trust")

	open, err := Server(inv, false)
	require.NoError(t, err)
	serr, cerr = handshake(t, open, client(nil))
	require.NoError(t, serr, "clientAuth false: no certificate needed")
	require.NoError(t, cerr)
}

// A Kafka client checks the broker's chain always and its name only with verifyHostname.
func TestClientVerifiesChainAndOptionallyTheName(t *testing.T) {
	f := stores(t)
	broker, err := Load(f.jks, "openwhisk", "JKS", "")
	require.NoError(t, err)
	srv, err := Server(broker, false)
	require.NoError(t, err)

	c, err := Client(broker, nil, false)
	require.NoError(t, err)
	c.ServerName = "127.0.0.1"
	_, cerr := handshake(t, srv, c)
	require.NoError(t, cerr, "the chain is trusted; the name is not checked")

	c, err = Client(broker, nil, true)
	require.NoError(t, err)
	c.ServerName = "127.0.0.1"
	_, cerr = handshake(t, srv, c)
	require.Error(t, cerr, "CN=openwhisk-kafka is not 127.0.0.1")

	other, err := Load(f.stranger, "openwhisk", "", "")
	require.NoError(t, err)
	c, err = Client(other, nil, false)
	require.NoError(t, err)
	_, cerr = handshake(t, srv, c)
	require.Error(t, cerr, "a chain the trust store does not know")
}
