// Command actionproxy serves the OpenWhisk action protocol on OW_LISTEN (default ":8080").
//
// Environment: OW_LISTEN; OW_ACTION_DIR (default /action); OW_LAUNCHER (space-separated command for plain-text
// code, e.g. "python3 /bin/launcher.py"); OW_SOURCE_NAME (default main__.py); OW_DEFAULT_EXEC (action run when
// /init has no code); OW_WAIT_FOR_ACK=1 (wait for {"ok":true} on fd 3 at /init).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nemo-edge/nemo/integration/actionproxy"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "actionproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := envOr("OW_LISTEN", ":8080")
	srv := actionproxy.New(actionproxy.Config{
		Dir:         envOr("OW_ACTION_DIR", "/action"),
		Launcher:    strings.Fields(os.Getenv("OW_LAUNCHER")),
		SourceName:  os.Getenv("OW_SOURCE_NAME"),
		DefaultExec: os.Getenv("OW_DEFAULT_EXEC"),
		WaitForAck:  os.Getenv("OW_WAIT_FOR_ACK") == "1" || os.Getenv("OW_WAIT_FOR_ACK") == "true",
	})
	defer srv.Close()
	hs := &http.Server{Addr: addr, Handler: srv, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
}

func envOr(k, dflt string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return dflt
}
