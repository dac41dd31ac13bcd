package itest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Test equipment for the TLS deployments (ansible's defaults): key stores generated the way ansible's
// genssl.sh generates OpenWhisk's, and a Kafka broker of the test's own with SSL and SASL_SSL listeners.

// StorePassword is the password of every store made here (ansible's default, "openwhisk").
const StorePassword = "openwhisk"

func runTool(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
}

// NeedTools skips the test unless the named programs are installed.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// InvokerKeystore writes what genssl.sh "<cn>" server writes for ansible's invoker role: a self-signed
// certificate and its key (PEM), and both in a PKCS#12 store. It returns the three paths.
func InvokerKeystore(t testing.TB, dir, cn string) (p12, cert, key string) {
	t.Helper()
	runTool(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cn+"-key.pem", "-out", cn+"-cert.pem",
		"-days", "2", "-subj", "/C=US/ST=NY/L=Yorktown/O=OpenWhisk/CN="+cn)
	runTool(t, dir, "openssl", "pkcs12", "-export", "-name", cn, "-passout", "pass:"+StorePassword,
		"-in", cn+"-cert.pem", "-inkey", cn+"-key.pem", "-out", cn+"-keystore.p12")
	return filepath.Join(dir, cn+"-keystore.p12"), filepath.Join(dir, cn+"-cert.pem"), filepath.Join(dir, cn+"-key.pem")
}

// KafkaKeystore writes what genssl.sh "openwhisk-kafka" server_with_JKS_keystore writes for ansible's Kafka
// role: a JKS store with a key whose certificate a self-signed CA signed, and that CA as trusted entry
// "CARoot". Broker and clients use it as key store and trust store alike.
func KafkaKeystore(t testing.TB, dir string) string {
	t.Helper()
	const jks = "kafka-keystore.jks"
	runTool(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "kafka-ca-key.pem",
		"-out", "kafka-ca-cert.pem", "-days", "2", "-subj", "/C=US/ST=NY/L=Yorktown/O=OpenWhisk/CN=openwhisk-kafka")
	runTool(t, dir, "keytool", "-genkeypair", "-alias", "openwhisk-kafka", "-dname", "C=US,ST=NY,L=Yorktown,O=OpenWhisk,CN=openwhisk-kafka",
		"-keystore", jks, "-storetype", "JKS", "-storepass", StorePassword, "-keypass", StorePassword, "-keyalg", "RSA", "-validity", "2")
	runTool(t, dir, "keytool", "-keystore", jks, "-alias", "openwhisk-kafka", "-certreq", "-file", "kafka.csr", "-storepass", StorePassword)
	runTool(t, dir, "openssl", "x509", "-req", "-CA", "kafka-ca-cert.pem", "-CAkey", "kafka-ca-key.pem", "-in", "kafka.csr",
		"-out", "kafka-signed.pem", "-days", "2", "-CAcreateserial")
	runTool(t, dir, "keytool", "-keystore", jks, "-alias", "CARoot", "-import", "-file", "kafka-ca-cert.pem",
		"-storepass", StorePassword, "-noprompt")
	runTool(t, dir, "keytool", "-keystore", jks, "-alias", "openwhisk-kafka", "-import", "-file", "kafka-signed.pem",
		"-storepass", StorePassword, "-noprompt")
	return filepath.Join(dir, jks)
}

// ServerCert makes a CA and a certificate it signs for 127.0.0.1 (an HTTPS front of the test's own); it
// writes the CA to caPath (PEM) and returns the server's certificate and key in PEM.
func ServerCert(t testing.TB, caPath string) (certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nemo-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TLSKafka is a KRaft broker of the test's own: SSL (client certificate required, ansible's
// client_authentication) and SASL_SSL (PLAIN and SCRAM-SHA-256 users) listeners on free loopback ports.
type TLSKafka struct {
	SSL, SASLSSL string // host:port of each listener
	Keystore     string // the JKS store it serves with and trusts
	SASLUser     string
	SASLPassword string
}

// StartTLSKafka starts the broker from the jars in $NEMO_KAFKA_LIBS (scripts/services.sh env) and stops it
// at the end of the test. It skips the test when the jars or java are missing.
func StartTLSKafka(t testing.TB, dir string) TLSKafka {
	t.Helper()
	libs := os.Getenv("NEMO_KAFKA_LIBS")
	if libs == "" {
		t.Skip("NEMO_KAFKA_LIBS is not set (eval \"$(scripts/services.sh env)\")")
	}
	NeedTools(t, "java", "keytool", "openssl")
	k := TLSKafka{Keystore: KafkaKeystore(t, dir), SASLUser: "nemo", SASLPassword: "nemo-secret"}
	sslPort, saslPort, ctlPort, intPort := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	k.SSL, k.SASLSSL = "127.0.0.1:"+strconv.Itoa(sslPort), "127.0.0.1:"+strconv.Itoa(saslPort)
	data := filepath.Join(dir, "kafka-data")
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[3]d
listeners=SSL://127.0.0.1:%[1]d,SASL_SSL://127.0.0.1:%[2]d,CONTROLLER://127.0.0.1:%[3]d,INTERNAL://127.0.0.1:%[4]d
advertised.listeners=SSL://127.0.0.1:%[1]d,SASL_SSL://127.0.0.1:%[2]d,INTERNAL://127.0.0.1:%[4]d
listener.security.protocol.map=SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
ssl.keystore.location=%[5]s
ssl.keystore.password=%[6]s
ssl.key.password=%[6]s
ssl.truststore.location=%[5]s
ssl.truststore.password=%[6]s
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_%[7]s="%[8]s";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=%[9]s
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
`, sslPort, saslPort, ctlPort, intPort, k.Keystore, StorePassword, k.SASLUser, k.SASLPassword, data)
	cfg := filepath.Join(dir, "kafka-tls.properties")
	require.NoError(t, os.WriteFile(cfg, []byte(props), 0o600))
	l4j := filepath.Join(dir, "log4j.properties")
	require.NoError(t, os.WriteFile(l4j, []byte("log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"+
		"log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"), 0o644))
	cp := filepath.Join(libs, "*")
	jopts := []string{"-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-Dlog4j.configuration=file:" + l4j}
	runTool(t, dir, "java", append(jopts, "-cp", cp, "kafka.tools.StorageTool", "format", "-t", "nemo-tls-test-cluster0",
		"-c", cfg, "--add-scram", fmt.Sprintf("SCRAM-SHA-256=[name=%s,password=%s]", k.SASLUser, k.SASLPassword))...)
	p := Spawn(t, ProcSpec{Name: "kafka-tls", Bin: "java", Args: append(jopts, "-cp", cp, "kafka.Kafka", cfg),
		LogPath: LogFile(dir, "kafka-tls.log")})
	t.Cleanup(func() { _ = p.Terminate(30 * time.Second) })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", k.SSL, time.Second); err == nil {
			_ = c.Close()
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("TLS Kafka broker did not listen on %s: %s\n%s", k.SSL, p.Describe(), Tail(p.LogPath, 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return k
}
