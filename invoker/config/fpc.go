package config

import "github.com/nemo-edge/nemo/invoker/fpc"

// applyFPC reads the new scheduler's settings (fpc.Load: the invoker and server SPIs, CONFIG_whisk_etcd_*,
// the cluster name, max-peek and the pool timings); refuseFPC has already refused bad values.
func (c *Config) applyFPC(src owSource) error {
	fc, err := fpc.Load(src.overlay())
	if err != nil {
		field, msg := fpcErrorField(err)
		return invalidCause(field, err, "%s", msg)
	}
	c.fpc = fc
	return nil
}

// FPC is the scheduler protocol's configuration: Mode says classic (the default) or FPC.
func (c *Config) FPC() fpc.Config {
	if c.fpc.ClusterName == "" {
		return fpc.Defaults()
	}
	return c.fpc
}
