package main

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/config"
)

// serveTLS wraps the invoker's listener in TLS when the configuration says https (ansible's invoker role:
// CONFIG_whisk_invoker_protocol=https with a PKCS#12 key store and client authentication). The HTTP server
// then serves the same routes over it.
func serveTLS(cfg *config.Config, ln net.Listener, log zerolog.Logger) (net.Listener, error) {
	tc, err := cfg.ServerTLS()
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: invoker.https: %v", config.ErrInvalid, err)
	}
	if tc == nil {
		return ln, nil
	}
	log.Info().Str("component", "server").Bool("clientAuth", cfg.Invoker.HTTPS.ClientAuth).
		Str("keystore", cfg.Invoker.HTTPS.KeystorePath).Msg("serving HTTPS")
	return tls.NewListener(ln, tc), nil
}
