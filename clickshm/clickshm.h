/*
 * clickshm.h — header-only reader for the NEMO clickshm v1.0 segment.
 *
 * The Go side (package clickshm) is the single writer of line 0; whoever
 * includes this header (the NemoBurstCtl Click element, test programs) reads
 * line 0 with a bounded seqlock loop and writes line 1 (acknowledgements).
 * Layout and protocol: clickshm/doc.go; the Click element: deployments/click.
 *
 * Usable from C11 and C++ (g++ gnu++17): only GCC/Clang __atomic builtins,
 * POSIX open/mmap/flock/stat and clock_gettime(CLOCK_MONOTONIC).
 */
#ifndef NEMO_CLICKSHM_H
#define NEMO_CLICKSHM_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
#define CLICKSHM_STATIC_ASSERT(c, m) static_assert(c, m)
extern "C" {
#else
#define CLICKSHM_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#define CLICKSHM_PAGE_SIZE 4096u
#define CLICKSHM_HEADER_SIZE 128u
#define CLICKSHM_MAGIC 0x4F4D454Eu /* "NEMO" little-endian */
#define CLICKSHM_MAGIC_SWAPPED 0x4E454D4Fu
#define CLICKSHM_VERSION_MAJOR 1u

#define CLICKSHM_FLAG_BURST_ENABLE 0x1u
#define CLICKSHM_FLAG_WRITER_CLOSED 0x2u
#define CLICKSHM_READER_ATTACHED 0x1u
#define CLICKSHM_READER_FALLBACK 0x2u

#define CLICKSHM_DEFAULT_RETRIES 4

/* Return codes of clickshm_read (0 = consistent snapshot). */
#define CLICKSHM_OK 0
#define CLICKSHM_ENOTREADY 1 /* no mapping, or magic not published yet */
#define CLICKSHM_EVERSION 2  /* other major version or byte order: use DEFAULT */
#define CLICKSHM_ERETRY 3    /* seqlock retries exhausted: try next tick */

/* Writer verdicts of clickshm_writer_state. */
#define CLICKSHM_WRITER_LIVE 0
#define CLICKSHM_WRITER_CLOSED 1 /* WRITER_CLOSED set: revert now */
#define CLICKSHM_WRITER_DEAD 2   /* heartbeat stale and nobody holds the lock */
#define CLICKSHM_WRITER_SLOW 3   /* heartbeat stale but the writer lock is held */

struct clickshm_page {
	/* line 0: Go writer */
	uint32_t magic;         /* 0x00 */
	uint16_t version_major; /* 0x04 */
	uint16_t version_minor; /* 0x06 */
	uint32_t header_size;   /* 0x08 */
	uint32_t seq;           /* 0x0C */
	uint32_t flags;         /* 0x10 seq-protected */
	uint32_t burst_size;    /* 0x14 seq-protected */
	uint32_t rx_usecs;      /* 0x18 seq-protected */
	uint32_t writer_pid;    /* 0x1C */
	uint64_t update_ns;     /* 0x20 seq-protected */
	uint64_t heartbeat_ns;  /* 0x28 */
	uint32_t lease_ms;      /* 0x30 */
	uint32_t reserved0;     /* 0x34 */
	uint64_t reserved1;     /* 0x38 */
	/* line 1: reader */
	uint32_t ack_seq;       /* 0x40 */
	uint32_t applied_burst; /* 0x44 */
	uint32_t reader_pid;    /* 0x48 */
	uint32_t reader_flags;  /* 0x4C */
	uint64_t ack_ns;        /* 0x50 */
	uint8_t reserved2[40];  /* 0x58-0x7F */
};

CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, magic) == 0x00, "magic");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, version_major) == 0x04, "version_major");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, version_minor) == 0x06, "version_minor");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, header_size) == 0x08, "header_size");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, seq) == 0x0C, "seq");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, flags) == 0x10, "flags");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, burst_size) == 0x14, "burst_size");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, rx_usecs) == 0x18, "rx_usecs");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, writer_pid) == 0x1C, "writer_pid");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, update_ns) == 0x20, "update_ns");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, heartbeat_ns) == 0x28, "heartbeat_ns");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, lease_ms) == 0x30, "lease_ms");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, ack_seq) == 0x40, "ack_seq");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, applied_burst) == 0x44, "applied_burst");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, reader_pid) == 0x48, "reader_pid");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, reader_flags) == 0x4C, "reader_flags");
CLICKSHM_STATIC_ASSERT(offsetof(struct clickshm_page, ack_ns) == 0x50, "ack_ns");
CLICKSHM_STATIC_ASSERT(sizeof(struct clickshm_page) == CLICKSHM_HEADER_SIZE, "two cache lines");

