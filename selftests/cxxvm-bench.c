// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm-bench - compare cxxvm's C++ vmap block allocator with the kernel's
 * vm_map_ram() and vmap() through /dev/cxxvm.  Every figure of a section
 * comes from the same boot, and ratios are against vm_map_ram in it.
 *
 * Sections (all by default, in this order; --sections picks some):
 *
 *  single      CXXVM_IOC_BENCH: an in-kernel loop of N map+unmap cycles of
 *              the same P pages, one thread.  Mean from an untimed pass
 *              (elapsed / N), p50/p99 from a second pass timing each cycle;
 *              the backends take turns for R rounds, medians are reported.
 *  threads     the same loop on one thread per online CPU at once (each
 *              pinned to its CPU), against one thread pinned to CPU 0:
 *              cycles per second (medians of R rounds), the scaling, and
 *              the worst thread's p99 per cycle.
 *  contended   the threads section for a guest with more vCPUs than the
 *              host has cores (make bench boots one with 4 vCPUs on this
 *              2-core host), so that vCPUs are preempted by the host while
 *              they hold locks or wait for IPIs: per backend and size the
 *              1- and N-thread rates, the scaling, p50/p99/max per cycle,
 *              shootdowns per 10^6 cycles (IPIs), and for cxx the share of
 *              thread time spent waiting for purges and spinning on
 *              queue locks (the module's STATS counters).  Then the
 *              tracker's lookups (sequence-count readers) against
 *              get_dev_pagemap(), one thread and then one per vCPU (each
 *              with its own file and four 8 MiB pagemaps), while another
 *              thread creates and destroys a real pagemap in a loop (the
 *              writer the readers must retry or wait for).  Not part of
 *              the default list.
 *  shootdowns  TLB shootdowns per 10^6 map+unmap cycles, from the
 *              function-call IPIs (the CAL row of /proc/interrupts, summed
 *              over CPUs, divided by CPUs - 1: on_each_cpu() sends one IPI to
 *              every other CPU).  The kernel's purge, flush_tlb_kernel_range(),
 *              and cxx's shootdown are both on_each_cpu() calls; for cxx the
 *              arena's own count is printed beside it as a cross-check.
 *  user        map+unmap cycles driven from userspace, timed there, in three
 *              forms: alloc (one MAP and one UNMAP ioctl, pages allocated
 *              per MAP), buf (the same ioctls on a buffer's pages) and
 *              submit (the same two operations in SUBMIT batches): what the
 *              page allocator and the syscall add to the mapping.  Medians
 *              of R rounds.
 *  mixed       long- and short-lived mappings of mixed sizes (the pattern
 *              vm_map_ram()'s comment warns about), in the same three
 *              forms: failures, time, and peak VA held, read from
 *              /proc/vmallocinfo (the backend's own areas plus "unpurged
 *              vm_area" lazily freed ones, above the level before the run).
 *              The median of up to 3 rounds.
 *  replay      CXXVM_IOC_REPLAY: each --replay trace (a recording of the
 *              kernel's own vm_map_ram() callers, selftests/fixtures/README)
 *              run in the kernel through each backend, keeping its sizes,
 *              order and overlapping lifetimes: per call map+unmap ns
 *              (pass 1: the trace run back to back until it has mapped
 *              4 x lazy_max_pages, time / maps), map and unmap ns (pass
 *              2, once), the C++ backend's fallbacks, shootdowns, new
 *              blocks, the ms spent on both, and peak VA; then map and
 *              unmap ns of a cold pass 2 (CXXVM_REPLAY_COLD: the CPU's TLB
 *              flushed before each call, as under TCG a real caller may
 *              find it after a context switch).
 *              Only with -s.
 *  flush       no figures: FLUSH with CXXVM_FLUSH_RELEASE_BLOCKS and
 *              CXXVM_FLUSH_KERNEL_ALIASES (both arenas purged, the module's
 *              empty blocks returned, the kernel's lazy areas purged with
 *              vm_unmap_aliases()), before any other section.  Only with -s.
 *  lookup      CXXVM_IOC_PGMAP_BENCH: pfn -> pagemap lookups over 1, 4 and
 *              16 real MEMORY_DEVICE_GENERIC pagemaps (memremap_pages() of
 *              8 MiB each of the memory given to cxxvm.ko as reserved_mem=
 *              on the guest's command line), cxxvm's tracker against
 *              get_dev_pagemap() + put_dev_pagemap(): random pfns without a
 *              hint, and a sequential walk passing the last result as the
 *              hint.  ns per lookup, medians of R rounds.
 *
 * Each timed run is preceded by an untimed warm-up, by default
 * lazy_max_pages cycles, so that allocators reach their steady state.
 *
 *   cxxvm-bench [-n ITERATIONS] [-r ROUNDS] [-w WARMUP] [-s SECTIONS] [--json FILE]
 *               [--replay FILE]...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/cxxvm.h>
#include "cxxvm_reserved.h"

static const unsigned int sizes[] = { 1, 2, 4, 8, 16, 32, 64 };
#define NR_SIZES 7
_Static_assert(sizeof(sizes) == NR_SIZES * sizeof(sizes[0]), "NR_SIZES");
#define NR_BE CXXVM_NR_BACKENDS
#define MAX_THREADS 64

static const char *const backend_names[NR_BE] = {
	[CXXVM_BACKEND_CXX] = "cxx",
	[CXXVM_BACKEND_VM_MAP_RAM] = "vm_map_ram",
	[CXXVM_BACKEND_VMAP] = "vmap",
};

static int fd;
static struct cxxvm_info info;
static unsigned long iterations = 20000, warmup = ~0ul;
static int nr_cpus;

/* ---- helpers --------------------------------------------------------------- */

static void die(const char *what)
{
	fprintf(stderr, "cxxvm-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* BENCH: two passes, or pass 1 only with CXXVM_BENCH_UNTIMED in @flags. */
static void bench_ioctl_flags(__u32 backend, __u32 pages, __u32 n, __u32 flags,
			      struct cxxvm_bench *out)
{
	memset(out, 0, sizeof(*out));
	out->backend = backend;
	out->nr_pages = pages;
	out->iterations = n;
	out->flags = flags;
	if (ioctl(fd, CXXVM_IOC_BENCH, out)) {
		fprintf(stderr, "cxxvm-bench: BENCH %s P=%u: %s\n",
			backend_names[backend], pages, strerror(errno));
		exit(1);
	}
}

static void bench_ioctl(__u32 backend, __u32 pages, __u32 n, struct cxxvm_bench *out)
{
	bench_ioctl_flags(backend, pages, n, 0, out);
}

/*
 * The warm-up before a run: two untimed calls of @warmup cycles, the
 * cycles that one two-pass call ran before ABI 6, so that at one page the
 * kernel's lazy count passes lazy_max_pages (it purges past it, not at
 * it) and every backend has purged at least once.
 */
static void warm_up(__u32 backend, __u32 pages)
{
	struct cxxvm_bench scratch;

	for (int i = 0; i < 2 && warmup; i++)
		bench_ioctl_flags(backend, pages, warmup, CXXVM_BENCH_UNTIMED, &scratch);
}

static const char *tlb_flush_name(__u32 how)
{
	switch (how) {
	case CXXVM_TLB_FLUSH_KERNEL:
		return "__flush_tlb_all";
	case CXXVM_TLB_FLUSH_INVPCID:
		return "invpcid";
	case CXXVM_TLB_FLUSH_CR4_PGE:
		return "cr4.pge";
	}
	return "unknown";
}

static double mean_ns(const struct cxxvm_bench *b)
{
	return (double)b->elapsed_ns / b->iterations;
}

static struct cxxvm_stats stats(void)
{
	/* Zeroed: a module older than a field leaves it as it is. */
	struct cxxvm_stats st = { 0 };

	if (ioctl(fd, CXXVM_IOC_STATS, &st))
		die("STATS");
	return st;
}

static void flush(__u32 flags)
{
	struct cxxvm_flush fl = { .flags = flags };

	if (ioctl(fd, CXXVM_IOC_FLUSH, &fl))
		die("FLUSH");
}

/* Function-call IPIs received, summed over CPUs (/proc/interrupts CAL). */
static long long call_ipis(void)
{
	char line[4096];
	long long sum = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "CAL:", 4))
			continue;
		p += 4;
		sum = 0;
		for (int c = 0; c < nr_cpus; c++) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

/* ---- single ------------------------------------------------------------------ */

static struct cxxvm_bench single[NR_SIZES][NR_BE];
static unsigned int rounds = 5;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_single(void)
{
	/*
	 * For each size: warm every backend up, then @rounds rounds of one run
	 * per backend, so that drift in the guest hits all three alike; the
	 * mean reported is the median over rounds (noise under TCG is large),
	 * the percentiles and counters those of the median round.
	 */
	for (int s = 0; s < NR_SIZES; s++) {
		struct cxxvm_bench runs[NR_BE][16];
		double means[16];

		for (int be = 0; be < NR_BE; be++)
			warm_up(be, sizes[s]);
		for (unsigned int r = 0; r < rounds; r++)
			for (int be = 0; be < NR_BE; be++)
				bench_ioctl(be, sizes[s], iterations, &runs[be][r]);
		for (int be = 0; be < NR_BE; be++) {
			double median;

			for (unsigned int r = 0; r < rounds; r++)
				means[r] = mean_ns(&runs[be][r]);
			qsort(means, rounds, sizeof(means[0]), cmp_double);
			median = means[rounds / 2];
			for (unsigned int r = 0; r < rounds; r++)
				if (mean_ns(&runs[be][r]) == median)
					single[s][be] = runs[be][r];
		}
	}

	printf("\n== single: in-kernel map+unmap loop, one thread, %lu cycles per run, median of %u rounds ==\n",
	       iterations, rounds);
	printf("ns per cycle: mean = elapsed / cycles (untimed pass), p50/p99 per cycle (timed pass)\n"
	       "x = mean / vm_map_ram mean; cxx shootdowns and blocks created in the untimed pass\n\n");
	printf("%5s | %-25s | %-25s | %-25s | %6s %6s | %10s %6s\n", "",
	       "cxx", "vm_map_ram", "vmap", "cxx", "vmap", "cxx", "cxx");
	printf("%5s | %7s %8s %8s | %7s %8s %8s | %7s %8s %8s | %6s %6s | %10s %6s\n",
	       "pages", "mean", "p50", "p99", "mean", "p50", "p99", "mean", "p50", "p99",
	       "x", "x", "shootdowns", "blocks");
	for (int s = 0; s < NR_SIZES; s++) {
		const struct cxxvm_bench *r = single[s];
		const double base = mean_ns(&r[CXXVM_BACKEND_VM_MAP_RAM]);

		printf("%5u |", sizes[s]);
		for (int be = 0; be < NR_BE; be++)
			printf(" %7.0f %8llu %8llu |", mean_ns(&r[be]),
			       (unsigned long long)r[be].p50_ns, (unsigned long long)r[be].p99_ns);
		printf(" %6.2f %6.2f | %10llu %6llu\n",
		       mean_ns(&r[CXXVM_BACKEND_CXX]) / base,
		       mean_ns(&r[CXXVM_BACKEND_VMAP]) / base,
		       (unsigned long long)r[CXXVM_BACKEND_CXX].shootdowns,
		       (unsigned long long)r[CXXVM_BACKEND_CXX].blocks_created);
	}
}

/* ---- threads ----------------------------------------------------------------- */

struct thread_arg {
	pthread_t tid;
	int cpu;
	__u32 backend, pages, flags;
	pthread_barrier_t *barrier;
	struct cxxvm_bench out;
};

/* The worst of @n threads' figures: p50 the median, p99 and max the largest. */
static void worst_of(const struct thread_arg *a, int n, double *p50, double *p99, double *max)
{
	double v[MAX_THREADS];

	*p99 = *max = 0;
	for (int i = 0; i < n; i++) {
		v[i] = a[i].out.p50_ns;
		if (a[i].out.p99_ns > *p99)
			*p99 = a[i].out.p99_ns;
		if (a[i].out.max_ns > *max)
			*max = a[i].out.max_ns;
	}
	qsort(v, n, sizeof(v[0]), cmp_double);
	*p50 = v[n / 2];
}

static void *bench_thread(void *p)
{
	struct thread_arg *a = p;

	pin_to_cpu(a->cpu);
	warm_up(a->backend, a->pages);
	pthread_barrier_wait(a->barrier);
	bench_ioctl_flags(a->backend, a->pages, iterations, a->flags, &a->out);
	return NULL;
}

/*
 * Cycles per second of @n threads on CPUs 0..n-1: all their cycles over
 * the wall time from the common start, after every thread's warm-up, to
 * the last thread's end.  Threads that do not overlap (a vCPU the host did
 * not run) show as a lower rate, not as two one-thread rates added up.
 * With CXXVM_BENCH_UNTIMED in @flags (the rates the tables print) each
 * BENCH runs its untimed pass only, so the wall time is all map+unmap
 * cycles; without it (for the percentiles) each also times every cycle of
 * a second pass and sorts the times, the harness's cost, the same for
 * every backend, so a larger share of the faster one's (at one page under
 * TCG, 42 to 48% of cxx's wall time), which would flatten the ratios.
 */
/* STATS and function-call IPIs around the timed part of a threads_run(). */
struct run_counters {
	struct cxxvm_stats st0, st1;
	long long i0, i1;
	double wall_ns;
};

static double threads_run(int n, __u32 backend, __u32 pages, __u32 flags,
			  struct thread_arg *a, struct run_counters *c)
{
	const double passes = flags & CXXVM_BENCH_UNTIMED ? 1 : 2;
	pthread_barrier_t barrier;
	double t0, t1;

	pthread_barrier_init(&barrier, NULL, n + 1);
	for (int i = 0; i < n; i++) {
		a[i] = (struct thread_arg){ .cpu = i, .backend = backend, .pages = pages,
					    .flags = flags, .barrier = &barrier };
		if (pthread_create(&a[i].tid, NULL, bench_thread, &a[i])) {
			errno = EAGAIN;
			die("pthread_create");
		}
	}
	pthread_barrier_wait(&barrier);
	t0 = now_ns();
	/*
	 * After every warm-up: the counters cover the timed cycles only (and
	 * the threads' first few cycles run while we read them).
	 */
	if (c) {
		c->st0 = stats();
		c->i0 = call_ipis();
	}
	for (int i = 0; i < n; i++)
		pthread_join(a[i].tid, NULL);
	t1 = now_ns();
	if (c) {
		c->i1 = call_ipis();
		c->st1 = stats();
	}
	pthread_barrier_destroy(&barrier);
	if (c)
		c->wall_ns = t1 - t0;
	return passes * n * iterations * 1e9 / (t1 - t0);
}

/* The untimed rate of @n threads, and then their p99 from a timed run. */
static double threads_rate(int n, __u32 backend, __u32 pages, double *p99)
{
	struct thread_arg a[MAX_THREADS];
	double rate = threads_run(n, backend, pages, CXXVM_BENCH_UNTIMED, a, NULL), p50, max;

	threads_run(n, backend, pages, 0, a, NULL);
	worst_of(a, n, &p50, p99, &max);
	return rate;
}

static double thr_rate[NR_SIZES][NR_BE][2];
static double thr_p99[NR_SIZES][NR_BE][2];	/* worst thread's, median round */
static double ceiling;

static void *spin_thread(void *p)
{
	unsigned long x = 0;

	pin_to_cpu((int)(long)p);
	for (unsigned long i = 0; i < 50000000ul; i++) {
		x += i * i;
		__asm__ __volatile__("" : "+r"(x));	/* keep the loop */
	}
	return NULL;
}

/* Loops per second of @n threads of a compute loop that shares nothing. */
static double spin_rate(int n)
{
	pthread_t t[MAX_THREADS];
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, spin_thread, (void *)i))
			die("pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return n * 1e9 / (now_ns() - t0);
}

static void run_threads(void)
{
	const int n = nr_cpus < MAX_THREADS ? nr_cpus : MAX_THREADS;
	double c[16];

	/*
	 * What the machine allows: the same scaling for a userspace loop with
	 * no shared state at all.  Under TCG on a host with no spare cores for
	 * qemu's own threads it stays well below n.
	 */
	for (unsigned int r = 0; r < rounds; r++)
		c[r] = spin_rate(n) / spin_rate(1);
	qsort(c, rounds, sizeof(c[0]), cmp_double);
	ceiling = c[rounds / 2];

	for (int s = 0; s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			double r1[16], rn[16], q1[16], qn[16], s1[16], sn[16];

			for (unsigned int r = 0; r < rounds; r++) {
				r1[r] = s1[r] = threads_rate(1, be, sizes[s], &q1[r]);
				rn[r] = sn[r] = threads_rate(n, be, sizes[s], &qn[r]);
			}
			qsort(s1, rounds, sizeof(s1[0]), cmp_double);
			qsort(sn, rounds, sizeof(sn[0]), cmp_double);
			thr_rate[s][be][0] = s1[rounds / 2];
			thr_rate[s][be][1] = sn[rounds / 2];
			for (unsigned int r = 0; r < rounds; r++) {
				if (r1[r] == thr_rate[s][be][0])
					thr_p99[s][be][0] = q1[r];
				if (rn[r] == thr_rate[s][be][1])
					thr_p99[s][be][1] = qn[r];
			}
		}
	}
	printf("\n== threads: in-kernel loop, 1 thread on CPU 0 vs %d threads (one per CPU), %lu cycles each, median of %u rounds ==\n",
	       n, iterations, rounds);
	printf("k cycles/s (all threads' cycles / wall time from common start to last end, untimed runs);\n"
	       "scale = %d-thread rate / 1-thread rate\n"
	       "x = %d-thread cxx rate / %d-thread vm_map_ram rate\n"
	       "ceiling: a userspace compute loop sharing nothing scales %.2f with %d threads here\n\n",
	       n, n, n, ceiling, n);
	printf("%5s | %-23s | %-23s | %-23s | %6s | %-17s | %-17s\n", "", "cxx", "vm_map_ram",
	       "vmap", "cxx", "p99 ns, N thr", "p99 ns, 1 thr");
	printf("%5s | %7s %7s %7s | %7s %7s %7s | %7s %7s %7s | %6s | %8s %8s | %8s %8s\n",
	       "pages", "1 thr", "N thr", "scale", "1 thr", "N thr", "scale", "1 thr", "N thr",
	       "scale", "x", "cxx", "vm_map_r", "cxx", "vm_map_r");
	for (int s = 0; s < NR_SIZES; s++) {
		printf("%5u |", sizes[s]);
		for (int be = 0; be < NR_BE; be++)
			printf(" %7.0f %7.0f %7.2f |", thr_rate[s][be][0] / 1e3,
			       thr_rate[s][be][1] / 1e3, thr_rate[s][be][1] / thr_rate[s][be][0]);
		printf(" %6.2f | %8.0f %8.0f | %8.0f %8.0f\n",
		       thr_rate[s][CXXVM_BACKEND_CXX][1] / thr_rate[s][CXXVM_BACKEND_VM_MAP_RAM][1],
		       thr_p99[s][CXXVM_BACKEND_CXX][1], thr_p99[s][CXXVM_BACKEND_VM_MAP_RAM][1],
		       thr_p99[s][CXXVM_BACKEND_CXX][0], thr_p99[s][CXXVM_BACKEND_VM_MAP_RAM][0]);
	}
}

/* ---- contended --------------------------------------------------------------- */

struct cont_result {
	double rate[2];			/* cycles/s, 1 thread and N threads */
	double p50[2], p99[2], max[2];	/* ns per cycle; N: see worst_of() */
	double sd_per_million;		/* N threads: IPIs / (CPUs - 1) per 10^6 cycles */
	/* cxx only, N threads, from STATS: */
	double purge_wait_share;	/* purge_wait_ns / (N x wall time) */
	double lock_wait_share;		/* lock_wait_ns / (N x wall time) */
	double shootdown_share;		/* shootdown_ns / (N x wall time) */
	double reserve_share;		/* reserve_ns / (N x wall time) */
	unsigned long long caller_purges, worker_purges, purge_waits, lock_contended;
	unsigned long long blocks_created, blocks_freed;
	double purge_ms, shootdown_ms;	/* mean per purge (NAN: none) */
	unsigned long long blocks_live;	/* at the end of the N-thread run */
};

static struct cont_result cont[NR_SIZES][NR_BE];
static int cont_threads;
static unsigned int cont_rounds;

/* One 1-thread and one N-thread run of @be at @pages, with N's counters. */
static void contended_round(int n, __u32 be, __u32 pages, struct cont_result *c)
{
	struct thread_arg a[MAX_THREADS];
	struct run_counters rc;
	struct cxxvm_stats st0, st1;
	long long i0, i1;
	double wall;

	/* Rates and counters from untimed runs, percentiles from timed ones. */
	c->rate[0] = threads_run(1, be, pages, CXXVM_BENCH_UNTIMED, a, NULL);
	c->rate[1] = threads_run(n, be, pages, CXXVM_BENCH_UNTIMED, a, &rc);
	st0 = rc.st0, st1 = rc.st1, i0 = rc.i0, i1 = rc.i1;
	wall = rc.wall_ns;
	threads_run(1, be, pages, 0, a, NULL);
	worst_of(a, 1, &c->p50[0], &c->p99[0], &c->max[0]);
	threads_run(n, be, pages, 0, a, NULL);
	worst_of(a, n, &c->p50[1], &c->p99[1], &c->max[1]);
	c->sd_per_million = i0 < 0 ? NAN :
		(double)(i1 - i0) / (n - 1) * 1e6 / ((double)n * iterations);
	if (be != CXXVM_BACKEND_CXX)
		return;
	c->purge_wait_share = (st1.purge_wait_ns - st0.purge_wait_ns) / (n * wall);
	c->lock_wait_share = (st1.lock_wait_ns - st0.lock_wait_ns) / (n * wall);
	c->shootdown_share = (st1.shootdown_ns - st0.shootdown_ns) / (n * wall);
	c->reserve_share = (st1.reserve_ns - st0.reserve_ns) / (n * wall);
	c->caller_purges = st1.caller_purges - st0.caller_purges;
	c->worker_purges = st1.worker_purges - st0.worker_purges;
	c->purge_waits = st1.purge_waits - st0.purge_waits;
	c->lock_contended = st1.lock_contended - st0.lock_contended;
	c->blocks_created = st1.blocks_created - st0.blocks_created;
	c->blocks_freed = st1.blocks_freed - st0.blocks_freed;
	c->blocks_live = st1.blocks_live;
	if (c->caller_purges + c->worker_purges) {
		double np = c->caller_purges + c->worker_purges;

		c->purge_ms = (st1.purge_ns - st0.purge_ns) / np / 1e6;
		c->shootdown_ms = (st1.shootdown_ns - st0.shootdown_ns) / np / 1e6;
	} else {
		c->purge_ms = c->shootdown_ms = NAN;
	}
}

static void run_contended(void)
{
	const int n = nr_cpus < MAX_THREADS ? nr_cpus : MAX_THREADS;

	cont_threads = n;
	cont_rounds = rounds < 3 ? rounds : 3;
	if (n < 2) {
		printf("\n== contended: not measured (needs 2+ CPUs) ==\n");
		return;
	}
	for (int s = 0; s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			struct cont_result r[16] = { 0 };
			double rates[16];

			for (unsigned int k = 0; k < cont_rounds; k++) {
				contended_round(n, be, sizes[s], &r[k]);
				rates[k] = r[k].rate[1];
			}
			qsort(rates, cont_rounds, sizeof(rates[0]), cmp_double);
			for (unsigned int k = 0; k < cont_rounds; k++)
				if (r[k].rate[1] == rates[cont_rounds / 2])
					cont[s][be] = r[k];
		}
	}
	printf("\n== contended: in-kernel loop, 1 thread on CPU 0 vs %d threads (one per vCPU), %lu cycles each, median of %u rounds (by N-thread rate) ==\n",
	       n, iterations, cont_rounds);
	printf("cxx purges by %s.  k cycles/s (untimed runs); scale = N / 1 thread; ns per cycle (timed runs):\n"
	       "p50 (N: the median thread's), p99 and max (N: the worst thread's); sd = shootdown IPIs per\n"
	       "10^6 cycles (N threads);\n"
	       "cxx only, time as a share of the N threads' time: the threads waiting for purges; all purges'\n"
	       "shootdowns (with the worker, mostly its time); the threads spinning on queue locks and reserving\n"
	       "new blocks (vmap()); c.pg, w.pg: purges by callers, by the worker; pg ms, sd ms: a purge's\n"
	       "mean duration and the part of it in its shootdown; blk+, blk-: blocks reserved and returned;\n"
	       "blks: blocks held at the end (the arena waits for purges rather than grow past 7/8 of\n"
	       "max_blocks, here %u)\n\n",
	       info.purge == CXXVM_PURGE_CALLER ? "the caller (caller_purge=1)" : "a worker",
	       info.max_blocks);
	printf("%5s %-10s | %7s %7s %5s | %6s %7s %8s | %6s %7s %8s | %7s | %6s %6s %6s %6s %5s %5s %5s %5s %5s %5s %5s\n",
	       "pages", "backend", "1 thr", "N thr", "scale", "p50", "p99", "max", "p50 N", "p99 N",
	       "max N", "sd", "wait", "sdown", "spin", "grow", "c.pg", "w.pg", "pg ms", "sd ms",
	       "blk+", "blk-", "blks");
	for (int s = 0; s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			const struct cont_result *c = &cont[s][be];

			printf("%5u %-10s | %7.0f %7.0f %5.2f | %6.0f %7.0f %8.0f | %6.0f %7.0f %8.0f | %7.0f |",
			       sizes[s], backend_names[be], c->rate[0] / 1e3, c->rate[1] / 1e3,
			       c->rate[1] / c->rate[0], c->p50[0], c->p99[0], c->max[0], c->p50[1],
			       c->p99[1], c->max[1], c->sd_per_million);
			if (be == CXXVM_BACKEND_CXX)
				printf(" %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5llu %5llu %5.1f %5.1f %5llu %5llu %5llu\n",
				       100 * c->purge_wait_share, 100 * c->shootdown_share,
				       100 * c->lock_wait_share, 100 * c->reserve_share,
				       c->caller_purges, c->worker_purges, c->purge_ms,
				       c->shootdown_ms, c->blocks_created, c->blocks_freed,
				       c->blocks_live);
			else
				printf("\n");
		}
	}
	printf("\n%5s | %14s %20s %20s\n", "pages", "cxx/vm_map_ram", "scale - vm_map_ram's",
	       "p99 N / vm_map_ram's");
	for (int s = 0; s < NR_SIZES; s++) {
		const struct cont_result *x = &cont[s][CXXVM_BACKEND_CXX];
		const struct cont_result *k = &cont[s][CXXVM_BACKEND_VM_MAP_RAM];

		printf("%5u | %14.2f %20.2f %20.2f\n", sizes[s], x->rate[1] / k->rate[1],
		       x->rate[1] / x->rate[0] - k->rate[1] / k->rate[0], x->p99[1] / k->p99[1]);
	}
}

/* ---- shootdowns -------------------------------------------------------------- */

static const unsigned int sd_sizes[] = { 1, 8, 64 };
#define NR_SD 3

struct sd_result {
	unsigned long cycles;
	double per_million;		/* from IPIs */
	double own_per_million;		/* cxx: the arena's counter */
};

static struct sd_result sd[NR_SD][NR_BE];

static void run_shootdowns(void)
{
	if (nr_cpus < 2 || call_ipis() < 0) {
		printf("\n== shootdowns: not measured (needs 2+ CPUs and a CAL row in /proc/interrupts) ==\n");
		return;
	}
	for (int s = 0; s < NR_SD; s++) {
		/* About 32 purges' worth of dirty pages in each pass. */
		unsigned long n = 32ul * info.lazy_max_pages / sd_sizes[s];

		if (n > info.max_bench_iterations)
			n = info.max_bench_iterations;
		for (int be = 0; be < NR_BE; be++) {
			struct cxxvm_bench b;
			struct cxxvm_stats st0, st1;
			long long i0, i1;

			warm_up(be, sd_sizes[s]);
			st0 = stats();
			i0 = call_ipis();
			bench_ioctl(be, sd_sizes[s], n, &b);	/* two passes: 2n cycles */
			i1 = call_ipis();
			st1 = stats();
			sd[s][be].cycles = 2 * n;
			sd[s][be].per_million = (double)(i1 - i0) / (nr_cpus - 1) * 1e6 / (2.0 * n);
			sd[s][be].own_per_million = be == CXXVM_BACKEND_CXX ?
				(double)(st1.shootdowns - st0.shootdowns) * 1e6 / (2.0 * n) : -1;
		}
	}
	printf("\n== shootdowns per 10^6 map+unmap cycles (IPIs: /proc/interrupts CAL / (CPUs - 1)) ==\n");
	printf("cxx own = the arena's shootdown counter over the same cycles (cross-check of the IPI count)\n");
	if (info.features & CXXVM_FEAT_INVLPGB)
		printf("this CPU has INVLPGB: the kernel's own flushes may send no IPI, so its counts are low\n");
	printf("\n");
	printf("%5s %9s | %10s %10s %10s | %10s\n", "pages", "cycles", "cxx", "vm_map_ram", "vmap",
	       "cxx own");
	for (int s = 0; s < NR_SD; s++)
		printf("%5u %9lu | %10.1f %10.1f %10.1f | %10.1f\n", sd_sizes[s],
		       sd[s][0].cycles, sd[s][CXXVM_BACKEND_CXX].per_million,
		       sd[s][CXXVM_BACKEND_VM_MAP_RAM].per_million,
		       sd[s][CXXVM_BACKEND_VMAP].per_million,
		       sd[s][CXXVM_BACKEND_CXX].own_per_million);
}

/* ---- user -------------------------------------------------------------------- */

/*
 * The three ways a user drives mappings from userspace, per cycle:
 *  alloc   MAP (pages allocated for the mapping) + UNMAP (freed), one ioctl each
 *  buf     MAP of a buffer's pages (CXXVM_MAP_BUF) + UNMAP, one ioctl each
 *  submit  the same MAP + UNMAP as two operations of a SUBMIT batch
 * alloc - buf is the page allocator's share, buf - submit the syscall's.
 */
enum { UF_ALLOC, UF_BUF, UF_SUBMIT, NR_UF };
static const char *const uf_names[NR_UF] = { "alloc", "buf", "submit" };

/* Map+unmap pairs per SUBMIT batch (2 ops each, max_submit_ops is 1024). */
#define SUBMIT_PAIRS 256

static int map_ioctl(__u32 backend, __u32 pages, __u64 buf, __u64 *handle)
{
	struct cxxvm_map m = { .backend = backend, .nr_pages = pages };

	if (buf) {
		m.flags = CXXVM_MAP_BUF;
		m.buf = buf;
	}
	if (ioctl(fd, CXXVM_IOC_MAP, &m))
		return -errno;
	*handle = m.handle;
	return 0;
}

static void unmap_ioctl(__u64 handle)
{
	struct cxxvm_unmap u = { .handle = handle };

	if (ioctl(fd, CXXVM_IOC_UNMAP, &u))
		die("UNMAP");
}

static __u64 buf_create(__u32 pages)
{
	struct cxxvm_buf_create c = { .nr_pages = pages };

	if (ioctl(fd, CXXVM_IOC_BUF_CREATE, &c))
		die("BUF_CREATE");
	return c.id;
}

static void buf_destroy(__u64 id)
{
	struct cxxvm_buf_destroy d = { .id = id };

	if (ioctl(fd, CXXVM_IOC_BUF_DESTROY, &d))
		die("BUF_DESTROY");
}

/* SUBMIT @n ops (CONTINUE if @cont); returns how many ran. */
static __u32 submit(struct cxxvm_op *ops, __u32 n, bool cont)
{
	struct cxxvm_submit sb = {
		.ops = (uintptr_t)ops, .nr_ops = n, .op_size = sizeof(*ops),
		.flags = cont ? CXXVM_SUBMIT_CONTINUE : 0,
	};

	if (ioctl(fd, CXXVM_IOC_SUBMIT, &sb))
		die("SUBMIT");
	return sb.nr_done;
}

static double user_ns[NR_SIZES][NR_BE][NR_UF];
static __u64 user_buf;

static double user_loop(int form, __u32 backend, __u32 pages, unsigned long n)
{
	static struct cxxvm_op ops[2 * SUBMIT_PAIRS];
	double t0;

	if (form == UF_SUBMIT) {
		for (int i = 0; i < SUBMIT_PAIRS; i++) {
			ops[2 * i] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = backend,
							.nr_pages = pages, .buf = user_buf };
			ops[2 * i + 1] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP,
							    .flags = CXXVM_OP_REF,
							    .handle = 2 * i };
		}
	}
	t0 = now_ns();
	if (form == UF_SUBMIT) {
		for (unsigned long done = 0; done < n; done += SUBMIT_PAIRS) {
			__u32 k = n - done < SUBMIT_PAIRS ? n - done : SUBMIT_PAIRS;

			if (submit(ops, 2 * k, false) != 2 * k) {
				errno = -ops[0].result;
				die("SUBMIT of MAP + UNMAP");
			}
		}
		return (now_ns() - t0) / n;
	}
	for (unsigned long i = 0; i < n; i++) {
		__u64 h = 0;
		int e = map_ioctl(backend, pages, form == UF_BUF ? user_buf : 0, &h);

		if (e) {
			errno = -e;
			die("MAP");
		}
		unmap_ioctl(h);
	}
	return (now_ns() - t0) / n;
}

static void run_user(void)
{
	const unsigned long n = iterations / 4 ? iterations / 4 : 1;

	user_buf = buf_create(info.max_pages);
	for (int s = 0; s < NR_SIZES; s++) {
		/*
		 * Warm-up: two purges' worth of cycles (2 * warmup / P with the
		 * default warmup of lazy_max_pages), so that cxx's blocks exist
		 * and its kept pages have been recycled once; fewer left block
		 * creation and first-touch guest memory in the timed loop.
		 */
		const unsigned long w = 2 * warmup / sizes[s];

		for (int form = 0; form < NR_UF; form++) {
			double runs[NR_BE][16];

			for (int be = 0; be < NR_BE; be++)
				if (w)
					user_loop(form, be, sizes[s], w);
			/* Rounds, the backends taking turns in each; medians. */
			for (unsigned int r = 0; r < rounds; r++)
				for (int be = 0; be < NR_BE; be++)
					runs[be][r] = user_loop(form, be, sizes[s], n);
			for (int be = 0; be < NR_BE; be++) {
				qsort(runs[be], rounds, sizeof(runs[be][0]), cmp_double);
				user_ns[s][be][form] = runs[be][rounds / 2];
			}
		}
	}
	buf_destroy(user_buf);
	printf("\n== user: MAP + UNMAP driven from userspace, timed there, %lu cycles per run, median of %u rounds ==\n",
	       n, rounds);
	printf("ns per cycle.  alloc: one ioctl each, pages allocated and freed per cycle;\n"
	       "buf: one ioctl each, pages of a buffer; submit: both in SUBMIT batches of %d cycles.\n"
	       "x = cxx / vm_map_ram in the same form; cxx k = cxx submit / cxx in-kernel single mean\n\n",
	       SUBMIT_PAIRS);
	printf("%5s |", "pages");
	for (int form = 0; form < NR_UF; form++)
		printf(" %-8s %8s %8s %8s |", uf_names[form], "cxx", "vm_map_ram", "vmap");
	printf(" %6s %6s %6s | %6s\n", "x alloc", "x buf", "x subm", "cxx k");
	for (int s = 0; s < NR_SIZES; s++) {
		double (*r)[NR_UF] = user_ns[s];
		const double k = mean_ns(&single[s][CXXVM_BACKEND_CXX]);

		printf("%5u |", sizes[s]);
		for (int form = 0; form < NR_UF; form++)
			printf(" %-8s %8.0f %8.0f %8.0f |", "", r[0][form], r[1][form], r[2][form]);
		printf(" %7.2f %6.2f %6.2f | ", r[0][UF_ALLOC] / r[1][UF_ALLOC],
		       r[0][UF_BUF] / r[1][UF_BUF], r[0][UF_SUBMIT] / r[1][UF_SUBMIT]);
		if (single[s][CXXVM_BACKEND_CXX].iterations)
			printf("%6.2f\n", r[0][UF_SUBMIT] / k);
		else
			printf("%6s\n", "-");
	}
}

/* ---- mixed ------------------------------------------------------------------- */

#define MIXED_LONG	256	/* long-lived mappings held throughout */
#define MIXED_OPS	20000
#define MIXED_SAMPLE	500	/* ops between /proc/vmallocinfo samples */

struct mixed_result {
	double ns_per_op;
	unsigned long failures;
	double peak_mib;		/* VA held above the level before the run */
	unsigned long long peak_blocks;	/* cxx: blocks_live at the peak sample */
};

static struct mixed_result mixed[NR_UF][NR_BE];

/*
 * Is this /proc/vmallocinfo line VA that @backend holds?  cxx: the module's
 * blocks (vmap()ed by cxxvm_plat_va_reserve); vm_map_ram: the kernel's
 * vmap blocks (no vm_struct, shown as "vm_map_ram"); vmap: the module's
 * other vmap()s.  Lazily freed areas count for every backend.
 */
static bool va_of(__u32 backend, const char *line)
{
	if (strstr(line, " unpurged vm_area"))
		return true;
	switch (backend) {
	case CXXVM_BACKEND_CXX:
		return strstr(line, "cxxvm_plat_va_reserve");
	case CXXVM_BACKEND_VM_MAP_RAM:
		return strstr(line, " vm_map_ram");
	default:
		return strstr(line, "[cxxvm]") && !strstr(line, "cxxvm_plat_va_reserve");
	}
}

/* Bytes of VA attributed to @backend, plus lazily freed areas. */
static double va_held(__u32 backend)
{
	char line[512];
	double bytes = 0;
	FILE *f = fopen("/proc/vmallocinfo", "r");

	if (!f)
		die("/proc/vmallocinfo");
	while (fgets(line, sizeof(line), f)) {
		unsigned long size;

		if (sscanf(line, "%*s %lu", &size) != 1)
			continue;
		if (va_of(backend, line))
			bytes += size;
	}
	fclose(f);
	return bytes;
}

/* A size mix: 1 of 7 orders at random, then 1..2^order pages. */
static __u32 mixed_size(unsigned int *seed)
{
	unsigned int order = rand_r(seed) % 7;

	return 1 + rand_r(seed) % (1u << order);
}

/* Every MIXED_SAMPLE ops: the peak VA so far. */
static void mixed_sample(__u32 backend, struct mixed_result *r, double base)
{
	double v = (va_held(backend) - base) / (1 << 20);

	if (v > r->peak_mib) {
		r->peak_mib = v;
		r->peak_blocks = stats().blocks_live;
	}
}

/*
 * The same sequence of ops (seeded alike) in each form: one ioctl per MAP
 * and UNMAP (@form UF_ALLOC or UF_BUF), or SUBMIT batches of MIXED_SAMPLE
 * ops (UF_SUBMIT), where a long-lived mapping made in the batch is named by
 * CXXVM_OP_REF and its handle read back after.
 */
static void run_mixed_one(int form, __u32 backend, struct mixed_result *r)
{
	static struct cxxvm_op ops[2 * MIXED_SAMPLE];
	__u64 held[MIXED_LONG] = { 0 }, buf = 0;
	int held_ref[MIXED_LONG];
	unsigned int seed = 42, nops = 0;
	double base, t = 0, t0;

	flush(CXXVM_FLUSH_RELEASE_BLOCKS | CXXVM_FLUSH_KERNEL_ALIASES);
	if (form != UF_ALLOC)
		buf = buf_create(info.max_pages);
	base = va_held(backend);
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < MIXED_LONG; i++)
		held_ref[i] = -1;

	t0 = now_ns();
	for (unsigned long op = 1; op <= MIXED_OPS; op++) {
		__u64 h = 0;

		if (form == UF_SUBMIT) {
			struct cxxvm_op map = { .op = CXXVM_OP_MAP, .backend = backend, .buf = buf };

			if (rand_r(&seed) % 16 == 0) {
				int i = rand_r(&seed) % MIXED_LONG;

				if (held_ref[i] >= 0)
					ops[nops++] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP,
						.flags = CXXVM_OP_REF, .handle = held_ref[i] };
				else if (held[i])
					ops[nops++] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP,
									 .handle = held[i] };
				held[i] = 0;
				map.nr_pages = mixed_size(&seed);
				held_ref[i] = nops;
				ops[nops++] = map;
			} else {
				map.nr_pages = mixed_size(&seed);
				ops[nops++] = map;
				ops[nops] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP,
							       .flags = CXXVM_OP_REF,
							       .handle = nops - 1 };
				nops++;
			}
			if (op % MIXED_SAMPLE == 0) {
				if (submit(ops, nops, true) != nops)
					die("SUBMIT of a mixed batch");
				for (unsigned int k = 0; k < nops; k++)
					r->failures += ops[k].op == CXXVM_OP_MAP && ops[k].result;
				for (int i = 0; i < MIXED_LONG; i++) {
					if (held_ref[i] < 0)
						continue;
					held[i] = ops[held_ref[i]].result ? 0 : ops[held_ref[i]].handle;
					held_ref[i] = -1;
				}
				nops = 0;
			}
		} else if (rand_r(&seed) % 16 == 0) {
			/* Replace a long-lived mapping. */
			int i = rand_r(&seed) % MIXED_LONG;

			if (held[i])
				unmap_ioctl(held[i]);
			held[i] = 0;
			if (map_ioctl(backend, mixed_size(&seed), buf, &held[i]))
				r->failures++;
		} else if (!map_ioctl(backend, mixed_size(&seed), buf, &h)) {
			unmap_ioctl(h);
		} else {
			r->failures++;
		}
		if (op % MIXED_SAMPLE == 0) {
			t += now_ns() - t0;
			mixed_sample(backend, r, base);
			t0 = now_ns();
		}
	}
	t += now_ns() - t0;
	r->ns_per_op = t / MIXED_OPS;
	for (int i = 0; i < MIXED_LONG; i++)
		if (held[i])
			unmap_ioctl(held[i]);
	if (buf)
		buf_destroy(buf);
	flush(CXXVM_FLUSH_RELEASE_BLOCKS | CXXVM_FLUSH_KERNEL_ALIASES);
}

