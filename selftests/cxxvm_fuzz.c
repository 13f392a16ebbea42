// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm-fuzz - a seeded ioctl fuzzer for /dev/cxxvm.
 *
 *   cxxvm-fuzz [-s SEED] [-n OPS] [-t SECONDS] [-p PROCS] [-j THREADS]
 *              [-k KILL_MS] [-f PERCENT] [-v]
 *
 * PROCS forked children run THREADS workers each until OPS operations
 * were done in all or SECONDS passed; every KILL_MS the parent SIGKILLs
 * one child (holding whatever it mapped and referenced) and forks the next
 * generation in its place, and at the end it SIGKILLs all of them at once.
 * Each worker mixes two kinds of operation:
 *
 *  - legal ones on a file of its own: buffers, mappings through every
 *    backend, VERIFY, SUBMIT batches, FLUSH, pagemaps (tracker-only and,
 *    with reserved_mem=, real ones and MEMREMAP in a slice of that memory
 *    of its own), references, CHECK, PGMAP_VMAP, small BENCH runs and
 *    REPLAY traces.  Their
 *    results are checked: what must succeed succeeds (or meets -ENOMEM,
 *    -ENOSPC or -EBUSY where the ABI allows), a VERIFY checks every page;
 *  - chaos on files the process's threads share, and on one the parent
 *    opened before forking (a file of another process): guessed and stale
 *    handles, reserved bits, unknown flags, zero and huge counts, backends
 *    out of range, pfn ranges in System RAM, past the physical limit or
 *    over others' ranges, altmaps that do not fit; wrong size or direction
 *    encodings and random command numbers; NULL, unmapped, read-only,
 *    kernel and page-straddling argument pointers; and the shared files
 *    closed and replaced while other threads use them.  Anything but 0 or
 *    an errno of the ABI's is a bug, and so is a success where the
 *    argument could not be read or written.
 *
 * -EIO from VERIFY, MEMREMAP or PGMAP_VMAP (a page that did not hold
 * what was written: a wrong PTE or a stale TLB entry) is always a bug:
 * everything that writes a pattern into memory some other operation may
 * also pattern (the shared files' mappings and buffers, the chaos slice of
 * reserved memory) does so under one process-shared lock.
 *
 * With -f PERCENT, failslab and fail_page_alloc fail that share of the
 * allocations of the workers' ioctls (needs CONFIG_FAULT_INJECTION_DEBUG_FS);
 * -ENOMEM then becomes legal everywhere.  Each worker sets its own
 * make-it-fail just around an ioctl, so its own open(), dup3() and page
 * faults never fail, and not around the ioctls that reach memory hotplug
 * or ioremap (real pagemaps, MEMREMAP, PGMAP_VMAP), BENCH or an unknown
 * encoding: on an injected failure the kernel's add_pages() and va_clip()
 * WARN by design, which would fail the run for the kernel's sake.
 *
 * At the end, from a fresh file: FLUSH, then STATS must show nothing left
 * (mappings, mapped, retired or leaked pages), every pfn range the run
 * used must be free for a new pagemap (a real one over the reserved
 * memory), and the device must still map and verify.  Prints a histogram
 * of the results per command and kselftest TAP; exits non-zero on a bug.
 *
 * Reproducible: the sequence of operations of each worker (child
 * generation g, thread t) is a function of SEED, g and t; the interleaving
 * of the workers is not.  Runs as root with cxxvm.ko loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/cxxvm.h>
#include "cxxvm_util.h"
#include "kselftest.h"

#define MAX_PROCS	16
#define MAX_THREADS	16
#define SHARED_FDS	3
#define MAX_ERRNO	134	/* errnos 1..133 counted each, the rest as one */
#define PAGE		4096ul
#define SUBSECTION	512ull	/* pages of a 2 MiB subsection (REAL pagemaps) */

/* Fake-pfn window of each worker, and the chaos one. */
#define WINDOW		(8 * 64ull)
#define CHAOS_PFN	(FAKE_PFN + (MAX_PROCS * MAX_THREADS + 1) * WINDOW)

/* ---- the commands ------------------------------------------------------ */

enum {
	C_INFO, C_MAP, C_UNMAP, C_VERIFY, C_FLUSH, C_STATS, C_BENCH,
	C_BUF_CREATE, C_BUF_DESTROY, C_SUBMIT, C_PGMAP_CREATE, C_PGMAP_DESTROY,
	C_PGMAP_GET, C_PGMAP_PUT, C_PGMAP_CHECK, C_MEMREMAP, C_PGMAP_VMAP,
	C_PGMAP_BENCH, C_REPLAY, C_OTHER, NR_CMDS
};

static const struct {
	const char *name;
	unsigned long cmd;
} cmds[NR_CMDS] = {
	[C_INFO] = { "INFO", CXXVM_IOC_INFO },
	[C_MAP] = { "MAP", CXXVM_IOC_MAP },
	[C_UNMAP] = { "UNMAP", CXXVM_IOC_UNMAP },
	[C_VERIFY] = { "VERIFY", CXXVM_IOC_VERIFY },
	[C_FLUSH] = { "FLUSH", CXXVM_IOC_FLUSH },
	[C_STATS] = { "STATS", CXXVM_IOC_STATS },
	[C_BENCH] = { "BENCH", CXXVM_IOC_BENCH },
	[C_BUF_CREATE] = { "BUF_CREATE", CXXVM_IOC_BUF_CREATE },
	[C_BUF_DESTROY] = { "BUF_DESTROY", CXXVM_IOC_BUF_DESTROY },
	[C_SUBMIT] = { "SUBMIT", CXXVM_IOC_SUBMIT },
	[C_PGMAP_CREATE] = { "PGMAP_CREATE", CXXVM_IOC_PGMAP_CREATE },
	[C_PGMAP_DESTROY] = { "PGMAP_DESTROY", CXXVM_IOC_PGMAP_DESTROY },
	[C_PGMAP_GET] = { "PGMAP_GET", CXXVM_IOC_PGMAP_GET },
	[C_PGMAP_PUT] = { "PGMAP_PUT", CXXVM_IOC_PGMAP_PUT },
	[C_PGMAP_CHECK] = { "PGMAP_CHECK", CXXVM_IOC_PGMAP_CHECK },
	[C_MEMREMAP] = { "MEMREMAP", CXXVM_IOC_MEMREMAP },
	[C_PGMAP_VMAP] = { "PGMAP_VMAP", CXXVM_IOC_PGMAP_VMAP },
	[C_PGMAP_BENCH] = { "PGMAP_BENCH", CXXVM_IOC_PGMAP_BENCH },
	[C_REPLAY] = { "REPLAY", CXXVM_IOC_REPLAY },
	[C_OTHER] = { "(bad encoding)", 0 },
};

/* ---- state shared by every process of the run --------------------------- */

struct shared {
	atomic_ulong ops;
	atomic_ulong legal_ops;
	atomic_ulong bugs;
	atomic_ulong hist[NR_CMDS][MAX_ERRNO + 1];	/* [cmd][errno], 0 = success */
	atomic_int stop;
	pthread_mutex_t pattern_lock;	/* robust, process-shared */
	pthread_mutex_t report_lock;
	char first_bug[512];
};

static struct shared *sh;
static unsigned long max_ops = 100000;
static unsigned int nr_procs = 2, nr_threads = 2, fail_percent;
static bool verbose;
static struct cxxvm_info info;
/* Reserved memory (reserved_mem=), in pfns, cut in slices of whole subsections. */
static unsigned long long res_pfn, res_pages, slice_pages;
static int parent_fd = -1;

/* -n reached (0: no limit). */
static bool ops_done(void)
{
	return max_ops && atomic_load(&sh->ops) >= max_ops;
}

static void bug(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Counted first: a child may be SIGKILLed at any point. */
	if (!atomic_fetch_add(&sh->bugs, 1)) {
		if (pthread_mutex_lock(&sh->report_lock) == EOWNERDEAD)
			pthread_mutex_consistent(&sh->report_lock);
		snprintf(sh->first_bug, sizeof(sh->first_bug), "%s", msg);
		pthread_mutex_unlock(&sh->report_lock);
	}
	/* Unbuffered, for the same reason. */
	dprintf(STDOUT_FILENO, "# BUG: %s\n", msg);
}

