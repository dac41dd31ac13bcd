//go:build integration

package integration

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/tlsconf"
)

// TestAnsibleTLS runs the nemo binary as ansible's invoker role does at its HEAD defaults, with the
// security the role can switch on: HTTPS with client-certificate authentication from the role's PKCS#12
// store, Kafka over SSL with the Kafka role's JKS store (then over SASL_SSL with SCRAM), CouchDB over https
// trusting a CA given by SSL_CERT_FILE, the log level from CONFIG_logback_log_level and the encoded HOCON
// file. The broker (SSL and SASL_SSL listeners) and the HTTPS front of pouchdb-server are the test's own,
// on ports of their own; the certificates are generated as the role's genssl.sh generates them.
func TestAnsibleTLS(t *testing.T) {
	svc := itest.NeedServices(t)
	dir := t.TempDir()
	kafka := itest.StartTLSKafka(t, dir)
	invP12, invCert, invKey := itest.InvokerKeystore(t, dir, "openwhisk-invokers")

	// pouchdb-server behind HTTPS, with a certificate of a CA only SSL_CERT_FILE names.
	caPath := filepath.Join(dir, "couch-ca.pem")
	certPEM, keyPEM := itest.ServerCert(t, caPath)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	plain := *svc.Couch
	plain.User = nil
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(&plain))
	front.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	front.StartTLS()
	t.Cleanup(front.Close)
	couchHTTPS, err := url.Parse(front.URL)
	require.NoError(t, err)
	couchHTTPS.User = svc.Couch.User

	prefix := "it_" + itest.RandomHex(4) + "_"
	st := itest.OpenStore(t, svc.Couch, prefix)
	itest.SeedAction(t, st, "tls-hello", 256, 10)

	// The controller's side speaks SSL with the same store, as ansible's controller role does.
	ks, err := tlsconf.Load(kafka.Keystore, itest.StorePassword, "JKS", "")
	require.NoError(t, err)
	clientTLS, err := tlsconf.Client(ks, ks, false)
	require.NoError(t, err)
	id := 40 + int(time.Now().UnixNano()%50)
	ctl := itest.NewControllerConfig(t, kafka.SSL, id, "0", func(c *sarama.Config) {
		c.Net.TLS.Enable, c.Net.TLS.Config = true, clientTLS
	})
	acks := ctl.ConsumeAcks(t)
	bin := buildNemo(t)
	port := itest.FreePort(t)

	base := itest.InvokerEnv{Kafka: kafka.SSL, Couch: couchHTTPS, DBPrefix: prefix, Port: port}.Environ()
	ansible := []string{
		"OPENWHISK_ENCODED_CONFIG=" + base64.StdEncoding.EncodeToString([]byte("include classpath(\"application.conf\")\n\n# Specify any custom config here.\n")),
		"JAVA_OPTS=-Xmx2g -XX:+CrashOnOutOfMemoryError -XX:+UseGCOverheadLimit -XX:ErrorFile=/logs/java_error.log",
		"CONFIG_whisk_invoker_protocol=https",
		"CONFIG_whisk_invoker_https_keystorePath=" + invP12,
		"CONFIG_whisk_invoker_https_keystorePassword=" + itest.StorePassword,
		"CONFIG_whisk_invoker_https_keystoreFlavor=PKCS12",
		"CONFIG_whisk_invoker_https_clientAuth=true",
		"CONFIG_whisk_invoker_username=ansible.user", "CONFIG_whisk_invoker_password=ansible.pass",
		"CONFIG_whisk_spi_LogStoreProvider=org.apache.openwhisk.core.containerpool.logging.DockerToActivationLogStoreProvider",
		"CONFIG_logback_log_level=DEBUG",
		"SSL_CERT_FILE=" + caPath,
	}
	sslKafka := []string{
		"CONFIG_whisk_kafka_common_securityProtocol=SSL",
		"CONFIG_whisk_kafka_common_sslTruststoreLocation=" + kafka.Keystore,
		"CONFIG_whisk_kafka_common_sslTruststorePassword=" + itest.StorePassword,
		"CONFIG_whisk_kafka_common_sslKeystoreLocation=" + kafka.Keystore,
		"CONFIG_whisk_kafka_common_sslKeystorePassword=" + itest.StorePassword,
	}

	// The role's "wait until Invoker is up": GET https://…/ping with the invoker's key and certificate,
	// without verifying the server (validate_certs: no).
	clientCert, err := tls.LoadX509KeyPair(invCert, invKey)
	require.NoError(t, err)
	ping := func(withCert bool) (int, error) {
		tc := &tls.Config{InsecureSkipVerify: true}
		if withCert {
			tc.Certificates = []tls.Certificate{clientCert}
		}
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(port) + "/ping")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	run := func(t *testing.T, name string, env []string) {
		logPath := itest.LogFile(t.TempDir(), "nemo-"+name+".log")
		p := itest.Spawn(t, itest.ProcSpec{Name: "nemo " + name, Bin: bin,
			Args: []string{"invoker", "--id", strconv.Itoa(id), "--uniqueName", strconv.Itoa(id)},
			Env:  append(append([]string(nil), base...), env...), LogPath: logPath})
		defer func() {
			require.NoError(t, p.Terminate(90*time.Second))
			for _, c := range mustContainers(t, id) {
				t.Errorf("container %s left behind", c)
			}
		}()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			code, err := ping(true)
			if err == nil && code == http.StatusOK {
				break
			}
			if p.Exited() || time.Now().After(deadline) {
				t.Fatalf("no pong over HTTPS with the client certificate (%v, %d): %s\n%s", err, code, p.Describe(), itest.Tail(logPath, 40))
			}
			time.Sleep(300 * time.Millisecond)
		}
		_, err := ping(false)
		require.Error(t, err, "clientAuth=true: a client without a certificate must not get in")

		aid := itest.RandomHex(16)
		msg, err := itest.Activation{Action: "tls-hello", AID: aid, TransID: itest.TransID(itest.RandomHex(16)),
			Blocking: true, Controller: "0", Content: map[string]any{"name": name}}.Marshal()
		require.NoError(t, err)
		ctl.Produce(t, msg)
		if !acks.WaitFor(2*time.Minute, func(all []itest.Ack) bool {
			for _, a := range all { // not acks.ForID: WaitFor holds the log while cond runs
				if a.AID == aid && a.SlotFree() {
					return true
				}
			}
			return false
		}) {
			t.Fatalf("no ack for %s over %s: %s\n%s", aid, name, p.Describe(), itest.Tail(logPath, 40))
		}
		var resp struct {
			Response struct {
				StatusCode int `json:"statusCode"`
			} `json:"response"`
		}
		for _, a := range acks.ForID(aid) {
			if raw, ok := a.Fields["response"]; ok && len(raw) > 0 && raw[0] == '{' {
				require.NoError(t, json.Unmarshal(raw, &resp))
			}
		}
		require.Zero(t, resp.Response.StatusCode, "the activation ran: its record came back through the HTTPS store")
		log, err := os.ReadFile(logPath)
		require.NoError(t, err)
		require.Contains(t, string(log), `"level":"debug"`, "CONFIG_logback_log_level=DEBUG")
		require.Contains(t, string(log), "serving HTTPS")
	}
	t.Run("SSL", func(t *testing.T) { run(t, "ssl", append(append([]string(nil), ansible...), sslKafka...)) })
	t.Run("SASL_SSL", func(t *testing.T) {
		env := append(append([]string(nil), ansible...),
			"KAFKA_HOSTS="+kafka.SASLSSL,
			"CONFIG_whisk_kafka_common_securityProtocol=SASL_SSL",
			"CONFIG_whisk_kafka_common_sslTruststoreLocation="+kafka.Keystore,
			"CONFIG_whisk_kafka_common_sslTruststorePassword="+itest.StorePassword,
			"CONFIG_whisk_kafka_common_saslMechanism=SCRAM-SHA-256",
			`CONFIG_whisk_kafka_common_saslJaasConfig=org.apache.kafka.common.security.scram.ScramLoginModule required username="`+
				kafka.SASLUser+`" password="`+kafka.SASLPassword+`";`)
		run(t, "sasl", env)
	})
}
