/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_core.h - the whole contract between the C shim and the C++ core.
 *
 * Included from kernel C (with kernel headers) and from C++ (without):
 * fixed-width integers, opaque handles, POD structs whose layout is pinned
 * with static asserts on both sides, and int results that are 0 or -errno.
 *
 * Two directions:
 *  - cxxvm_plat_*(): implemented by the shim (cxxvm_platform.c), called by
 *    the core.  They are the only way the core reaches the kernel.
 *  - cxxvm_arena_*(): implemented by the core (module/core/arena.cpp), called
 *    by the shim.
 */
#ifndef CXXVM_CORE_H
#define CXXVM_CORE_H

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#define CXXVM_STATIC_ASSERT static_assert
extern "C" {
#else
#include <linux/types.h>
#include <linux/build_bug.h>
#define CXXVM_STATIC_ASSERT static_assert
#endif

/* ---- platform: implemented by the shim ---------------------------------- */

/**
 * struct cxxvm_pte_runs - where the PTEs of a block of kernel VA are
 * @first: the address of page 0's PTE, and of page @split's
 * @split: the first page whose PTE is in the second page-table page (the
 *	block's page count if there is none; then @first[1] is 0)
 *
 * One page-table page maps a PMD's worth of VA (512 pages on x86-64), and
 * its PTEs are in address order, so a block of up to 512 pages has its
 * PTEs in at most two runs, each contiguous: page i < @split at
 * @first[0] + 8 * i, page i >= @split at @first[1] + 8 * (i - @split).  A
 * map or unmap computes its PTEs' addresses from them, without a page
 * table walk or a per-page table of pointers to read.
 */
struct cxxvm_pte_runs {
	uintptr_t first[2];
	uint32_t split;
};

/**
 * cxxvm_plat_va_reserve() - reserve a block of kernel VA with page tables.
 * @nr_pages: size of the block in pages, at most CXXVM_BLOCK_PAGES
 * @va_start: out: first address of the block (page aligned)
 * @runs: out: where its PTEs are
 *
 * vmap()s @nr_pages references to one placeholder page with PAGE_NONE,
 * which allocates a vmap_area and populates the page tables without making
 * any PTE present, then clears every PTE.  No TLB can hold a translation
 * of the block, so it issues no shootdown (it used to map the placeholder
 * and shoot down: a broadcast IPI per new block).
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL (with a WARN) for more than CXXVM_BLOCK_PAGES pages;
 * -ENOMEM if vmap() fails or (with a WARN) a PTE is not a 4 KiB one or is
 * present.
 */
int cxxvm_plat_va_reserve(uint32_t nr_pages, uintptr_t *va_start,
			  struct cxxvm_pte_runs *runs);

/**
 * cxxvm_plat_va_release() - return a block from cxxvm_plat_va_reserve().
 * @va_start: the block's first address
 *
 * All of the block's PTEs must be clear and shot down.  Mirrors vunmap().
 * Context: process context, may sleep.
 */
void cxxvm_plat_va_release(uintptr_t va_start);

/**
 * struct cxxvm_pte_format - how to build a kernel PTE, for the core's writes
 * @pfn_mask: PTE_PFN_MASK: the pfn bits of a PTE
 * @prot: pgprot_val(PAGE_KERNEL), masked by __supported_pte_mask as
 *	pfn_pte() does
 *
 * The core writes a present PTE as ((pfn << PAGE_SHIFT) & @pfn_mask) | @prot
 * and a clear one as 0, with one 8-byte store each (native_set_pte() and
 * native_pte_clear() on x86-64), inline: under emulation a call per write
 * costs more than the write.  KUnit checks the result against pfn_pte().
 * The PTEs must be clear and shot down before a write, and no TLB flush
 * follows one.
 */
struct cxxvm_pte_format {
	uint64_t pfn_mask;
	uint64_t prot;
};

/* Set by cxxvm_platform_init(), constant afterwards. */
extern struct cxxvm_pte_format cxxvm_plat_pte_format;

/**
 * cxxvm_plat_tlb_shootdown() - flush kernel TLB entries on every CPU.
 *
 * An IPI to every online CPU, each dropping every kernel TLB entry of
 * every PCID: __flush_tlb_all() where the kernel exports it to modules,
 * else its native instructions (INVPCID or the CR4.PGE toggle; see
 * cxxvm_platform.c).  Mirrors flush_tlb_all() in arch/x86/mm/tlb.c, but
 * sleeps until the last CPU has flushed instead of spinning.
 * Context: process context with IRQs enabled, may sleep (might_sleep()).
 */
void cxxvm_plat_tlb_shootdown(void);

/**
 * cxxvm_plat_this_cpu() - raw_smp_processor_id(): the CPU we ran on.
 *
 * A hint that may be stale by the time it is used (no preemption is
 * disabled): the core picks a per-CPU queue with it, then takes that
 * queue's lock, as vb_alloc() does with raw_cpu_ptr().
 * Context: any.
 * Return: the CPU id, below cxxvm_plat_nr_cpu_ids().
 */
uint32_t cxxvm_plat_this_cpu(void);

/** cxxvm_plat_nr_cpu_ids() - nr_cpu_ids: one more than the largest CPU id. */
uint32_t cxxvm_plat_nr_cpu_ids(void);

/**
 * cxxvm_plat_cpu_to_node() - cpu_to_node(): NUMA node of a CPU.
 * @cpu: below cxxvm_plat_nr_cpu_ids()
 *
 * Return: the node, or -1 (NUMA_NO_NODE) if @cpu is not possible.
 */
int cxxvm_plat_cpu_to_node(uint32_t cpu);

/*
 * Lock classes: one lockdep class, with a name, per role a lock plays in
 * the core, so that lockdep checks the documented order (purge mutex ->
 * queue -> index; the tracker's mutex -> its writer lock) instead of
 * seeing every lock of a kind as one.  Each *_create() takes one.
 */
#define CXXVM_LOCK_ARENA_PURGE		0	/* VmapArena::purge_mutex_ */
#define CXXVM_LOCK_ARENA_QUEUE		1	/* a CPU's block queue */
#define CXXVM_LOCK_ARENA_INDEX		2	/* VmapIndex's writer lock */
#define CXXVM_LOCK_ARENA_SPARES		3	/* spare block metadata */
#define CXXVM_LOCK_TRACKER_MUTEX	4	/* PagemapTracker::mutex_ */
#define CXXVM_LOCK_TRACKER_WRITER	5	/* PagemapTracker::lock_ */
#define CXXVM_LOCK_TEST			6	/* locks KUnit makes */
#define CXXVM_LOCK_NR_CLASSES		7

/** struct cxxvm_plat_lock - opaque spinlock_t owned by the shim. */
struct cxxvm_plat_lock;

/*
 * Room for a struct cxxvm_plat_lock inside a C++ object (KernelPlatform's
 * SpinLock), aligned to 8, so that a lock shares its cache lines and page
 * with what it protects: a spinlock_t is 4 bytes on a production kernel,
 * 64 to 72 with lockdep and spinlock debugging, about 144 on PREEMPT_RT
 * with both.
 * The shim checks at build time that it fits.
 */
#define CXXVM_PLAT_LOCK_BYTES		192
/** struct cxxvm_plat_mutex - opaque struct mutex owned by the shim. */
struct cxxvm_plat_mutex;

#ifdef CXXVM_KUNIT	/* only the KUnit suites call these (make CXXVM_KUNIT=1) */
/*
 * Create: may sleep, NULL on -ENOMEM; @lock_class is a CXXVM_LOCK_* (an
 * unknown one WARNs and gets CXXVM_LOCK_TEST's).  Destroy: any context,
 * NULL ignored.
 */
struct cxxvm_plat_lock *cxxvm_plat_lock_create(uint32_t lock_class);
void cxxvm_plat_lock_destroy(struct cxxvm_plat_lock *lock);
#endif
/*
 * Initialise a lock in @lock, CXXVM_PLAT_LOCK_BYTES bytes aligned to 8
 * that the caller owns (it needs no destroy); @lock_class as for create.
 * Any context.
 */
void cxxvm_plat_lock_init(struct cxxvm_plat_lock *lock, uint32_t lock_class);
/* spin_lock()/spin_unlock(): never from IRQ context. */
void cxxvm_plat_lock(struct cxxvm_plat_lock *lock);
void cxxvm_plat_unlock(struct cxxvm_plat_lock *lock);
/* spin_trylock(): true if taken; never from IRQ context. */
bool cxxvm_plat_trylock(struct cxxvm_plat_lock *lock);

struct cxxvm_plat_mutex *cxxvm_plat_mutex_create(uint32_t lock_class);
void cxxvm_plat_mutex_destroy(struct cxxvm_plat_mutex *mutex);
/* mutex_lock()/mutex_unlock(): may sleep. */
void cxxvm_plat_mutex_lock(struct cxxvm_plat_mutex *mutex);
void cxxvm_plat_mutex_unlock(struct cxxvm_plat_mutex *mutex);
/* mutex_trylock(): true if taken; never sleeps. */
bool cxxvm_plat_mutex_trylock(struct cxxvm_plat_mutex *mutex);

/*
 * struct cxxvm_plat_irqlock: opaque raw_spinlock_t owned by the shim, taken
 * with raw_spin_lock_irqsave() (never sleeps, not even on PREEMPT_RT).
 * create: may sleep, NULL on -ENOMEM, @lock_class as above; destroy: any
 * context, NULL ignored;
 * lock/unlock: any context, held briefly.
 */
struct cxxvm_plat_irqlock;
struct cxxvm_plat_irqlock *cxxvm_plat_irqlock_create(uint32_t lock_class);
void cxxvm_plat_irqlock_destroy(struct cxxvm_plat_irqlock *l);
void cxxvm_plat_irqlock_lock(struct cxxvm_plat_irqlock *l);
void cxxvm_plat_irqlock_unlock(struct cxxvm_plat_irqlock *l);

/*
 * struct cxxvm_plat_completion: opaque struct completion owned by the shim.
 *
 * create: may sleep, NULL on -ENOMEM; destroy: any context, NULL ignored.
 * reinit: reinit_completion(), no waiter may be present.  complete:
 * complete_all(), any context.  wait: wait_for_completion(), may sleep.
 */
struct cxxvm_plat_completion;
struct cxxvm_plat_completion *cxxvm_plat_completion_create(void);
void cxxvm_plat_completion_destroy(struct cxxvm_plat_completion *c);
void cxxvm_plat_completion_reinit(struct cxxvm_plat_completion *c);
void cxxvm_plat_completion_complete(struct cxxvm_plat_completion *c);
void cxxvm_plat_completion_wait(struct cxxvm_plat_completion *c);

/**
 * cxxvm_plat_now_ns() - ktime_get_ns(): monotonic time in ns.
 *
 * For the arena's counters of time spent purging and waiting, read on slow
 * paths only.  Context: any.
 */
uint64_t cxxvm_plat_now_ns(void);

/*
 * struct cxxvm_plat_work: an opaque work item owned by the shim, on the
 * system workqueue (the C++ arena's purge worker, as drain_vmap_work in
 * mm/vmalloc.c).
 * create: INIT_WORK() calling @fn(@ctx) in process context; may sleep, NULL
 * on -ENOMEM.  queue: schedule_work(), any context, nothing if already
 * pending.  destroy: cancel_work_sync() (waits for a running @fn), then
 * free; may sleep, NULL ignored.
 */
struct cxxvm_plat_work;
struct cxxvm_plat_work *cxxvm_plat_work_create(void (*fn)(void *ctx), void *ctx);
void cxxvm_plat_work_queue(struct cxxvm_plat_work *work);
void cxxvm_plat_work_destroy(struct cxxvm_plat_work *work);

/**
 * cxxvm_plat_max_pfn_limit() - the first pfn past physical address space.
 *
 * 1 << (MAX_PHYSMEM_BITS - PAGE_SHIFT): 2^34 with 4-level paging on x86-64
 * (46 bits), 2^40 with 5-level (52 bits).  Context: any.
 */
uint64_t cxxvm_plat_max_pfn_limit(void);

/* ---- core: implemented in C++ ------------------------------------------- */

/*
 * Pages of kernel VA per C++ vmap block: at most (and by default) 512, 2 MiB
 * with 4 KiB pages; struct cxxvm_arena_params.block_pages may ask for fewer,
 * down to one slot of the largest order.
 */
#define CXXVM_BLOCK_PAGES	512
#define CXXVM_MIN_BLOCK_PAGES	64
/** Largest slot order: 2^6 = 64 pages, VMAP_MAX_ALLOC on 64-bit. */
#define CXXVM_MAX_ORDER		6
#define CXXVM_MAX_PAGES		(1u << CXXVM_MAX_ORDER)
/*
 * Most blocks an arena may be given (128 GiB of VA): the index is one
 * array of that many entries, and a larger one would be an allocation
 * kmalloc refuses with a WARN.
 */
#define CXXVM_CORE_MAX_BLOCKS	65536u

/*
 * cxxvm_arena_params flags.
 * CALLER_PURGE: the unmap that takes the dirty pages to lazy_max_pages runs
 * the purge itself and waits for its shootdown (cxxvm before the purge
 * worker; kept to measure against).  Without it the purge worker runs it,
 * as drain_vmap_work does in mm/vmalloc.c.
 * RETURN_EMPTY: a purge on request (cxxvm_arena_purge_now(): FLUSH, the
 * takeover's vm_unmap_aliases()) returns every empty block to vmalloc, as
 * the kernel's vm_unmap_aliases() frees vmap blocks with nothing live
 * (6.1 all of them, 6.5 on those with under a quarter free; keeping one
 * held more VA than the kernel in the real workloads on 6.1 and 6.12,
 * with 512-page blocks).  Without it such
 * a purge keeps enough empty blocks for the dirty slots until the next
 * purge.  Either way the purges that lazy_max_pages triggers keep them,
 * but for the blocks beyond the growth limit, 7/8 of max_blocks (giving
 * them back there made the takeover's tunables churn through a vmap() per
 * block: see release_surplus()).
 */
#define CXXVM_ARENA_CALLER_PURGE	(1u << 0)
#define CXXVM_ARENA_RETURN_EMPTY	(1u << 1)
#define CXXVM_ARENA_FLAGS		(CXXVM_ARENA_CALLER_PURGE | CXXVM_ARENA_RETURN_EMPTY)

/**
 * struct cxxvm_arena_params - tunables of a vmap arena
 * @lazy_max_pages: dirty pages that trigger a batched shootdown
 * @max_blocks: most vmap blocks the arena may hold at once
 * @flags: CXXVM_ARENA_*
 * @block_pages: pages of VA per block, CXXVM_MIN_BLOCK_PAGES..CXXVM_BLOCK_PAGES
 *	and not necessarily a power of two; 0: CXXVM_BLOCK_PAGES
 * @purged: called by the purge worker at the end of each run (purges may
 *	have completed), in process context with no arena lock held (may
 *	sleep); may be NULL
 * @purged_ctx: passed to @purged
 */
struct cxxvm_arena_params {
	uint32_t lazy_max_pages;
	uint32_t max_blocks;
	uint32_t flags;
	uint32_t block_pages;
	void (*purged)(void *ctx);
	void *purged_ctx;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_arena_params) == 32,
		    "cxxvm_arena_params layout");

