package harvester

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/safchain/ethtool"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
)

// ErrUnsupported is wrapped when a device cannot do what a knob needs (veth
// and lo answer the coalescing ioctls with EOPNOTSUPP). The manager warns once
// and keeps harvesting with the other knobs.
var ErrUnsupported = errors.New("harvester: not supported by device")

// Coalescer is the slice of ethtool the NIC knob needs; *ethtool.Ethtool
// implements it. The ioctls cannot be interrupted, so callers check ctx before.
type Coalescer interface {
	GetCoalesce(iface string) (ethtool.Coalesce, error)
	SetCoalesce(iface string, c ethtool.Coalesce) (ethtool.Coalesce, error)
}

// ShmWriter is the slice of clickshm.Writer the Click knob needs: publish,
// read the Click element's acknowledgement, close.
type ShmWriter interface {
	Publish(clickshm.Settings) error
	Ack() (clickshm.Ack, error)
	Close() error
}

// nicKnob drives rx-usecs of one interface. It captures the original
// coalescing parameters once, persists them to the state file before the first
// change, and restores them when harvesting stops. Not safe for concurrent
// use: the manager serialises switches.
type nicKnob struct {
	iface       string
	eth         Coalescer
	state       *stateFile
	orig        *ethtool.Coalesce
	applied     uint32 // rx-usecs currently set by us; 0 = original in place
	unsupported bool
}

func classify(iface, op string, err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %s %s: %w", ErrUnsupported, op, iface, err)
	}
	return fmt.Errorf("harvester: %s %s: %w", op, iface, err)
}

// apply sets rx-usecs to rx, or restores the original when rx is 0.
func (k *nicKnob) apply(ctx context.Context, rx uint32) error {
	if k.unsupported {
		return fmt.Errorf("%w: coalescing on %s", ErrUnsupported, k.iface)
	}
	if rx == k.applied {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rx == 0 {
		return k.restoreOriginal()
	}
	if k.orig == nil {
		c, err := k.eth.GetCoalesce(k.iface)
		if err != nil {
			err = classify(k.iface, "get coalesce", err)
			k.unsupported = errors.Is(err, ErrUnsupported)
			return err
		}
		// Persist before touching the device: after a crash the next start
		// restores exactly this.
		if err := k.state.save(k.iface, c); err != nil {
			return err
		}
		k.orig = &c
	}
	want := *k.orig
	want.RxCoalesceUsecs = rx
	if _, err := k.eth.SetCoalesce(k.iface, want); err != nil {
		err = classify(k.iface, "set coalesce", err)
		k.unsupported = errors.Is(err, ErrUnsupported)
		return err
	}
	k.applied = rx
	return nil
}

func (k *nicKnob) restoreOriginal() error {
	if k.orig == nil || k.applied == 0 {
		return nil
	}
	if _, err := k.eth.SetCoalesce(k.iface, *k.orig); err != nil {
		return classify(k.iface, "restore coalesce", err)
	}
	k.applied = 0
	return nil
}

// restore puts the original back and forgets it in the state file.
func (k *nicKnob) restore(ctx context.Context) error {
	if k.orig == nil {
		return nil
	}
	if err := k.restoreOriginal(); err != nil {
		return err
	}
	return k.state.remove(k.iface)
}

// clickKnob publishes burst settings to one NF's clickshm segment; the fields
// after primed are guarded by Manager.clickMu.
type clickKnob struct {
	nf     string
	shm    string
	w      ShmWriter
	burst  uint32
	on     bool
	primed bool

	createdAt time.Time
	logged    bool                 // a reader state has been logged
	lastLog   clickshm.ReaderState // the state last logged, so each change is logged once
}

func (k *clickKnob) apply(s Setting) error {
	on := s.Burst > 1
	burst := max(s.Burst, 1)
	if k.primed && on == k.on && burst == k.burst {
		return nil
	}
	if err := k.w.Publish(clickshm.Settings{Enable: on, Burst: burst, RxUsecs: s.RxUsecs}); err != nil {
		return fmt.Errorf("harvester: nf %s: publish burst: %w", k.nf, err)
	}
	k.on, k.burst, k.primed = on, burst, true
	return nil
}
