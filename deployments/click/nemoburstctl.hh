// -*- c-basic-offset: 4 -*-
#ifndef CLICK_NEMOBURSTCTL_HH
#define CLICK_NEMOBURSTCTL_HH
#include <click/element.hh>
#include <click/timer.hh>
#include "clickshm.h"
CLICK_DECLS
class FromDevice;

/*
=c

NemoBurstCtl(SHM, DEV [, I<keywords> INTERVAL, DEFAULT, MAX])

=s control

applies the NEMO invoker's burst setting from shared memory to a FromDevice

=d

Polls the clickshm v1 segment SHM (written by the NEMO invoker) every INTERVAL
and sets the burst of the FromDevice DEV:

=over 4

=item *
the published burst, clamped to [1, MAX], while the invoker harvests;

=item *
1 while the invoker runs but does not harvest;

=item *
DEFAULT when there is no usable writer: the segment is missing or has another
major version, the invoker closed it (WRITER_CLOSED), or its heartbeat has not
changed for longer than the lease and its file lock is gone (crash).

=back

Every tick acknowledges the sequence number and the burst in effect in the
segment's reader line, so the invoker can confirm the change. A missing
segment is not an error; NemoBurstCtl attaches once the invoker creates it.

DEV must be a FromDevice built with fromdevice-burst.patch (it adds the
range-checked burst()/set_burst() pair used here).

Keyword arguments are:

=over 8

=item SHM

Filename. The segment, e.g. /dev/shm/nemo-fw. Required.

=item DEV

Element name of a FromDevice. Required.

=item INTERVAL

Time. Poll period; changes take effect within INTERVAL. Default 10ms.

=item DEFAULT

Integer. Burst without a usable writer. Default is DEV's own BURST.

=item MAX

Integer. Upper clamp for published bursts, at most 1024. Default 256.

=back

=h applied_burst read-only

The burst now in effect in DEV.

=h writer read-only

The writer as last judged: "live", "slow" (heartbeat stale but the writer
still holds its lock), "closed", "dead", "absent" or "incompatible".

=h last_seq read-only

The last sequence number acknowledged.

=h stats read-only

Counters: ticks, burst changes, seqlock give-ups, attaches.

=h poll write-only

Poll the segment now.

=n

In a multithreaded Click, pin NemoBurstCtl and DEV to the same thread with
StaticThreadSched: the burst is a plain int that DEV reads on its thread.

=a FromDevice.u */

class NemoBurstCtl : public Element { public:

    NemoBurstCtl() CLICK_COLD;
    ~NemoBurstCtl() CLICK_COLD;

    const char *class_name() const	{ return "NemoBurstCtl"; }
    const char *port_count() const	{ return PORTS_0_0; }

    int configure(Vector<String> &conf, ErrorHandler *errh) CLICK_COLD;
    int initialize(ErrorHandler *errh) CLICK_COLD;
    void cleanup(CleanupStage stage) CLICK_COLD;
    void add_handlers() CLICK_COLD;

    void run_timer(Timer *timer);

  private:

    // Writer states beyond CLICKSHM_WRITER_*.
    enum { writer_absent = -1, writer_incompatible = -2 };

    String _path;
    FromDevice *_dev;
    Timer _timer;
    uint32_t _interval_ms;
    int _default_burst;
    int _max_burst;

    struct clickshm_reader _shm;
    int _writer;
    uint32_t _last_seq;
    unsigned long _ticks;
    unsigned long _changes;
    unsigned long _giveups;
    unsigned long _attaches;

    void poll();
    bool attach();
    void apply(int burst);
    static const char *writer_name(int writer);
    static String read_handler(Element *e, void *thunk);
    static int poll_handler(const String &str, Element *e, void *thunk, ErrorHandler *errh);

};

CLICK_ENDDECLS
#endif
