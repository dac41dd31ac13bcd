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

// nicKnob drives rx-usecs of one interface. It takes the original coalescing
// parameters from the host's state file, or reads and records them there before
// the first change, and restores them when harvesting stops. Other invokers on
// the host may harvest the same NIC: the host locks (hostlock.go) make the last
// one to stop restore the original and keep the entry while any of them still
// needs it. Not safe for concurrent use: the manager serialises switches.
type nicKnob struct {
	iface       string
	eth         Coalescer
	state       *stateFile
	orig        *ethtool.Coalesce // set while registered as a user of the NIC
	users       *flockFile        // held shared while orig is set
	active      *flockFile        // held shared while applied != 0
	applied     uint32            // rx-usecs currently set by us; 0 = not harvesting
	unsupported bool
}

func classify(iface, op string, err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %s %s: %w", ErrUnsupported, op, iface, err)
	}
	return fmt.Errorf("harvester: %s %s: %w", op, iface, err)
}

// apply sets rx-usecs to rx, or stops harvesting the NIC when rx is 0.
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
		_, err := k.stopHarvesting()
		return err
	}
	if k.orig == nil {
		if err := k.register(ctx); err != nil {
			return err
		}
	}
	if k.applied == 0 {
		if err := k.active.lock(ctx, unix.LOCK_SH); err != nil {
			return err
		}
	}
	want := *k.orig
	want.RxCoalesceUsecs = rx
	if _, err := k.eth.SetCoalesce(k.iface, want); err != nil {
		if k.applied == 0 {
			_ = k.active.unlock()
		}
		err = classify(k.iface, "set coalesce", err)
		k.unsupported = errors.Is(err, ErrUnsupported)
		return err
	}
	k.applied = rx
	return nil
}

// register makes this invoker a user of the NIC: the original comes from the
// state file when another invoker recorded it, else it is read and recorded
// before the first change, so after a crash the next start restores exactly it.
func (k *nicKnob) register(ctx context.Context) error {
	if k.users == nil {
		users, err := openFlock(hostLockPath(k.state.path, k.iface, "users"))
		if err != nil {
			return err
		}
		active, err := openFlock(hostLockPath(k.state.path, k.iface, "active"))
		if err != nil {
			users.close()
			return err
		}
		k.users, k.active = users, active
	}
	if err := k.users.lock(ctx, unix.LOCK_SH); err != nil {
		return err
	}
	orig, err := k.state.originalOrSave(ctx, k.iface, func() (ethtool.Coalesce, error) {
		c, err := k.eth.GetCoalesce(k.iface)
		if err != nil {
			err = classify(k.iface, "get coalesce", err)
			k.unsupported = errors.Is(err, ErrUnsupported)
		}
		return c, err
	})
	if err != nil {
		_ = k.users.unlock()
		return err
	}
	k.orig = &orig
	return nil
}

// stopHarvesting ends this invoker's harvest of the NIC and restores the
// original when no other invoker is harvesting it; restored says whether the
// NIC now holds the original (true too when this invoker never changed it).
func (k *nicKnob) stopHarvesting() (restored bool, err error) {
	if k.orig == nil {
		return true, nil
	}
	if k.applied != 0 {
		if err := k.active.unlock(); err != nil {
			return false, err
		}
		k.applied = 0
	}
	last, err := k.active.try(unix.LOCK_EX)
	if err != nil || !last {
		return false, err // another invoker harvests it: its setting stays
	}
	defer func() { _ = k.active.unlock() }()
	if _, err := k.eth.SetCoalesce(k.iface, *k.orig); err != nil {
		return false, classify(k.iface, "restore coalesce", err)
	}
	return true, nil
}

// restore stops harvesting, puts the original back unless another invoker is
// harvesting, and leaves the NIC's users; the last user forgets the original in
// the state file, unless the restore failed (the next start retries it).
func (k *nicKnob) restore(ctx context.Context) error {
	if k.orig == nil {
		return nil
	}
	restored, err := k.stopHarvesting()
	rerr := k.state.remove(ctx, k.iface, func() (bool, error) {
		if uerr := k.users.unlock(); uerr != nil {
			return true, uerr
		}
		if !restored {
			return true, nil
		}
		alone, lerr := k.users.try(unix.LOCK_EX)
		if alone {
			_ = k.users.unlock()
		}
		return !alone, lerr
	})
	k.orig = nil
	k.users.close()
	k.active.close()
	k.users, k.active = nil, nil
	return errors.Join(err, rerr)
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
