// ackcheck.cc -- test program for the clickshm Go tests: the reader side of
// clickshm.h compiled as C++ (gnu++17), as the NemoBurstCtl Click element is.
//
//   ackcheck layout
//       prints the offset of every field of struct clickshm_page, its size
//       and the protocol constants, one name=value per line.
//   ackcheck tick <path> <default> <max> <detach>
//       one element tick: attach, read line 0, judge the writer, apply the
//       target burst, acknowledge it in line 1; then detach cleanly
//       (clickshm_close, clears ATTACHED) when detach is 1, or just exit as
//       a killed element would when 0. Prints seq, target, fallback, ack_ns
//       and pid.
#include "clickshm.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#define FIELD(f) std::printf("%s=%zu\n", #f, offsetof(struct clickshm_page, f))

static int layout()
{
	FIELD(magic);
	FIELD(version_major);
	FIELD(version_minor);
	FIELD(header_size);
	FIELD(seq);
	FIELD(flags);
	FIELD(burst_size);
	FIELD(rx_usecs);
	FIELD(writer_pid);
	FIELD(update_ns);
	FIELD(heartbeat_ns);
	FIELD(lease_ms);
	FIELD(ack_seq);
	FIELD(applied_burst);
	FIELD(reader_pid);
	FIELD(reader_flags);
	FIELD(ack_ns);
	std::printf("sizeof=%zu\n", sizeof(struct clickshm_page));
	std::printf("sizeof_applied_burst=%zu\n", sizeof(((struct clickshm_page *)0)->applied_burst));
	std::printf("sizeof_ack_ns=%zu\n", sizeof(((struct clickshm_page *)0)->ack_ns));
	std::printf("page_size=%u\nheader_size_const=%u\n", CLICKSHM_PAGE_SIZE, CLICKSHM_HEADER_SIZE);
	std::printf("magic_const=%u\nversion_major_const=%u\n", CLICKSHM_MAGIC, CLICKSHM_VERSION_MAJOR);
	std::printf("flag_burst_enable=%u\nflag_writer_closed=%u\n", CLICKSHM_FLAG_BURST_ENABLE,
		    CLICKSHM_FLAG_WRITER_CLOSED);
	std::printf("reader_attached=%u\nreader_fallback=%u\n", CLICKSHM_READER_ATTACHED, CLICKSHM_READER_FALLBACK);
	return 0;
}

static int tick(const char *path, uint32_t def, uint32_t maxb, int detach)
{
	struct clickshm_reader r;
	struct clickshm_snapshot s;
	clickshm_init(&r);
	int rc = clickshm_open(&r, path);
	if (rc != 0) {
		std::fprintf(stderr, "open %s: %s\n", path, std::strerror(-rc));
		return 2;
	}
	rc = clickshm_read(&r, &s, 100);
	if (rc != CLICKSHM_OK) {
		std::fprintf(stderr, "read: %d\n", rc);
		return 3;
	}
	uint64_t now = clickshm_now_ns();
	int st = clickshm_writer_state(&r, &s, now);
	uint32_t target = clickshm_target_burst(&s, st, def, maxb);
	int fallback = st == CLICKSHM_WRITER_CLOSED || st == CLICKSHM_WRITER_DEAD;
	clickshm_ack(&r, s.seq, target, fallback, now);
	std::printf("seq=%u target=%u fallback=%d ack_ns=%llu pid=%d\n", s.seq, target, fallback,
		    (unsigned long long)now, (int)getpid());
	if (detach) {
		clickshm_close(&r);
	} else {
		munmap((void *)r.page, CLICKSHM_PAGE_SIZE);
		close(r.fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && std::strcmp(argv[1], "layout") == 0)
		return layout();
	if (argc == 6 && std::strcmp(argv[1], "tick") == 0)
		return tick(argv[2], (uint32_t)std::strtoul(argv[3], NULL, 10), (uint32_t)std::strtoul(argv[4], NULL, 10),
			    std::atoi(argv[5]));
	std::fprintf(stderr, "usage: ackcheck layout | tick <path> <default> <max> <detach>\n");
	return 64;
}
