package messaging

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// PingInterval is how often an enabled invoker pings the controllers (docs/protocol.md#pings). The controller
// marks an invoker offline after 10 s without a ping.
const PingInterval = time.Second

// pingSender is what the Pinger needs from the Producer.
type pingSender interface {
	SendPing(ctx context.Context, ping *wire.PingMessage) error
}

// Pinger sends a ping every interval while enabled. The message comes from a callback so the invoker's
// current identity (user memory, enabled flag) is always used. Send failures are logged and the loop
// goes on: a Kafka outage must not stop the invoker.
type Pinger struct {
	sender   pingSender
	build    func() *wire.PingMessage
	interval time.Duration
	timeout  time.Duration
	log      zerolog.Logger

	// mu serialises sends and guards enabled, so an isEnabled:false ping is never overtaken by a
	// periodic one that started before Disable.
	mu      sync.Mutex
	enabled bool
	kick    chan struct{}
	failing bool

	healthy  func() error // nil: always healthy
	withheld bool
}

// WithholdWhile makes the Pinger skip its periodic pings while check returns an error (say, the container
// engine is unreachable): the controller then takes the invoker offline after 10 s instead of routing
// activations it can only fail. A short outage goes unnoticed. Call it before Run.
func (p *Pinger) WithholdWhile(check func() error) { p.healthy = check }

// NewPinger returns an enabled Pinger; interval 0 means PingInterval. build must return a new message on
// each call (Disable sets IsEnabled=false on the one it gets). Each send is bounded by the interval (at
// least 1 s), so an unreachable Kafka delays a ping by at most that.
func NewPinger(sender pingSender, build func() *wire.PingMessage, interval time.Duration, log zerolog.Logger) *Pinger {
	if interval <= 0 {
		interval = PingInterval
	}
	return &Pinger{
		sender:   sender,
		build:    build,
		interval: interval,
		timeout:  max(interval, time.Second),
		log:      log.With().Str("component", "pinger").Logger(),
		enabled:  true,
		kick:     make(chan struct{}, 1),
	}
}

// Run pings at once and then every interval while enabled, until ctx is done.
func (p *Pinger) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-p.kick:
			t.Reset(p.interval)
		}
	}
}

// Enabled reports whether periodic pings are on.
func (p *Pinger) Enabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enabled
}

// Disable stops the periodic pings and sends one ping with isEnabled:false (so the controller takes the
// invoker offline at once). It returns that send's error; pings stay stopped either way.
func (p *Pinger) Disable(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enabled = false
	ping := p.build()
	ping.IsEnabled = false
	sctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.sender.SendPing(sctx, ping)
	if err != nil {
		p.log.Warn().Err(err).Msg("disable ping failed")
	}
	return err
}

// Enable restarts the periodic pings; the first goes out at once.
func (p *Pinger) Enable() {
	p.mu.Lock()
	p.enabled = true
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Pinger) tick(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.enabled || ctx.Err() != nil {
		return
	}
	if p.healthy != nil {
		if err := p.healthy(); err != nil {
			if !p.withheld {
				p.withheld = true
				p.log.Warn().Err(err).Msg("withholding pings until the invoker can serve again")
			}
			return
		}
		if p.withheld {
			p.withheld = false
			p.log.Info().Msg("pinging again: the invoker can serve")
		}
	}
	sctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.sender.SendPing(sctx, p.build())
	switch {
	case err != nil && !p.failing:
		p.failing = true
		p.log.Warn().Err(err).Msg("ping failed; retrying every interval")
	case err != nil:
		p.log.Debug().Err(err).Msg("ping failed")
	case p.failing:
		p.failing = false
		p.log.Info().Msg("pings are getting through again")
	}
}