static int cmp_mixed(const void *a, const void *b)
{
	return cmp_double(&((const struct mixed_result *)a)->ns_per_op,
			  &((const struct mixed_result *)b)->ns_per_op);
}

static void run_mixed(void)
{
	/* Up to 3 rounds, the backends taking turns; the median round's figures. */
	const unsigned int nr = rounds < 3 ? rounds : 3;

	for (int form = 0; form < NR_UF; form++) {
		struct mixed_result runs[NR_BE][3];

		for (unsigned int r = 0; r < nr; r++)
			for (int be = 0; be < NR_BE; be++)
				run_mixed_one(form, be, &runs[be][r]);
		for (int be = 0; be < NR_BE; be++) {
			qsort(runs[be], nr, sizeof(runs[be][0]), cmp_mixed);
			mixed[form][be] = runs[be][nr / 2];
		}
	}
	printf("\n== mixed: %d long-lived mappings (1 op in 16 replaces one) among short-lived ones, %d ops, median of %u rounds ==\n",
	       MIXED_LONG, MIXED_OPS, nr);
	printf("sizes: 1..2^k pages, k in 0..6; ns per op (a map, plus an unmap for short-lived ones);\n"
	       "alloc: one ioctl each, pages allocated per map; buf: one ioctl each, pages of a buffer;\n"
	       "submit: SUBMIT batches of %d ops.  x = ns/op / vm_map_ram's in the same form;\n"
	       "peak VA = the backend's areas + unpurged areas in /proc/vmallocinfo, above the level before\n"
	       "the run, sampled every %d ops\n\n", MIXED_SAMPLE, MIXED_SAMPLE);
	printf("%-7s %-10s | %10s %6s %8s %12s %10s\n", "form", "backend", "ns/op", "x", "failures",
	       "peak VA MiB", "cxx blocks");
	for (int form = 0; form < NR_UF; form++) {
		for (int be = 0; be < NR_BE; be++) {
			const struct mixed_result *m = &mixed[form][be];

			printf("%-7s %-10s | %10.0f %6.2f %8lu %12.1f ", uf_names[form],
			       backend_names[be], m->ns_per_op,
			       m->ns_per_op / mixed[form][CXXVM_BACKEND_VM_MAP_RAM].ns_per_op,
			       m->failures, m->peak_mib);
			if (be == CXXVM_BACKEND_CXX)
				printf("%10llu\n", m->peak_blocks);
			else
				printf("%10s\n", "-");
		}
	}
}