/**
 * struct cxxvm_arena_stats - counters of a vmap arena
 * @blocks_created: blocks reserved since the arena was created
 * @blocks_live: blocks held now
 * @shootdowns: TLB shootdowns issued (purges and FLUSH)
 * @dirty_pages: pages unmapped and not yet reclaimed: not yet covered by a
 *	completed shootdown (stats() reclaims every queue first)
 * @mapped_pages: pages in live slots (rounded up to the slot order)
 * @live_mappings: live slots
 * @blocks_freed: blocks returned to vmalloc
 * @purges: purges that shot down at least one dirty page
 * @steals: empty blocks a CPU took from another CPU's queue
 * @borrows: slots a CPU allocated in another CPU's block
 * @purge_ns: ns spent in purges (the shootdown; for FLUSH, shrink and a
 *	map with no room the passes over the queues, for the others the
 *	sweep of idle queues), whoever ran them
 * @shootdown_ns: ns of that in the purges' shootdowns (the IPI and its wait)
 * @caller_purges: purges run on a map() or unmap() caller's path
 * @worker_purges: purges run by the purge worker
 * @purge_waits: map() and unmap() calls that waited for a purge (for the
 *	purge mutex, and for the purge itself if they ran it)
 * @purge_wait_ns: ns those calls spent so
 * @lock_contended: CPU-queue lock acquisitions that found the lock held
 * @lock_wait_ns: ns spent spinning for those
 * @reserve_ns: ns map() spent reserving new blocks (cxxvm_plat_va_reserve():
 *	a vmap(), no shootdown)
 * @release_ns: ns purges spent returning blocks (cxxvm_plat_va_release())
 * @reclaim_sweeps: queues a purge that takes no queue lock (the worker's,
 *	or one at the threshold, cap or growth limit) then reclaimed, because
 *	their own CPU had not since the purge before (it stopped mapping)
 */
