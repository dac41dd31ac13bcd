package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/harvester"
	"github.com/nemo-edge/nemo/invoker/app"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/filestore"
	"github.com/nemo-edge/nemo/invoker/fpc"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/server"
	"github.com/nemo-edge/nemo/invoker/store"
	"github.com/nemo-edge/nemo/pool/docker"
)

// runInvoker is `nemo invoker`: OpenWhisk's /init.sh grammar (--id N, --uniqueName, --displayedName)
// plus --config, with the deployment's environment variables (PORT, KAFKA_HOSTS, RUNTIMES_MANIFEST,
// CONFIG_whisk_*). It runs until SIGTERM or SIGINT. fs gets config's flags, for the usage text only:
// config.Load parses args with the same declarations.
func runInvoker(fs *flag.FlagSet, args []string) error {
	config.Flags(fs)
	cfg, err := config.LoadEnviron(args, os.Environ())
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	if err := handOff(cfg, args, log); err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		log.Warn().Str("component", "config").Msg(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := restoreNIC(ctx, cfg, log); err != nil {
		return err
	}
	if err := assignID(ctx, cfg, log); err != nil {
		return err
	}

	kcfg := cfg.MessagingConfig()
	if cfg.Kafka.Embedded {
		brokers, stopKafka, err := startEmbeddedKafka()
		if err != nil {
			return err
		}
		defer stopKafka()
		kcfg.Brokers = brokers
		log.Warn().Strs("brokers", kcfg.Brokers).Msg("using an in-process Kafka (demo only; nothing outside this process sees it)")
	}

	var st app.ArtifactStore
	switch cfg.Store.Kind {
	case config.StoreFile:
		fs, err := filestore.New(cfg.Store.Path, log)
		if err != nil {
			return fmt.Errorf("file store: %w", err)
		}
		st = fs
	default:
		cs, err := store.New(cfg.StoreConfig(), log, store.WithRequestTimeout(cfg.Store.CouchDB.RequestTimeout.D()))
		if err != nil {
			return fmt.Errorf("couchdb store: %w", err)
		}
		st = cs
	}

	api, err := docker.NewClient()
	if err != nil {
		return err
	}
	defer api.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = api.Ping(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("docker engine not reachable: %w", err)
	}

	var h *harvester.Manager
	relay := &app.BackoffRelay{}
	if cfg.Harvester.Enabled {
		if h, err = harvester.New(ctx, cfg.HarvesterConfig(), log, harvester.WithBackoff(relay)); err != nil {
			return fmt.Errorf("harvester: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr(), err)
	}
	if ln, err = serveTLS(cfg, ln, log); err != nil {
		return err
	}
	parts := partsFromConfig(cfg, kcfg, st, api, ln, log)
	parts.Harvester, parts.Backoff = h, relay
	return runParts(ctx, cfg, parts)
}

// restoreNIC puts back NIC coalescing that a crashed or killed run left changed (the harvester's state file),
// first thing and whatever harvester.enabled says. With the harvester off a failure is logged, not fatal: the
// invoker does not need the NIC, and the entry stays for the next start.
func restoreNIC(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := harvester.RestoreLeftovers(rctx, cfg.HarvesterConfig(), log)
	switch {
	case err == nil:
		return nil
	case cfg.Harvester.Enabled:
		return fmt.Errorf("harvester: %w", err)
	}
	log.Error().Str("component", "harvester").Err(err).
		Msg("cannot restore NIC settings left behind by a previous run; harvesting is off, so starting anyway")
	return nil
}

// partsFromConfig builds the invoker's parts from its configuration; the caller adds the harvester and
// the start-up hooks it needs.
func partsFromConfig(cfg *config.Config, kcfg messaging.Config, st app.ArtifactStore, api docker.API,
	ln net.Listener, log zerolog.Logger) app.Parts {
	srvCfg := server.Config{Username: cfg.Invoker.Username, Password: cfg.Invoker.Password,
		MaxConnections: cfg.Invoker.MaxConnections, ProtectMetrics: cfg.Invoker.ProtectMetrics,
		CORS: cfg.FPC().Server == fpc.FPCServer}
	return app.Parts{
		Instance:     cfg.InstanceID(),
		Manifest:     cfg.Manifest,
		Kafka:        kcfg,
		Store:        st,
		Backend:      docker.New(api, cfg.DockerConfig(), log),
		Pool:         cfg.PoolConfig(),
		CPUSetFor:    cfg.EdgeFunctionCPUSet,
		Scheduler:    cfg.SchedulerConfig(),
		PlainPool:    !cfg.Scheduler.Enabled,
		Capacity:     cfg.MaxPeek(),
		UserEvents:   cfg.Kafka.UserEvents,
		ParameterKey: cfg.ParameterKey(),
		Limits:       cfg.ActionLimits(),
		StoreTimeout: cfg.Store.CouchDB.RequestTimeout.D(),
		KamonTags:    cfg.Invoker.KamonTags,
		Listener:     ln,
		NewServer: func(sw app.Switch, reg *metrics.Registry) app.HTTPServer {
			return server.New(srvCfg, sw, reg, log)
		},
		Log: log,
	}
}

func newLogger(cfg *config.Config) (zerolog.Logger, func(), error) {
	var out io.Writer = os.Stdout
	closeFn := func() {}
	if cfg.Invoker.LogPath != "" {
		f, err := os.OpenFile(cfg.Invoker.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return zerolog.Logger{}, nil, fmt.Errorf("log file: %w", err)
		}
		out, closeFn = f, func() { _ = f.Close() }
	}
	level, err := zerolog.ParseLevel(cfg.Invoker.LogLevel)
	if err != nil || cfg.Invoker.LogLevel == "" {
		level = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), closeFn, nil
}