/* ---- lookup ------------------------------------------------------------------ */

static const unsigned int lookup_maps[] = { 1, 4, 16 };
#define NR_LOOKUP 3
#define LOOKUP_MAP_PAGES 2048	/* 8 MiB: four 2 MiB subsections */
static double lookup_ns[NR_LOOKUP][2][2];	/* [maps][backend][mode] */
static bool lookup_ran;


static double lookup_run(__u32 backend, __u32 mode, __u32 n, __u32 seed)
{
	struct cxxvm_pgmap_bench b = { .backend = backend, .mode = mode,
				       .iterations = n, .seed = seed };

	if (ioctl(fd, CXXVM_IOC_PGMAP_BENCH, &b))
		die("PGMAP_BENCH");
	if (b.hits != n) {
		fprintf(stderr, "cxxvm-bench: PGMAP_BENCH found %llu of %u pfns\n",
			(unsigned long long)b.hits, n);
		exit(1);
	}
	return (double)b.elapsed_ns / n;
}

static void run_lookup(void)
{
	unsigned long long start, nr;
	__u64 handles[16];
	unsigned int made = 0;

	if (!reserved_region(&start, &nr) || nr < 16 * LOOKUP_MAP_PAGES) {
		fprintf(stderr, "cxxvm-bench: lookup needs insmod cxxvm.ko reserved_mem=128M@START (or more), reserved with memmap=128M$START\n");
		exit(1);
	}
	for (int m = 0; m < NR_LOOKUP; m++) {
		/* Add pagemaps up to lookup_maps[m], each 8 MiB, back to back. */
		for (; made < lookup_maps[m]; made++) {
			struct cxxvm_pgmap_create c = {
				.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				.nr_ranges = 1,
				.ranges = { { start + made * LOOKUP_MAP_PAGES, LOOKUP_MAP_PAGES } },
			};

			if (ioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c))
				die("PGMAP_CREATE");
			handles[made] = c.handle;
		}
		for (int mode = 0; mode < 2; mode++) {
			double t[2][16];

			/* Warm both up, then alternate, as in single. */
			for (int be = 0; be < 2; be++)
				lookup_run(be, mode, iterations, 1);
			for (unsigned int r = 0; r < rounds; r++)
				for (int be = 0; be < 2; be++)
					t[be][r] = lookup_run(be, mode, iterations, r + 2);
			for (int be = 0; be < 2; be++) {
				qsort(t[be], rounds, sizeof(t[be][0]), cmp_double);
				lookup_ns[m][be][mode] = t[be][rounds / 2];
			}
		}
	}
	for (unsigned int i = 0; i < made; i++) {
		struct cxxvm_pgmap_destroy d = { .handle = handles[i] };

		if (ioctl(fd, CXXVM_IOC_PGMAP_DESTROY, &d))
			die("PGMAP_DESTROY");
	}
	lookup_ran = true;

	printf("\n== lookup: pfn -> pagemap, in-kernel loop of %lu lookups, median of %u rounds ==\n",
	       iterations, rounds);
	printf("ns per lookup (+ put); real MEMORY_DEVICE_GENERIC pagemaps of 8 MiB each\n"
	       "random: random pfns, no hint; hinted: sequential pfns, the last result as hint\n"
	       "x = tracker / get_dev_pagemap\n\n");
	if (!(info.features & CXXVM_FEAT_GET_DEV_PAGEMAP_HINT))
		printf("this kernel's get_dev_pagemap() takes no hint: its hinted column is a plain lookup\n\n");
	printf("%8s | %-26s | %-26s\n", "", "random", "hinted");
	printf("%8s | %7s %10s %6s | %7s %10s %6s\n", "pagemaps",
	       "tracker", "get_dev_pm", "x", "tracker", "get_dev_pm", "x");
	for (int m = 0; m < NR_LOOKUP; m++) {
		printf("%8u |", lookup_maps[m]);
		for (int mode = 0; mode < 2; mode++)
			printf(" %7.1f %10.1f %6.2f |", lookup_ns[m][0][mode], lookup_ns[m][1][mode],
			       lookup_ns[m][0][mode] / lookup_ns[m][1][mode]);
		printf("\n");
	}
}

