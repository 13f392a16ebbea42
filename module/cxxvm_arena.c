// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_arena.c - the module's C++ vmap block arena: its parameters, FLUSH,
 * the vmap purge notifier and debugfs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/math.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/vmalloc.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"

unsigned int cxxvm_lazy_max_pages;
module_param_named(lazy_max_pages, cxxvm_lazy_max_pages, uint, 0444);
MODULE_PARM_DESC(lazy_max_pages,
		 "Dirty pages that trigger a batched TLB shootdown (0: the kernel's lazy_max_pages(), 32 MiB * fls(online CPUs))");

/*
 * 4096 blocks are 8 GiB of VA, 1/4096 of x86-64's 32 TiB vmalloc space,
 * and at most 16 MiB of PTE pages (one per block; the kernel keeps its
 * own vmalloc page tables after use too).  Under contention the purges
 * run at the host's pace (a shootdown waits for descheduled vCPUs), and
 * the arena holds the VA dirtied meanwhile, as the kernel's lazy list
 * does without a bound; at 1024, threads waited for purges up to 42% of
 * their time at P = 64 (README, contended section).
 */
unsigned int cxxvm_max_blocks = 4096;
module_param_named(max_blocks, cxxvm_max_blocks, uint, 0444);
MODULE_PARM_DESC(max_blocks,
		 "Most 2 MiB vmap blocks the C++ arena may hold (1..65536, default 4096); the takeover's arena may hold as much VA in its smaller blocks");

unsigned int cxxvm_takeover_block_pages;
module_param_named(takeover_block_pages, cxxvm_takeover_block_pages, uint, 0444);
MODULE_PARM_DESC(takeover_block_pages,
		 "Pages per vmap block of the takeover's arena, 64..512 (0: the kernel's vmap block size, at most 512)");

bool cxxvm_caller_purge;
module_param_named(caller_purge, cxxvm_caller_purge, bool, 0444);
MODULE_PARM_DESC(caller_purge,
		 "1: the unmap that reaches lazy_max_pages runs the purge and waits for its shootdown (for comparison); 0: a worker does (default)");

struct cxxvm_arena *cxxvm_arena;
/* The arena that serves the kernel's vm_map_ram() callers (cxxvm_takeover.c). */
struct cxxvm_arena *cxxvm_takeover_arena;
static atomic64_t cxxvm_notifier_calls = ATOMIC64_INIT(0);
static struct dentry *cxxvm_debugfs;

/**
 * cxxvm_check_flush() - argument check of CXXVM_IOC_FLUSH
 * @kdata: struct cxxvm_flush
 *
 * Context: any.  Return: 0 or -EINVAL.
 */
int cxxvm_check_flush(const void *kdata)
{
	const struct cxxvm_flush *arg = kdata;

	if ((arg->flags & ~CXXVM_FLUSH_FLAGS) || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return 0;
}

static u64 cxxvm_blocks_freed(void)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_get_stats(cxxvm_arena, &st);
	return st.blocks_freed;
}

/**
 * cxxvm_ioctl_flush() - CXXVM_IOC_FLUSH: purge the arena now
 * @f: the file (unused: the arena is the module's)
 * @kdata: struct cxxvm_flush, checked
 *
 * Context: process context, may sleep (waits for the shootdown).
 * Return: 0.
 */
int cxxvm_ioctl_flush(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_flush *arg = kdata;
	u64 before = cxxvm_blocks_freed();

	might_sleep();
	arg->pages_flushed = cxxvm_arena_purge_now(cxxvm_arena);
	if (arg->flags & CXXVM_FLUSH_RELEASE_BLOCKS)
		cxxvm_arena_shrink(cxxvm_arena);
	arg->blocks_released = cxxvm_blocks_freed() - before;
	if (arg->flags & CXXVM_FLUSH_KERNEL_ALIASES) {
		/* As the kernel's callers see it: the takeover's slots too. */
		cxxvm_arena_purge_now(cxxvm_takeover_arena);
		vm_unmap_aliases();
	}
	cxxvm_reap_retired(false);
	return 0;
}

