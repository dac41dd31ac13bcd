package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// ErrStore is wrapped by every error about a key store that cannot be used (unreadable, wrong password,
// unsupported format, no key where one is needed).
var ErrStore = errors.New("tlsconf: key store")

// Store is what one key store holds: at most one key with its certificate chain, and the certificates it
// trusts.
type Store struct {
	// Certificate is the key and its chain, leaf first; nil for a store without a key (a trust store).
	Certificate *tls.Certificate
	// Trusted are every certificate in the store.
	Trusted []*x509.Certificate
}

// Store formats, by their first bytes.
var (
	jksMagic   = []byte{0xfe, 0xed, 0xfe, 0xed}
	jceksMagic = []byte{0xce, 0xce, 0xce, 0xce}
)

// Load reads the key store at path. flavor ("PKCS12", "JKS" or "") is only used in messages: the file's own
// format decides. keyPassword opens a JKS key entry; "" means the store's password (Java's default).
func Load(path, password, flavor, keyPassword string) (*Store, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	s, err := Parse(data, password, keyPassword)
	if err != nil {
		if flavor != "" {
			return nil, fmt.Errorf("%s (%s): %w", path, flavor, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a key store's bytes (see Load).
func Parse(data []byte, password, keyPassword string) (*Store, error) {
	if keyPassword == "" {
		keyPassword = password
	}
	switch {
	case bytes.HasPrefix(data, jksMagic):
		return parseJKS(data, password, keyPassword)
	case bytes.HasPrefix(data, jceksMagic):
		return nil, fmt.Errorf("%w: JCEKS stores are not supported (convert with keytool -importkeystore -deststoretype PKCS12)", ErrStore)
	case len(data) > 0 && data[0] == 0x30: // a DER SEQUENCE: PKCS#12
		return parsePKCS12(data, password)
	}
	return nil, fmt.Errorf("%w: neither PKCS#12 nor JKS", ErrStore)
}

func parsePKCS12(data []byte, password string) (*Store, error) {
	key, cert, others, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		trusted, terr := pkcs12.DecodeTrustStore(data, password)
		if terr == nil {
			return &Store{Trusted: trusted}, nil
		}
		return nil, fmt.Errorf("%w: PKCS#12: %w", ErrStore, err)
	}
	all := append([]*x509.Certificate{cert}, others...)
	c, err := certificate(key, all)
	if err != nil {
		return nil, err
	}
	return &Store{Certificate: c, Trusted: dedupe(all)}, nil
}

func parseJKS(data []byte, password, keyPassword string) (*Store, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, fmt.Errorf("%w: JKS: %w", ErrStore, err)
	}
	s := &Store{}
	for _, alias := range ks.Aliases() {
		switch {
		case ks.IsPrivateKeyEntry(alias):
			e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPassword))
			if err != nil {
				return nil, fmt.Errorf("%w: JKS key entry %q: %w", ErrStore, alias, err)
			}
			if s.Certificate != nil {
				return nil, fmt.Errorf("%w: JKS holds more than one key entry (%q too); keep one", ErrStore, alias)
			}
			key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("%w: JKS key entry %q: %w", ErrStore, alias, err)
			}
			chain, err := parseCerts(e.CertificateChain)
			if err != nil {
				return nil, fmt.Errorf("%w: JKS key entry %q: %w", ErrStore, alias, err)
			}
			if s.Certificate, err = certificate(key, chain); err != nil {
				return nil, err
			}
			s.Trusted = append(s.Trusted, chain...)
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("%w: JKS entry %q: %w", ErrStore, alias, err)
			}
			certs, err := parseCerts([]keystore.Certificate{e.Certificate})
			if err != nil {
				return nil, fmt.Errorf("%w: JKS entry %q: %w", ErrStore, alias, err)
			}
			s.Trusted = append(s.Trusted, certs...)
		}
	}
	s.Trusted = dedupe(s.Trusted)
	if s.Certificate == nil && len(s.Trusted) == 0 {
		return nil, fmt.Errorf("%w: JKS holds no entry", ErrStore)
	}
	return s, nil
}

func parseCerts(in []keystore.Certificate) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, c := range in {
		if c.Type != "X.509" && c.Type != "X509" {
			return nil, fmt.Errorf("certificate type %q is not X.509", c.Type)
		}
		x, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// dedupe drops repeated certificates (a CA in a key entry's chain and again as a trusted entry).
func dedupe(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if !slices.ContainsFunc(out, func(o *x509.Certificate) bool { return o.Equal(c) }) {
			out = append(out, c)
		}
	}
	return out
}

// certificate pairs a key with its leaf (the certificate whose public key is the key's) and puts the leaf
// first.
func certificate(key any, certs []*x509.Certificate) (*tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the key (%T) cannot sign", ErrStore, key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	leaf := -1
	for i, c := range certs {
		if pub, ok := signer.Public().(equaler); ok && pub.Equal(c.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, fmt.Errorf("%w: no certificate in the store matches its private key", ErrStore)
	}
	out := &tls.Certificate{PrivateKey: key, Leaf: certs[leaf]}
	out.Certificate = append(out.Certificate, certs[leaf].Raw)
	for i, c := range certs {
		if i != leaf {
			out.Certificate = append(out.Certificate, c.Raw)
		}
	}
	return out, nil
}

// Pool is a cert pool of the store's certificates.
func (s *Store) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range s.Trusted {
		p.AddCert(c)
	}
	return p
}

// Server is the HTTPS server configuration of OpenWhisk's invoker: the key store's certificate, and, with
// clientAuth, a client certificate required and verified against the same store.
func Server(ks *Store, clientAuth bool) (*tls.Config, error) {
	if ks == nil || ks.Certificate == nil {
		return nil, fmt.Errorf("%w: holds no private key to serve with", ErrStore)
	}
	c := &tls.Config{Certificates: []tls.Certificate{*ks.Certificate}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = ks.Pool()
	}
	return c, nil
}

// Client is a TLS client configuration: trust's certificates as roots (the system's when trust is nil),
// key's certificate presented when a server asks (nil: none), the server's name checked only with
// verifyHostname (the chain always is).
func Client(trust, key *Store, verifyHostname bool) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	var roots *x509.CertPool
	if trust != nil {
		roots = trust.Pool()
	} else {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("tlsconf: system certificates: %w", err)
		}
		roots = sys
	}
	c.RootCAs = roots
	if key != nil {
		if key.Certificate == nil {
			return nil, fmt.Errorf("%w: the key store holds no private key", ErrStore)
		}
		c.Certificates = []tls.Certificate{*key.Certificate}
	}
	if !verifyHostname {
		// Verify the chain as usual, only not the name: crypto/tls offers that through a custom check.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tlsconf: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return c, nil
}

// Describe names a store's content for logs: the key's subject and how many certificates it trusts.
func (s *Store) Describe() string {
	var b strings.Builder
	if s.Certificate != nil && s.Certificate.Leaf != nil {
		fmt.Fprintf(&b, "key for %q, ", s.Certificate.Leaf.Subject.CommonName)
	}
	fmt.Fprintf(&b, "%d trusted certificate(s)", len(s.Trusted))
	return b.String()
}