/* ---- contended: lookups against a writer -------------------------------------- */

#define CL_FILES_MAPS	4	/* pagemaps per reader's file */

struct cl_reader {
	pthread_t tid;
	int cpu, fd;
	__u32 backend, n;
	pthread_barrier_t *barrier;
	double ns;		/* per lookup */
};

static double cl_ns[2][3];	/* [tracker, kernel][1 thr, N median, N worst] */
static unsigned long cl_churns;
static bool cl_ran;
static atomic_bool cl_stop;

static void *cl_reader_thread(void *p)
{
	struct cl_reader *a = p;
	struct cxxvm_pgmap_bench b = { .backend = a->backend, .mode = CXXVM_LOOKUP_RANDOM,
				       .iterations = a->n, .seed = a->cpu + 1 };

	pin_to_cpu(a->cpu);
	pthread_barrier_wait(a->barrier);
	if (ioctl(a->fd, CXXVM_IOC_PGMAP_BENCH, &b))
		die("PGMAP_BENCH");
	if (b.hits != a->n) {
		fprintf(stderr, "cxxvm-bench: PGMAP_BENCH found %llu of %u pfns\n",
			(unsigned long long)b.hits, a->n);
		exit(1);
	}
	a->ns = (double)b.elapsed_ns / a->n;
	return NULL;
}