struct cxxvm_arena_stats {
	uint64_t blocks_created;
	uint64_t blocks_live;
	uint64_t shootdowns;
	uint64_t dirty_pages;
	uint64_t mapped_pages;
	uint64_t live_mappings;
	uint64_t blocks_freed;
	uint64_t purges;
	uint64_t steals;
	uint64_t borrows;
	uint64_t purge_ns;
	uint64_t shootdown_ns;
	uint64_t caller_purges;
	uint64_t worker_purges;
	uint64_t purge_waits;
	uint64_t purge_wait_ns;
	uint64_t lock_contended;
	uint64_t lock_wait_ns;
	uint64_t reserve_ns;
	uint64_t release_ns;
	uint64_t reclaim_sweeps;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_arena_stats) == 168,
		    "cxxvm_arena_stats layout");

/**
 * struct cxxvm_block_info - one vmap block, for debugfs
 * @cpu: the CPU whose queue holds the block
 * @va_start: first address
 * @va_end: first address past the block
 * @free_pages: pages in free slots
 * @dirty_pages: pages unmapped, not yet reclaimed (some may be covered by a
 *	completed shootdown already: their queue's CPU reclaims them on its
 *	next map)
 * @live_pages: pages in live slots
 */
struct cxxvm_block_info {
	uint32_t cpu;
	uint32_t free_pages;
	uintptr_t va_start;
	uintptr_t va_end;
	uint32_t dirty_pages;
	uint32_t live_pages;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_block_info) == 32,
		    "cxxvm_block_info layout");

