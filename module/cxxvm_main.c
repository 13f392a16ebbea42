// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_main.c - /dev/cxxvm: the ioctl ABI of include/uapi/linux/cxxvm.h.
 *
 * Each open file owns the mappings it creates, indexed by small ids in an
 * xarray; closing the file (or the process dying) unmaps and frees them.
 * The three backends map the same kind of pages: order-0 pages from
 * alloc_page(GFP_KERNEL), so their direct-map address is always valid.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <asm/cpufeature.h>

#include <linux/cxxvm.h>
#include "cxxvm_core.h"
#include "cxxvm_kunit.h"
#include "cxxvm_pgmap.h"
#include "cxxvm_probes.h"
#include "cxxvm_platform.h"

static_assert(sizeof(struct cxxvm_info) == 64);
static_assert(sizeof(struct cxxvm_map) == 40);
static_assert(sizeof(struct cxxvm_unmap) == 32);
static_assert(sizeof(struct cxxvm_verify) == 40);
static_assert(sizeof(struct cxxvm_flush) == 32);
static_assert(sizeof(struct cxxvm_stats) == 176);
static_assert(sizeof(struct cxxvm_bench) == 104);
/* VMAP_MAX_ALLOC in mm/vmalloc.c: the largest vm_map_ram() block request. */
static_assert(CXXVM_MAX_PAGES <= BITS_PER_LONG);

#define CXXVM_MAX_BENCH_ITERATIONS	(1u << 20)
/* Mappings one open file may hold at once. */
#define CXXVM_MAX_HANDLES		65536

static unsigned int lazy_max_pages;
module_param(lazy_max_pages, uint, 0444);
MODULE_PARM_DESC(lazy_max_pages,
		 "Dirty pages that trigger a batched TLB shootdown (0: the kernel's lazy_max_pages(), 32 MiB * fls(online CPUs))");

static unsigned int max_blocks = 1024;
module_param(max_blocks, uint, 0444);
MODULE_PARM_DESC(max_blocks, "Most 2 MiB vmap blocks the C++ arena may hold (default 1024)");

static bool caller_purge;
module_param(caller_purge, bool, 0444);
MODULE_PARM_DESC(caller_purge,
		 "1: the unmap that reaches lazy_max_pages runs the purge and waits for its shootdown (for comparison); 0: a worker does (default)");

static struct cxxvm_arena *cxxvm_arena;
static atomic64_t cxxvm_live_mappings = ATOMIC64_INIT(0);
static atomic64_t cxxvm_live_pages = ATOMIC64_INIT(0);

/*
 * Pages unmapped from the C++ arena wait here, linked through page->lru
 * with the covering purge's number in page->private (the pages are ours:
 * order-0, not in any cache), until that purge has completed: until then
 * another CPU's TLB may still map them, so they cannot go back to the page
 * allocator.  The kernel's
 * vm_unmap_ram() callers free at once because vm_unmap_aliases() (which
 * CPA calls before changing a page's attributes) flushes its lazy areas;
 * nothing in the kernel knows about cxxvm's.
 */
static LIST_HEAD(cxxvm_retired);
static DEFINE_SPINLOCK(cxxvm_retired_lock);
static atomic64_t cxxvm_retired_pages = ATOMIC64_INIT(0);
/* flushed_seq at the last full walk of cxxvm_retired. */
static atomic64_t cxxvm_reaped_seq = ATOMIC64_INIT(0);

/**
 * struct cxxvm_file - what one open /dev/cxxvm owns
 * @lock: serialises lookups that use a mapping (verify) against unmap, and
 *	a new id's publication against everything else
 * @mappings: id -> struct cxxvm_mapping; ids 1..CXXVM_MAX_HANDLES
 * @pgmaps: the file's pagemaps (cxxvm_pgmap.c)
 */
struct cxxvm_file {
	struct mutex lock;	/* see @lock above */
	struct xarray mappings;
	struct cxxvm_pgmap_file pgmaps;
};

/**
 * struct cxxvm_pages - pages to map, with their pfns for the C++ backend
 * @nr: number of pages
 * @pages: the pages
 * @pfns: page_to_pfn() of each
 */
