/*
 * torncheck — C reader for the clickshm cross-process tests (built by
 * clickshm_c_test.go with the system cc; never shipped).
 *
 *   torncheck torn <path> <max_ms>   read until WRITER_CLOSED or max_ms; the
 *        Go writer keeps rx_usecs == 3*burst and (update_ns & 1) == ENABLE, so
 *        any snapshot breaking either invariant is torn.
 *        Prints: snapshots=N retries=N failures=N torn=N changes=N closed=0|1
 *   torncheck dead <path> <max_ms>   poll every 5 ms until the writer is judged
 *        dead; prints: state=dead|closed|slow|live after_ms=N probes=N
 *   torncheck ack <path> <default> <max>  one read; apply target burst; ack.
 *        Prints: seq=N target=N state=N
 */
#define _GNU_SOURCE
#include "../clickshm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int attach(struct clickshm_reader *r, const char *path, uint64_t deadline)
{
	for (;;) {
		int rc = clickshm_open(r, path);
		if (rc == 0)
			return 0;
		if (clickshm_now_ns() > deadline) {
			fprintf(stderr, "torncheck: open %s: %s\n", path, strerror(-rc));
			return -1;
		}
		usleep(1000);
	}
}

static int torn(const char *path, uint64_t max_ms)
{
	struct clickshm_reader r;
	struct clickshm_snapshot s;
	unsigned long snapshots = 0, failures = 0, torn = 0, changes = 0;
	uint32_t last_seq = 0;
	int closed = 0;
	uint64_t deadline = clickshm_now_ns() + max_ms * 1000000ull;

	clickshm_init(&r);
	if (attach(&r, path, deadline) != 0)
		return 2;
	while (clickshm_now_ns() < deadline) {
		int rc = clickshm_read(&r, &s, 1000);
		if (rc != CLICKSHM_OK) {
			failures++;
			continue;
		}
		snapshots++;
		/* seq 0 (before the first publish) and the final WRITER_CLOSED
		 * update carry the writer's reset values, not test data. */
		if (s.seq == 0 || (s.flags & CLICKSHM_FLAG_WRITER_CLOSED)) {
			if (s.seq & 1u)
				torn++;
		} else if (s.rx_usecs != 3u * s.burst_size)
			torn++;
		else if ((uint32_t)(s.update_ns & 1u) != (s.flags & CLICKSHM_FLAG_BURST_ENABLE))
			torn++;
		else if (s.seq & 1u)
			torn++;
		else if ((int32_t)(s.seq - last_seq) < 0)
			torn++;
		if (s.seq != last_seq)
			changes++;
		last_seq = s.seq;
		if (s.flags & CLICKSHM_FLAG_WRITER_CLOSED) {
			closed = 1;
			break;
		}
	}
	printf("snapshots=%lu retries=%lu failures=%lu torn=%lu changes=%lu closed=%d\n", snapshots, r.retries,
	       failures, torn, changes, closed);
	clickshm_close(&r);
	return 0;
}

static const char *state_name(int st)
{
	switch (st) {
	case CLICKSHM_WRITER_LIVE:
		return "live";
	case CLICKSHM_WRITER_CLOSED:
		return "closed";
	case CLICKSHM_WRITER_DEAD:
		return "dead";
	default:
		return "slow";
	}
}

static int dead(const char *path, uint64_t max_ms)
{
	struct clickshm_reader r;
	struct clickshm_snapshot s;
	uint64_t start = clickshm_now_ns(), deadline = start + max_ms * 1000000ull;
	int st = CLICKSHM_WRITER_LIVE;

	clickshm_init(&r);
	if (attach(&r, path, deadline) != 0)
		return 2;
	printf("attached\n");
	fflush(stdout);
	while (clickshm_now_ns() < deadline) {
		if (clickshm_read(&r, &s, CLICKSHM_DEFAULT_RETRIES) == CLICKSHM_OK) {
			st = clickshm_writer_state(&r, &s, clickshm_now_ns());
			if (st == CLICKSHM_WRITER_DEAD || st == CLICKSHM_WRITER_CLOSED)
				break;
		}
		usleep(5000);
	}
	printf("state=%s after_ms=%llu probes=%lu\n", state_name(st),
	       (unsigned long long)((clickshm_now_ns() - start) / 1000000ull), r.probes);
	clickshm_close(&r);
	return 0;
}

static int ack(const char *path, uint32_t def, uint32_t maxb)
{
	struct clickshm_reader r;
	struct clickshm_snapshot s;
	int st, rc;
	uint32_t target;

	clickshm_init(&r);
	if (attach(&r, path, clickshm_now_ns() + 2000000000ull) != 0)
		return 2;
	rc = clickshm_read(&r, &s, 100);
	if (rc != CLICKSHM_OK) {
		printf("read=%d\n", rc);
		return 3;
	}
	st = clickshm_writer_state(&r, &s, clickshm_now_ns());
	target = clickshm_target_burst(&s, st, def, maxb);
	clickshm_ack(&r, s.seq, target, st != CLICKSHM_WRITER_LIVE && st != CLICKSHM_WRITER_SLOW,
		     clickshm_now_ns());
	printf("seq=%u target=%u state=%s\n", s.seq, target, state_name(st));
	/* Leave line 1 as written (no clickshm_close, which clears ATTACHED). */
	munmap(r.page, CLICKSHM_PAGE_SIZE);
	close(r.fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "torn") == 0)
		return torn(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "dead") == 0)
		return dead(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "ack") == 0)
		return ack(argv[2], (uint32_t)strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10));
	fprintf(stderr, "usage: torncheck torn|dead <path> <max_ms> | ack <path> <default> <max>\n");
	return 64;
}
