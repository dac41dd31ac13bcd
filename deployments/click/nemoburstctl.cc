// -*- c-basic-offset: 4 -*-
/*
 * nemoburstctl.{cc,hh} -- apply the NEMO invoker's Click burst from a
 * clickshm v1 shared-memory segment to a FromDevice.
 *
 * Part of NEMO (github.com/nemo-edge/nemo), deployments/click. The segment
 * layout and the reader protocol live in clickshm.h.
 */

#include <click/config.h>
#include "nemoburstctl.hh"
#include "fromdevice.hh"
#include <click/args.hh>
#include <click/error.hh>
#include <click/straccum.hh>
CLICK_DECLS

NemoBurstCtl::NemoBurstCtl()
    : _dev(0), _timer(this), _interval_ms(10), _default_burst(0), _max_burst(256),
      _writer(writer_absent), _last_seq(0), _ticks(0), _changes(0), _giveups(0), _attaches(0)
{
    clickshm_init(&_shm);
}

NemoBurstCtl::~NemoBurstCtl()
{
}

int
NemoBurstCtl::configure(Vector<String> &conf, ErrorHandler *errh)
{
    Element *dev = 0;
    int default_burst = 0;
    if (Args(conf, this, errh)
	.read_mp("SHM", FilenameArg(), _path)
	.read_mp("DEV", ElementCastArg("FromDevice"), dev)
	.read("INTERVAL", SecondsArg(3), _interval_ms)
	.read("DEFAULT", default_burst)
	.read("MAX", _max_burst)
	.complete() < 0)
	return -1;
    _dev = static_cast<FromDevice *>(dev);
    if (_interval_ms == 0)
	return errh->error("INTERVAL must be at least 1ms");
    if (_max_burst < 1 || _max_burst > FromDevice::burst_max)
	return errh->error("MAX out of range [1, %d]", (int) FromDevice::burst_max);
    if (default_burst != 0 && (default_burst < 1 || default_burst > _max_burst))
	return errh->error("DEFAULT out of range [1, MAX]");
    // 0 means "DEV's own BURST", known only once DEV is configured.
    _default_burst = default_burst;
    return 0;
}

int
NemoBurstCtl::initialize(ErrorHandler *errh)
{
    if (_default_burst == 0)
	_default_burst = _dev->burst();
    if (_default_burst > _max_burst) {
	errh->warning("%s's BURST %d exceeds MAX, DEFAULT is %d", _dev->name().c_str(), _default_burst, _max_burst);
	_default_burst = _max_burst;
    }
    // Not attaching yet is fine: the invoker may create the segment later.
    attach();
    _timer.initialize(this);
    _timer.schedule_now();
    return 0;
}

void
NemoBurstCtl::cleanup(CleanupStage)
{
    clickshm_close(&_shm);
}

bool
NemoBurstCtl::attach()
{
    if (_shm.page)
	return true;
    if (clickshm_open(&_shm, _path.c_str()) != 0)
	return false;
    _attaches++;
    return true;
}

void
NemoBurstCtl::apply(int burst)
{
    if (burst != _dev->burst() && _dev->set_burst(burst) == 0)
	_changes++;
}

void
NemoBurstCtl::poll()
{
    struct clickshm_snapshot s;
    uint64_t now;
    int rc;

    _ticks++;
    if (!attach()) {
	_writer = writer_absent;
	apply(_default_burst);
	return;
    }
    rc = clickshm_read(&_shm, &s, CLICKSHM_DEFAULT_RETRIES);
    if (rc == CLICKSHM_ERETRY) {
	// The writer is mid-update; keep the current burst until next tick.
	_giveups++;
	return;
    }
    if (rc != CLICKSHM_OK) {
	_writer = rc == CLICKSHM_EVERSION ? writer_incompatible : writer_absent;
	apply(_default_burst);
	return;
    }
    now = clickshm_now_ns();
    _writer = clickshm_writer_state(&_shm, &s, now);
    apply((int) clickshm_target_burst(&s, _writer, (uint32_t) _default_burst, (uint32_t) _max_burst));
    clickshm_ack(&_shm, s.seq, (uint32_t) _dev->burst(),
		 _writer == CLICKSHM_WRITER_CLOSED || _writer == CLICKSHM_WRITER_DEAD, now);
    _last_seq = s.seq;
    // A dead writer whose path now names another file: follow the new file.
    if (_writer == CLICKSHM_WRITER_DEAD && clickshm_inode_changed(&_shm, _path.c_str()))
	clickshm_close(&_shm);
}

void
NemoBurstCtl::run_timer(Timer *)
{
    poll();
    _timer.reschedule_after_msec(_interval_ms);
}

const char *
NemoBurstCtl::writer_name(int writer)
{
    switch (writer) {
    case CLICKSHM_WRITER_LIVE:
	return "live";
    case CLICKSHM_WRITER_SLOW:
	return "slow";
    case CLICKSHM_WRITER_CLOSED:
	return "closed";
    case CLICKSHM_WRITER_DEAD:
	return "dead";
    case writer_incompatible:
	return "incompatible";
    default:
	return "absent";
    }
}

enum { h_applied_burst, h_writer, h_last_seq, h_stats };

String
NemoBurstCtl::read_handler(Element *e, void *thunk)
{
    NemoBurstCtl *c = static_cast<NemoBurstCtl *>(e);
    switch ((intptr_t) thunk) {
    case h_applied_burst:
	return String(c->_dev->burst());
    case h_writer:
	return String(writer_name(c->_writer));
    case h_last_seq:
	return String(c->_last_seq);
    default: {
	StringAccum sa;
	sa << "ticks " << c->_ticks << "\nchanges " << c->_changes
	   << "\ngiveups " << c->_giveups << "\nattaches " << c->_attaches << "\n";
	return sa.take_string();
    }
    }
}

int
NemoBurstCtl::poll_handler(const String &, Element *e, void *, ErrorHandler *)
{
    static_cast<NemoBurstCtl *>(e)->poll();
    return 0;
}

void
NemoBurstCtl::add_handlers()
{
    add_read_handler("applied_burst", read_handler, h_applied_burst);
    add_read_handler("writer", read_handler, h_writer);
    add_read_handler("last_seq", read_handler, h_last_seq);
    add_read_handler("stats", read_handler, h_stats);
    add_write_handler("poll", poll_handler, 0, Handler::BUTTON);
}

CLICK_ENDDECLS
ELEMENT_REQUIRES(userlevel FromDevice)
EXPORT_ELEMENT(NemoBurstCtl)