/* Create and destroy one real pagemap at pfn @p[0], @p[1] pages, until told. */
static void *cl_churn_thread(void *p)
{
	const unsigned long long *r = p;
	int wfd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (wfd < 0)
		die("open");
	while (!atomic_load(&cl_stop)) {
		struct cxxvm_pgmap_create c = {
			.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL, .nr_ranges = 1,
			.ranges = { { r[0], r[1] } },
		};
		struct cxxvm_pgmap_destroy d;

		if (ioctl(wfd, CXXVM_IOC_PGMAP_CREATE, &c))
			die("PGMAP_CREATE (churn)");
		d = (struct cxxvm_pgmap_destroy){ .handle = c.handle };
		if (ioctl(wfd, CXXVM_IOC_PGMAP_DESTROY, &d))
			die("PGMAP_DESTROY (churn)");
		cl_churns++;
	}
	close(wfd);
	return NULL;
}

/* ns per lookup of @n readers (@n = 1: no writer), median and worst thread. */
static void cl_run(struct cl_reader *a, int n, __u32 backend, __u32 lookups,
		   const unsigned long long *churn, double *median, double *worst)
{
	pthread_barrier_t barrier;
	pthread_t writer;
	double v[MAX_THREADS];

	pthread_barrier_init(&barrier, NULL, n);
	atomic_store(&cl_stop, false);
	if (n > 1 && pthread_create(&writer, NULL, cl_churn_thread, (void *)churn))
		die("pthread_create");
	for (int i = 0; i < n; i++) {
		a[i].cpu = i;
		a[i].backend = backend;
		a[i].n = lookups;
		a[i].barrier = &barrier;
		if (pthread_create(&a[i].tid, NULL, cl_reader_thread, &a[i]))
			die("pthread_create");
	}
	for (int i = 0; i < n; i++) {
		pthread_join(a[i].tid, NULL);
		v[i] = a[i].ns;
	}
	atomic_store(&cl_stop, true);
	if (n > 1)
		pthread_join(writer, NULL);
	pthread_barrier_destroy(&barrier);
	qsort(v, n, sizeof(v[0]), cmp_double);
	*median = v[n / 2];
	*worst = v[n - 1];
}