/* ---- one worker --------------------------------------------------------- */

struct rng {
	uint64_t s;
};

/* splitmix64 */
static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int percent)
{
	return below(r, 100) < percent;
}

struct mapping {
	__u64 handle;
	__u32 nr;
	__u32 buf;	/* index in bufs + 1, or 0 */
};

struct buffer {
	__u64 id;
	__u32 nr;
	__u32 maps;
};

struct pagemap {
	__u64 handle;
	__u64 pfn, nr;		/* the one range */
	__u64 first_data;
	__u64 refs;
	bool real, killed;	/* killed: DESTROY said -EBUSY */
};

struct worker {
	struct rng r;
	unsigned int id;	/* global worker slot: proc * MAX_THREADS + thread */
	int fd;
	struct mapping maps[16];
	unsigned int nr_maps;
	struct buffer bufs[4];
	unsigned int nr_bufs;
	struct pagemap pgmaps[4];
	unsigned int nr_pgmaps;
	/* The last handles this worker saw, for the chaos side's guesses. */
	__u64 seen[8];
};

/*
 * This process's shared files: any thread may close and replace them.
 * fd_lock: read-held by a chaos operation from loading a number to its
 * ioctl's return, write-held while a worker opens its own file, so that a
 * number the chaos side closed and still uses is never the one a worker's
 * new file got for a moment (owned files then move to OWNED_FD + id).
 * replace_lock serialises replacements, so that dup2() only ever targets
 * a shared number.
 */
static atomic_int shared_fd[SHARED_FDS];
static pthread_rwlock_t fd_lock;
static pthread_mutex_t replace_lock = PTHREAD_MUTEX_INITIALIZER;
#define OWNED_FD	700	/* + worker id (< 256): under RLIMIT_NOFILE's 1024 */

/*
 * guard_page is followed by gone_page, PROT_NONE (a page that is simply
 * unmapped could be reused by a thread's stack); then a PROT_READ page
 * for each thread of a process (ro_pages + thread * PAGE).
 */
static char *guard_page, *gone_page, *ro_pages;

/* The worker's /proc/thread-self/make-it-fail, open before injection starts. */
static __thread int mif_fd = -1;

/*
 * Whether command @c with argument @arg may run with injected failures:
 * not if it may reach memory hotplug or ioremap, or loop in BENCH.
 */
static bool injectable(int c, const void *arg, bool arg_ok)
{
	switch (c) {
	case C_PGMAP_CREATE:
		return arg_ok && !(((const struct cxxvm_pgmap_create *)arg)->flags & CXXVM_PGMAP_REAL);
	case C_MEMREMAP:
	case C_PGMAP_VMAP:
	case C_BENCH:
	case C_REPLAY:
	case C_OTHER:
		return false;
	default:
		return true;
	}
}

/*
 * ioctl() on the worker's own file, with make-it-fail set around it when -f
 * asks and @c allows.  Only there: the last close of a shared file may
 * come in another thread's ioctl (its release runs as that thread returns),
 * and that teardown must not fail.  A SIGKILL during an injected ioctl
 * tears the process down with make-it-fail set, which is why -f runs make
 * no REAL pagemaps at all.
 */
static int fuzz_ioctl(int fd, int c, unsigned long cmd, void *arg, bool arg_ok)
{
	bool inject = fail_percent && mif_fd >= 0 && injectable(c, arg, arg_ok);
	int ret;

	if (inject && pwrite(mif_fd, "1", 1, 0) != 1)
		bug("cannot set make-it-fail: %s", strerror(errno));
	ret = xioctl(fd, cmd, arg);
	if (inject && pwrite(mif_fd, "0", 1, 0) != 1)
		bug("cannot clear make-it-fail: %s", strerror(errno));
	return ret;
}

static void count(int c, int ret)
{
	int e = ret < 0 ? -ret : 0;

	if (e > MAX_ERRNO)
		e = MAX_ERRNO;
	atomic_fetch_add(&sh->hist[c][e], 1);
	atomic_fetch_add(&sh->ops, 1);
}

static bool errno_of_abi(int ret)
{
	switch (-ret) {
	case 0: case EINVAL: case E2BIG: case ENOTTY: case EFAULT: case ENOENT:
	case EBUSY: case ENOSPC: case ENOMEM: case ENXIO: case ERANGE: case EINTR:
	case EBADF:
		return true;
	}
	return false;
}

/* A legal operation: 0, or one of @ok (a 0-terminated list of -errnos). */
static int legal_ioctl(struct worker *w, int c, void *arg, const int *ok)
{
	int ret = fuzz_ioctl(w->fd, c, cmds[c].cmd, arg, true);

	count(c, ret);
	atomic_fetch_add(&sh->legal_ops, 1);
	if (!ret || (fail_percent && ret == -ENOMEM))
		return ret;
	for (; ok && *ok; ok++)
		if (ret == *ok)
			return ret;
	bug("worker %u: %s (legal) returned %d (%s)", w->id, cmds[c].name, ret, strerror(-ret));
	return ret;
}

static const int e_mem[] = { -ENOMEM, -ENOSPC, 0 };
static const int e_mem_busy[] = { -ENOMEM, -ENOSPC, -EBUSY, 0 };
static const int e_busy[] = { -EBUSY, 0 };
static const int e_none[] = { 0 };

static void remember(struct worker *w, __u64 handle)
{
	w->seen[below(&w->r, 8)] = handle;
}

static void pattern_lock(void)
{
	if (pthread_mutex_lock(&sh->pattern_lock) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->pattern_lock);
}

static void pattern_unlock(void)
{
	pthread_mutex_unlock(&sh->pattern_lock);
}

/* Forget everything of the worker's file and open a new one. */
static void reopen(struct worker *w)
{
	int fd;

	if (w->fd >= 0)
		close(w->fd);
	w->nr_maps = w->nr_bufs = w->nr_pgmaps = 0;
	w->fd = -1;
	pthread_rwlock_wrlock(&fd_lock);
	fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		w->fd = dup3(fd, OWNED_FD + w->id, O_CLOEXEC);
		close(fd);
	}
	pthread_rwlock_unlock(&fd_lock);
	if (w->fd < 0 && !(fail_percent && errno == ENOMEM))
		bug("worker %u: open: %s", w->id, strerror(errno));
}

static void legal_map(struct worker *w)
{
	struct cxxvm_map m = {
		.backend = below(&w->r, CXXVM_NR_BACKENDS),
		.nr_pages = 1 + below(&w->r, info.max_pages),
	};
	struct buffer *b = NULL;

	if (w->nr_maps == 16)
		return;
	if (w->nr_bufs && chance(&w->r, 50)) {
		b = &w->bufs[below(&w->r, w->nr_bufs)];
		m.flags = CXXVM_MAP_BUF;
		m.buf = b->id;
		if (m.nr_pages > b->nr)
			m.nr_pages = b->nr;
		m.buf_offset = below(&w->r, b->nr - m.nr_pages + 1);
	}
	if (legal_ioctl(w, C_MAP, &m, e_mem))
		return;
	w->maps[w->nr_maps++] = (struct mapping){ m.handle, m.nr_pages, b ? (__u32)(b - w->bufs) + 1 : 0 };
	if (b)
		b->maps++;
	remember(w, m.handle);
}

static void drop_map(struct worker *w, unsigned int i)
{
	if (w->maps[i].buf)
		w->bufs[w->maps[i].buf - 1].maps--;
	w->maps[i] = w->maps[--w->nr_maps];
}

static void legal_verify(struct worker *w)
{
	struct mapping *mp;
	struct cxxvm_verify v;

	if (!w->nr_maps)
		return;
	mp = &w->maps[below(&w->r, w->nr_maps)];
	v = (struct cxxvm_verify){ .handle = mp->handle, .seed = (__u32)rnd(&w->r) };
	if (!legal_ioctl(w, C_VERIFY, &v, NULL) && v.pages_checked != mp->nr)
		bug("worker %u: VERIFY of %u pages checked %u", w->id, mp->nr, v.pages_checked);
}

