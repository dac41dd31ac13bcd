// Package tlsconf turns the key material OpenWhisk deployments hand their components into crypto/tls
// configurations: Java key stores, PKCS#12 (what ansible's invoker role generates and keytool writes by
// default) or JKS (what the Kafka role's keytool commands name), opened with their password.
//
// It follows what OpenWhisk's JVM does with the same files. A server key store is also its trust store
// (OpenWhisk's Https.applyHttpsConfig builds the trust managers from the key store): with client
// authentication on, a client must present a certificate that chains to a certificate in it — ansible's
// invoker role polls /ping with the invoker's own key and certificate. A Kafka client sends the key store's
// certificate and trusts the trust store's certificates; the broker's host name is checked only when
// ssl.endpoint.identification.algorithm is "https" (OpenWhisk sets it to "", Kafka's pre-2.0 behaviour).
// A file's own format wins over the flavor it is said to have, as in Java (keystore.type.compat): keytool
// writes PKCS#12 even into a file named .jks.
//
// Every certificate of a store is trusted — trusted-certificate entries and the certificates of key
// entries alike — which for the stores OpenWhisk generates (a self-signed certificate, or one CA and the
// certificate it signed) is the set Java trusts.
//
// It owns reading stores and building tls.Configs; it reads no configuration and starts nothing: invoker/
// config locates the files, the server and the Kafka client take the tls.Config.
package tlsconf