struct cxxvm_pages {
	u32 nr;
	struct page *pages[CXXVM_MAX_PAGES];
	u64 pfns[CXXVM_MAX_PAGES];
};

/**
 * struct cxxvm_mapping - one mapping of a file
 * @backend: enum cxxvm_backend
 * @va: kernel address of the first page
 * @p: the pages
 */
struct cxxvm_mapping {
	u32 backend;
	void *va;
	struct cxxvm_pages p;
};

static void cxxvm_pages_free(struct cxxvm_pages *p)
{
	while (p->nr)
		__free_page(p->pages[--p->nr]);
}

static int cxxvm_pages_alloc(struct cxxvm_pages *p, u32 nr)
{
	p->nr = 0;
	while (p->nr < nr) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page) {
			cxxvm_pages_free(p);
			return -ENOMEM;
		}
		p->pages[p->nr] = page;
		p->pfns[p->nr] = page_to_pfn(page);
		p->nr++;
	}
	return 0;
}

/**
 * cxxvm_backend_map() - map @p contiguously in kernel VA through @backend.
 * @backend: enum cxxvm_backend (validated by the caller)
 * @p: the pages
 * @va: out: the address
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM (no VA), or the C++ arena's -errno.
 */
static int cxxvm_backend_map(u32 backend, struct cxxvm_pages *p, void **va)
{
	uintptr_t addr;
	int ret;

	switch (backend) {
	case CXXVM_BACKEND_CXX:
		ret = cxxvm_arena_map(cxxvm_arena, p->pfns, p->nr, &addr);
		*va = ret ? NULL : (void *)addr;
		return ret;
	case CXXVM_BACKEND_VM_MAP_RAM:
		*va = vm_map_ram(p->pages, p->nr, NUMA_NO_NODE);
		return *va ? 0 : -ENOMEM;
	case CXXVM_BACKEND_VMAP:
		*va = vmap(p->pages, p->nr, VM_MAP, PAGE_KERNEL);
		return *va ? 0 : -ENOMEM;
	}
	return -EINVAL;
}

/**
 * cxxvm_backend_unmap() - undo cxxvm_backend_map().
 * @backend: as mapped
 * @va: as returned
 * @nr: pages, as mapped
 *
 * Context: process context, may sleep.
 * Return: for the C++ arena, the purge that must complete before the pages
 * may be freed; 0 for the kernel's backends (free at once).
 */
static u64 cxxvm_backend_unmap(u32 backend, void *va, u32 nr)
{
	u64 seq = 0;

	switch (backend) {
	case CXXVM_BACKEND_CXX:
		WARN_ON_ONCE(cxxvm_arena_unmap(cxxvm_arena, (uintptr_t)va, nr, &seq));
		break;
	case CXXVM_BACKEND_VM_MAP_RAM:
		vm_unmap_ram(va, nr);
		break;
	case CXXVM_BACKEND_VMAP:
		vunmap(va);
		break;
	}
	return seq;
}

static void cxxvm_mapping_free(struct cxxvm_mapping *m)
{
	cxxvm_pages_free(&m->p);
	kfree(m);
}

/**
 * cxxvm_reap_retired() - free retired pages whose covering purge completed.
 * @all: free everything (the arena is gone, so nothing can map them)
 *
 * Context: process context.
 */
static void cxxvm_reap_retired(bool all)
{
	u64 done = all ? U64_MAX : cxxvm_arena_flushed_seq(cxxvm_arena);
	struct page *page, *tmp;
	LIST_HEAD(ready);
	long n = 0;

	/*
	 * Called on every UNMAP: walk the list only when a purge completed
	 * since the last walk, or it would cost O(parked pages) each time.
	 */
	if (!all && atomic64_read(&cxxvm_reaped_seq) == done)
		return;
	spin_lock(&cxxvm_retired_lock);
	list_for_each_entry_safe(page, tmp, &cxxvm_retired, lru)
		if (page_private(page) <= done)
			list_move(&page->lru, &ready);
	if (!all)
		atomic64_set(&cxxvm_reaped_seq, done);
	spin_unlock(&cxxvm_retired_lock);

	list_for_each_entry_safe(page, tmp, &ready, lru) {
		list_del(&page->lru);
		set_page_private(page, 0);
		__free_page(page);
		n++;
	}
	atomic64_sub(n, &cxxvm_retired_pages);
}