/**
 * cxxvm_vmap_purge_notify() - the vmap purge notifier: give VA back.
 * @nb: cxxvm_purge_nb
 * @action: unused (0)
 * @data: unsigned long *: pages freed so far, which we add to
 *
 * alloc_vmap_area() calls the chain when vmalloc space is exhausted even
 * after purging its own lazy areas.  cxxvm then shoots down the dirty
 * slots of both its arenas (the module's and the takeover's) and returns
 * every empty block to vmalloc (cxxvm_arena_shrink()),
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

	might_sleep();
	atomic64_inc(&cxxvm_notifier_calls);
	*freed += cxxvm_arena_shrink(cxxvm_arena);
	*freed += cxxvm_arena_shrink(cxxvm_takeover_arena);
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

	/* First: it reclaims what completed purges cover, as the blocks show. */
	cxxvm_arena_get_stats(cxxvm_arena, &st);
	cxxvm_arena_for_each_block(cxxvm_arena, cxxvm_show_block, m);
	seq_printf(m, "blocks: created=%llu freed=%llu live=%llu steals=%llu borrows=%llu\n",
		   st.blocks_created, st.blocks_freed, st.blocks_live,
		   st.steals, st.borrows);
	seq_printf(m, "pages: mapped=%llu dirty=%llu lazy_max=%u\n",
		   st.mapped_pages, st.dirty_pages, cxxvm_lazy_max_pages);
	seq_printf(m, "shootdowns=%llu purges=%llu notifier_calls=%lld\n",
		   st.shootdowns, st.purges,
		   (long long)atomic64_read(&cxxvm_notifier_calls));
	seq_printf(m, "purges by: caller=%llu worker=%llu; waits=%llu (%llu ns); purge %llu ns, shootdown %llu ns\n",
		   st.caller_purges, st.worker_purges, st.purge_waits,
		   st.purge_wait_ns, st.purge_ns, st.shootdown_ns);
	seq_printf(m, "queue locks: contended=%llu (%llu ns), reclaimed by purges=%llu; blocks: reserve %llu ns, release %llu ns\n",
		   st.lock_contended, st.lock_wait_ns, st.reclaim_sweeps, st.reserve_ns,
		   st.release_ns);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cxxvm_blocks);

/**
 * cxxvm_debugfs_dir() - the module's debugfs directory, cxxvm/
 *
 * Context: after cxxvm_arena_init().
 * Return: the directory, or an error pointer where debugfs is off.
 */
struct dentry *cxxvm_debugfs_dir(void)
{
	return cxxvm_debugfs;
}

/* The arena's purge worker ran: free what completed purges covered. */
static void cxxvm_arena_purged(void *unused)
{
	cxxvm_reap_retired(false);
}

/*
 * VMAP_BBMAP_BITS of mm/vmalloc.c (6.1 to 7.2; 64-bit, which the Kbuild
 * requires): min(1024, max(2 * VMAP_MAX_ALLOC, VMALLOC_PAGES /
 * roundup_pow_of_two(NR_CPUS) / 16)) with VMALLOC_SPACE 128 GiB and
 * NR_CPUS, which is CONFIG_NR_CPUS: the pages of the kernel's vmap blocks,
 * 256 with Debian's 8192, 1024 with 8.
 */
#define CXXVM_KERNEL_VMAP_BLOCK_PAGES						\
	clamp(((128UL << 30) >> PAGE_SHIFT) / roundup_pow_of_two(CONFIG_NR_CPUS) / 16, \
	      2UL * BITS_PER_LONG, 1024UL)

/**
 * cxxvm_arena_takeover_block_pages() - pages per block of the takeover's arena
 *
 * takeover_block_pages=, or else the kernel's vmap block size, at most
 * CXXVM_BLOCK_PAGES (Debian's kernels: 256): a block then holds as many
 * slots of each order as one of the kernel's.  vmap() puts a guard page
 * after it (and refuses VM_NO_GUARD, 6.1 to 7.2), while the kernel's
 * blocks come from alloc_vmap_area() without one, so each cxx block holds
 * one page of VA more.  One page less, 255 and its guard exactly one of
 * the kernel's blocks, fits seven 32-page slots instead of eight: replayed
 * in a model, the FUSE readdir fixture then needs 12 blocks to the
 * kernel's 10.
 *
 * Context: any.  Return: the pages, in CXXVM_MIN_BLOCK_PAGES..CXXVM_BLOCK_PAGES
 * unless the parameter is out of range (cxxvm_arena_create() refuses it).
 */
u32 cxxvm_arena_takeover_block_pages(void)
{
	if (cxxvm_takeover_block_pages)
		return cxxvm_takeover_block_pages;
	return min_t(unsigned long, CXXVM_KERNEL_VMAP_BLOCK_PAGES, CXXVM_BLOCK_PAGES);
}

/*
 * max_blocks for the takeover's arena: as much VA as max_blocks of the
 * module's 512-page blocks (up to CXXVM_CORE_MAX_BLOCKS blocks), so that
 * its smaller blocks neither halve the VA it may hold nor let its reserve
 * of empty blocks (which grows as the blocks shrink) approach the limit.
 * After the module's arena accepted max_blocks; a block size out of range
 * gives some count here, and cxxvm_arena_create() refuses the size.
 */