/** struct cxxvm_arena - opaque handle of a C++ VmapArena. */
struct cxxvm_arena;

/**
 * cxxvm_arena_create() - create an empty vmap arena (no blocks yet).
 * @params: tunables; lazy_max_pages >= CXXVM_MAX_PAGES, max_blocks in
 *	1..CXXVM_CORE_MAX_BLOCKS, block_pages 0 or in
 *	CXXVM_MIN_BLOCK_PAGES..CXXVM_BLOCK_PAGES, no unknown flag
 * @out: the arena
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL for bad @params, -ENOMEM.
 */
int cxxvm_arena_create(const struct cxxvm_arena_params *params,
		       struct cxxvm_arena **out);

/**
 * cxxvm_arena_destroy() - clear every PTE, shoot down, release all blocks.
 * @arena: from cxxvm_arena_create(); NULL is ignored
 *
 * Live mappings are torn down too (their PTEs cleared before the block is
 * released); the caller must not use their addresses afterwards.  Waits
 * for a running purge worker and cancels a queued one.
 * Context: process context, may sleep.
 * Return: the number of mappings that were still live.
 */
uint64_t cxxvm_arena_destroy(struct cxxvm_arena *arena);

/**
 * cxxvm_arena_check_pages() - is @n a page count cxxvm_arena_map() takes?
 * @n: pages
 *
 * The one check of a mapping's size, inline in the shim and the C++ core
 * alike: the shim applies it to every backend, so that the kernel's
 * allocators are measured on the same sizes, and the takeover's
 * vm_map_ram() on every call.
 * Context: any.
 * Return: 0, or -EINVAL unless 1 <= @n <= CXXVM_MAX_PAGES.
 */