static void legal_unmap(struct worker *w)
{
	unsigned int i;
	struct cxxvm_unmap u;

	if (!w->nr_maps)
		return;
	i = below(&w->r, w->nr_maps);
	u = (struct cxxvm_unmap){ .handle = w->maps[i].handle };
	if (!legal_ioctl(w, C_UNMAP, &u, NULL))
		drop_map(w, i);
}

static void legal_buf(struct worker *w)
{
	if (w->nr_bufs < 4 && (!w->nr_bufs || chance(&w->r, 60))) {
		struct cxxvm_buf_create c = { .nr_pages = 1 + below(&w->r, 64) };

		if (!legal_ioctl(w, C_BUF_CREATE, &c, e_mem))
			w->bufs[w->nr_bufs++] = (struct buffer){ c.id, c.nr_pages, 0 };
	} else if (w->nr_bufs) {
		unsigned int i = below(&w->r, w->nr_bufs), k;
		struct cxxvm_buf_destroy d = { .id = w->bufs[i].id };
		int ret = legal_ioctl(w, C_BUF_DESTROY, &d, w->bufs[i].maps ? e_busy : e_none);

		if (w->bufs[i].maps && ret != -EBUSY)
			bug("worker %u: BUF_DESTROY of a mapped buffer: %d", w->id, ret);
		if (ret)
			return;
		/* Renumber the mappings of the buffer that moves into slot i. */
		w->bufs[i] = w->bufs[--w->nr_bufs];
		for (k = 0; k < w->nr_maps; k++)
			if (w->maps[k].buf == w->nr_bufs + 1)
				w->maps[k].buf = i + 1;
	}
}

/* MAP, VERIFY and maybe UNMAP of one buffer, in one SUBMIT. */
static void legal_submit(struct worker *w)
{
	struct cxxvm_op ops[3] = { { 0 } };
	struct cxxvm_submit s = { .ops = (uintptr_t)ops, .op_size = sizeof(ops[0]) };
	struct buffer *b;
	__u32 nr;
	int i;

	if (!w->nr_bufs || w->nr_maps == 16)
		return;
	b = &w->bufs[below(&w->r, w->nr_bufs)];
	nr = 1 + below(&w->r, b->nr < info.max_pages ? b->nr : info.max_pages);
	ops[0] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = below(&w->r, CXXVM_NR_BACKENDS),
				    .nr_pages = nr, .buf = b->id };
	ops[1] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .seed = (__u32)rnd(&w->r) };
	ops[2] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF };
	s.nr_ops = chance(&w->r, 70) ? 3 : 2;
	s.flags = chance(&w->r, 50) ? CXXVM_SUBMIT_TIMES : 0;
	if (legal_ioctl(w, C_SUBMIT, &s, e_mem))
		return;
	for (i = 0; i < (int)s.nr_done; i++) {
		if (ops[i].result && !(ops[i].result == -ENOMEM || ops[i].result == -ENOSPC))
			bug("worker %u: SUBMIT op %d (%u) result %d", w->id, i, ops[i].op, ops[i].result);
	}
	if (s.nr_done > s.nr_ops || (!ops[0].result && !ops[1].result && s.nr_done != s.nr_ops))
		bug("worker %u: SUBMIT ran %u of %u ops", w->id, s.nr_done, s.nr_ops);
	/*
	 * A batch without its UNMAP, or whose UNMAP did not run (the VERIFY
	 * failed) or failed, leaves the mapping to the file.
	 */
	if (s.nr_done && !ops[0].result &&
	    (s.nr_ops == 2 || s.nr_done < 3 || ops[2].result)) {
		w->maps[w->nr_maps++] = (struct mapping){ ops[0].handle, nr, (__u32)(b - w->bufs) + 1 };
		b->maps++;
	}
}

/* A slice of the reserved memory for this worker: whole subsections. */
static bool my_slice(struct worker *w, unsigned long long *pfn)
{
	if (!slice_pages)
		return false;
	*pfn = res_pfn + (w->id / MAX_THREADS * nr_threads + w->id % MAX_THREADS) * slice_pages;
	return *pfn + slice_pages <= res_pfn + res_pages;
}

static struct pagemap *covering(struct worker *w, __u64 pfn, __u64 nr)
{
	unsigned int i;

	for (i = 0; i < w->nr_pgmaps; i++) {
		struct pagemap *p = &w->pgmaps[i];

		if (pfn < p->pfn + p->nr && p->pfn < pfn + nr)
			return p;
	}
	return NULL;
}

static void legal_pgmap_create(struct worker *w)
{
	struct cxxvm_pgmap_create c = { .type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1 };
	unsigned long long base;
	bool real = !fail_percent && chance(&w->r, 40) && my_slice(w, &base);
	__u64 pfn, nr;

	if (w->nr_pgmaps == 4)
		return;
	if (real) {
		/*
		 * The slice's last subsection stays empty, and no two of the
		 * worker's pagemaps touch: PGMAP_CHECK compares the pfns
		 * around a range too, and another pagemap there may be
		 * dying (the tracker no longer finds it, the kernel still
		 * does) or half created.
		 */
		nr = SUBSECTION * (1 + below(&w->r, slice_pages / SUBSECTION - 1));
		pfn = base + SUBSECTION * below(&w->r, (slice_pages - SUBSECTION - nr) / SUBSECTION + 1);
		c.flags = CXXVM_PGMAP_REAL;
	} else {
		c.type = 1 + below(&w->r, CXXVM_PGMAP_PCI_P2PDMA);
		nr = 1 + below(&w->r, 64);
		pfn = FAKE_PFN + w->id * WINDOW + 64 * below(&w->r, 8);
	}
	if (covering(w, pfn - 1, nr + 2))
		return;
	c.ranges[0] = (struct cxxvm_pfn_range){ pfn, nr };
	if (chance(&w->r, 30) && nr >= 64) {
		c.flags |= CXXVM_PGMAP_ALTMAP;
		c.altmap_reserve = below(&w->r, 4);
		if (real) {
			/*
			 * x86's vmemmap takes the memmap (64 bytes a page) from
			 * the altmap in 2 MiB blocks, the first aligned up from
			 * start + reserve: see cxxvm_memmap_pages().
			 */
			c.altmap_free = (nr * 64 + (2ull << 20) - 1) / (2ull << 20) * SUBSECTION +
					(c.altmap_reserve ? SUBSECTION - c.altmap_reserve : 0);
		} else {
			c.altmap_free = (nr * 64 + PAGE - 1) / PAGE;
		}
		c.altmap_free += below(&w->r, 8);
		/* Room for at least one data page. */
		if (c.altmap_reserve + c.altmap_free >= nr)
			c.flags &= ~CXXVM_PGMAP_ALTMAP, c.altmap_reserve = c.altmap_free = 0;
	}
	/* -EBUSY: the chaos side may hold a range over ours. */
	if (legal_ioctl(w, C_PGMAP_CREATE, &c, e_mem_busy))
		return;
	w->pgmaps[w->nr_pgmaps++] = (struct pagemap){
		.handle = c.handle, .pfn = pfn, .nr = nr, .first_data = c.first_data_pfn,
		.real = real,
	};
	remember(w, c.handle);
}

static void legal_pgmap_ref(struct worker *w)
{
	struct pagemap *p;

	if (!w->nr_pgmaps)
		return;
	p = &w->pgmaps[below(&w->r, w->nr_pgmaps)];
	if (!p->killed && (!p->refs || chance(&w->r, 50))) {
		struct cxxvm_pgmap_ref g = { .pfn = p->pfn + below(&w->r, p->nr) };

		if (legal_ioctl(w, C_PGMAP_GET, &g, e_mem))
			return;
		if (g.handle != p->handle || g.refs != p->refs + 1)
			bug("worker %u: PGMAP_GET found %llu with %llu refs, not %llu with %llu",
			    w->id, (unsigned long long)g.handle, (unsigned long long)g.refs,
			    (unsigned long long)p->handle, (unsigned long long)p->refs + 1);
		p->refs++;
	} else if (p->refs) {
		struct cxxvm_pgmap_ref u = { .handle = p->handle };

		if (!legal_ioctl(w, C_PGMAP_PUT, &u, NULL)) {
			p->refs--;
			if (u.refs != p->refs)
				bug("worker %u: PGMAP_PUT left %llu refs, not %llu", w->id,
				    (unsigned long long)u.refs, (unsigned long long)p->refs);
		}
	}
}

