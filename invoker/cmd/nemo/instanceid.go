package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/instanceid"
)

// assignID asks ZooKeeper for the invoker id when the command line left it to ZooKeeper (--uniqueName
// without --id, as Helm's DaemonSet starts invokers), within invoker.zookeeperTimeout. A refusal
// (an --overwriteId beyond the number of invokers, ZooKeeper denying access) is a configuration error
// (exit status 2); anything else exits 1: ZooKeeper unreachable (worth retrying), or a znode that does
// not hold what OpenWhisk writes (the message names it for an operator to fix).
func assignID(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	req, ok := cfg.PendingID()
	if !ok {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, cfg.Invoker.ZooKeeperTimeout.D())
	defer cancel()
	d, err := instanceid.New(req.Hosts, log).Assign(actx, req.UniqueName, req.OverwriteID)
	if errors.Is(err, instanceid.ErrRefused) {
		field := "--uniqueName"
		if req.OverwriteID != nil {
			field = "--overwriteId"
		}
		return &config.Error{Field: field, Msg: fmt.Sprintf("ZooKeeper %s: %v", req.Hosts, err), Err: err}
	}
	if err != nil {
		return fmt.Errorf("invoker id for --uniqueName %q from ZooKeeper %s: %w", req.UniqueName, req.Hosts, err)
	}
	return cfg.SetID(d.ID)
}