static inline int cxxvm_arena_check_pages(uint64_t n)
{
	return n >= 1 && n <= CXXVM_MAX_PAGES ? 0 : -22;	/* -EINVAL */
}

/**
 * cxxvm_arena_map() - map @n pages contiguously in kernel VA.
 * @arena: the arena
 * @pfns: @n page frame numbers
 * @n: 1..CXXVM_MAX_PAGES; rounded up to a 2^order slot
 * @va: out: the address of the first page
 *
 * Mirrors vm_map_ram()/vb_alloc() in mm/vmalloc.c: a slot in the local
 * CPU's blocks, else an empty block taken from another CPU, a new block, a
 * slot in another CPU's block, or a purge (VmapArena in vmap_arena.h).
 * Context: process context, may sleep (a new block is a vmap()).
 * Return: 0, -EINVAL for a bad @n, -ENOMEM when no VA is left.
 */
int cxxvm_arena_map(struct cxxvm_arena *arena, const uint64_t *pfns,
		    uint32_t n, uintptr_t *va);

/**
 * cxxvm_arena_unmap() - unmap what cxxvm_arena_map() mapped.
 * @arena: the arena
 * @va: the address cxxvm_arena_map() returned
 * @n: the same @n
 * @purge_seq: out: the purge that covers this slot
 *
 * Clears the PTEs at once; the TLB shootdown is deferred until
 * lazy_max_pages are dirty, when this call queues the purge worker and
 * returns without waiting (with CXXVM_ARENA_CALLER_PURGE it runs the purge
 * itself; at 16 x lazy_max_pages with no purge running, the worker not
 * having run, it runs one too).  The slot is reused only after a shootdown
 * covers it.  Until cxxvm_arena_purged_seq()
 * reaches @purge_seq, other CPUs may still hold TLB entries for the old
 * pages: do not free them before.  Mirrors vm_unmap_ram()/vb_free().
 * Context: process context; sleeps only with CXXVM_ARENA_CALLER_PURGE or
 * at 16 x lazy_max_pages.
 * Return: 0; -ENOENT if @va lies in no block of the arena (as
 * cxxvm_arena_owns() would find at that moment); -EINVAL if it does, but
 * (@va, @n) is not a live mapping of exactly @n pages.
 */