static u32 cxxvm_arena_takeover_max_blocks(void)
{
	u64 blocks = DIV_ROUND_UP_ULL((u64)cxxvm_max_blocks * CXXVM_BLOCK_PAGES,
				      cxxvm_arena_takeover_block_pages());

	return min_t(u64, blocks, CXXVM_CORE_MAX_BLOCKS);
}

/**
 * cxxvm_arena_create_takeover() - a new arena with the takeover's tunables
 * @out: the arena
 *
 * The module's lazy_max_pages, max_blocks scaled to the same VA
 * (cxxvm_arena_takeover_max_blocks()), its purge (worker, or caller
 * with caller_purge=1), blocks of the kernel's size
 * (cxxvm_arena_takeover_block_pages()), nothing retired to reap, and no empty block kept
 * after a purge on request (FLUSH, the takeover's vm_unmap_aliases()), as
 * the kernel's vm_unmap_aliases() frees its own (CXXVM_ARENA_RETURN_EMPTY):
 * the VA held counts against it.  The takeover's own arena, and REPLAY's
 * of the C++ backend (so that a replay measures the arena the kernel's
 * callers get, on its own).
 *
 * Context: process context, may sleep; after cxxvm_arena_init().
 * Return: 0, -EINVAL or -ENOMEM (cxxvm_arena_create()).
 */
int cxxvm_arena_create_takeover(struct cxxvm_arena **out)
{
	struct cxxvm_arena_params params = {
		.lazy_max_pages = cxxvm_lazy_max_pages,
		.max_blocks = cxxvm_arena_takeover_max_blocks(),
		.block_pages = cxxvm_arena_takeover_block_pages(),
		.flags = CXXVM_ARENA_RETURN_EMPTY |
			 (cxxvm_caller_purge ? CXXVM_ARENA_CALLER_PURGE : 0),
	};

	might_sleep();
	return cxxvm_arena_create(&params, out);
}

/**
 * cxxvm_arena_init() - create the module's arena and the takeover's from
 * the parameters, register the vmap purge notifier and the debugfs file.
 *
 * Context: module init, may sleep.
 * Return: 0, or the arena's or the notifier chain's -errno.
 */
int cxxvm_arena_init(void)
{
	struct cxxvm_arena_params params = {
		.max_blocks = cxxvm_max_blocks,
		.flags = cxxvm_caller_purge ? CXXVM_ARENA_CALLER_PURGE : 0,
		.purged = cxxvm_arena_purged,
	};
	int ret;

	if (!cxxvm_lazy_max_pages)
		cxxvm_lazy_max_pages = (SZ_32M >> PAGE_SHIFT) * fls(num_online_cpus());
	params.lazy_max_pages = cxxvm_lazy_max_pages;
	ret = cxxvm_arena_create(&params, &cxxvm_arena);
	if (ret == -EINVAL)
		pr_err("max_blocks=%u must be 1..%u, lazy_max_pages=%u at least %u\n",
		       cxxvm_max_blocks, CXXVM_CORE_MAX_BLOCKS, cxxvm_lazy_max_pages,
		       CXXVM_MAX_PAGES);
	if (ret)
		return ret;
	ret = cxxvm_arena_create_takeover(&cxxvm_takeover_arena);
	if (ret == -EINVAL)
		pr_err("takeover_block_pages=%u must be 0 or %u..%u\n",
		       cxxvm_takeover_block_pages, CXXVM_MIN_BLOCK_PAGES, CXXVM_BLOCK_PAGES);
	if (ret)
		goto destroy;
	/* Last: the notifier shrinks both arenas. */
	ret = register_vmap_purge_notifier(&cxxvm_purge_nb);
	if (ret)
		goto destroy_takeover;
	/* Debugging aid only: a failure here is not fatal (debugfs_*() say so). */
	cxxvm_debugfs = debugfs_create_dir("cxxvm", NULL);
	debugfs_create_file("vmap_blocks", 0400, cxxvm_debugfs, NULL, &cxxvm_blocks_fops);
	return 0;

destroy_takeover:
	cxxvm_arena_destroy(cxxvm_takeover_arena);
destroy:
	cxxvm_arena_destroy(cxxvm_arena);
	return ret;
}

/**
 * cxxvm_arena_exit() - undo cxxvm_arena_init(); every file is closed.
 *
 * Context: module exit, may sleep.
 */
void cxxvm_arena_exit(void)
{
	debugfs_remove(cxxvm_debugfs);
	unregister_vmap_purge_notifier(&cxxvm_purge_nb);
	/* Every file is closed, so every mapping is gone; this is a bug. */
	WARN_ON(cxxvm_arena_destroy(cxxvm_arena));
	/* The takeover, which held the module, is released: so are they. */
	WARN_ON(cxxvm_arena_destroy(cxxvm_takeover_arena));
	/* The arena's teardown shot everything down. */
	cxxvm_reap_retired(true);
}