static void run_contended_lookup(int n)
{
	unsigned long long start, nr, churn[2];
	struct cl_reader a[MAX_THREADS];
	const __u32 lookups = 1u << 18;
	__u64 handles[MAX_THREADS][CL_FILES_MAPS];

	/* As many readers as the reserved memory has room for, at most n. */
	if (!reserved_region(&start, &nr))
		nr = 0;
	if ((unsigned long long)n > (nr / LOOKUP_MAP_PAGES - (nr >= LOOKUP_MAP_PAGES)) / CL_FILES_MAPS)
		n = (nr / LOOKUP_MAP_PAGES - (nr >= LOOKUP_MAP_PAGES)) / CL_FILES_MAPS;
	if (n < 2) {
		printf("\n== contended lookup: not measured (needs reserved_mem= of %llu MiB or more) ==\n",
		       (2ull * CL_FILES_MAPS + 1) * LOOKUP_MAP_PAGES * 4096 >> 20);
		return;
	}
	for (int i = 0; i < n; i++) {
		a[i].fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (a[i].fd < 0)
			die("open");
		for (int m = 0; m < CL_FILES_MAPS; m++) {
			struct cxxvm_pgmap_create c = {
				.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				.nr_ranges = 1,
				.ranges = { { start + (i * CL_FILES_MAPS + m) * LOOKUP_MAP_PAGES,
					      LOOKUP_MAP_PAGES } },
			};

			if (ioctl(a[i].fd, CXXVM_IOC_PGMAP_CREATE, &c))
				die("PGMAP_CREATE");
			handles[i][m] = c.handle;
		}
	}
	churn[0] = start + (unsigned long long)n * CL_FILES_MAPS * LOOKUP_MAP_PAGES;
	churn[1] = LOOKUP_MAP_PAGES;
	cl_churns = 0;
	for (int be = 0; be < 2; be++) {
		double med[16], wst[16], one[16], x;

		for (unsigned int r = 0; r < cont_rounds; r++) {
			cl_run(a, 1, be, lookups, churn, &one[r], &x);
			cl_run(a, n, be, lookups, churn, &med[r], &wst[r]);
		}
		qsort(one, cont_rounds, sizeof(one[0]), cmp_double);
		qsort(med, cont_rounds, sizeof(med[0]), cmp_double);
		qsort(wst, cont_rounds, sizeof(wst[0]), cmp_double);
		cl_ns[be][0] = one[cont_rounds / 2];
		cl_ns[be][1] = med[cont_rounds / 2];
		cl_ns[be][2] = wst[cont_rounds / 2];
	}
	for (int i = 0; i < n; i++) {
		for (int m = 0; m < CL_FILES_MAPS; m++) {
			struct cxxvm_pgmap_destroy d = { .handle = handles[i][m] };

			if (ioctl(a[i].fd, CXXVM_IOC_PGMAP_DESTROY, &d))
				die("PGMAP_DESTROY");
		}
		close(a[i].fd);
	}
	cl_ran = true;

	printf("\n== contended lookup: random pfns, %u lookups per thread, 1 thread vs %d (one per vCPU, own file, %d pagemaps of 8 MiB each),\n"
	       "   the N-thread runs beside a thread that created and destroyed a real pagemap %lu times in all; median of %u rounds ==\n",
	       lookups, n, CL_FILES_MAPS, cl_churns, cont_rounds);
	printf("ns per lookup (+ put): 1 thread; N threads, the median and the slowest thread\n\n");
	printf("%-16s | %8s %8s %8s\n", "", "1 thr", "N median", "N worst");
	for (int be = 0; be < 2; be++)
		printf("%-16s | %8.1f %8.1f %8.1f\n", be ? "get_dev_pagemap" : "tracker",
		       cl_ns[be][0], cl_ns[be][1], cl_ns[be][2]);
	printf("%-16s | %8.2f %8.2f %8.2f\n", "x", cl_ns[0][0] / cl_ns[1][0],
	       cl_ns[0][1] / cl_ns[1][1], cl_ns[0][2] / cl_ns[1][2]);
}

/* ---- --expect-clean ---------------------------------------------------------- */


/*
 * The replay section: traces of the kernel's own vm_map_ram() callers
 * (selftests/fixtures/README gives the format) run in the kernel through
 * each backend with CXXVM_IOC_REPLAY.
 */
#define MAX_REPLAYS 16
static const char *replay_files[MAX_REPLAYS];
static unsigned int nr_replay_files;

struct replay_trace {
	struct cxxvm_replay_op *ops;
	__u32 nr_ops, nr_ids, maps, unmaps, min_pages, max_pages;
	unsigned long long pages;	/* mapped by one run of the trace */
};

/* Read a replay trace; 0, or -1 with the reason on stderr. */
static int replay_read(const char *path, struct replay_trace *t)
{
	FILE *f = fopen(path, "r");
	char line[1024], op[16];
	unsigned long lineno = 0;
	size_t cap = 0;

	memset(t, 0, sizeof(*t));
	t->min_pages = ~0u;
	if (!f) {
		fprintf(stderr, "cxxvm-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct cxxvm_replay_op o = { 0 };
		double ts;
		unsigned int cpu;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%lf %u %15s %u %u", &ts, &cpu, op, &o.nr_pages, &o.id) != 5 ||
		    (strcmp(op, "map") && strcmp(op, "unmap")) || !o.nr_pages) {
			fprintf(stderr, "cxxvm-bench: %s:%lu: not a replay line\n", path, lineno);
			goto fail;
		}
		o.op = strcmp(op, "map") ? CXXVM_REPLAY_UNMAP : CXXVM_REPLAY_MAP;
		if (t->nr_ops == cap) {
			void *n = realloc(t->ops, (cap = cap ? 2 * cap : 4096) * sizeof(o));

			if (!n)
				goto fail;
			t->ops = n;
		}
		t->ops[t->nr_ops++] = o;
		if (o.id >= t->nr_ids)
			t->nr_ids = o.id + 1;
		if (o.op == CXXVM_REPLAY_MAP) {
			t->maps++;
			t->pages += o.nr_pages;
			t->min_pages = o.nr_pages < t->min_pages ? o.nr_pages : t->min_pages;
			t->max_pages = o.nr_pages > t->max_pages ? o.nr_pages : t->max_pages;
		} else {
			t->unmaps++;
		}
	}
	fclose(f);
	if (!t->maps) {
		fprintf(stderr, "cxxvm-bench: %s: no map in the trace\n", path);
		free(t->ops);
		return -1;
	}
	return 0;
fail:
	fclose(f);
	free(t->ops);
	return -1;
}

static int cmp_replay(const void *a, const void *b)
{
	const struct cxxvm_replay *x = a, *y = b;

	return x->elapsed_ns < y->elapsed_ns ? -1 : x->elapsed_ns > y->elapsed_ns;
}

/* Cold runs: by pass 2's time, the one they are for. */
static int cmp_replay_cold(const void *a, const void *b)
{
	const struct cxxvm_replay *x = a, *y = b;
	__u64 tx = x->map_ns + x->unmap_ns, ty = y->map_ns + y->unmap_ns;

	return tx < ty ? -1 : tx > ty;
}

/* @v * @scale in @buf, or "-" for a figure the backend does not count. */
static void replay_count(__u64 v, unsigned int scale, char *buf, size_t n)
{
	if (v == CXXVM_BENCH_NOT_COUNTED)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%llu", (unsigned long long)v * scale);
}

/* ns as ms in @buf, or "-". */
static void replay_ms(__u64 ns, char *buf, size_t n)
{
	if (ns == CXXVM_BENCH_NOT_COUNTED)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.2f", ns / 1e6);
}

/*
 * One trace, all backends taking turns for R rounds; the round with the
 * median pass-1 time is reported for each backend.  Returns false if a
 * replay failed.
 */