int cxxvm_arena_unmap(struct cxxvm_arena *arena, uintptr_t va, uint32_t n,
		      uint64_t *purge_seq);

/**
 * cxxvm_arena_owns() - does @va lie in one of the arena's blocks?
 * @arena: the arena
 * @va: a kernel virtual address
 *
 * True for any address of a block the arena holds now, whether its slot is
 * live, dirty or free: such an address was never the kernel allocator's.
 * Context: process context (reads the block index).
 * Return: true or false.
 */
bool cxxvm_arena_owns(struct cxxvm_arena *arena, uintptr_t va);

/**
 * cxxvm_arena_purged_seq() - how many purges have completed.
 * @arena: the arena
 *
 * Pages unmapped with a @purge_seq at or below this are unreachable.
 * Context: any.
 * Return: the number of the last completed purge.
 */
uint64_t cxxvm_arena_purged_seq(struct cxxvm_arena *arena);

/**
 * cxxvm_arena_purge_now() - shoot down every lazily freed range now.
 * @arena: the arena
 *
 * When it returns, every slot unmapped before the call is reusable.
 * The equivalent of vm_unmap_aliases() for the arena.
 * Context: process context, may sleep.
 * Return: dirty pages made reusable.
 */
uint64_t cxxvm_arena_purge_now(struct cxxvm_arena *arena);

/**
 * cxxvm_arena_shrink() - purge, then return every empty block to vmalloc.
 * @arena: the arena
 *
 * What the vmap purge notifier asks for: VA given back so that a failing
 * vmalloc allocation can retry.  Blocks with live slots stay.
 * Context: process context, may sleep.
 * Return: pages of VA returned to vmalloc.
 */
uint64_t cxxvm_arena_shrink(struct cxxvm_arena *arena);

/**
 * cxxvm_arena_for_each_block() - report every block of the arena.
 * @arena: the arena
 * @fn: called once per block, with the owning CPU queue's spinlock held:
 *	must not sleep
 * @ctx: passed to @fn
 *
 * Context: any but IRQ; takes each CPU queue's lock in turn.
 */
void cxxvm_arena_for_each_block(struct cxxvm_arena *arena,
				void (*fn)(void *ctx,
					   const struct cxxvm_block_info *info),
				void *ctx);

/**
 * cxxvm_arena_get_stats() - read the arena's counters.
 * @arena: the arena
 * @stats: out
 *
 * Each CPU queue is read under its lock in turn, so the sums are exact only
 * while the arena is quiet.
 * Context: any but IRQ; takes each CPU queue's spinlock in turn.
 */
void cxxvm_arena_get_stats(struct cxxvm_arena *arena,
			   struct cxxvm_arena_stats *stats);

/* ---- pagemap tracker: implemented in C++ ---------------------------------- */

/*
 * The tracker's limits and enum, defined here once: the C++ core builds its
 * constants from these, and the shim asserts the UAPI's and the kernel's
 * numbers against them (cxxvm_pgmap.c).
 */
/** Most pfn ranges one tracked pagemap may have. */
#define CXXVM_CORE_PGMAP_MAX_RANGES	8
/* enum memory_type in include/linux/memremap.h; 0 is not a type. */
#define CXXVM_CORE_PGMAP_PRIVATE	1
#define CXXVM_CORE_PGMAP_COHERENT	2
#define CXXVM_CORE_PGMAP_FS_DAX		3
#define CXXVM_CORE_PGMAP_GENERIC	4
#define CXXVM_CORE_PGMAP_PCI_P2PDMA	5

/**
 * struct cxxvm_core_range - [start_pfn, start_pfn + nr_pages), in pages
 * @start_pfn: first pfn
 * @nr_pages: pages
 */
struct cxxvm_core_range {
	uint64_t start_pfn;
	uint64_t nr_pages;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_core_range) == 16,
		    "cxxvm_core_range layout");