/* One consistent copy of line 0. */
struct clickshm_snapshot {
	uint32_t seq;
	uint32_t flags;
	uint32_t burst_size;
	uint32_t rx_usecs;
	uint64_t update_ns;
	uint64_t heartbeat_ns; /* read after the seqlock section; not seq-protected */
	uint32_t lease_ms;
	uint32_t writer_pid;
};

struct clickshm_reader {
	int fd;                          /* -1 when not attached */
	struct clickshm_page *page;      /* NULL when not mapped */
	ino_t ino;
	uint64_t last_hb;                /* heartbeat value last seen */
	uint64_t last_hb_change_ns;      /* reader clock when it last changed; 0 = never seen */
	unsigned long retries;           /* cumulative seqlock retries */
	unsigned long probes;            /* cumulative flock probes */
};

static inline uint64_t clickshm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void clickshm_init(struct clickshm_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Attach to path. Returns 0, or -errno (-ENOENT while the writer has not
 * created the file yet: keep calling on later ticks). Marks the reader
 * ATTACHED in line 1. */
static inline int clickshm_open(struct clickshm_reader *r, const char *path)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (st.st_size < (off_t)CLICKSHM_HEADER_SIZE) {
		close(fd);
		return -EAGAIN;
	}
	p = mmap(NULL, CLICKSHM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	r->fd = fd;
	r->page = (struct clickshm_page *)p;
	r->ino = st.st_ino;
	r->last_hb = 0;
	r->last_hb_change_ns = 0;
	__atomic_store_n(&r->page->reader_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&r->page->reader_flags, CLICKSHM_READER_ATTACHED, __ATOMIC_RELEASE);
	return 0;
}

/* Detach: clear reader_flags, unmap, close. */
static inline void clickshm_close(struct clickshm_reader *r)
{
	if (r->page) {
		__atomic_store_n(&r->page->reader_flags, 0u, __ATOMIC_RELEASE);
		munmap((void *)r->page, CLICKSHM_PAGE_SIZE);
		r->page = NULL;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

/* Seqlock read of line 0 with at most max_retries attempts. */
static inline int clickshm_read(struct clickshm_reader *r, struct clickshm_snapshot *out, int max_retries)
{
	struct clickshm_page *h = r->page;
	uint32_t magic, s1, s2;
	int i;
	if (!h)
		return CLICKSHM_ENOTREADY;
	magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	if (magic == CLICKSHM_MAGIC_SWAPPED)
		return CLICKSHM_EVERSION;
	if (magic != CLICKSHM_MAGIC)
		return CLICKSHM_ENOTREADY;
	if (__atomic_load_n(&h->version_major, __ATOMIC_RELAXED) != CLICKSHM_VERSION_MAJOR)
		return CLICKSHM_EVERSION;
	for (i = 0; i < max_retries; i++) {
		s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1u) {
			r->retries++;
			continue;
		}
		out->flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
		out->burst_size = __atomic_load_n(&h->burst_size, __ATOMIC_RELAXED);
		out->rx_usecs = __atomic_load_n(&h->rx_usecs, __ATOMIC_RELAXED);
		out->update_ns = __atomic_load_n(&h->update_ns, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
		if (s1 != s2) {
			r->retries++;
			continue;
		}
		out->seq = s1;
		out->heartbeat_ns = __atomic_load_n(&h->heartbeat_ns, __ATOMIC_RELAXED);
		out->lease_ms = __atomic_load_n(&h->lease_ms, __ATOMIC_RELAXED);
		out->writer_pid = __atomic_load_n(&h->writer_pid, __ATOMIC_RELAXED);
		return CLICKSHM_OK;
	}
	return CLICKSHM_ERETRY;
}

/* flock(LOCK_EX|LOCK_NB) on our own open file description: success means no
 * writer holds its LOCK_SH, i.e. the writer is gone. Unlocks at once. */
static inline int clickshm_writer_lock_free(struct clickshm_reader *r)
{
	r->probes++;
	if (flock(r->fd, LOCK_EX | LOCK_NB) != 0)
		return 0;
	flock(r->fd, LOCK_UN);
	return 1;
}

/* Judge the writer, cheapest test first: WRITER_CLOSED; heartbeat unchanged
 * for longer than lease_ms on the reader's own clock now_ns (never compared with
 * the writer's clock); then a flock probe to tell dead from slow. Call once
 * per tick after a successful clickshm_read. */
static inline int clickshm_writer_state(struct clickshm_reader *r, const struct clickshm_snapshot *s, uint64_t now_ns)
{
	uint64_t lease_ns;
	if (s->flags & CLICKSHM_FLAG_WRITER_CLOSED)
		return CLICKSHM_WRITER_CLOSED;
	if (r->last_hb_change_ns == 0 || s->heartbeat_ns != r->last_hb) {
		r->last_hb = s->heartbeat_ns;
		r->last_hb_change_ns = now_ns;
		return CLICKSHM_WRITER_LIVE;
	}
	lease_ns = (uint64_t)(s->lease_ms ? s->lease_ms : 1) * 1000000ull;
	if (now_ns - r->last_hb_change_ns <= lease_ns)
		return CLICKSHM_WRITER_LIVE;
	return clickshm_writer_lock_free(r) ? CLICKSHM_WRITER_DEAD : CLICKSHM_WRITER_SLOW;
}

/* After a dead writer: non-zero when path now names another inode, in which
 * case the caller should clickshm_close + clickshm_open again. */
static inline int clickshm_inode_changed(const struct clickshm_reader *r, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	return st.st_ino != r->ino;
}

/* The burst to apply: DEFAULT when the writer is dead or closed, 1 when
 * harvesting is off, else burst_size clamped to [1, max_burst]. */
static inline uint32_t clickshm_target_burst(const struct clickshm_snapshot *s, int writer_state,
					     uint32_t default_burst, uint32_t max_burst)
{
	uint32_t b;
	if (writer_state == CLICKSHM_WRITER_CLOSED || writer_state == CLICKSHM_WRITER_DEAD)
		return default_burst;
	if (!(s->flags & CLICKSHM_FLAG_BURST_ENABLE))
		return 1;
	if (max_burst < 1)
		max_burst = 1;
	b = s->burst_size;
	if (b < 1)
		b = 1;
	if (b > max_burst)
		b = max_burst;
	return b;
}

/* Publish an acknowledgement in line 1; ack_seq is stored last with release
 * order so the writer that sees it also sees applied_burst. */
static inline void clickshm_ack(struct clickshm_reader *r, uint32_t seq, uint32_t applied_burst, int fallback,
				uint64_t now_ns)
{
	struct clickshm_page *h = r->page;
	if (!h)
		return;
	__atomic_store_n(&h->applied_burst, applied_burst, __ATOMIC_RELAXED);
	__atomic_store_n(&h->reader_flags,
			 CLICKSHM_READER_ATTACHED | (fallback ? CLICKSHM_READER_FALLBACK : 0u), __ATOMIC_RELAXED);
	__atomic_store_n(&h->ack_ns, now_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&h->ack_seq, seq, __ATOMIC_RELEASE);
}

#ifdef __cplusplus
}
#endif

#endif /* NEMO_CLICKSHM_H */
