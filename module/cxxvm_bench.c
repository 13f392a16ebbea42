// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_bench.c - CXXVM_IOC_BENCH, the in-kernel map+unmap loop, and
 * CXXVM_IOC_REPLAY, a recorded trace of the kernel's own vm_map_ram()
 * callers run through each backend.
 */
#include <linux/bitmap.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#ifdef CONFIG_X86
#include <asm/special_insns.h>
#endif

#include "cxxvm_core.h"
#include "cxxvm_internal.h"

int cxxvm_check_bench(const void *kdata)
{
	const struct cxxvm_bench *arg = kdata;

	if ((arg->flags & ~CXXVM_BENCH_FLAGS) ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
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
 * cycles, twice (once with CXXVM_BENCH_UNTIMED).
 * @f: the file (unused: the loop's pages are its own)
 * @kdata: struct cxxvm_bench, checked; the outputs are filled in
 *
 * Pass 1 runs the cycles back to back and reads the clock only at both
 * ends: elapsed_ns and the counters come from it.  Pass 2 times each cycle
 * on its own for the percentiles.  Two passes, because a clock read per
 * cycle costs as much as a small map+unmap under emulation (an HPET read
 * is an MMIO exit) and would otherwise flatten every ratio.  With
 * CXXVM_BENCH_UNTIMED only pass 1 runs, and the percentiles are 0: the
 * call is then nothing but cycles, for the bench's multi-thread rates.
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
	bool timed = !(arg->flags & CXXVM_BENCH_UNTIMED);
	u64 *ns = NULL, t0, seq = 0;
	int ret = 0;

	might_sleep();
	p = kmalloc(sizeof(*p), GFP_KERNEL);
	if (timed)
		ns = kvmalloc_array(n, sizeof(*ns), GFP_KERNEL);
	if (!p || (timed && !ns)) {
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

	for (i = 0; i < n && timed && !ret; i++) {
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

	if (timed) {
		sort(ns, n, sizeof(*ns), cxxvm_cmp_u64, NULL);
		arg->min_ns = ns[0];
		arg->p50_ns = ns[n / 2];
		arg->p99_ns = ns[min_t(u64, n - 1, (u64)n * 99 / 100)];
		arg->max_ns = ns[n - 1];
	} else {
		arg->min_ns = arg->p50_ns = arg->p99_ns = arg->max_ns = 0;
	}
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

/* CXXVM_IOC_REPLAY: the trace, its mappings and the pages they alias. */
struct cxxvm_replay_slot {
	void *va;		/* NULL: not live */
	u32 nr_pages;
	u32 backend;		/* who mapped it (a C++ map may fall back) */
};

struct cxxvm_replay_run {
	struct cxxvm_replay *arg;
	struct cxxvm_replay_op *ops;
	struct cxxvm_replay_slot *slots;
	struct page **pages;
	u64 *pfns;
	u32 max_pages;		/* the largest map: pages and pfns hold that many */
	u64 seq;		/* CXXVM_SEQ_NEVER once a C++ unmap failed */
	u64 fallbacks;
	u64 trace_pages;	/* pages the trace maps, all its maps together */
	struct cxxvm_arena *arena;	/* the C++ backend's: the takeover's tunables */
};

int cxxvm_check_replay(const void *kdata)
{
	const struct cxxvm_replay *arg = kdata;

	if ((arg->flags & ~CXXVM_REPLAY_FLAGS) || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if ((arg->flags & CXXVM_REPLAY_COLD) && !IS_ENABLED(CONFIG_X86))
		return -EOPNOTSUPP;
	if (arg->loops == 0 || arg->loops > CXXVM_MAX_REPLAY_LOOPS)
		return -EINVAL;
	if (arg->nr_ops == 0 || arg->nr_ops > CXXVM_MAX_REPLAY_OPS)
		return -EINVAL;
	if (arg->nr_ids == 0 || arg->nr_ids > CXXVM_MAX_REPLAY_IDS)
		return -EINVAL;
	return arg->backend < CXXVM_NR_BACKENDS ? 0 : -EINVAL;
}

/*
 * Check every operation before any runs, with a bitmap of the live ids:
 * a MAP of a free id, an UNMAP of a live one with its MAP's page count.
 * Sets r->max_pages and arg->maps and ->peak_pages.
 */
static int cxxvm_replay_validate(struct cxxvm_replay_run *r)
{
	struct cxxvm_replay *arg = r->arg;
	unsigned long *live;
	u64 pages = 0;
	u32 i;
	int ret = 0;

	live = bitmap_zalloc(arg->nr_ids, GFP_KERNEL);
	if (!live)
		return -ENOMEM;
	for (i = 0; i < arg->nr_ops && !ret; i++) {
		const struct cxxvm_replay_op *op = &r->ops[i];
		struct cxxvm_replay_slot *s;

		if (op->reserved || op->id >= arg->nr_ids || op->nr_pages == 0 ||
		    op->nr_pages > CXXVM_MAX_REPLAY_PAGES) {
			ret = -EINVAL;
			break;
		}
		s = &r->slots[op->id];
		switch (op->op) {
		case CXXVM_REPLAY_MAP:
			if (__test_and_set_bit(op->id, live)) {
				ret = -EINVAL;
				break;
			}
			s->nr_pages = op->nr_pages;
			pages += op->nr_pages;
			if (pages > CXXVM_MAX_REPLAY_LIVE) {
				ret = -EINVAL;
				break;
			}
			arg->maps++;
			r->trace_pages += op->nr_pages;
			arg->peak_pages = max(arg->peak_pages, pages);
			r->max_pages = max(r->max_pages, op->nr_pages);
			break;
		case CXXVM_REPLAY_UNMAP:
			if (!__test_and_clear_bit(op->id, live) ||
			    s->nr_pages != op->nr_pages) {
				ret = -EINVAL;
				break;
			}
			pages -= op->nr_pages;
			break;
		default:
			ret = -EINVAL;
		}
	}
	bitmap_free(live);
	return ret;
}

/*
 * One map of the trace.  The C++ backend sends what its arena cannot
 * serve to the kernel's vm_map_ram(), as the takeover does.
 */
static int cxxvm_replay_map(struct cxxvm_replay_run *r, struct cxxvm_replay_slot *s, u32 nr,
			    bool count)
{
	u32 be = r->arg->backend;
	uintptr_t addr;
	int ret = -ENOMEM;

	if (be != CXXVM_BACKEND_CXX) {
		ret = cxxvm_backend_map(be, r->pages, r->pfns, nr, &s->va);
	} else if (nr <= CXXVM_MAX_PAGES) {
		ret = cxxvm_arena_map(r->arena, r->pfns, nr, &addr);
		s->va = (void *)addr;
	}
	if (ret && be == CXXVM_BACKEND_CXX) {
		be = CXXVM_BACKEND_VM_MAP_RAM;
		ret = cxxvm_backend_map(be, r->pages, r->pfns, nr, &s->va);
		r->fallbacks += count;
	}
	if (ret) {
		s->va = NULL;
		return ret;
	}
	s->nr_pages = nr;
	s->backend = be;
	return 0;
}

/* One unmap; -EIO if the C++ arena refused it (its pages must then leak). */
static int cxxvm_replay_unmap(struct cxxvm_replay_run *r, struct cxxvm_replay_slot *s)
{
	u64 seq;
	int ret = 0;

	if (s->backend == CXXVM_BACKEND_CXX)
		ret = WARN_ON_ONCE(cxxvm_arena_unmap(r->arena, (uintptr_t)s->va,
						     s->nr_pages, &seq));
	else
		cxxvm_backend_unmap(s->backend, s->va, s->nr_pages);
	s->va = NULL;
	if (ret) {
		r->seq = CXXVM_SEQ_NEVER;
		return -EIO;
	}
	return 0;
}

/* Unmap what the trace (or a failed pass) left live, untimed. */
static int cxxvm_replay_unmap_live(struct cxxvm_replay_run *r)
{
	u32 id;
	int ret = 0;

	for (id = 0; id < r->arg->nr_ids; id++) {
		if (r->slots[id].va && cxxvm_replay_unmap(r, &r->slots[id]))
			ret = -EIO;
		if (id % 1024 == 1023)
			cond_resched();
	}
	return ret;
}

/*
 * Pages of VA the run's C++ arena (the takeover's tunables) holds now: its
 * vmap blocks, each with the guard page vmap() put after it.
 */
static u64 cxxvm_replay_va_pages(struct cxxvm_replay_run *r)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_get_stats(r->arena, &st);
	return st.blocks_live * (cxxvm_arena_takeover_block_pages() + 1);
}

/*
 * CXXVM_REPLAY_COLD: flush this CPU's TLB as a switch to another mm does,
 * by writing CR3 back (mirrors the CR3 write of native_flush_tlb_local()
 * in arch/x86/mm/tlb.c; the current value needs none of its ASID
 * bookkeeping).  IRQs off: the value read must go back on the same CPU.
 */
static void cxxvm_replay_cold(void)
{
#ifdef CONFIG_X86
	unsigned long flags;

	local_irq_save(flags);
	native_write_cr3(__native_read_cr3());
	local_irq_restore(flags);
#endif
}

/* One pass over the trace; @timed: pass 2 (per-operation clock reads). */
static int cxxvm_replay_pass(struct cxxvm_replay_run *r, bool timed)
{
	struct cxxvm_replay *arg = r->arg;
	bool cxx = arg->backend == CXXVM_BACKEND_CXX;
	u32 i;
	int ret = 0, ret2;

	for (i = 0; i < arg->nr_ops && !ret; i++) {
		const struct cxxvm_replay_op *op = &r->ops[i];
		struct cxxvm_replay_slot *s = &r->slots[op->id];
		u64 t0;

		if (timed && (arg->flags & CXXVM_REPLAY_COLD))
			cxxvm_replay_cold();
		t0 = timed ? ktime_get_ns() : 0;

		if (op->op == CXXVM_REPLAY_MAP) {
			ret = cxxvm_replay_map(r, s, op->nr_pages, !timed);
			if (timed)
				arg->map_ns += ktime_get_ns() - t0;
			if (!ret && timed && cxx)
				arg->peak_va_pages = max(arg->peak_va_pages,
							 cxxvm_replay_va_pages(r));
		} else {
			ret = cxxvm_replay_unmap(r, s);
			if (timed)
				arg->unmap_ns += ktime_get_ns() - t0;
		}
		if (!ret)
			ret = cxxvm_bench_yield(i);
	}
	ret2 = cxxvm_replay_unmap_live(r);
	return ret ?: ret2;
}

/**
 * cxxvm_ioctl_replay() - CXXVM_IOC_REPLAY: run a recorded trace of
 * vm_map_ram() calls through one backend: arg->loops times, then once timed.
 * @f: the file (unused: the run's pages are its own)
 * @kdata: struct cxxvm_replay, checked; the outputs are filled in
 *
 * The C++ side of the takeover's comparison on a real pattern: the same
 * sizes, order and overlapping lifetimes, without the filesystem around
 * them.  The struct's comment in the uapi header gives the passes and
 * outputs.
 *
 * Context: process context, may sleep (cond_resched() every
 * CXXVM_BENCH_YIELD operations).
 * Return: 0, -EINVAL for a malformed trace, -EFAULT, -ENOMEM, -EINTR on
 * a fatal signal, or -EIO if a C++ unmap failed (the pages are leaked).
 */
int cxxvm_ioctl_replay(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_replay *arg = kdata;
	struct cxxvm_replay_run r = { .arg = arg };
	struct cxxvm_arena_stats before, after;
	bool cxx = arg->backend == CXXVM_BACKEND_CXX;
	u64 loop, warm, t0;
	int ret;

	might_sleep();
	/* The outputs: the caller's values there are ignored. */
	arg->elapsed_ns = 0;
	arg->map_ns = 0;
	arg->unmap_ns = 0;
	arg->maps = 0;
	arg->fallbacks = 0;
	arg->shootdowns = 0;
	arg->blocks_created = 0;
	arg->peak_pages = 0;
	arg->peak_va_pages = 0;
	arg->reserve_ns = 0;
	arg->shootdown_ns = 0;
	r.ops = kvmalloc_array(arg->nr_ops, sizeof(*r.ops), GFP_KERNEL);
	r.slots = kvcalloc(arg->nr_ids, sizeof(*r.slots), GFP_KERNEL);
	if (!r.ops || !r.slots) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(r.ops, u64_to_user_ptr(arg->ops),
			   (size_t)arg->nr_ops * sizeof(*r.ops))) {
		ret = -EFAULT;
		goto out;
	}
	ret = cxxvm_replay_validate(&r);
	if (ret)
		goto out;
	r.pages = kvmalloc_array(r.max_pages, sizeof(*r.pages), GFP_KERNEL);
	r.pfns = kvmalloc_array(r.max_pages, sizeof(*r.pfns), GFP_KERNEL);
	if (!r.pages || !r.pfns) {
		ret = -ENOMEM;
		goto out;
	}
	if (cxx) {
		ret = cxxvm_arena_create_takeover(&r.arena);
		if (ret)
			goto out;
	}
	ret = cxxvm_pages_alloc(r.pages, r.pfns, r.max_pages, GFP_KERNEL);
	if (ret)
		goto out;

	/*
	 * Warm-up, untimed: the trace until it has mapped lazy_max_pages, so
	 * every backend is in its steady state (blocks exist, a purge came),
	 * as the BENCH loop's warm-up does.  The run's arena starts empty.
	 */
	warm = div64_u64(cxxvm_lazy_max_pages + r.trace_pages - 1, r.trace_pages);
	for (loop = 0; loop < warm && !ret; loop++)
		ret = cxxvm_replay_pass(&r, false);
	r.fallbacks = 0;
	if (cxx)
		cxxvm_arena_get_stats(r.arena, &before);
	t0 = ktime_get_ns();
	for (loop = 0; loop < arg->loops && !ret; loop++)
		ret = cxxvm_replay_pass(&r, false);
	arg->elapsed_ns = ktime_get_ns() - t0;
	if (cxx)
		cxxvm_arena_get_stats(r.arena, &after);
	if (!ret)
		ret = cxxvm_replay_pass(&r, true);

	/*
	 * Every mapping is unmapped (cxxvm_replay_pass()); the run's arena
	 * shoots its dirty slots down and goes, and then no CPU can reach
	 * the pages through it.
	 */
	if (r.arena) {
		cxxvm_arena_purge_now(r.arena);
		if (WARN_ON(cxxvm_arena_destroy(r.arena)))
			r.seq = CXXVM_SEQ_NEVER;
		r.arena = NULL;
	}
	cxxvm_pages_release(r.pages, r.max_pages, r.seq);
	if (ret)
		goto out;
	arg->fallbacks = r.fallbacks;
	if (cxx) {
		arg->shootdowns = after.shootdowns - before.shootdowns;
		arg->blocks_created = after.blocks_created - before.blocks_created;
		arg->reserve_ns = after.reserve_ns - before.reserve_ns;
		arg->shootdown_ns = after.shootdown_ns - before.shootdown_ns;
	} else {
		arg->shootdowns = CXXVM_BENCH_NOT_COUNTED;
		arg->blocks_created = CXXVM_BENCH_NOT_COUNTED;
		arg->peak_va_pages = CXXVM_BENCH_NOT_COUNTED;
		arg->reserve_ns = CXXVM_BENCH_NOT_COUNTED;
		arg->shootdown_ns = CXXVM_BENCH_NOT_COUNTED;
	}
out:
	if (r.arena)
		cxxvm_arena_destroy(r.arena);	/* made, nothing mapped */
	kvfree(r.pfns);
	kvfree(r.pages);
	kvfree(r.slots);
	kvfree(r.ops);
	return ret;
}
