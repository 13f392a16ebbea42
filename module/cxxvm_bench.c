// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_bench.c - CXXVM_IOC_BENCH: the in-kernel map+unmap loop.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"

int cxxvm_check_bench(const void *kdata)
{
	const struct cxxvm_bench *arg = kdata;

	if (arg->flags || !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (arg->iterations == 0 || arg->iterations > CXXVM_MAX_BENCH_ITERATIONS)
		return -EINVAL;
	if (arg->backend >= CXXVM_NR_BACKENDS)
		return -EINVAL;
	return cxxvm_arena_check_pages(arg->nr_pages);
}

static int cxxvm_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The pages of one bench run. */
struct cxxvm_bench_pages {
	struct page *pages[CXXVM_MAX_PAGES];
	u64 pfns[CXXVM_MAX_PAGES];
};

/* One map+unmap cycle; @seq becomes the purge that covers it (or NEVER). */
static int cxxvm_bench_cycle(u32 backend, struct cxxvm_bench_pages *p, u32 nr, u64 *seq)
{
	void *va;
	int ret = cxxvm_backend_map(backend, p->pages, p->pfns, nr, &va);

	if (ret)
		return ret;
	*seq = max(*seq, cxxvm_backend_unmap(backend, va, nr));
	/* The arena's state is unknown: stop (the pages are leaked). */
	return *seq == CXXVM_SEQ_NEVER ? -EIO : 0;
}

/*
 * Every CXXVM_BENCH_YIELD cycles: reschedule if asked to, and stop on a
 * fatal signal (two passes of 2^20 64-page vmap()s take a while under
 * emulation).  Not every cycle: the harness's own calls would otherwise be
 * a large share of a one-page cycle for every backend.
 */
#define CXXVM_BENCH_YIELD	64

static int cxxvm_bench_yield(u32 i)
{
	if (i % CXXVM_BENCH_YIELD)
		return 0;
	cond_resched();
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/**
 * cxxvm_ioctl_bench() - CXXVM_IOC_BENCH: time @arg->iterations map+unmap
 * cycles, twice.
 * @f: the file (unused: the loop's pages are its own)
 * @kdata: struct cxxvm_bench, checked; the outputs are filled in
 *
 * Pass 1 runs the cycles back to back and reads the clock only at both
 * ends: elapsed_ns and the counters come from it.  Pass 2 times each cycle
 * on its own for the percentiles.  Two passes, because a clock read per
 * cycle costs as much as a small map+unmap under emulation (an HPET read
 * is an MMIO exit) and would otherwise flatten every ratio.
 *
 * Context: process context, may sleep (cond_resched() every
 * CXXVM_BENCH_YIELD cycles).
 * Return: 0, -ENOMEM, -EINTR on a fatal signal, the backend's map error
 * (the loop stops at it), or -EIO if a C++ unmap failed (the pages are
 * leaked: the arena's state is unknown).
 */
int cxxvm_ioctl_bench(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_bench *arg = kdata;
	struct cxxvm_arena_stats before, after;
	struct cxxvm_bench_pages *p;
	u32 i, n = arg->iterations, nr = arg->nr_pages, be = arg->backend;
	u64 *ns, t0, seq = 0;
	int ret = 0;

	might_sleep();
	p = kmalloc(sizeof(*p), GFP_KERNEL);
	ns = kvmalloc_array(n, sizeof(*ns), GFP_KERNEL);
	if (!p || !ns) {
		ret = -ENOMEM;
		goto out;
	}
	ret = cxxvm_pages_alloc(p->pages, p->pfns, nr, GFP_KERNEL);
	if (ret)
		goto out;

	cxxvm_arena_get_stats(cxxvm_arena, &before);
	t0 = ktime_get_ns();
	for (i = 0; i < n && !ret; i++) {
		ret = cxxvm_bench_cycle(be, p, nr, &seq);
		if (!ret)
			ret = cxxvm_bench_yield(i);
	}
	arg->elapsed_ns = ktime_get_ns() - t0;
	cxxvm_arena_get_stats(cxxvm_arena, &after);

	for (i = 0; i < n && !ret; i++) {
		u64 start = ktime_get_ns();

		ret = cxxvm_bench_cycle(be, p, nr, &seq);
		ns[i] = ktime_get_ns() - start;
		if (!ret)
			ret = cxxvm_bench_yield(i);
	}
	/* Purges are numbered in order: the last unmap's covers them all. */
	cxxvm_pages_release(p->pages, nr, seq);
	cxxvm_reap_retired(false);
	if (ret)
		goto out;

	sort(ns, n, sizeof(*ns), cxxvm_cmp_u64, NULL);
	arg->min_ns = ns[0];
	arg->p50_ns = ns[n / 2];
	arg->p99_ns = ns[min_t(u64, n - 1, (u64)n * 99 / 100)];
	arg->max_ns = ns[n - 1];
	if (be == CXXVM_BACKEND_CXX) {
		arg->shootdowns = after.shootdowns - before.shootdowns;
		arg->blocks_created = after.blocks_created - before.blocks_created;
	} else {
		arg->shootdowns = CXXVM_BENCH_NOT_COUNTED;
		arg->blocks_created = CXXVM_BENCH_NOT_COUNTED;
	}
out:
	kvfree(ns);
	kfree(p);
	return ret;
}