static bool run_replay_one(const char *path)
{
	struct cxxvm_replay runs[NR_BE][16], cold[NR_BE][16], *med[NR_BE], *cmed[NR_BE];
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct replay_trace t;
	unsigned int r, be, loops;

	if (replay_read(path, &t))
		return false;
	/*
	 * Pass 1 runs the trace until it has mapped 4 x lazy_max_pages: a
	 * few purges for every backend, wherever they fall.
	 */
	loops = (4ull * info.lazy_max_pages + t.pages - 1) / t.pages;
	loops = loops < 1 ? 1 : loops > CXXVM_MAX_REPLAY_LOOPS ? CXXVM_MAX_REPLAY_LOOPS : loops;
	for (r = 0; r < rounds; r++) {
		for (be = 0; be < NR_BE; be++) {
			struct cxxvm_replay *x = &runs[be][r];

			memset(x, 0, sizeof(*x));
			x->ops = (uintptr_t)t.ops;
			x->nr_ops = t.nr_ops;
			x->nr_ids = t.nr_ids;
			x->backend = be;
			x->loops = loops;
			if (ioctl(fd, CXXVM_IOC_REPLAY, x)) {
				fprintf(stderr, "cxxvm-bench: REPLAY %s through %s: %s\n", name,
					backend_names[be], strerror(errno));
				free(t.ops);
				return false;
			}
			/* Once more, each call of pass 2 after a TLB flush. */
			cold[be][r] = *x;
			cold[be][r].flags = CXXVM_REPLAY_COLD;
			cold[be][r].loops = 1;
			if (ioctl(fd, CXXVM_IOC_REPLAY, &cold[be][r])) {
				fprintf(stderr, "cxxvm-bench: cold REPLAY %s through %s: %s\n",
					name, backend_names[be], strerror(errno));
				free(t.ops);
				return false;
			}
		}
	}
	free(t.ops);
	printf("\n%s: %u calls (%u maps, %u unmaps), %u..%u pages per map, peak %llu pages mapped; pass 1 runs it %u times\n",
	       name, t.nr_ops, t.maps, t.unmaps, t.min_pages, t.max_pages,
	       (unsigned long long)runs[0][0].peak_pages, loops);
	printf("  %-10s %12s %8s %8s %9s %10s %7s %9s %9s %9s %8s %9s %9s %8s\n", "backend",
	       "map+unmap ns", "map ns", "unmap ns", "fallbacks", "shootdowns", "blocks",
	       "block ms", "sd ms", "peak VA", "vs vmr", "cold map", "cold unm", "vs vmr");
	for (be = 0; be < NR_BE; be++) {
		qsort(runs[be], rounds, sizeof(runs[be][0]), cmp_replay);
		med[be] = &runs[be][rounds / 2];
		qsort(cold[be], rounds, sizeof(cold[be][0]), cmp_replay_cold);
		cmed[be] = &cold[be][rounds / 2];
	}
	for (be = 0; be < NR_BE; be++) {
		const struct cxxvm_replay *x = med[be];
		double cyc = (double)x->elapsed_ns / t.maps / loops;
		double vmr = (double)med[CXXVM_BACKEND_VM_MAP_RAM]->elapsed_ns / t.maps / loops;
		double map = (double)x->map_ns / t.maps;
		double unmap = t.unmaps ? (double)x->unmap_ns / t.unmaps : 0.0;
		const struct cxxvm_replay *c = cmed[be], *cv = cmed[CXXVM_BACKEND_VM_MAP_RAM];
		double cmap = (double)c->map_ns / t.maps;
		double cunmap = t.unmaps ? (double)c->unmap_ns / t.unmaps : 0.0;
		double cpair = (double)(c->map_ns + c->unmap_ns) / t.maps;
		double cvpair = (double)(cv->map_ns + cv->unmap_ns) / t.maps;
		char sd[24], bl[24], rms[24], sms[24], va[24];

		replay_count(x->shootdowns, 1, sd, sizeof(sd));
		replay_count(x->blocks_created, 1, bl, sizeof(bl));
		replay_ms(x->reserve_ns, rms, sizeof(rms));
		replay_ms(x->shootdown_ns, sms, sizeof(sms));
		replay_count(x->peak_va_pages, info.page_size / 1024, va, sizeof(va));
		printf("  %-10s %12.0f %8.0f %8.0f %9llu %10s %7s %9s %9s %8s%s %8.2f %9.0f %9.0f %8.2f\n",
		       backend_names[be], cyc, map, unmap, (unsigned long long)x->fallbacks, sd, bl,
		       rms, sms, va, strcmp(va, "-") ? "K" : " ", cyc / vmr, cmap, cunmap, cpair / cvpair);
		printf("# replay: trace=%s backend=%s calls=%u maps=%u loops=%u cycle_ns=%.0f map_ns=%.0f unmap_ns=%.0f fallbacks=%llu shootdowns=%s blocks=%s block_ms=%s shootdown_ms=%s peak_va_kib=%s peak_kib=%llu cold_map_ns=%.0f cold_unmap_ns=%.0f cold_pair_ns=%.0f\n",
		       name, backend_names[be], t.nr_ops, t.maps, loops, cyc, map, unmap,
		       (unsigned long long)x->fallbacks, sd, bl, rms, sms, va,
		       (unsigned long long)x->peak_pages * info.page_size / 1024, cmap, cunmap,
		       cpair);
	}
	return true;
}

static bool run_replay(void)
{
	bool ok = true;
	unsigned int i;

	printf("\n== replay: recorded vm_map_ram() traces through each backend (CXXVM_IOC_REPLAY; median of %u rounds) ==\n",
	       rounds);
	printf("map+unmap ns: pass-1 time / (maps x runs); map ns, unmap ns: pass 2, each call timed; block ms, sd ms:\n"
	       "pass 1's time creating vmap blocks and in shootdowns (cxx); vs vmr: map+unmap against vm_map_ram;\n"
	       "cold map, cold unm: pass 2 again, the CPU's TLB flushed before each call (CXXVM_REPLAY_COLD), and vs vmr\n");
	for (i = 0; i < nr_replay_files; i++)
		ok &= run_replay_one(replay_files[i]);
	return ok;
}

/*
 * After every section's descriptors and BENCH loops are done: a FLUSH shoots
 * down what is dirty and frees the retired pages, after which the module
 * must hold nothing for anybody.  Prints what is left.
 */
static bool left_clean(void)
{
	struct cxxvm_stats st;

	flush(0);
	st = stats();
	printf("\nleft behind after FLUSH: %llu mappings, %llu pages, %llu mapped slot pages, %llu dirty, %llu retired, %llu leaked\n",
	       (unsigned long long)st.live_mappings, (unsigned long long)st.live_pages,
	       (unsigned long long)st.mapped_pages, (unsigned long long)st.dirty_pages,
	       (unsigned long long)st.retired_pages, (unsigned long long)st.leaked_pages);
	return !st.live_mappings && !st.live_pages && !st.mapped_pages && !st.dirty_pages &&
	       !st.retired_pages && !st.leaked_pages;
}

/* ---- JSON -------------------------------------------------------------------- */