static void legal_pgmap_destroy(struct worker *w)
{
	unsigned int i;
	struct pagemap *p;
	struct cxxvm_pgmap_destroy d;
	int ret;

	if (!w->nr_pgmaps)
		return;
	i = below(&w->r, w->nr_pgmaps);
	p = &w->pgmaps[i];
	d = (struct cxxvm_pgmap_destroy){ .handle = p->handle };
	ret = legal_ioctl(w, C_PGMAP_DESTROY, &d, p->refs ? e_busy : e_none);
	if (p->refs && ret != -EBUSY)
		bug("worker %u: PGMAP_DESTROY with %llu refs held: %d", w->id,
		    (unsigned long long)p->refs, ret);
	if (ret == -EBUSY)
		p->killed = true;
	else if (!ret)
		w->pgmaps[i] = w->pgmaps[--w->nr_pgmaps];
}

static void legal_real(struct worker *w)
{
	unsigned long long base;
	struct pagemap *p = NULL;
	unsigned int i;

	for (i = 0; i < w->nr_pgmaps; i++)
		if (w->pgmaps[i].real && !w->pgmaps[i].killed)
			p = &w->pgmaps[i];
	if (p && chance(&w->r, 50)) {
		struct cxxvm_pgmap_check c = { .handle = p->handle };

		if (!legal_ioctl(w, C_PGMAP_CHECK, &c, e_mem) && c.mismatches)
			bug("worker %u: PGMAP_CHECK: %llu mismatches from pfn %#llx", w->id,
			    (unsigned long long)c.mismatches, (unsigned long long)c.first_mismatch_pfn);
	} else if (p) {
		__u64 data = p->pfn + p->nr - p->first_data;
		struct cxxvm_pgmap_vmap v = { .handle = p->handle, .seed = (__u32)rnd(&w->r) };

		v.nr_pages = 1 + below(&w->r, data < info.max_pages ? data : info.max_pages);
		v.offset = below(&w->r, data - v.nr_pages + 1);
		if (!legal_ioctl(w, C_PGMAP_VMAP, &v, e_mem) && v.pages_checked != v.nr_pages)
			bug("worker %u: PGMAP_VMAP of %u pages checked %llu", w->id, v.nr_pages,
			    (unsigned long long)v.pages_checked);
	} else if (my_slice(w, &base)) {
		__u64 nr = 1 + below(&w->r, 64);
		__u64 pfn = base + below(&w->r, slice_pages - nr + 1);
		struct cxxvm_memremap m = {
			.phys_addr = pfn * PAGE, .size = nr * PAGE,
			.flags = 1 + below(&w->r, CXXVM_MEMREMAP_FLAGS), .seed = (__u32)rnd(&w->r),
		};

		if (covering(w, pfn, nr))
			return;
		if (!legal_ioctl(w, C_MEMREMAP, &m, e_mem_busy) && m.bytes_checked != m.size)
			bug("worker %u: MEMREMAP of %llu bytes checked %llu", w->id,
			    (unsigned long long)m.size, (unsigned long long)m.bytes_checked);
	}
}

/*
 * A well-formed trace of up to 16 operations on 4 ids, 1..80 pages (past
 * 64 the C++ backend falls back to the kernel): REPLAY must run it and
 * report its maps and peak.
 */
static void legal_replay(struct worker *w)
{
	struct cxxvm_replay_op ops[16];
	__u32 live[4] = { 0 }, n = 1 + below(&w->r, 16), i, maps = 0, pages = 0, peak = 0;
	struct cxxvm_replay r = { .ops = (uintptr_t)ops, .nr_ops = n, .nr_ids = 4,
				  .backend = below(&w->r, CXXVM_NR_BACKENDS),
				  .loops = 1 + below(&w->r, 3) };

#if defined(__x86_64__) || defined(__i386__)
	if (below(&w->r, 2))
		r.flags = CXXVM_REPLAY_COLD;
#endif
	for (i = 0; i < n; i++) {
		__u32 id = below(&w->r, 4);

		if (live[id]) {
			ops[i] = (struct cxxvm_replay_op){ CXXVM_REPLAY_UNMAP, live[id], id, 0 };
			pages -= live[id];
			live[id] = 0;
		} else {
			live[id] = 1 + below(&w->r, 80);
			ops[i] = (struct cxxvm_replay_op){ CXXVM_REPLAY_MAP, live[id], id, 0 };
			pages += live[id];
			peak = pages > peak ? pages : peak;
			maps++;
		}
	}
	if (!legal_ioctl(w, C_REPLAY, &r, e_mem) && (r.maps != maps || r.peak_pages != peak))
		bug("worker %u: REPLAY of %u maps, peak %u pages, says %llu maps, peak %llu",
		    w->id, maps, peak, (unsigned long long)r.maps,
		    (unsigned long long)r.peak_pages);
}

static void legal_misc(struct worker *w)
{
	switch (below(&w->r, 6)) {
	case 5:
		legal_replay(w);
		break;
	case 0: {
		struct cxxvm_flush f = { .flags = below(&w->r, CXXVM_FLUSH_FLAGS + 1) };

		legal_ioctl(w, C_FLUSH, &f, NULL);
		break;
	}
	case 1: {
		struct cxxvm_stats s;

		legal_ioctl(w, C_STATS, &s, NULL);
		break;
	}
	case 2: {
		struct cxxvm_info i;

		legal_ioctl(w, C_INFO, &i, NULL);
		break;
	}
	case 3: {
		struct cxxvm_bench b = {
			.backend = below(&w->r, CXXVM_NR_BACKENDS),
			.nr_pages = 1 + below(&w->r, info.max_pages),
			.iterations = 1 + below(&w->r, 16),
			.flags = chance(&w->r, 50) ? CXXVM_BENCH_UNTIMED : 0,
		};

		legal_ioctl(w, C_BENCH, &b, e_mem);
		break;
	}
	case 4: {
		struct cxxvm_pgmap_bench b = {
			.backend = below(&w->r, 2), .mode = below(&w->r, 2),
			.iterations = 1 + below(&w->r, 64), .seed = (__u32)rnd(&w->r),
		};
		static const int e[] = { -ENOENT, -ENOMEM, 0 };

		legal_ioctl(w, C_PGMAP_BENCH, &b, e);
		break;
	}
	}
}

/* A bit outside @known, or 0 if there is none to pick. */
static __u32 unknown_bit(struct worker *w, __u32 known)
{
	__u32 bit = 1u << below(&w->r, 32);

	return bit & known ? 0 : bit;
}

/*
 * A legal request with one reserved field or unknown flag set, on the
 * worker's own file: exactly -EINVAL, and nothing may change (the
 * mapping it names stays, which later legal operations check).
 */