/*
 * Free @m now, and its pages now or once purge @seq has completed (see
 * cxxvm_retired).  @m must no longer be mapped.  Only the pages wait: the
 * mapping's own bookkeeping goes back to the slab at once.
 */
static void cxxvm_mapping_retire(struct cxxvm_mapping *m, u64 seq)
{
	LIST_HEAD(pages);
	u32 i;

	if (!seq) {
		cxxvm_mapping_free(m);
		return;
	}
	for (i = 0; i < m->p.nr; i++) {
		set_page_private(m->p.pages[i], seq);
		list_add_tail(&m->p.pages[i]->lru, &pages);
	}
	atomic64_add(m->p.nr, &cxxvm_retired_pages);
	kfree(m);
	spin_lock(&cxxvm_retired_lock);
	list_splice_tail(&pages, &cxxvm_retired);
	/*
	 * A reap that already saw purge @seq complete did not see these pages:
	 * make the next reap walk again, or they would wait for one more purge.
	 */
	if (atomic64_read(&cxxvm_reaped_seq) >= seq)
		atomic64_set(&cxxvm_reaped_seq, seq - 1);
	spin_unlock(&cxxvm_retired_lock);
}

static void cxxvm_mapping_destroy(struct cxxvm_mapping *m)
{
	u64 seq = cxxvm_backend_unmap(m->backend, m->va, m->p.nr);

	atomic64_dec(&cxxvm_live_mappings);
	atomic64_sub(m->p.nr, &cxxvm_live_pages);
	cxxvm_mapping_retire(m, seq);
}

static bool cxxvm_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static int cxxvm_check_backend_pages(u32 backend, u32 nr_pages)
{
	if (backend >= CXXVM_NR_BACKENDS)
		return -EINVAL;
	if (nr_pages == 0 || nr_pages > CXXVM_MAX_PAGES)
		return -EINVAL;
	return 0;
}

static int cxxvm_check_handle(u64 handle)
{
	return handle == 0 || handle > CXXVM_MAX_HANDLES ? -ENOENT : 0;
}