static bool want(const char *sections, const char *name)
{
	const char *p = sections;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == sections || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static int write_json(const char *path, const char *sections, const struct utsname *u)
{
	FILE *f = fopen(path, "w");
	const char *sep = "";

	if (!f) {
		fprintf(stderr, "cxxvm-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"machine\": \"%s\",\n  \"cpus\": %d,\n",
		u->release, u->machine, nr_cpus);
	fprintf(f, "  \"iterations\": %lu,\n  \"warmup\": %lu,\n  \"lazy_max_pages\": %u,\n",
		iterations, warmup, info.lazy_max_pages);
	fprintf(f, "  \"purge\": \"%s\",\n", info.purge == CXXVM_PURGE_CALLER ? "caller" : "worker");
	/* Since ABI 6 the threads and contended rates count untimed runs only. */
	fprintf(f, "  \"rates\": \"untimed\",\n");
	fprintf(f, "  \"tlb_flush\": \"%s\",\n  \"get_dev_pagemap_hint\": %s,\n  \"invlpgb\": %s,\n",
		tlb_flush_name(info.tlb_flush),
		info.features & CXXVM_FEAT_GET_DEV_PAGEMAP_HINT ? "true" : "false",
		info.features & CXXVM_FEAT_INVLPGB ? "true" : "false");
	fprintf(f, "  \"single\": [");
	for (int s = 0; want(sections, "single") && s < NR_SIZES; s++) {
		const double base = mean_ns(&single[s][CXXVM_BACKEND_VM_MAP_RAM]);

		for (int be = 0; be < NR_BE; be++) {
			const struct cxxvm_bench *b = &single[s][be];

			fprintf(f, "%s\n    {\"pages\": %u, \"backend\": \"%s\", \"mean_ns\": %.1f, \"p50_ns\": %llu, \"p99_ns\": %llu, \"min_ns\": %llu, \"max_ns\": %llu, \"ratio_vs_vm_map_ram\": %.3f}",
				sep, sizes[s], backend_names[be], mean_ns(b),
				(unsigned long long)b->p50_ns, (unsigned long long)b->p99_ns,
				(unsigned long long)b->min_ns, (unsigned long long)b->max_ns,
				mean_ns(b) / base);
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"threads\": [");
	sep = "";
	for (int s = 0; want(sections, "threads") && s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			fprintf(f, "%s\n    {\"pages\": %u, \"backend\": \"%s\", \"rate_1\": %.0f, \"rate_n\": %.0f, \"scale\": %.3f, \"p99_1_ns\": %.0f, \"p99_n_ns\": %.0f}",
				sep, sizes[s], backend_names[be], thr_rate[s][be][0],
				thr_rate[s][be][1], thr_rate[s][be][1] / thr_rate[s][be][0],
				thr_p99[s][be][0], thr_p99[s][be][1]);
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"contended_threads\": %d,\n  \"contended\": [", cont_threads);
	sep = "";
	for (int s = 0; want(sections, "contended") && cont_threads > 1 && s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			const struct cont_result *c = &cont[s][be];

			fprintf(f, "%s\n    {\"pages\": %u, \"backend\": \"%s\", \"rate_1\": %.0f, \"rate_n\": %.0f, \"scale\": %.3f",
				sep, sizes[s], backend_names[be], c->rate[0], c->rate[1],
				c->rate[1] / c->rate[0]);
			fprintf(f, ", \"p50_1_ns\": %.0f, \"p99_1_ns\": %.0f, \"max_1_ns\": %.0f",
				c->p50[0], c->p99[0], c->max[0]);
			fprintf(f, ", \"p50_n_ns\": %.0f, \"p99_n_ns\": %.0f, \"max_n_ns\": %.0f",
				c->p50[1], c->p99[1], c->max[1]);
			fprintf(f, ", \"shootdowns_per_million\": %.1f", c->sd_per_million);
			if (be == CXXVM_BACKEND_CXX) {
				fprintf(f, ", \"purge_wait_share\": %.4f, \"shootdown_share\": %.4f, \"lock_wait_share\": %.4f, \"reserve_share\": %.4f, \"caller_purges\": %llu, \"worker_purges\": %llu, \"purge_waits\": %llu, \"lock_contended\": %llu, \"blocks_created\": %llu, \"blocks_freed\": %llu, \"blocks_live\": %llu",
					c->purge_wait_share, c->shootdown_share, c->lock_wait_share,
					c->reserve_share,
					c->caller_purges, c->worker_purges, c->purge_waits,
					c->lock_contended, c->blocks_created, c->blocks_freed,
					c->blocks_live);
				if (!isnan(c->purge_ms))
					fprintf(f, ", \"purge_ms\": %.3f, \"shootdown_ms\": %.3f",
						c->purge_ms, c->shootdown_ms);
			}
			fprintf(f, "}");
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"threads_ceiling\": %.3f,\n  \"shootdowns_per_million\": [", ceiling);
	sep = "";
	for (int s = 0; want(sections, "shootdowns") && s < NR_SD && sd[s][0].cycles; s++) {
		for (int be = 0; be < NR_BE; be++) {
			fprintf(f, "%s\n    {\"pages\": %u, \"backend\": \"%s\", \"cycles\": %lu, \"ipi_based\": %.1f",
				sep, sd_sizes[s], backend_names[be], sd[s][be].cycles,
				sd[s][be].per_million);
			if (be == CXXVM_BACKEND_CXX)
				fprintf(f, ", \"own_counter\": %.1f", sd[s][be].own_per_million);
			fprintf(f, "}");
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"user\": [");
	sep = "";
	for (int s = 0; want(sections, "user") && s < NR_SIZES; s++) {
		for (int be = 0; be < NR_BE; be++) {
			const double *r = user_ns[s][be], *k = user_ns[s][CXXVM_BACKEND_VM_MAP_RAM];

			fprintf(f, "%s\n    {\"pages\": %u, \"backend\": \"%s\", \"ns_per_cycle\": %.1f, \"ratio_vs_vm_map_ram\": %.3f",
				sep, sizes[s], backend_names[be], r[UF_ALLOC], r[UF_ALLOC] / k[UF_ALLOC]);
			fprintf(f, ", \"ns_buf\": %.1f, \"ratio_buf\": %.3f, \"ns_submit\": %.1f, \"ratio_submit\": %.3f",
				r[UF_BUF], r[UF_BUF] / k[UF_BUF], r[UF_SUBMIT], r[UF_SUBMIT] / k[UF_SUBMIT]);
			if (single[s][be].iterations)
				fprintf(f, ", \"submit_vs_in_kernel\": %.3f",
					r[UF_SUBMIT] / mean_ns(&single[s][be]));
			fprintf(f, "}");
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"mixed\": [");
	sep = "";
	for (int form = 0; want(sections, "mixed") && form < NR_UF; form++) {
		for (int be = 0; be < NR_BE; be++) {
			const struct mixed_result *m = &mixed[form][be];

			fprintf(f, "%s\n    {\"form\": \"%s\", \"backend\": \"%s\", \"ns_per_op\": %.1f, \"ratio_vs_vm_map_ram\": %.3f, \"failures\": %lu, \"peak_va_mib\": %.2f}",
				sep, uf_names[form], backend_names[be], m->ns_per_op,
				m->ns_per_op / mixed[form][CXXVM_BACKEND_VM_MAP_RAM].ns_per_op,
				m->failures, m->peak_mib);
			sep = ",";
		}
	}
	fprintf(f, "\n  ],\n  \"contended_lookup\": [");
	sep = "";
	for (int be = 0; cl_ran && be < 2; be++) {
		fprintf(f, "%s\n    {\"backend\": \"%s\", \"ns_1\": %.2f, \"ns_n_median\": %.2f, \"ns_n_worst\": %.2f, \"writer_churns\": %lu}",
			sep, be ? "get_dev_pagemap" : "tracker", cl_ns[be][0], cl_ns[be][1],
			cl_ns[be][2], cl_churns);
		sep = ",";
	}
	fprintf(f, "\n  ],\n  \"lookup\": [");
	sep = "";
	for (int m = 0; lookup_ran && m < NR_LOOKUP; m++) {
		for (int mode = 0; mode < 2; mode++) {
			fprintf(f, "%s\n    {\"pagemaps\": %u, \"mode\": \"%s\", \"tracker_ns\": %.2f, \"get_dev_pagemap_ns\": %.2f, \"ratio\": %.3f}",
				sep, lookup_maps[m], mode ? "hinted" : "random",
				lookup_ns[m][0][mode], lookup_ns[m][1][mode],
				lookup_ns[m][0][mode] / lookup_ns[m][1][mode]);
			sep = ",";
		}
	}
	fprintf(f, "\n  ]\n}\n");
	return fclose(f) ? -1 : 0;
}

static void print_help(void)
{
	fprintf(stderr,
		"usage: cxxvm-bench [-n ITERATIONS] [-r ROUNDS] [-w WARMUP] [-s SECTIONS] [--json FILE]\n"
		"  -n, --iterations N  in-kernel cycles per run (default 20000; user: N/4)\n"
		"  -r, --rounds N      single, threads: runs per cell, median taken (default 5;\n"
		"                      contended: at most 3)\n"
		"  -w, --warmup N      before each run, twice N untimed cycles (default: lazy_max_pages)\n"
		"  -s, --sections LIST comma-separated: single,threads,shootdowns,user,mixed,lookup,\n"
		"                      contended, replay (default: all but contended and replay);\n"
		"                      flush: purge both arenas and the kernel's lazy areas\n"
		"                      (FLUSH with CXXVM_FLUSH_KERNEL_ALIASES) before the others\n"
		"  -j, --json FILE     also write the results as JSON\n"
		"      --expect-clean  at the end, fail (exit 3) unless a FLUSH leaves nothing\n"
		"                      mapped, allocated, dirty or retired in the module\n"
		"  -p, --replay FILE   a replay trace (selftests/fixtures/README) for the replay\n"
		"                      section; repeatable (section replay: only with -s)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "sections", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "expect-clean", no_argument, NULL, 'c' },
		{ "replay", required_argument, NULL, 'p' },
		{ 0 }
	};
	const char *sections = "single,threads,shootdowns,user,mixed,lookup";
	const char *json = NULL;
	bool expect_clean = false, clean, replay_ok = true;
	struct utsname u;
	int c;

	while ((c = getopt_long(argc, argv, "n:w:s:r:j:hp:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			iterations = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			warmup = strtoul(optarg, NULL, 0);
			break;
		case 's':
			sections = optarg;
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			if (rounds < 1 || rounds > 15) {
				fprintf(stderr, "cxxvm-bench: rounds must be 1..15\n");
				return 2;
			}
			break;
		case 'j':
			json = optarg;
			break;
		case 'c':
			expect_clean = true;
			break;
		case 'p':
			if (nr_replay_files == MAX_REPLAYS) {
				fprintf(stderr, "cxxvm-bench: at most %d --replay files\n", MAX_REPLAYS);
				return 2;
			}
			replay_files[nr_replay_files++] = optarg;
			break;
		default:
			print_help();
			return c == 'h' ? 0 : 2;
		}
	}

	fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cxxvm-bench: %s: %s (is cxxvm.ko loaded?)\n",
			CXXVM_DEVICE_PATH, strerror(errno));
		return 1;
	}
	if (ioctl(fd, CXXVM_IOC_INFO, &info) || info.abi_version != CXXVM_ABI_VERSION) {
		fprintf(stderr, "cxxvm-bench: module ABI %u, tool ABI %u\n",
			info.abi_version, CXXVM_ABI_VERSION);
		return 1;
	}
	if (warmup == ~0ul)
		warmup = info.lazy_max_pages;
	if (iterations == 0 || iterations > info.max_bench_iterations ||
	    warmup > info.max_bench_iterations) {
		fprintf(stderr, "cxxvm-bench: iterations must be 1..%u\n",
			info.max_bench_iterations);
		return 2;
	}
	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uname(&u);
	printf("cxxvm-bench: kernel %s, %d CPUs, lazy_max_pages=%u, warm-up 2 x %lu cycles per run\n",
	       u.release, nr_cpus, info.lazy_max_pages, warmup);
	printf("cxx TLB flush: %s; cxx purge by %s; get_dev_pagemap() hint: %s; INVLPGB: %s\n",
	       tlb_flush_name(info.tlb_flush),
	       info.purge == CXXVM_PURGE_CALLER ? "the caller" : "a worker",
	       info.features & CXXVM_FEAT_GET_DEV_PAGEMAP_HINT ? "yes" : "no",
	       info.features & CXXVM_FEAT_INVLPGB ? "yes" : "no");

	if (want(sections, "flush"))
		flush(CXXVM_FLUSH_RELEASE_BLOCKS | CXXVM_FLUSH_KERNEL_ALIASES);
	if (want(sections, "single"))
		run_single();
	if (want(sections, "threads"))
		run_threads();
	if (want(sections, "shootdowns"))
		run_shootdowns();
	if (want(sections, "user"))
		run_user();
	if (want(sections, "mixed"))
		run_mixed();
	if (want(sections, "lookup"))
		run_lookup();
	if (want(sections, "contended")) {
		run_contended();
		if (cont_threads > 1)
			run_contended_lookup(cont_threads);
	}
	if (want(sections, "replay"))
		replay_ok = run_replay();
	clean = !expect_clean || left_clean();
	close(fd);

	if (json && write_json(json, sections, &u))
		return 1;
	if (!replay_ok)
		return 1;
	return clean ? 0 : 3;
}