static void legal_reserved(struct worker *w)
{
	union {
		struct cxxvm_unmap un;
		struct cxxvm_verify v;
		struct cxxvm_map m;
		struct cxxvm_flush f;
		struct cxxvm_buf_create b;
		struct cxxvm_pgmap_ref g;
	} a;
	__u32 bit = 0;
	int c, ret;

	memset(&a, 0, sizeof(a));
	switch (below(&w->r, 6)) {
	case 0:
	case 1:
		if (!w->nr_maps)
			return;
		c = below(&w->r, 2) ? C_UNMAP : C_VERIFY;
		if (c == C_UNMAP) {
			a.un.handle = w->maps[below(&w->r, w->nr_maps)].handle;
			if (chance(&w->r, 50))
				a.un.flags = bit = unknown_bit(w, 0);
			else
				a.un.reserved[below(&w->r, 2)] = bit = 1;
		} else {
			a.v.handle = w->maps[below(&w->r, w->nr_maps)].handle;
			if (chance(&w->r, 50))
				a.v.flags = bit = unknown_bit(w, 0);
			else
				a.v.reserved[below(&w->r, 2)] = bit = 1;
		}
		break;
	case 2:
		c = C_MAP;
		a.m.nr_pages = 1;
		if (chance(&w->r, 50))
			a.m.flags = bit = unknown_bit(w, CXXVM_MAP_FLAGS);
		else
			a.m.reserved[0] = bit = 1;
		break;
	case 3:
		c = C_FLUSH;
		a.f.flags = bit = unknown_bit(w, CXXVM_FLUSH_FLAGS);
		break;
	case 4:
		c = C_BUF_CREATE;
		a.b.nr_pages = 1;
		if (chance(&w->r, 50))
			a.b.flags = bit = unknown_bit(w, 0);
		else
			a.b.reserved[below(&w->r, 2)] = bit = 1;
		break;
	default:
		c = C_PGMAP_GET;
		a.g.pfn = w->nr_pgmaps ? w->pgmaps[0].pfn : FAKE_PFN;
		a.g.flags = bit = unknown_bit(w, 0);
		break;
	}
	if (!bit)
		return;
	ret = fuzz_ioctl(w->fd, c, cmds[c].cmd, &a, true);
	count(c, ret);
	atomic_fetch_add(&sh->legal_ops, 1);
	if (ret != -EINVAL && !(fail_percent && ret == -ENOMEM))
		bug("worker %u: %s with a reserved field or unknown flag set returned %d, not -EINVAL",
		    w->id, cmds[c].name, ret);
}

static void legal_op(struct worker *w)
{
	if (w->fd < 0) {
		reopen(w);
		return;
	}
	switch (below(&w->r, 100)) {
	case 0 ... 19:
		legal_map(w);
		break;
	case 20 ... 34:
		legal_verify(w);
		break;
	case 35 ... 49:
		legal_unmap(w);
		break;
	case 50 ... 57:
		legal_buf(w);
		break;
	case 58 ... 67:
		legal_submit(w);
		break;
	case 68 ... 73:
		legal_pgmap_create(w);
		break;
	case 74 ... 81:
		legal_pgmap_ref(w);
		break;
	case 82 ... 85:
		legal_pgmap_destroy(w);
		break;
	case 86 ... 91:
		legal_real(w);
		break;
	case 92 ... 95:
		legal_misc(w);
		break;
	case 96 ... 98:
		legal_reserved(w);
		break;
	default:
		reopen(w);	/* close() undoes all of it */
		break;
	}
}

/* ---- chaos -------------------------------------------------------------- */

/* A handle: guessed small, one this worker saw on its own file, or wild. */
static __u64 some_handle(struct worker *w)
{
	switch (below(&w->r, 4)) {
	case 0:
		return w->seen[below(&w->r, 8)];
	case 1:
		return rnd(&w->r);
	default:
		return 1 + below(&w->r, 32);
	}
}

static __u64 some_pfn_anywhere(struct worker *w)
{
	switch (below(&w->r, 8)) {
	case 0:
		return 0x100 + below(&w->r, 0x1000);		/* System RAM */
	case 1:
		return rnd(&w->r) >> below(&w->r, 64);		/* anywhere, past the end */
	case 2:
		return (1ull << 40) - below(&w->r, 1024);	/* near MAX_PHYSMEM_BITS */
	case 3:
		return 0xfed1c000 >> 12;			/* chipset MMIO */
	case 4:
		/* someone else's window: overlaps */
		return FAKE_PFN + below(&w->r, MAX_PROCS * MAX_THREADS) * WINDOW + below(&w->r, WINDOW);
	case 5:
		if (slice_pages)	/* the chaos slice (whole subsections) */
			return res_pfn + res_pages - slice_pages + SUBSECTION * below(&w->r, 2);
		/* fallthrough */
	default:
		return CHAOS_PFN + below(&w->r, WINDOW);
	}
}

/*
 * Anywhere but in the workers' slices of the reserved memory: what a
 * chaos MEMREMAP or altmap writes there would make their checks fail.
 */
static __u64 some_pfn(struct worker *w)
{
	__u64 pfn = some_pfn_anywhere(w);

	if (slice_pages && pfn >= res_pfn && pfn < res_pfn + res_pages - slice_pages)
		pfn = res_pfn + res_pages - slice_pages + (pfn - res_pfn) % slice_pages;
	return pfn;
}

static __u64 some_count(struct worker *w, __u64 max)
{
	switch (below(&w->r, 6)) {
	case 0:
		return 0;
	case 1:
		return rnd(&w->r) >> below(&w->r, 64);
	case 2:
		return max + 1;
	default:
		return 1 + below(&w->r, max);
	}
}

/* A plausible argument for command @c, then 0-3 faults in it. */
static void chaos_arg(struct worker *w, int c, void *arg, size_t size)
{
	unsigned int i, n;

	memset(arg, 0, size);
	switch (c) {
	case C_MAP: {
		struct cxxvm_map *m = arg;

		m->backend = below(&w->r, 4) ? below(&w->r, CXXVM_NR_BACKENDS) : (__u32)rnd(&w->r);
		m->nr_pages = some_count(w, info.max_pages);
		if (chance(&w->r, 40)) {
			m->flags = CXXVM_MAP_BUF;
			m->buf = 1 + below(&w->r, 8);
			m->buf_offset = below(&w->r, 4) ? below(&w->r, 64) : (__u32)rnd(&w->r);
		}
		break;
	}
	case C_UNMAP:
	case C_VERIFY:
	case C_PGMAP_DESTROY:
	case C_PGMAP_CHECK:
		*(__u64 *)arg = some_handle(w);	/* @handle comes first in all four */
		if (c == C_VERIFY)
			((struct cxxvm_verify *)arg)->seed = 0x5eed;
		break;
	case C_FLUSH:
		((struct cxxvm_flush *)arg)->flags = below(&w->r, 8);
		break;
	case C_BENCH: {
		struct cxxvm_bench *b = arg;

		b->backend = below(&w->r, CXXVM_NR_BACKENDS + 1);
		b->nr_pages = some_count(w, info.max_pages);
		b->iterations = 1 + below(&w->r, 8);
		if (chance(&w->r, 10))
			b->iterations = chance(&w->r, 50) ? 0 : info.max_bench_iterations + 1;
		break;
	}
	case C_BUF_CREATE:
		/*
		 * Small or refused: buffers live as long as their file, and
		 * big valid ones would fill the guest.
		 */
		((struct cxxvm_buf_create *)arg)->nr_pages =
			below(&w->r, 4) ? below(&w->r, 9) :
			chance(&w->r, 50) ? info.max_buf_pages + 1 : (__u32)rnd(&w->r) | 0x80000000u;
		break;
	case C_BUF_DESTROY:
		((struct cxxvm_buf_destroy *)arg)->id = below(&w->r, 10);
		break;
	case C_PGMAP_CREATE: {
		struct cxxvm_pgmap_create *p = arg;

		p->type = below(&w->r, 7);
		p->flags = below(&w->r, 4) ? below(&w->r, CXXVM_PGMAP_FLAGS + 1) : (__u32)rnd(&w->r);
		p->nr_ranges = below(&w->r, 4) ? 1 + below(&w->r, 3) : (__u32)some_count(w, CXXVM_PGMAP_MAX_RANGES);
		for (i = 0; i < CXXVM_PGMAP_MAX_RANGES && i < p->nr_ranges; i++) {
			p->ranges[i].start_pfn = some_pfn(w);
			p->ranges[i].nr_pages = chance(&w->r, 30) ? SUBSECTION : some_count(w, 64);
		}
		if (p->flags & CXXVM_PGMAP_ALTMAP) {
			p->altmap_reserve = some_count(w, 8);
			p->altmap_free = some_count(w, 64);
		}
		/* Faults below may set it again: chaos_op() clears it then. */
		break;
	}
	case C_PGMAP_GET: {
		struct cxxvm_pgmap_ref *r = arg;

		r->pfn = some_pfn(w);
		break;
	}
	case C_PGMAP_PUT:
		((struct cxxvm_pgmap_ref *)arg)->handle = some_handle(w);
		break;
	case C_MEMREMAP: {
		struct cxxvm_memremap *m = arg;

		m->phys_addr = some_pfn(w) * PAGE + (chance(&w->r, 10) ? 8 : 0);
		m->size = some_count(w, 16) * PAGE;
		m->flags = below(&w->r, 16);
		m->seed = 0x5eed;
		break;
	}
	case C_PGMAP_VMAP: {
		struct cxxvm_pgmap_vmap *v = arg;

		v->handle = some_handle(w);
		v->offset = some_count(w, 1024);
		v->nr_pages = some_count(w, info.max_pages);
		v->seed = 0x5eed;
		break;
	}
	case C_PGMAP_BENCH: {
		struct cxxvm_pgmap_bench *b = arg;

		b->backend = below(&w->r, 3);
		b->mode = below(&w->r, 3);
		b->iterations = 1 + below(&w->r, 32);
		break;
	}
	case C_SUBMIT:	/* built by chaos_submit() */
	case C_INFO:
	case C_STATS:
		break;
	}
	/* Faults: any bit of the struct, reserved fields included. */
	n = chance(&w->r, 50) ? 0 : 1 + below(&w->r, 3);
	for (i = 0; i < n; i++)
		((unsigned char *)arg)[below(&w->r, size)] ^= 1u << below(&w->r, 8);
}