/**
 * struct cxxvm_pgmap_desc - what to register
 * @type: CXXVM_CORE_PGMAP_PRIVATE .. CXXVM_CORE_PGMAP_PCI_P2PDMA
 * @nr_ranges: 1..CXXVM_CORE_PGMAP_MAX_RANGES
 * @has_altmap: 1 if the first (only) range carries a vmem_altmap
 * @pad: zero
 * @ranges: @nr_ranges ranges, disjoint
 * @altmap_reserve: altmap pages left alone at the start of the range
 * @altmap_free: altmap pages after the reserve that may hold the memmap
 * @cookie: the caller's, returned by cxxvm_tracker_cookie()
 */
struct cxxvm_pgmap_desc {
	uint32_t type;
	uint32_t nr_ranges;
	uint32_t has_altmap;
	uint32_t pad;
	const struct cxxvm_core_range *ranges;
	uint64_t altmap_reserve;
	uint64_t altmap_free;
	uintptr_t cookie;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_pgmap_desc) == 48,
		    "cxxvm_pgmap_desc layout");

/**
 * struct cxxvm_altmap_info - a snapshot of a pagemap's vmem_altmap, in pfns
 * @base_pfn: first pfn of the range
 * @end_pfn: last pfn of the range (inclusive, as the kernel's)
 * @reserve: pages left alone at the start
 * @free: pages that may hold the memmap
 * @align: pages skipped to align allocations
 * @alloc: pages allocated
 * @offset: vmem_altmap_offset(): reserve + free
 */
struct cxxvm_altmap_info {
	uint64_t base_pfn;
	uint64_t end_pfn;
	uint64_t reserve;
	uint64_t free;
	uint64_t align;
	uint64_t alloc;
	uint64_t offset;
};
CXXVM_STATIC_ASSERT(sizeof(struct cxxvm_altmap_info) == 56,
		    "cxxvm_altmap_info layout");

/** struct cxxvm_tracker - opaque handle of a C++ PagemapTracker. */
struct cxxvm_tracker;
/** struct cxxvm_pgmap - opaque handle of one tracked pagemap. */
struct cxxvm_pgmap;

/**
 * cxxvm_tracker_create() - an empty pagemap tracker.
 * @max_ranges: ranges of all pagemaps together (>= 1)
 * @out: the tracker
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL for 0, -ENOMEM.
 */
int cxxvm_tracker_create(uint32_t max_ranges, struct cxxvm_tracker **out);

/**
 * cxxvm_tracker_destroy() - unregister everything and free the tracker.
 * @t: the tracker; NULL is ignored
 *
 * Waits for the drain of every pagemap still registered, as
 * cxxvm_tracker_unregister() does.
 * Context: process context, may sleep.
 * Return: how many pagemaps were still registered.
 */
uint32_t cxxvm_tracker_destroy(struct cxxvm_tracker *t);

/**
 * cxxvm_tracker_check_desc() - is @desc something cxxvm_tracker_register()
 * would accept on an empty tracker?
 * @desc: what to register
 *
 * The only check of a pagemap's type, range count, ranges (empty, past the
 * end of physical address space, overlapping each other) and of its altmap
 * fitting its range: the shim's ioctl argument checks call it rather than repeat
 * it, and cxxvm_tracker_register() runs it too.
 * Context: any; reads no tracker state.
 * Return: 0, -EINVAL or -ERANGE, as cxxvm_tracker_register() says.
 */
int cxxvm_tracker_check_desc(const struct cxxvm_pgmap_desc *desc);

/**
 * cxxvm_tracker_register() - track a pagemap; it starts live, with one
 * reference held by the registration.
 * @t: the tracker
 * @desc: what to register
 * @out: the pagemap
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL for a bad type, range count, empty or mutually
 * overlapping ranges, an altmap on more than one range or one that does
 * not fit its range; -ERANGE for a range past the end of physical address
 * space; -EBUSY if a range overlaps a registered pagemap's (dying ones
 * too); -ENOSPC if the tracker holds max_ranges ranges; -ENOMEM.
 */
int cxxvm_tracker_register(struct cxxvm_tracker *t,
			 const struct cxxvm_pgmap_desc *desc,
			 struct cxxvm_pgmap **out);

/**
 * cxxvm_tracker_lookup() - get_dev_pagemap() for the tracker.
 * @t: the tracker
 * @pfn: the pfn
 * @hint: NULL, or a pagemap the caller holds a reference on
 *
 * A @hint that covers @pfn is returned as is; otherwise its reference is
 * dropped.  Mirrors get_dev_pagemap(pfn, pgmap) in mm/memremap.c.
 * Context: any but NMI; takes no lock (spins while a writer, which runs
 * with interrupts off, is mid-update).
 * Return: the live pagemap holding @pfn with a new reference, or NULL.
 */