int cxxvm_check_map(const struct cxxvm_map *arg)
{
	if (arg->flags || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return cxxvm_check_backend_pages(arg->backend, arg->nr_pages);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_check_map);

int cxxvm_check_unmap(const struct cxxvm_unmap *arg)
{
	if (arg->flags || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return cxxvm_check_handle(arg->handle);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_check_unmap);

int cxxvm_check_verify(const struct cxxvm_verify *arg)
{
	if (arg->flags || !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return cxxvm_check_handle(arg->handle);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_check_verify);

int cxxvm_check_flush(const struct cxxvm_flush *arg)
{
	if ((arg->flags & ~CXXVM_FLUSH_FLAGS) || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return 0;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_check_flush);

int cxxvm_check_bench(const struct cxxvm_bench *arg)
{
	if (arg->flags || !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (arg->iterations == 0 || arg->iterations > CXXVM_MAX_BENCH_ITERATIONS)
		return -EINVAL;
	return cxxvm_check_backend_pages(arg->backend, arg->nr_pages);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_check_bench);

/*
 * What differs between the kernels and CPUs cxxvm runs on, for userspace:
 * the API forms the build's probes found, and CPU features seen now.
 */
static u32 cxxvm_features(void)
{
	u32 f = 0;

#ifdef CXXVM_HAVE_GET_DEV_PAGEMAP_HINT
	f |= CXXVM_FEAT_GET_DEV_PAGEMAP_HINT;
#endif
#ifdef X86_FEATURE_INVLPGB
	if (cpu_feature_enabled(X86_FEATURE_INVLPGB))
		f |= CXXVM_FEAT_INVLPGB;
#endif
	return f;
}

static long cxxvm_ioctl_info(void __user *uarg)
{
	struct cxxvm_info info = {
		.abi_version = CXXVM_ABI_VERSION,
		.nr_backends = CXXVM_NR_BACKENDS,
		.max_pages = CXXVM_MAX_PAGES,
		.page_size = PAGE_SIZE,
		.block_pages = CXXVM_BLOCK_PAGES,
		.lazy_max_pages = lazy_max_pages,
		.max_bench_iterations = CXXVM_MAX_BENCH_ITERATIONS,
		.max_blocks = max_blocks,
		.features = cxxvm_features(),
		.tlb_flush = cxxvm_plat_tlb_flush(),
		.purge = caller_purge ? CXXVM_PURGE_CALLER : CXXVM_PURGE_WORKER,
	};

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long cxxvm_ioctl_map(struct cxxvm_file *f, void __user *uarg)
{
	struct cxxvm_mapping *m;
	struct cxxvm_map arg;
	u32 id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = cxxvm_check_map(&arg);
	if (ret)
		return ret;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->backend = arg.backend;
	ret = cxxvm_pages_alloc(&m->p, arg.nr_pages);
	if (ret)
		goto free_m;
	ret = cxxvm_backend_map(m->backend, &m->p, &m->va);
	if (ret)
		goto free_pages;
	atomic64_inc(&cxxvm_live_mappings);
	atomic64_add(m->p.nr, &cxxvm_live_pages);

	/*
	 * f->lock from publication to copy_to_user(): no UNMAP of a guessed id
	 * can take the mapping meanwhile, so a failed copy erases our own.
	 */
	mutex_lock(&f->lock);
	ret = xa_alloc(&f->mappings, &id, m, XA_LIMIT(1, CXXVM_MAX_HANDLES),
		       GFP_KERNEL);
	if (!ret) {
		arg.handle = id;
		if (copy_to_user(uarg, &arg, sizeof(arg))) {
			/* The caller cannot learn the id: do not leave it behind. */
			xa_erase(&f->mappings, id);
			ret = -EFAULT;
		}
	} else if (ret == -EBUSY) {
		ret = -ENOSPC;
	}
	mutex_unlock(&f->lock);
	if (ret) {
		cxxvm_mapping_destroy(m);
		cxxvm_reap_retired(false);
	}
	return ret;

free_pages:
	cxxvm_pages_free(&m->p);
free_m:
	kfree(m);
	return ret;
}

static long cxxvm_ioctl_unmap(struct cxxvm_file *f, void __user *uarg)
{
	struct cxxvm_mapping *m;
	struct cxxvm_unmap arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = cxxvm_check_unmap(&arg);
	if (ret)
		return ret;

	mutex_lock(&f->lock);
	m = xa_erase(&f->mappings, arg.handle);
	mutex_unlock(&f->lock);
	if (!m)
		return -ENOENT;
	cxxvm_mapping_destroy(m);
	cxxvm_reap_retired(false);
	return 0;
}

/* A pattern word that differs per seed, page, word and direction. */
static u64 cxxvm_pattern(u32 seed, u32 page, u32 word, u32 dir)
{
	u64 x = ((u64)seed << 32) ^ ((u64)page << 16) ^ word ^ ((u64)dir << 63);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/**
 * cxxvm_check_pattern() - write a pattern through one mapping, read it back
 * through another.
 * @dst: where to write
 * @src: where to read back (another mapping of the same memory, or @dst)
 * @bytes: length, a multiple of 8 bytes, below 32 GiB
 * @seed: seed of the pattern
 * @page: mixed into the pattern (the page index, for VERIFY)
 * @dir: mixed into the pattern (which way round: 0 or 1)
 *
 * A wrong PTE or a stale TLB entry in either mapping shows as a mismatch.
 * Context: any; touches every byte once each way.
 * Return: true if every word read back as written.
 */
bool cxxvm_check_pattern(u64 *dst, const u64 *src, size_t bytes, u32 seed, u32 page, u32 dir)
{
	u32 w, words = bytes / sizeof(u64);

	for (w = 0; w < words; w++)
		WRITE_ONCE(dst[w], cxxvm_pattern(seed, page, w, dir));
	for (w = 0; w < words; w++)
		if (READ_ONCE(src[w]) != cxxvm_pattern(seed, page, w, dir))
			return false;
	return true;
}

static long cxxvm_ioctl_verify(struct cxxvm_file *f, void __user *uarg)
{
	struct cxxvm_mapping *m;
	struct cxxvm_verify arg;
	long ret = 0;
	u32 i;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = cxxvm_check_verify(&arg);
	if (ret)
		return ret;

	mutex_lock(&f->lock);
	m = xa_load(&f->mappings, arg.handle);
	if (!m) {
		mutex_unlock(&f->lock);
		return -ENOENT;
	}
	arg.pages_checked = 0;
	arg.bad_page = U32_MAX;
	for (i = 0; i < m->p.nr; i++) {
		u64 *mapped = m->va + i * PAGE_SIZE;
		u64 *direct = page_address(m->p.pages[i]);

		/* dir 0: through the mapping, back through the direct map. */
		if (!cxxvm_check_pattern(mapped, direct, PAGE_SIZE, arg.seed, i, 0) ||
		    !cxxvm_check_pattern(direct, mapped, PAGE_SIZE, arg.seed, i, 1)) {
			arg.bad_page = i;
			ret = -EIO;
			break;
		}
		arg.pages_checked++;
	}
	mutex_unlock(&f->lock);

	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return ret;
}

static u64 cxxvm_blocks_freed(void)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_get_stats(cxxvm_arena, &st);
	return st.blocks_freed;
}

static long cxxvm_ioctl_flush(void __user *uarg)
{
	struct cxxvm_flush arg;
	u64 before;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = cxxvm_check_flush(&arg);
	if (ret)
		return ret;
	before = cxxvm_blocks_freed();
	arg.pages_flushed = cxxvm_arena_flush(cxxvm_arena);
	if (arg.flags & CXXVM_FLUSH_RELEASE_BLOCKS)
		cxxvm_arena_shrink(cxxvm_arena);
	arg.blocks_released = cxxvm_blocks_freed() - before;
	if (arg.flags & CXXVM_FLUSH_KERNEL_ALIASES)
		vm_unmap_aliases();
	cxxvm_reap_retired(false);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long cxxvm_ioctl_stats(void __user *uarg)
{
	struct cxxvm_arena_stats as;
	struct cxxvm_stats st = {};

	cxxvm_arena_get_stats(cxxvm_arena, &as);
	st.live_mappings = atomic64_read(&cxxvm_live_mappings);
	st.live_pages = atomic64_read(&cxxvm_live_pages);
	st.blocks_created = as.blocks_created;
	st.blocks_live = as.blocks_live;
	st.shootdowns = as.shootdowns;
	st.dirty_pages = as.dirty_pages;
	st.mapped_pages = as.mapped_pages;
	st.retired_pages = atomic64_read(&cxxvm_retired_pages);
	st.blocks_freed = as.blocks_freed;
	st.purges = as.purges;
	st.steals = as.steals;
	st.borrows = as.borrows;
	st.purge_ns = as.purge_ns;
	st.shootdown_ns = as.shootdown_ns;
	st.caller_purges = as.caller_purges;
	st.worker_purges = as.worker_purges;
	st.purge_waits = as.purge_waits;
	st.purge_wait_ns = as.purge_wait_ns;
	st.lock_contended = as.lock_contended;
	st.lock_wait_ns = as.lock_wait_ns;
	st.reserve_ns = as.reserve_ns;
	st.release_ns = as.release_ns;
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

static int cxxvm_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* One map+unmap cycle of the bench loop; @seq is the purge that covers it. */
static int cxxvm_bench_cycle(struct cxxvm_mapping *m, u64 *seq)
{
	int ret = cxxvm_backend_map(m->backend, &m->p, &m->va);

	if (!ret)
		*seq = cxxvm_backend_unmap(m->backend, m->va, m->p.nr);
	return ret;
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
 * cxxvm_bench_run() - time @arg->iterations map+unmap cycles, twice.
 * @arg: validated arguments; the outputs are filled in
 *
 * Pass 1 runs the cycles back to back and reads the clock only at both
 * ends: elapsed_ns and the counters come from it.  Pass 2 times each cycle
 * on its own for the percentiles.  Two passes, because a clock read per
 * cycle costs as much as a small map+unmap under emulation (an HPET read
 * is an MMIO exit) and would otherwise flatten every ratio.
 *
 * Context: process context, may sleep (cond_resched() every
 * CXXVM_BENCH_YIELD cycles).
 * Return: 0, -ENOMEM, -EINTR on a fatal signal, or the backend's error
 * (the loop stops at it).
 */
static int cxxvm_bench_run(struct cxxvm_bench *arg)
{
	struct cxxvm_arena_stats before, after;
	struct cxxvm_mapping *m;
	u64 *ns, t0, seq = 0;
	u32 i, n = arg->iterations;
	int ret = 0;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	ns = kvmalloc_array(n, sizeof(*ns), GFP_KERNEL);
	if (!m || !ns) {
		kfree(m);
		ret = -ENOMEM;
		goto out;
	}
	m->backend = arg->backend;
	ret = cxxvm_pages_alloc(&m->p, arg->nr_pages);
	if (ret) {
		kfree(m);
		goto out;
	}

	cxxvm_arena_get_stats(cxxvm_arena, &before);
	t0 = ktime_get_ns();
	for (i = 0; i < n && !ret; i++) {
		ret = cxxvm_bench_cycle(m, &seq);
		if (!ret)
			ret = cxxvm_bench_yield(i);
	}
	arg->elapsed_ns = ktime_get_ns() - t0;
	cxxvm_arena_get_stats(cxxvm_arena, &after);

	for (i = 0; i < n && !ret; i++) {
		u64 start = ktime_get_ns();

		ret = cxxvm_bench_cycle(m, &seq);
		ns[i] = ktime_get_ns() - start;
		if (!ret)
			ret = cxxvm_bench_yield(i);
	}
	/* Purges are numbered in order: the last unmap's covers them all. */
	cxxvm_mapping_retire(m, seq);
	cxxvm_reap_retired(false);
	if (ret)
		goto out;

	sort(ns, n, sizeof(*ns), cxxvm_cmp_u64, NULL);
	arg->min_ns = ns[0];
	arg->p50_ns = ns[n / 2];
	arg->p99_ns = ns[min_t(u64, n - 1, (u64)n * 99 / 100)];
	arg->max_ns = ns[n - 1];
	if (arg->backend == CXXVM_BACKEND_CXX) {
		arg->shootdowns = after.shootdowns - before.shootdowns;
		arg->blocks_created = after.blocks_created - before.blocks_created;
	} else {
		arg->shootdowns = CXXVM_BENCH_NOT_COUNTED;
		arg->blocks_created = CXXVM_BENCH_NOT_COUNTED;
	}
out:
	kvfree(ns);
	return ret;
}

static long cxxvm_ioctl_bench(void __user *uarg)
{
	struct cxxvm_bench arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = cxxvm_check_bench(&arg);
	if (ret)
		return ret;
	ret = cxxvm_bench_run(&arg);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long cxxvm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cxxvm_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case CXXVM_IOC_INFO:
		return cxxvm_ioctl_info(uarg);
	case CXXVM_IOC_STATS:
		return cxxvm_ioctl_stats(uarg);
	case CXXVM_IOC_MAP:
	case CXXVM_IOC_UNMAP:
	case CXXVM_IOC_VERIFY:
	case CXXVM_IOC_FLUSH:
	case CXXVM_IOC_BENCH:
	case CXXVM_IOC_PGMAP_CREATE:
	case CXXVM_IOC_PGMAP_DESTROY:
	case CXXVM_IOC_PGMAP_GET:
	case CXXVM_IOC_PGMAP_PUT:
	case CXXVM_IOC_PGMAP_CHECK:
	case CXXVM_IOC_MEMREMAP:
	case CXXVM_IOC_PGMAP_VMAP:
	case CXXVM_IOC_PGMAP_BENCH:
		break;
	default:
		return -ENOTTY;
	}

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	switch (cmd) {
	case CXXVM_IOC_MAP:
		return cxxvm_ioctl_map(f, uarg);
	case CXXVM_IOC_UNMAP:
		return cxxvm_ioctl_unmap(f, uarg);
	case CXXVM_IOC_VERIFY:
		return cxxvm_ioctl_verify(f, uarg);
	case CXXVM_IOC_FLUSH:
		return cxxvm_ioctl_flush(uarg);
	case CXXVM_IOC_BENCH:
		return cxxvm_ioctl_bench(uarg);
	default:
		return cxxvm_pgmap_ioctl(&f->pgmaps, cmd, uarg);
	}
}

static int cxxvm_open(struct inode *inode, struct file *file)
{
	struct cxxvm_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	xa_init_flags(&f->mappings, XA_FLAGS_ALLOC1);
	cxxvm_pgmap_file_init(&f->pgmaps);
	file->private_data = f;
	return 0;
}

static int cxxvm_release(struct inode *inode, struct file *file)
{
	struct cxxvm_file *f = file->private_data;
	struct cxxvm_mapping *m;
	unsigned long id;

	/* Pagemaps first: their pages may be mapped through the arena. */
	cxxvm_pgmap_file_release(&f->pgmaps);
	xa_for_each(&f->mappings, id, m) {
		xa_erase(&f->mappings, id);
		cxxvm_mapping_destroy(m);
		cond_resched();
	}
	xa_destroy(&f->mappings);
	mutex_destroy(&f->lock);
	kfree(f);
	/* Do not leave the file's pages waiting for somebody else's purge. */
	if (atomic64_read(&cxxvm_retired_pages))
		cxxvm_arena_flush(cxxvm_arena);
	cxxvm_reap_retired(false);
	return 0;
}

static const struct file_operations cxxvm_fops = {
	.owner = THIS_MODULE,
	.open = cxxvm_open,
	.release = cxxvm_release,
	.unlocked_ioctl = cxxvm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice cxxvm_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "cxxvm",
	.fops = &cxxvm_fops,
	.mode = 0600,
};

static atomic64_t cxxvm_notifier_calls = ATOMIC64_INIT(0);

/**
 * cxxvm_vmap_purge_notify() - the vmap purge notifier: give VA back.
 * @nb: cxxvm_purge_nb
 * @action: unused (0)
 * @data: unsigned long *: pages freed so far, which we add to
 *
 * alloc_vmap_area() calls the chain when vmalloc space is exhausted even
 * after purging its own lazy areas.  cxxvm then shoots down its dirty
 * slots and returns every empty block to vmalloc (cxxvm_arena_shrink()),
 * so the allocation can retry; pages whose slot that purge covered are
 * freed too.
 *
 * Context: process context, may sleep; called with no vmalloc lock held.
 * Return: NOTIFY_OK.
 */
static int cxxvm_vmap_purge_notify(struct notifier_block *nb,
				   unsigned long action, void *data)
{
	unsigned long *freed = data;

	atomic64_inc(&cxxvm_notifier_calls);
	*freed += cxxvm_arena_shrink(cxxvm_arena);
	cxxvm_reap_retired(false);
	return NOTIFY_OK;
}

static struct notifier_block cxxvm_purge_nb = {
	.notifier_call = cxxvm_vmap_purge_notify,
};

#ifdef CXXVM_KUNIT
/* The registered notifier block, for the KUnit suite. */
struct notifier_block *cxxvm_purge_notifier_for_test(void)
{
	return &cxxvm_purge_nb;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_purge_notifier_for_test);

/* The module's own arena, for the KUnit suite. */
struct cxxvm_arena *cxxvm_module_arena_for_test(void)
{
	return cxxvm_arena;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_module_arena_for_test);
#endif

static struct dentry *cxxvm_debugfs;

static void cxxvm_show_block(void *ctx, const struct cxxvm_block_info *b)
{
	struct seq_file *m = ctx;

	seq_printf(m, "0x%pK-0x%pK %7lu cpu=%u free=%u dirty=%u live=%u\n",
		   (void *)b->va_start, (void *)b->va_end,
		   (unsigned long)(b->va_end - b->va_start), b->cpu,
		   b->free_pages, b->dirty_pages, b->live_pages);
}

/*
 * debugfs cxxvm/vmap_blocks: one line per C++ vmap block in the style of
 * /proc/vmallocinfo (range, size in bytes, then the owning CPU and the
 * block's free, dirty and live pages), then the arena's counters.
 */
static int cxxvm_blocks_show(struct seq_file *m, void *unused)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_for_each_block(cxxvm_arena, cxxvm_show_block, m);
	cxxvm_arena_get_stats(cxxvm_arena, &st);
	seq_printf(m, "blocks: created=%llu freed=%llu live=%llu steals=%llu borrows=%llu\n",
		   st.blocks_created, st.blocks_freed, st.blocks_live,
		   st.steals, st.borrows);
	seq_printf(m, "pages: mapped=%llu dirty=%llu lazy_max=%u\n",
		   st.mapped_pages, st.dirty_pages, lazy_max_pages);
	seq_printf(m, "shootdowns=%llu purges=%llu notifier_calls=%lld\n",
		   st.shootdowns, st.purges,
		   (long long)atomic64_read(&cxxvm_notifier_calls));
	seq_printf(m, "purges by: caller=%llu worker=%llu; waits=%llu (%llu ns); purge %llu ns, shootdown %llu ns\n",
		   st.caller_purges, st.worker_purges, st.purge_waits,
		   st.purge_wait_ns, st.purge_ns, st.shootdown_ns);
	seq_printf(m, "queue locks: contended=%llu (%llu ns), skipped by purges=%llu; blocks: reserve %llu ns, release %llu ns\n",
		   st.lock_contended, st.lock_wait_ns, st.purge_skips, st.reserve_ns,
		   st.release_ns);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cxxvm_blocks);

/* The arena's purge worker ran: free what completed purges covered. */
static void cxxvm_arena_purged(void *unused)
{
	cxxvm_reap_retired(false);
}

static int __init cxxvm_init(void)
{
	struct cxxvm_arena_params params = {
		.max_blocks = max_blocks,
		.flags = caller_purge ? CXXVM_ARENA_CALLER_PURGE : 0,
		.purged = cxxvm_arena_purged,
	};
	int ret;

	if (!lazy_max_pages)
		lazy_max_pages = (SZ_32M >> PAGE_SHIFT) * fls(num_online_cpus());
	params.lazy_max_pages = lazy_max_pages;

	ret = cxxvm_platform_init();
	if (ret)
		return ret;
	ret = cxxvm_arena_create(&params, &cxxvm_arena);
	if (ret)
		goto platform_exit;
	ret = cxxvm_pgmap_init(cxxvm_arena);
	if (ret)
		goto arena_destroy;
	ret = register_vmap_purge_notifier(&cxxvm_purge_nb);
	if (ret)
		goto pgmap_exit;
	ret = misc_register(&cxxvm_miscdev);
	if (ret)
		goto unregister_notifier;
	/* Debugging aid only: a failure here is not fatal (debugfs_*() say so). */
	cxxvm_debugfs = debugfs_create_dir("cxxvm", NULL);
	debugfs_create_file("vmap_blocks", 0400, cxxvm_debugfs, NULL,
			    &cxxvm_blocks_fops);
	pr_info("loaded: ABI %u, lazy_max_pages=%u, max_blocks=%u, TLB flush %s, purge by %s\n",
		CXXVM_ABI_VERSION, lazy_max_pages, max_blocks,
		cxxvm_plat_tlb_flush_method(cxxvm_plat_tlb_flush()),
		caller_purge ? "the caller" : "a worker");
	return 0;

unregister_notifier:
	unregister_vmap_purge_notifier(&cxxvm_purge_nb);
pgmap_exit:
	cxxvm_pgmap_exit();
arena_destroy:
	cxxvm_arena_destroy(cxxvm_arena);
platform_exit:
	cxxvm_platform_exit();
	return ret;
}

static void __exit cxxvm_exit(void)
{
	debugfs_remove(cxxvm_debugfs);
	misc_deregister(&cxxvm_miscdev);
	unregister_vmap_purge_notifier(&cxxvm_purge_nb);
	cxxvm_pgmap_exit();
	/* Every file is closed, so every mapping is gone; this is a bug. */
	WARN_ON(cxxvm_arena_destroy(cxxvm_arena));
	/* The arena's teardown shot everything down. */
	cxxvm_reap_retired(true);
	cxxvm_platform_exit();
}

module_init(cxxvm_init);
module_exit(cxxvm_exit);

MODULE_DESCRIPTION("cxxvm: a C++ vmap block allocator beside vm_map_ram");
MODULE_AUTHOR("cxxvm developers");
MODULE_LICENSE("GPL");