/* A trace of up to 8 operations, mostly well formed, with wild fields. */
static void chaos_replay(struct worker *w, struct cxxvm_replay *r, struct cxxvm_replay_op *ops)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->ops = (uintptr_t)ops;
	r->nr_ops = chance(&w->r, 10) ? below(&w->r, 2) * (CXXVM_MAX_REPLAY_OPS + 1) :
					1 + below(&w->r, 8);	/* the array has 8 */
	r->nr_ids = chance(&w->r, 10) ? (__u32)rnd(&w->r) % (2 * CXXVM_MAX_REPLAY_IDS) :
					1 + below(&w->r, 4);
	r->backend = below(&w->r, CXXVM_NR_BACKENDS + 1);
	r->loops = chance(&w->r, 5) ? (__u32)rnd(&w->r) : below(&w->r, 4);
	if (chance(&w->r, 5))
		r->flags = 1u << below(&w->r, 32);
	for (i = 0; i < 8; i++) {
		ops[i].op = below(&w->r, 4);
		ops[i].nr_pages = chance(&w->r, 5) ? CXXVM_MAX_REPLAY_PAGES + below(&w->r, 2) :
						     below(&w->r, 81);
		ops[i].id = below(&w->r, 5);
		ops[i].reserved = chance(&w->r, 5);
	}
}

/* A batch of up to 8 operations on guessed handles and buffers. */
static void chaos_submit(struct worker *w, struct cxxvm_submit *s, struct cxxvm_op *ops)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->ops = (uintptr_t)ops;
	switch (below(&w->r, 10)) {
	case 0:
		s->nr_ops = 0;
		break;
	case 1:
		s->nr_ops = info.max_submit_ops + 1;
		break;
	default:
		s->nr_ops = 1 + below(&w->r, 8);	/* the array has 8 */
		break;
	}
	s->op_size = chance(&w->r, 90) ? sizeof(*ops) : below(&w->r, 128);
	s->flags = below(&w->r, 8);
	for (i = 0; i < 8; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].op = below(&w->r, 6);
		ops[i].flags = below(&w->r, 3);
		ops[i].backend = below(&w->r, CXXVM_NR_BACKENDS + 1);
		ops[i].nr_pages = some_count(w, info.max_pages);
		ops[i].buf = below(&w->r, 6);
		ops[i].buf_offset = below(&w->r, 8);
		ops[i].seed = 0x5eed;
		ops[i].handle = (ops[i].flags & CXXVM_OP_REF) ? below(&w->r, 8) : some_handle(w);
		if (chance(&w->r, 5))
			ops[i].reserved = 1;
	}
}

/*
 * A shared file, or the parent's for a command that creates nothing
 * there: that file lives for the whole run, and what chaos made on it
 * under handles it never guesses again would pile up.
 */
static int pick_shared_fd(struct worker *w, int c)
{
	bool creates = c == C_MAP || c == C_BUF_CREATE || c == C_PGMAP_CREATE ||
		       c == C_PGMAP_GET || c == C_SUBMIT || c == C_OTHER;

	if (parent_fd >= 0 && !creates && chance(&w->r, 20))
		return parent_fd;
	return atomic_load(&shared_fd[below(&w->r, SHARED_FDS)]);
}

/* Close one shared file under the others' feet and put a new one there. */
static void chaos_replace(struct worker *w)
{
	int slot = below(&w->r, SHARED_FDS);
	int nfd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int old;

	if (nfd < 0) {
		if (!(fail_percent && errno == ENOMEM))
			bug("worker %u: open: %s", w->id, strerror(errno));
		return;
	}
	pthread_mutex_lock(&replace_lock);
	if (chance(&w->r, 50)) {
		/* Atomic: dup2() drops the old file while ioctls may run on it. */
		old = atomic_load(&shared_fd[slot]);
		if (dup2(nfd, old) < 0)
			bug("worker %u: dup2: %s", w->id, strerror(errno));
		close(nfd);
	} else {
		/* A window where the number is closed (-EBADF) or reused. */
		old = atomic_exchange(&shared_fd[slot], nfd);
		close(old);
	}
	pthread_mutex_unlock(&replace_lock);
}

static bool writes_pattern(int c)
{
	return c == C_VERIFY || c == C_MEMREMAP || c == C_PGMAP_VMAP || c == C_SUBMIT;
}

