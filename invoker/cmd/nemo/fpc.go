//go:build !classiconly

package main

import (
	"context"

	"github.com/nemo-edge/nemo/invoker/app"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/fpc"
)

// runParts runs the invoker in the scheduler protocol the configuration selects: classic (invoker<N>
// carries activations) unless the invoker SPI names OpenWhisk's FPC invoker.
func runParts(ctx context.Context, cfg *config.Config, parts app.Parts) error {
	fc := cfg.FPC()
	if fc.Mode != fpc.FPC {
		return app.Run(ctx, parts)
	}
	return app.RunFPC(ctx, parts, app.FPCParts{Config: fc,
		PauseGrace: parts.Pool.Pool.PauseGrace, IdleContainer: parts.Pool.Pool.IdleTimeout})
}