struct cxxvm_pgmap *cxxvm_tracker_lookup(struct cxxvm_tracker *t, uint64_t pfn,
				       struct cxxvm_pgmap *hint);

#ifdef CXXVM_KUNIT	/* only the KUnit suites call this (make CXXVM_KUNIT=1) */
/**
 * cxxvm_tracker_get() - another reference, for a caller that holds one.
 * @m: the pagemap
 *
 * Context: any.
 */
void cxxvm_tracker_get(struct cxxvm_pgmap *m);
#endif

/**
 * cxxvm_tracker_put() - drop a reference: put_dev_pagemap().
 * @m: the pagemap; NULL is ignored
 *
 * The last reference of a killed pagemap completes its drain.  A put with
 * no reference held WARNs and does nothing.
 * Context: any.
 */
void cxxvm_tracker_put(struct cxxvm_pgmap *m);

/**
 * cxxvm_tracker_kill() - no new references; drop the registration's.
 * @t: the tracker
 * @m: the pagemap
 *
 * Mirrors percpu_ref_kill() in memunmap_pages().
 * Context: any.
 * Return: true if this call killed it, false if it was dying already.
 */
bool cxxvm_tracker_kill(struct cxxvm_tracker *t, struct cxxvm_pgmap *m);

/**
 * cxxvm_tracker_unregister() - kill, wait for the drain, forget @m.
 * @t: the tracker
 * @m: the pagemap; not to be used afterwards
 *
 * Sleeps until every reference is put, as memunmap_pages() does.
 * Context: process context, may sleep; the caller holds no reference.
 */
void cxxvm_tracker_unregister(struct cxxvm_tracker *t, struct cxxvm_pgmap *m);

#ifdef CXXVM_KUNIT	/* only the KUnit suites call this (make CXXVM_KUNIT=1) */
/**
 * cxxvm_tracker_try_unregister() - cxxvm_tracker_unregister() without waiting.
 * @t: the tracker
 * @m: the pagemap
 *
 * One caller at a time per pagemap.
 * Context: process context, may sleep (a mutex, and the last put's
 * completion if it is under way).
 * Return: 0 (@m is gone), or -EBUSY: references are held; @m stays dying,
 * its pfns give none and its ranges stay reserved until a later call.
 */
int cxxvm_tracker_try_unregister(struct cxxvm_tracker *t, struct cxxvm_pgmap *m);
#endif

/**
 * cxxvm_tracker_cookie() - the cookie @m was registered with.
 * @m: a pagemap the caller holds a reference on
 *
 * Context: any.
 */
uintptr_t cxxvm_tracker_cookie(const struct cxxvm_pgmap *m);

#ifdef CXXVM_KUNIT	/* only the KUnit suites call these (make CXXVM_KUNIT=1) */
/**
 * cxxvm_tracker_refs() - references held on @m now (the registration's
 * included).
 * @m: the pagemap
 *
 * Context: any.
 */
uint64_t cxxvm_tracker_refs(const struct cxxvm_pgmap *m);

/**
 * cxxvm_tracker_altmap_alloc() - take memmap pages from @m's altmap.
 * @t: the tracker
 * @m: the pagemap
 * @nr_pfns: pages
 * @pfn: out: the first, aligned to the largest power of two dividing
 *	@nr_pfns (altmap_alloc_block_buf() in mm/sparse-vmemmap.c)
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL without an altmap or for 0 pages; -ENOSPC if free
 * cannot hold them.
 */
int cxxvm_tracker_altmap_alloc(struct cxxvm_tracker *t, struct cxxvm_pgmap *m,
			     uint64_t nr_pfns, uint64_t *pfn);

/**
 * cxxvm_tracker_altmap_free() - vmem_altmap_free(): lower alloc.
 * @t: the tracker
 * @m: the pagemap
 * @nr_pfns: pages
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL without an altmap or if @nr_pfns exceeds alloc.
 */
int cxxvm_tracker_altmap_free(struct cxxvm_tracker *t, struct cxxvm_pgmap *m,
			    uint64_t nr_pfns);

/**
 * cxxvm_tracker_altmap_get() - a snapshot of @m's altmap.
 * @t: the tracker
 * @m: the pagemap
 * @info: out
 *
 * Context: process context, may sleep.
 * Return: 0, or -EINVAL if @m has no altmap.
 */
int cxxvm_tracker_altmap_get(struct cxxvm_tracker *t, struct cxxvm_pgmap *m,
			   struct cxxvm_altmap_info *info);
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CXXVM_CORE_H */