static void chaos_op(struct worker *w)
{
	static const unsigned char sizes_dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE };
	union {
		struct cxxvm_map map;
		struct cxxvm_pgmap_create pgc;
		struct cxxvm_stats st;
		char bytes[16384];	/* any _IOC_SIZE() */
	} u;
	struct cxxvm_op ops[8];
	struct cxxvm_replay_op rops[8];
	int c = below(&w->r, C_OTHER);
	unsigned long cmd = cmds[c].cmd;
	size_t size = _IOC_SIZE(cmd);
	void *arg = &u;
	int kind = below(&w->r, 100), fd, ret;
	bool must_fail = false;

	if (chance(&w->r, 3)) {
		chaos_replace(w);
		return;
	}
	if (c == C_SUBMIT)
		chaos_submit(w, (struct cxxvm_submit *)&u, ops);
	else if (c == C_REPLAY)
		chaos_replay(w, (struct cxxvm_replay *)&u, rops);
	else
		chaos_arg(w, c, &u, size);

	/* -f: no REAL pagemap (see fuzz_ioctl()). */
	if (fail_percent && c == C_PGMAP_CREATE)
		((struct cxxvm_pgmap_create *)&u)->flags &= ~CXXVM_PGMAP_REAL;

	if (kind < 10) {
		/* Wrong encodings: size, direction, number or type. */
		switch (below(&w->r, 4)) {
		case 0:
			cmd = _IOC(_IOC_DIR(cmd), CXXVM_IOC_MAGIC, _IOC_NR(cmd), below(&w->r, sizeof(u)));
			memset(u.bytes + size, 0, sizeof(u) - size);
			if (chance(&w->r, 50))
				u.bytes[size + below(&w->r, 64)] = 1;	/* -E2BIG if larger */
			break;
		case 1:
			cmd = _IOC(sizes_dirs[below(&w->r, 4)], CXXVM_IOC_MAGIC, _IOC_NR(cmd), size);
			break;
		case 2:
			cmd = _IOC(_IOC_DIR(cmd), CXXVM_IOC_MAGIC, below(&w->r, 256), size);
			break;
		default:
			cmd = (unsigned int)rnd(&w->r);
			break;
		}
		if (cmd != cmds[c].cmd)
			c = C_OTHER;
		/* -f: not even a PGMAP_CREATE read from another struct's bytes. */
		if (fail_percent && _IOC_TYPE(cmd) == CXXVM_IOC_MAGIC &&
		    _IOC_NR(cmd) == _IOC_NR(CXXVM_IOC_PGMAP_CREATE))
			return;
	} else if (kind < 20) {
		/* Pointers the module cannot read, or write back to. */
		switch (below(&w->r, 5)) {
		case 0:
			arg = NULL;
			must_fail = true;
			break;
		case 1:
			arg = gone_page;
			must_fail = true;
			break;
		case 2:
			arg = (void *)0xffff888000100000ul;	/* the direct map */
			must_fail = true;
			break;
		case 3:
			/* Straddles into the PROT_NONE page after guard_page. */
			arg = guard_page + PAGE - size / 2;
			memcpy(arg, &u, size / 2);
			must_fail = size > 1;
			break;
		default:
			/* Readable, not writable: what returns output must fail. */
			arg = ro_pages + (w->id % MAX_THREADS) * PAGE;
			if (mprotect(arg, PAGE, PROT_READ | PROT_WRITE)) {
				arg = &u;
				break;
			}
			memcpy(arg, &u, size < PAGE ? size : PAGE);
			if (mprotect(arg, PAGE, PROT_READ))
				bug("worker %u: mprotect: %s", w->id, strerror(errno));
			must_fail = _IOC_DIR(cmd) & _IOC_READ;
			break;
		}
		if (c == C_SUBMIT && arg != ro_pages + (w->id % MAX_THREADS) * PAGE)
			arg = chance(&w->r, 50) ? arg : &u;
		if (c == C_SUBMIT && arg == &u) {
			/* Keep the struct, point its ops somewhere bad. */
			((struct cxxvm_submit *)&u)->ops = below(&w->r, 2) ? (uintptr_t)gone_page : 0;
			must_fail = false;	/* -EFAULT or a result: both legal */
		}
	}

	pthread_rwlock_rdlock(&fd_lock);
	fd = pick_shared_fd(w, c);
	if (writes_pattern(c) || c == C_OTHER)
		pattern_lock();
	/* Never injected: see fuzz_ioctl(). */
	ret = xioctl(fd, cmd, arg);
	if (writes_pattern(c) || c == C_OTHER)
		pattern_unlock();
	pthread_rwlock_unlock(&fd_lock);
	count(c, ret);

	if (ret == -EIO)
		bug("worker %u: %s (cmd %#lx) on a shared file returned -EIO", w->id, cmds[c].name, cmd);
	else if (!errno_of_abi(ret) || ret > 0)
		bug("worker %u: %s (cmd %#lx) returned %d (%s)", w->id, cmds[c].name, cmd, ret,
		    strerror(-ret));
	else if (must_fail && !ret)
		bug("worker %u: %s (cmd %#lx) succeeded with the argument at %p", w->id,
		    cmds[c].name, cmd, arg);
	if (!ret && c == C_SUBMIT && arg == &u) {
		struct cxxvm_submit *s = (struct cxxvm_submit *)&u;
		unsigned int i;

		for (i = 0; i < s->nr_done && i < 8 && s->ops == (uintptr_t)ops; i++)
			if (ops[i].result == -EIO || !errno_of_abi(ops[i].result))
				bug("worker %u: SUBMIT op %u (%u) result %d", w->id, i, ops[i].op,
				    ops[i].result);
	}
}

/* ---- processes and threads --------------------------------------------- */

struct thread_arg {
	unsigned int id;
	uint64_t seed;
};

static void *worker_main(void *p)
{
	struct thread_arg *a = p;
	struct worker w = { .r = { a->seed }, .id = a->id, .fd = -1 };

	if (fail_percent) {
		mif_fd = open(CXXVM_MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
		if (mif_fd < 0)
			bug("worker %u: no make-it-fail: %s", w.id, strerror(errno));
	}
	reopen(&w);
	while (!atomic_load(&sh->stop) && !ops_done()) {
		if (chance(&w.r, 65))
			legal_op(&w);
		else
			chaos_op(&w);
	}
	/* Leave the rest to close(): it must undo all of it. */
	if (w.fd >= 0)
		close(w.fd);
	if (mif_fd >= 0)
		close(mif_fd);
	return NULL;
}

static void child_main(unsigned int proc, uint64_t seed)
{
	pthread_t t[MAX_THREADS];
	struct thread_arg a[MAX_THREADS];
	pthread_rwlockattr_t ra;
	unsigned int i;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fd_lock, &ra);
	for (i = 0; i < SHARED_FDS; i++) {
		int fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			bug("child %u: open: %s", proc, strerror(errno));
			_exit(1);
		}
		atomic_store(&shared_fd[i], fd);
	}
	for (i = 0; i < nr_threads; i++) {
		a[i] = (struct thread_arg){ proc * MAX_THREADS + i, seed ^ (0x1000193ull * (i + 1)) };
		if (pthread_create(&t[i], NULL, worker_main, &a[i])) {
			bug("child %u: pthread_create failed", proc);
			_exit(1);
		}
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

/* Fork child @proc of generation @gen; -1 (reported) if fork() failed. */
static pid_t spawn(unsigned int proc, uint64_t seed, unsigned int gen)
{
	uint64_t s = seed ^ ((uint64_t)gen << 32) ^ (0x9e37ull * (proc + 1));
	pid_t pid = fork();

	if (!pid)
		child_main(proc, s);
	if (pid < 0)
		bug("fork: %s", strerror(errno));
	if (verbose)
		ksft_print_msg("generation %u of child %u: pid %d\n", gen, proc, pid);
	return pid;
}

/*
 * Reap child @pid (never a pid <= 0: kill(-1) would reach every process).
 * A child ends by SIGKILL (ours) or exit(0) (the run's ops were done):
 * anything else (a crash, an exit status) is a bug of the run.
 */
static void reap(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return;
	if (WIFSIGNALED(status) ? WTERMSIG(status) != SIGKILL : WEXITSTATUS(status))
		bug("child %d ended with %s %d", pid, WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* Some mappings, a buffer and a pagemap on a file every child inherits. */
static void parent_file(void)
{
	struct cxxvm_buf_create b = { .nr_pages = 8 };
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 4 };
	struct cxxvm_pgmap_create c = {
		.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
		.ranges = { { CHAOS_PFN + WINDOW, 64 } },
	};

	parent_fd = open(CXXVM_DEVICE_PATH, O_RDWR);	/* no O_CLOEXEC: inherited */
	if (parent_fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", CXXVM_DEVICE_PATH, strerror(errno));
	if (xioctl(parent_fd, CXXVM_IOC_BUF_CREATE, &b) || xioctl(parent_fd, CXXVM_IOC_MAP, &m) ||
	    xioctl(parent_fd, CXXVM_IOC_PGMAP_CREATE, &c))
		ksft_exit_fail_msg("setting up the parent's file failed\n");
}

static void print_histogram(void)
{
	int c, e;

	for (c = 0; c < NR_CMDS; c++) {
		char line[1024];
		int n = 0;

		for (e = 0; e <= MAX_ERRNO; e++) {
			unsigned long v = atomic_load(&sh->hist[c][e]);
			const char *name = !e ? "ok" : e == MAX_ERRNO ? "other" : strerrorname_np(e);

			if (v && n < (int)sizeof(line) - 40)
				n += snprintf(line + n, sizeof(line) - n, " %s=%lu", name ? name : "?", v);
		}
		if (n)
			ksft_print_msg("%-14s%s\n", cmds[c].name, line);
	}
}

/* After the run, from a fresh file: nothing left, and everything usable. */
static void final_checks(void)
{
	struct cxxvm_flush fl = { .flags = CXXVM_FLUSH_RELEASE_BLOCKS };
	struct cxxvm_stats st;
	struct cxxvm_pgmap_create c = { .type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1 };
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 16 };
	struct cxxvm_verify v = { .seed = 7 };
	int fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		ksft_exit_fail_msg("open: %s\n", strerror(errno));
	ret = xioctl(fd, CXXVM_IOC_FLUSH, &fl);
	memset(&st, 0xff, sizeof(st));
	ret = ret ?: xioctl(fd, CXXVM_IOC_STATS, &st);
	/* How deep the run (and whatever ran since the load) went into the C++ allocator's states. */
	ksft_print_msg("allocator: %llu blocks created, %llu freed, %llu purges (%llu by callers), %llu shootdowns, %llu steals, %llu borrows\n",
		       st.blocks_created, st.blocks_freed, st.purges, st.caller_purges,
		       st.shootdowns, st.steals, st.borrows);
	ksft_print_msg("left: %llu mappings, %llu live, %llu mapped, %llu retired, %llu leaked pages\n",
		       st.live_mappings, st.live_pages, st.mapped_pages, st.retired_pages,
		       st.leaked_pages);
	ksft_test_result(!ret && !st.live_mappings && !st.live_pages && !st.mapped_pages &&
			 !st.retired_pages && !st.leaked_pages,
			 "STATS: no mapping or page left after the run\n");

	/* Every fake pfn any worker, the chaos side or the parent used. */
	c.ranges[0] = (struct cxxvm_pfn_range){ FAKE_PFN, CHAOS_PFN + 2 * WINDOW - FAKE_PFN };
	ret = xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c);
	if (!ret) {
		struct cxxvm_pgmap_destroy d = { .handle = c.handle };

		ret = xioctl(fd, CXXVM_IOC_PGMAP_DESTROY, &d);
	}
	/* And the reserved memory, in the kernel too. */
	if (!ret && res_pages) {
		c = (struct cxxvm_pgmap_create){
			.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL, .nr_ranges = 1,
			.ranges = { { res_pfn, res_pages } },
		};
		ret = xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c);
		if (!ret) {
			struct cxxvm_pgmap_destroy d = { .handle = c.handle };

			ret = xioctl(fd, CXXVM_IOC_PGMAP_DESTROY, &d);
		}
	}
	ksft_test_result(!ret, "every pfn range the run used is free for a new pagemap (%d)\n", ret);

	ret = xioctl(fd, CXXVM_IOC_MAP, &m);
	v.handle = m.handle;
	ret = ret ?: xioctl(fd, CXXVM_IOC_VERIFY, &v);
	ksft_test_result(!ret && v.pages_checked == 16, "the device still maps and verifies (%d)\n", ret);
	close(fd);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"%s [-s SEED] [-n OPS] [-t SECONDS] [-p PROCS] [-j THREADS] [-k KILL_MS] [-f PERCENT] [-v]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = (uint64_t)time(NULL);
	unsigned int seconds = 0, kill_ms = 2000, gen = 0, i;
	pid_t pids[MAX_PROCS] = { 0 };
	pthread_mutexattr_t ma;
	struct timespec t0, now;
	bool ops_given = false;
	double elapsed;
	char *end;
	int opt, fd;

	while ((opt = getopt(argc, argv, "s:n:t:p:j:k:f:v")) != -1) {
		unsigned long long v;

		if (opt == 'v') {
			verbose = true;
			continue;
		}
		if (!strchr("sntpjkf", opt))
			usage(argv[0]);
		v = strtoull(optarg, &end, 0);
		switch (opt) {
		case 's':
			seed = v;
			break;
		case 'n':
			max_ops = v;
			ops_given = true;
			break;
		case 't':
			seconds = v;
			break;
		case 'p':
			nr_procs = v;
			break;
		case 'j':
			nr_threads = v;
			break;
		case 'k':
			kill_ms = v;
			break;
		default:
			fail_percent = v;
			break;
		}
		if (*end)
			usage(argv[0]);
	}
	if (optind != argc || (!max_ops && !seconds) || !nr_procs || nr_procs > MAX_PROCS || !nr_threads ||
	    nr_threads > MAX_THREADS || fail_percent > 100 || !kill_ms)
		usage(argv[0]);
	if (seconds && !ops_given)
		max_ops = 0;	/* -t alone: run for the time */

	/*
	 * In a guest, stdout is a virtio port, not a terminal: line
	 * buffering, so that a guest that dies mid-run shows how far the
	 * fuzzer got (and a fork() copies no unwritten output).
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	ksft_set_plan(4);
	ksft_print_msg("seed %#llx, %lu ops (0: no limit) or %u s, %u processes x %u threads, a SIGKILL every %u ms%s\n",
		       (unsigned long long)seed, max_ops, seconds, nr_procs, nr_threads, kill_ms,
		       fail_percent ? ", allocations failing" : "");

	fd = open(CXXVM_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || xioctl(fd, CXXVM_IOC_INFO, &info))
		ksft_exit_fail_msg("%s: %s (is cxxvm.ko loaded?)\n", CXXVM_DEVICE_PATH, strerror(errno));
	close(fd);
	if (info.reserved_mem_size) {
		/* Whole subsections: what a REAL pagemap needs. */
		unsigned long long end = (info.reserved_mem_start + info.reserved_mem_size) / PAGE;

		res_pfn = (info.reserved_mem_start / PAGE + SUBSECTION - 1) / SUBSECTION * SUBSECTION;
		end = end / SUBSECTION * SUBSECTION;
		res_pages = end > res_pfn ? end - res_pfn : 0;
		/* One slice per worker and one for chaos, whole subsections. */
		slice_pages = res_pages / SUBSECTION / (nr_procs * nr_threads + 1) * SUBSECTION;
		if (slice_pages < 2 * SUBSECTION)
			slice_pages = 0;
	}
	if (!slice_pages)
		ksft_print_msg("no reserved_mem= (or too little): no real pagemap or MEMREMAP\n");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	guard_page = mmap(NULL, (2 + MAX_THREADS) * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || guard_page == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	gone_page = guard_page + PAGE;
	ro_pages = guard_page + 2 * PAGE;
	if (mprotect(gone_page, PAGE, PROT_NONE))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->pattern_lock, &ma);
	pthread_mutex_init(&sh->report_lock, &ma);

	if (fail_percent) {
		char pct[16];

		snprintf(pct, sizeof(pct), "%u", fail_percent);
		if (fault_injection(pct))
			ksft_exit_fail_msg("cannot set up failslab/fail_page_alloc (debugfs?)\n");
	}
	parent_file();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr_procs; i++)
		pids[i] = spawn(i, seed, gen);

	/* Kill one child at a time, while the run lasts; fork its successor. */
	for (;;) {
		usleep(kill_ms * 1000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
		if ((seconds && elapsed >= seconds) || ops_done())
			break;
		i = ++gen % nr_procs;
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
		reap(pids[i]);
		pids[i] = spawn(i, seed, gen);
	}
	/* The end: all children killed together, holding what they hold. */
	atomic_store(&sh->stop, 1);
	for (i = 0; i < nr_procs; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < nr_procs; i++)
		reap(pids[i]);
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
	close(parent_fd);
	if (fail_percent && fault_injection(NULL))
		ksft_print_msg("could not turn fault injection off\n");

	print_histogram();
	ksft_print_msg("%lu operations (%lu legal) in %.1f s, %u child generations, seed %#llx\n",
		       atomic_load(&sh->ops), atomic_load(&sh->legal_ops), elapsed, gen + nr_procs,
		       (unsigned long long)seed);
	if (fail_percent) {
		unsigned long enomem = 0;
		int c;

		for (c = 0; c < NR_CMDS; c++)
			enomem += atomic_load(&sh->hist[c][ENOMEM]);
		if (!enomem)
			bug("-f %u: no ioctl met an injected failure", fail_percent);
	}
	ksft_test_result(!atomic_load(&sh->bugs), "%lu operations, no bug%s%s\n",
			 atomic_load(&sh->ops), atomic_load(&sh->bugs) ? ": first: " : "",
			 atomic_load(&sh->bugs) ? sh->first_bug : "");
	final_checks();
	ksft_finished();
}
