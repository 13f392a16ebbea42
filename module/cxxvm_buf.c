// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_buf.c - page buffers, mappings and the three backends: MAP, UNMAP,
 * VERIFY, BUF_CREATE, BUF_DESTROY and SUBMIT.
 *
 * A buffer is n order-0 pages from alloc_page() (so their direct-map
 * address is always valid), owned by one file.  A mapping maps a page
 * range of a buffer through one backend.  MAP without CXXVM_MAP_BUF makes a
 * buffer for the mapping alone, freed with it.
 *
 * Retired pages: a page unmapped from the C++ arena may still be reached
 * through another CPU's TLB until the purge that covers its unmap has
 * completed, so it cannot go back to the page allocator before.  Each
 * buffer remembers the purge that covers its last C++ unmap; freeing the
 * buffer before that purge completed parks its pages on cxxvm_retired[]
 * until it has.  The kernel's vm_unmap_ram() callers free at once because
 * vm_unmap_aliases() (which CPA calls before changing a page's attributes)
 * flushes its lazy areas; nothing in the kernel knows about cxxvm's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"

/*
 * Live mappings and their pages: per-CPU deltas, summed over the possible
 * CPUs when STATS reads them (a CPU's delta outlives its going offline),
 * so a map or an unmap is one this_cpu_add().  Not a percpu_counter: only
 * STATS reads them, and its batch folding, the CPU-hotplug list and the
 * out-of-line percpu_counter_add_batch() served no one (the call alone
 * was 2.5% of a one-page map+unmap driven through SUBMIT under TCG).
 */
static DEFINE_PER_CPU(long, cxxvm_nr_mappings);
static DEFINE_PER_CPU(long, cxxvm_nr_mapped_pages);

/* Spare mapping structs a file keeps, so that a map need not kmalloc. */
#define CXXVM_SPARE_MAPPINGS	256

/*
 * Retired pages, linked through page->lru with the covering purge's number
 * in page->private (the pages are ours: order-0, in no cache).  A page
 * waits for the purge in flight or the next one (the arena starts a purge
 * only after the one before completed), so two lists, by the number's
 * parity, each in the order of those numbers (nearly always an append): a reap
 * takes pages off their heads up to the first whose purge has not
 * completed, and never walks the ones still waiting.
 */
static struct list_head cxxvm_retired[2] = {
	LIST_HEAD_INIT(cxxvm_retired[0]), LIST_HEAD_INIT(cxxvm_retired[1]),
};
static DEFINE_SPINLOCK(cxxvm_retired_lock);
static atomic64_t cxxvm_nr_retired = ATOMIC64_INIT(0);
/* The arena's flushed seq at the last reap that emptied what was ready. */
static atomic64_t cxxvm_reaped_seq = ATOMIC64_INIT(0);
/* Pages never freed because the C++ unmap of a mapping of them failed. */
static atomic64_t cxxvm_nr_leaked = ATOMIC64_INIT(0);
/* Pages a reap takes off the list per hold of cxxvm_retired_lock. */
#define CXXVM_REAP_BATCH	1024

/**
 * struct cxxvm_buf - a page buffer
 * @nr: pages
 * @pending: made by a BUF_CREATE whose outputs have not reached the caller
 *	yet: no command finds it (under the file's lock)
 * @maps: live mappings of it (under the file's lock)
 * @purge_seq: the purge that covers its last C++ unmap, or 0 (under the
 *	file's lock)
 * @pages: the pages
 * @pfns: page_to_pfn() of each, for the C++ backend
 */
struct cxxvm_buf {
	u32 nr;
	bool pending;
	u32 maps;
	u64 purge_seq;
	struct page **pages;
	u64 *pfns;
};

/**
 * struct cxxvm_mapping - one mapping of a file
 * @buf: the buffer it maps a range of; on the file's spare list, the next
 *	spare struct
 * @own_buf: @buf was made for this mapping and goes with it
 * @pending: made by a MAP whose outputs have not reached the caller yet:
 *	no command finds it (under the file's lock)
 * @gen: the file's map count when it was made, never 0: tells it from a
 *	later mapping that reused its handle (SUBMIT's CXXVM_OP_REF)
 * @backend: enum cxxvm_backend
 * @offset: first page of @buf
 * @nr: pages
 * @va: kernel address of the first page
 */
struct cxxvm_mapping {
	struct cxxvm_buf *buf;
	bool own_buf;
	bool pending;
	u32 gen;
	u32 backend;
	u32 offset;
	u32 nr;
	void *va;
};

/*
 * The sum of a counter's per-CPU deltas: exact once no map or unmap runs
 * (each read races with that CPU's this_cpu_add(), as percpu_counter_sum()'s).
 */
static u64 cxxvm_counter_sum(long __percpu *counter)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(counter, cpu));
	return max(sum, 0L);
}

u64 cxxvm_live_mappings(void)
{
	return cxxvm_counter_sum(&cxxvm_nr_mappings);
}

u64 cxxvm_live_pages(void)
{
	return cxxvm_counter_sum(&cxxvm_nr_mapped_pages);
}

u64 cxxvm_retired_pages(void)
{
	return atomic64_read(&cxxvm_nr_retired);
}

/*
 * The backends, inline into SUBMIT's operations (see "The per-operation
 * path" below); BENCH and REPLAY call them through cxxvm_backend_map() and
 * cxxvm_backend_unmap().
 */

/**
 * __cxxvm_backend_map() - map pages contiguously in kernel VA through @backend.
 * @backend: enum cxxvm_backend (validated by the caller)
 * @pages: @nr pages
 * @pfns: their pfns (what the C++ arena maps)
 * @nr: 1..CXXVM_MAX_PAGES (the C++ arena's limit; REPLAY gives the
 *	kernel's backends up to CXXVM_MAX_REPLAY_PAGES)
 * @va: out: the address
 *
 * Context: process context, may sleep.
 * Return: 0, -ENOMEM (no VA), or the C++ arena's -errno.
 */
static __always_inline int
__cxxvm_backend_map(u32 backend, struct page **pages, const u64 *pfns, u32 nr, void **va)
{
	uintptr_t addr;
	int ret;

	switch (backend) {
	case CXXVM_BACKEND_CXX:
		ret = cxxvm_arena_map(cxxvm_arena, pfns, nr, &addr);
		*va = ret ? NULL : (void *)addr;
		return ret;
	case CXXVM_BACKEND_VM_MAP_RAM:
		*va = vm_map_ram(pages, nr, NUMA_NO_NODE);
		return *va ? 0 : -ENOMEM;
	case CXXVM_BACKEND_VMAP:
		*va = vmap(pages, nr, VM_MAP, PAGE_KERNEL);
		return *va ? 0 : -ENOMEM;
	}
	return -EINVAL;
}

/**
 * __cxxvm_backend_unmap() - undo __cxxvm_backend_map().
 * @backend: as mapped
 * @va: as returned
 * @nr: pages, as mapped
 *
 * Context: process context, may sleep.
 * Return: for the C++ arena, the purge that must complete before the pages
 * may be freed, or CXXVM_SEQ_NEVER if the unmap failed (a bug: the arena's
 * state is unknown, so the pages must never be freed); 0 for the kernel's
 * backends (free at once).
 */
static __always_inline u64 __cxxvm_backend_unmap(u32 backend, void *va, u32 nr)
{
	u64 seq = 0;

	switch (backend) {
	case CXXVM_BACKEND_CXX:
		if (WARN_ON_ONCE(cxxvm_arena_unmap(cxxvm_arena, (uintptr_t)va, nr, &seq)))
			return CXXVM_SEQ_NEVER;
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

/* __cxxvm_backend_map(), out of line. */
int cxxvm_backend_map(u32 backend, struct page **pages, const u64 *pfns, u32 nr, void **va)
{
	return __cxxvm_backend_map(backend, pages, pfns, nr, va);
}

/* __cxxvm_backend_unmap(), out of line. */
u64 cxxvm_backend_unmap(u32 backend, void *va, u32 nr)
{
	return __cxxvm_backend_unmap(backend, va, nr);
}

static void cxxvm_pages_free(struct page **pages, u32 nr)
{
	u32 i;

	for (i = 0; i < nr; i++) {
		__free_page(pages[i]);
		if (i % 1024 == 1023)
			cond_resched();
	}
}

/**
 * cxxvm_pages_alloc() - allocate @nr order-0 pages.
 * @pages: out: the pages
 * @pfns: out: their pfns
 * @nr: how many
 * @gfp: GFP_KERNEL or GFP_KERNEL_ACCOUNT
 *
 * Context: process context, may sleep.
 * Return: 0, -ENOMEM, or -EINTR on a fatal signal; nothing is left
 * allocated on an error.
 */
int cxxvm_pages_alloc(struct page **pages, u64 *pfns, u32 nr, gfp_t gfp)
{
	u32 i;

	for (i = 0; i < nr; i++) {
		if (i % 1024 == 1023) {
			cond_resched();
			if (fatal_signal_pending(current)) {
				cxxvm_pages_free(pages, i);
				return -EINTR;
			}
		}
		pages[i] = alloc_page(gfp);
		if (!pages[i]) {
			cxxvm_pages_free(pages, i);
			return -ENOMEM;
		}
		pfns[i] = page_to_pfn(pages[i]);
	}
	return 0;
}

/*
 * Move the pages at the head of @list whose purge is at most @done, up to
 * @budget of them, to the tail of @ready.  Returns how many.  Caller holds
 * cxxvm_retired_lock.
 */
static long cxxvm_reap_cut(struct list_head *list, u64 done, struct list_head *ready,
			   long budget)
{
	struct list_head *cut = list;
	struct page *page;
	LIST_HEAD(head);
	long n = 0;

	lockdep_assert_held(&cxxvm_retired_lock);
	list_for_each_entry(page, list, lru) {
		if (page_private(page) > done || n == budget) {
			cut = &page->lru;
			break;
		}
		n++;
	}
	/* Everything before @cut (all of it if the walk ran out). */
	list_cut_before(&head, list, cut);
	list_splice_tail(&head, ready);
	return n;
}

/**
 * cxxvm_reap_retired() - free retired pages whose covering purge completed.
 * @all: free everything (the arena is gone, so nothing can map them)
 *
 * Takes pages off the heads of the sorted lists, at most CXXVM_REAP_BATCH
 * per hold of the lock, and stops at the first one still waiting: the
 * work is the pages freed, not the pages parked.
 * Context: process context, may sleep; takes cxxvm_retired_lock.
 */
void cxxvm_reap_retired(bool all)
{
	u64 done = all ? U64_MAX : cxxvm_arena_purged_seq(cxxvm_arena);
	struct page *page, *tmp;
	bool more;
	long n;

	might_sleep();
	/* Called on every unmap: nothing to do until another purge completed. */
	if (!all && atomic64_read(&cxxvm_reaped_seq) == done)
		return;
	do {
		LIST_HEAD(ready);

		spin_lock(&cxxvm_retired_lock);
		n = cxxvm_reap_cut(&cxxvm_retired[0], done, &ready, CXXVM_REAP_BATCH);
		n += cxxvm_reap_cut(&cxxvm_retired[1], done, &ready, CXXVM_REAP_BATCH - n);
		/* Stopped at the batch limit, not at pages still waiting. */
		more = n == CXXVM_REAP_BATCH;
		if (!more && !all)
			atomic64_set(&cxxvm_reaped_seq, done);
		spin_unlock(&cxxvm_retired_lock);

		list_for_each_entry_safe(page, tmp, &ready, lru) {
			list_del(&page->lru);
			set_page_private(page, 0);
			__free_page(page);
		}
		atomic64_sub(n, &cxxvm_nr_retired);
		if (more)
			cond_resched();
	} while (more);
}

/**
 * cxxvm_pages_release() - free pages now, or once purge @seq completed.
 * @pages: @nr pages, mapped nowhere any more
 * @nr: how many
 * @seq: the purge that covers their last C++ unmap, 0, or CXXVM_SEQ_NEVER
 *	(an unmap failed: the pages are leaked, counted in
 *	cxxvm_leaked_pages(), rather than freed while a PTE may map them)
 *
 * Context: process context, may sleep.
 */
void cxxvm_pages_release(struct page **pages, u32 nr, u64 seq)
{
	struct page *pos;
	LIST_HEAD(list);
	u32 i;

	if (seq == CXXVM_SEQ_NEVER) {
		atomic64_add(nr, &cxxvm_nr_leaked);
		pr_err_ratelimited("leaking %u pages: the C++ unmap of a mapping of them failed\n",
				   nr);
		return;
	}
	if (!seq || seq <= cxxvm_arena_purged_seq(cxxvm_arena)) {
		cxxvm_pages_free(pages, nr);
		return;
	}
	for (i = 0; i < nr; i++) {
		set_page_private(pages[i], seq);
		list_add_tail(&pages[i]->lru, &list);
	}
	atomic64_add(nr, &cxxvm_nr_retired);
	spin_lock(&cxxvm_retired_lock);
	/*
	 * Keep the list sorted: after the last page whose purge is not later
	 * than @seq.  That is nearly always its tail.  The step back is taken
	 * only when this releaser was delayed (before the lock) across a
	 * purge, over what was parked meanwhile for the purge after next.
	 */
	list_for_each_entry_reverse(pos, &cxxvm_retired[seq & 1], lru)
		if (page_private(pos) <= seq)
			break;
	list_splice(&list, &pos->lru);
	/*
	 * A reap that already saw purge @seq complete did not see these pages:
	 * make the next reap look again, or they would wait for one more purge.
	 */
	if (atomic64_read(&cxxvm_reaped_seq) >= seq)
		atomic64_set(&cxxvm_reaped_seq, seq - 1);
	spin_unlock(&cxxvm_retired_lock);
}

/**
 * cxxvm_leaked_pages() - pages never freed after a failed C++ unmap.
 *
 * Context: any.  Return: the count since the module was loaded.
 */
u64 cxxvm_leaked_pages(void)
{
	return atomic64_read(&cxxvm_nr_leaked);
}

/* A buffer of @nr new pages, or an ERR_PTR(). */
static struct cxxvm_buf *cxxvm_buf_alloc(u32 nr, gfp_t gfp)
{
	struct cxxvm_buf *b;
	int ret;

	b = kvzalloc(sizeof(*b) + (size_t)nr * (sizeof(*b->pages) + sizeof(*b->pfns)), gfp);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->nr = nr;
	b->pages = (struct page **)(b + 1);
	b->pfns = (u64 *)(b->pages + nr);
	ret = cxxvm_pages_alloc(b->pages, b->pfns, nr, gfp);
	if (ret) {
		kvfree(b);
		return ERR_PTR(ret);
	}
	return b;
}

/* Free @b, mapped nowhere any more; its pages wait for their purge. */
static void cxxvm_buf_free(struct cxxvm_buf *b)
{
	WARN_ON_ONCE(b->maps);
	cxxvm_pages_release(b->pages, b->nr, b->purge_seq);
	kvfree(b);
}

/*
 * The per-operation path.  What one map or unmap through SUBMIT (or MAP
 * and UNMAP) runs, from the operation's checks down to the backend, is
 * __always_inline: under TCG every out-of-line call and return costs a
 * lookup of its target, and these calls were most of the shim's own cost
 * per operation.  A map or unmap through the C++ backend that finds a
 * spare mapping struct and a free id at the table's hint then calls
 * nothing but the arena's entry point.
 */

/* A mapping struct from @f's spares, or a new one. */
static __always_inline struct cxxvm_mapping *
cxxvm_mapping_get(struct cxxvm_file *f)
{
	struct cxxvm_mapping *m = f->spare_mappings;

	lockdep_assert_held(&f->lock);
	if (!m)
		return kmalloc(sizeof(*m), GFP_KERNEL);
	f->spare_mappings = (struct cxxvm_mapping *)m->buf;
	f->nr_spare_mappings--;
	return m;
}

static __always_inline void
cxxvm_mapping_put(struct cxxvm_file *f, struct cxxvm_mapping *m)
{
	lockdep_assert_held(&f->lock);
	if (f->nr_spare_mappings >= CXXVM_SPARE_MAPPINGS) {
		kfree(m);
		return;
	}
	m->buf = (struct cxxvm_buf *)f->spare_mappings;
	f->spare_mappings = m;
	f->nr_spare_mappings++;
}

/*
 * Map pages [@offset, @offset + @nr) of @b through @backend and give the
 * mapping a handle of @f.  The caller checked the range.
 */
static __always_inline int
cxxvm_map_locked(struct cxxvm_file *f, u32 backend, struct cxxvm_buf *b, bool own_buf,
		 bool pending, u32 offset, u32 nr, u64 *handle, u32 *gen)
{
	struct cxxvm_mapping *m;
	u32 id;
	int ret;

	lockdep_assert_held(&f->lock);
	m = cxxvm_mapping_get(f);
	if (!m)
		return -ENOMEM;
	if (!++f->map_gen)
		f->map_gen = 1;
	*m = (struct cxxvm_mapping){
		.buf = b, .own_buf = own_buf, .pending = pending, .gen = f->map_gen,
		.backend = backend, .offset = offset, .nr = nr,
	};
	ret = __cxxvm_backend_map(backend, b->pages + offset, b->pfns + offset, nr, &m->va);
	if (ret) {
		cxxvm_mapping_put(f, m);
		return ret;
	}
	ret = cxxvm_table_alloc(&f->mappings, m, &id);
	if (ret) {
		b->purge_seq = max(b->purge_seq, __cxxvm_backend_unmap(backend, m->va, nr));
		cxxvm_mapping_put(f, m);
		return ret;
	}
	b->maps++;
	this_cpu_inc(cxxvm_nr_mappings);
	this_cpu_add(cxxvm_nr_mapped_pages, nr);
	*handle = id;
	if (gen)
		*gen = m->gen;
	return 0;
}

/* Unmap @m, which has left @f's table, and free it (and its own buffer). */
static __always_inline void
cxxvm_mapping_destroy_locked(struct cxxvm_file *f, struct cxxvm_mapping *m)
{
	struct cxxvm_buf *b = m->buf;
	u64 seq;

	lockdep_assert_held(&f->lock);
	seq = __cxxvm_backend_unmap(m->backend, m->va, m->nr);
	b->purge_seq = max(b->purge_seq, seq);
	b->maps--;
	this_cpu_dec(cxxvm_nr_mappings);
	this_cpu_sub(cxxvm_nr_mapped_pages, m->nr);
	if (m->own_buf)
		cxxvm_buf_free(b);
	cxxvm_mapping_put(f, m);
}

/* @f's buffer @id, pending ones included, or NULL. */
static __always_inline struct cxxvm_buf *
cxxvm_buf_lookup_any(struct cxxvm_file *f, u64 id)
{
	return cxxvm_table_lookup(&f->bufs, id);
}

/* @f's buffer @id, or NULL: what its commands may find. */
static __always_inline struct cxxvm_buf *
cxxvm_buf_lookup(struct cxxvm_file *f, u64 id)
{
	struct cxxvm_buf *b = cxxvm_buf_lookup_any(f, id);

	return b && !b->pending ? b : NULL;
}

/* @f's mapping @handle, pending ones included, or NULL. */
static __always_inline struct cxxvm_mapping *
cxxvm_mapping_lookup_any(struct cxxvm_file *f, u64 handle)
{
	return cxxvm_table_lookup(&f->mappings, handle);
}

/*
 * @f's mapping @handle, or NULL: what its commands may find; with @gen
 * (not 0), only the mapping of that generation.
 */
static __always_inline struct cxxvm_mapping *
cxxvm_mapping_lookup(struct cxxvm_file *f, u64 handle, u32 gen)
{
	struct cxxvm_mapping *m = cxxvm_mapping_lookup_any(f, handle);

	return m && !m->pending && (!gen || m->gen == gen) ? m : NULL;
}

/* MAP with CXXVM_MAP_BUF, and SUBMIT's CXXVM_OP_MAP. */
static __always_inline int
cxxvm_map_buf_locked(struct cxxvm_file *f, u32 backend, u64 buf, u32 offset, u32 nr,
		     bool pending, u64 *handle, u32 *gen)
{
	struct cxxvm_buf *b = cxxvm_buf_lookup(f, buf);

	if (!b)
		return -ENOENT;
	if (offset > b->nr || nr > b->nr - offset)
		return -EINVAL;
	/* nr >= 1, so offset < b->nr: no speculative read past the buffer. */
	offset = array_index_nospec(offset, b->nr);
	return cxxvm_map_locked(f, backend, b, false, pending, offset, nr, handle, gen);
}

/*
 * UNMAP, and SUBMIT's CXXVM_OP_UNMAP (@gen: see cxxvm_mapping_lookup();
 * @any: MAP's undo, the one command that may find a pending mapping).
 * The caller reaps retired pages after dropping the lock.
 */
static __always_inline int
cxxvm_unmap_handle_locked(struct cxxvm_file *f, u64 handle, u32 gen, bool any)
{
	struct cxxvm_mapping *m;

	m = any ? cxxvm_mapping_lookup_any(f, handle) : cxxvm_mapping_lookup(f, handle, gen);
	if (!m)
		return -ENOENT;
	cxxvm_table_remove(&f->mappings, handle);
	cxxvm_mapping_destroy_locked(f, m);
	return 0;
}

static int cxxvm_unmap_handle(struct cxxvm_file *f, u64 handle, bool any)
{
	int ret;

	mutex_lock(&f->lock);
	ret = cxxvm_unmap_handle_locked(f, handle, 0, any);
	mutex_unlock(&f->lock);
	cxxvm_reap_retired(false);
	return ret;
}

/* VERIFY, and SUBMIT's CXXVM_OP_VERIFY. */
static int cxxvm_verify_handle_locked(struct cxxvm_file *f, u64 handle, u32 gen, u32 seed,
				      u32 *checked, u32 *bad_page)
{
	struct cxxvm_mapping *m;
	int ret = 0;
	u32 i;

	*checked = 0;
	*bad_page = U32_MAX;
	m = cxxvm_mapping_lookup(f, handle, gen);
	for (i = 0; m && i < m->nr; i++) {
		u64 *mapped = m->va + i * PAGE_SIZE;
		u64 *direct = page_address(m->buf->pages[m->offset + i]);

		/* dir 0: through the mapping, back through the direct map. */
		if (!cxxvm_check_pattern(mapped, direct, PAGE_SIZE, seed, i, 0) ||
		    !cxxvm_check_pattern(direct, mapped, PAGE_SIZE, seed, i, 1)) {
			*bad_page = i;
			ret = -EIO;
			break;
		}
		(*checked)++;
	}
	return m ? ret : -ENOENT;
}

/* The sizes every backend maps are the C++ arena's (one validator). */
static __always_inline int cxxvm_check_backend_pages(u32 backend, u32 nr_pages)
{
	if (backend >= CXXVM_NR_BACKENDS)
		return -EINVAL;
	return cxxvm_arena_check_pages(nr_pages);
}

static int cxxvm_check_handle(u64 handle)
{
	return handle == 0 || handle > CXXVM_MAX_HANDLES ? -ENOENT : 0;
}

int cxxvm_check_map(const void *kdata)
{
	const struct cxxvm_map *arg = kdata;

	if ((arg->flags & ~CXXVM_MAP_FLAGS) ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (!(arg->flags & CXXVM_MAP_BUF) && (arg->buf || arg->buf_offset))
		return -EINVAL;
	return cxxvm_check_backend_pages(arg->backend, arg->nr_pages);
}

int cxxvm_check_unmap(const void *kdata)
{
	const struct cxxvm_unmap *arg = kdata;

	if (arg->flags || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return cxxvm_check_handle(arg->handle);
}

int cxxvm_check_verify(const void *kdata)
{
	const struct cxxvm_verify *arg = kdata;

	if (arg->flags || !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return cxxvm_check_handle(arg->handle);
}

int cxxvm_check_buf_create(const void *kdata)
{
	const struct cxxvm_buf_create *arg = kdata;

	if (arg->flags || !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (!arg->nr_pages || arg->nr_pages > CXXVM_MAX_BUF_PAGES)
		return -EINVAL;
	return 0;
}

int cxxvm_check_buf_destroy(const void *kdata)
{
	const struct cxxvm_buf_destroy *arg = kdata;

	if (arg->flags || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	return arg->id && arg->id <= CXXVM_MAX_BUFS ? 0 : -ENOENT;
}

int cxxvm_check_submit(const void *kdata)
{
	const struct cxxvm_submit *arg = kdata;

	if ((arg->flags & ~CXXVM_SUBMIT_FLAGS) ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (!arg->nr_ops || arg->nr_ops > CXXVM_MAX_SUBMIT_OPS ||
	    arg->op_size != sizeof(struct cxxvm_op))
		return -EINVAL;
	return 0;
}

/**
 * cxxvm_ioctl_map() - CXXVM_IOC_MAP
 * @f: the file
 * @kdata: struct cxxvm_map, checked
 *
 * Context: process context, may sleep; takes f->lock.
 * Return: 0, -ENOENT, -EINVAL, -ENOMEM, -ENOSPC (include/uapi/linux/cxxvm.h).
 */
int cxxvm_ioctl_map(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_map *arg = kdata;
	struct cxxvm_buf *b;
	int ret;

	might_sleep();
	if (arg->flags & CXXVM_MAP_BUF) {
		mutex_lock(&f->lock);
		ret = cxxvm_map_buf_locked(f, arg->backend, arg->buf, arg->buf_offset,
					   arg->nr_pages, true, &arg->handle, NULL);
		mutex_unlock(&f->lock);
		return ret;
	}
	b = cxxvm_buf_alloc(arg->nr_pages, GFP_KERNEL);
	if (IS_ERR(b))
		return PTR_ERR(b);
	mutex_lock(&f->lock);
	ret = cxxvm_map_locked(f, arg->backend, b, true, true, 0, arg->nr_pages, &arg->handle,
			       NULL);
	mutex_unlock(&f->lock);
	if (ret) {
		cxxvm_buf_free(b);
		cxxvm_reap_retired(false);
	}
	return ret;
}

/* MAP's outputs reached the caller: the mapping is the file's. */
void cxxvm_commit_map(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_map *arg = kdata;
	struct cxxvm_mapping *m;

	mutex_lock(&f->lock);
	m = cxxvm_mapping_lookup_any(f, arg->handle);
	if (!WARN_ON_ONCE(!m || !m->pending))
		m->pending = false;
	mutex_unlock(&f->lock);
}

/*
 * MAP's outputs did not reach the caller: unmap what it cannot name, which
 * nobody else could find meanwhile.
 */
void cxxvm_undo_map(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_map *arg = kdata;
	struct cxxvm_mapping *m;

	mutex_lock(&f->lock);
	m = cxxvm_mapping_lookup_any(f, arg->handle);
	if (!WARN_ON_ONCE(!m || !m->pending))
		WARN_ON_ONCE(cxxvm_unmap_handle_locked(f, arg->handle, 0, true));
	mutex_unlock(&f->lock);
	cxxvm_reap_retired(false);
}

/**
 * cxxvm_ioctl_unmap() - CXXVM_IOC_UNMAP
 * @f: the file
 * @kdata: struct cxxvm_unmap, checked
 *
 * Context: process context, may sleep; takes f->lock.
 * Return: 0 or -ENOENT.
 */
int cxxvm_ioctl_unmap(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_unmap *arg = kdata;

	might_sleep();
	return cxxvm_unmap_handle(f, arg->handle, false);
}

/**
 * cxxvm_ioctl_verify() - CXXVM_IOC_VERIFY
 * @f: the file
 * @kdata: struct cxxvm_verify, checked
 *
 * Context: process context, may sleep; takes f->lock.
 * Return: 0, -ENOENT, or -EIO with bad_page set (the outputs go back).
 */
int cxxvm_ioctl_verify(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_verify *arg = kdata;
	int ret;

	might_sleep();
	mutex_lock(&f->lock);
	ret = cxxvm_verify_handle_locked(f, arg->handle, 0, arg->seed, &arg->pages_checked,
					 &arg->bad_page);
	mutex_unlock(&f->lock);
	return ret;
}

/**
 * cxxvm_ioctl_buf_create() - CXXVM_IOC_BUF_CREATE
 * @f: the file
 * @kdata: struct cxxvm_buf_create, checked
 *
 * Context: process context, may sleep; takes f->lock.
 * Return: 0, -ENOMEM, -ENOSPC or -EINTR.
 */
int cxxvm_ioctl_buf_create(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_buf_create *arg = kdata;
	struct cxxvm_buf *b;
	u32 id;
	int ret;

	might_sleep();
	b = cxxvm_buf_alloc(arg->nr_pages, GFP_KERNEL_ACCOUNT);
	if (IS_ERR(b))
		return PTR_ERR(b);
	b->pending = true;
	mutex_lock(&f->lock);
	ret = cxxvm_table_alloc(&f->bufs, b, &id);
	mutex_unlock(&f->lock);
	if (ret) {
		cxxvm_buf_free(b);
		return ret;
	}
	arg->id = id;
	return 0;
}

/* Destroy buffer @id of @f: BUF_DESTROY, and BUF_CREATE's undo (@any). */
static int cxxvm_buf_destroy(struct cxxvm_file *f, u64 id, bool any)
{
	struct cxxvm_buf *b;
	int ret = 0;

	mutex_lock(&f->lock);
	b = any ? cxxvm_buf_lookup_any(f, id) : cxxvm_buf_lookup(f, id);
	if (!b)
		ret = -ENOENT;
	else if (b->maps)
		ret = -EBUSY;
	else
		cxxvm_table_remove(&f->bufs, id);
	mutex_unlock(&f->lock);
	if (ret)
		return ret;
	cxxvm_buf_free(b);
	cxxvm_reap_retired(false);
	return 0;
}

/* BUF_CREATE's outputs reached the caller: the buffer is the file's. */
void cxxvm_commit_buf_create(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_buf_create *arg = kdata;
	struct cxxvm_buf *b;

	mutex_lock(&f->lock);
	b = cxxvm_buf_lookup_any(f, arg->id);
	if (!WARN_ON_ONCE(!b || !b->pending))
		b->pending = false;
	mutex_unlock(&f->lock);
}

/* BUF_CREATE's outputs did not reach the caller: free the buffer. */
void cxxvm_undo_buf_create(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_buf_create *arg = kdata;

	WARN_ON_ONCE(cxxvm_buf_destroy(f, arg->id, true));
}

/**
 * cxxvm_ioctl_buf_destroy() - CXXVM_IOC_BUF_DESTROY
 * @f: the file
 * @kdata: struct cxxvm_buf_destroy, checked
 *
 * Context: process context, may sleep; takes f->lock.
 * Return: 0, -ENOENT or -EBUSY (a mapping of it lives).
 */
int cxxvm_ioctl_buf_destroy(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_buf_destroy *arg = kdata;

	might_sleep();
	return cxxvm_buf_destroy(f, arg->id, false);
}

/* The fields an operation does not use are zero; its own ones are sane. */
static __always_inline int cxxvm_check_op(const struct cxxvm_op *op)
{
	if ((op->flags & ~CXXVM_OP_FLAGS) || op->reserved0 || op->reserved)
		return -EINVAL;
	switch (op->op) {
	case CXXVM_OP_MAP:
		if (op->flags || op->seed)
			return -EINVAL;
		return cxxvm_check_backend_pages(op->backend, op->nr_pages);
	case CXXVM_OP_UNMAP:
	case CXXVM_OP_VERIFY:
		if (op->backend || op->nr_pages || op->buf || op->buf_offset ||
		    (op->op == CXXVM_OP_UNMAP && op->seed))
			return -EINVAL;
		return 0;
	case CXXVM_OP_FLUSH:
		if (op->flags || op->backend || op->nr_pages || op->buf || op->buf_offset ||
		    op->seed || op->handle)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/*
 * What op i of a batch mapped: its handle (0 if none) and the mapping's
 * generation, so that a CXXVM_OP_REF after that mapping went finds no
 * later mapping that got the same handle.
 */
struct cxxvm_op_ref {
	u32 handle;
	u32 gen;
};

/*
 * Run @op, the @idx-th of the batch, @refs[i] what op i mapped.  The caller
 * holds f->lock and reaps retired pages after dropping it.
 */
static __always_inline int
cxxvm_submit_one_locked(struct cxxvm_file *f, struct cxxvm_op *op, u32 idx,
			struct cxxvm_op_ref *refs)
{
	u64 handle = op->handle;
	u32 checked, bad, gen = 0;
	int ret;

	lockdep_assert_held(&f->lock);
	refs[idx] = (struct cxxvm_op_ref){};
	ret = cxxvm_check_op(op);
	if (ret)
		return ret;
	if (op->flags & CXXVM_OP_REF) {
		struct cxxvm_op_ref r;

		if (handle >= idx)
			return -EINVAL;
		r = refs[array_index_nospec(handle, idx)];
		if (!r.handle)
			return -ENOENT;
		handle = r.handle;
		gen = r.gen;
	}
	switch (op->op) {
	case CXXVM_OP_MAP:
		ret = cxxvm_map_buf_locked(f, op->backend, op->buf, op->buf_offset, op->nr_pages,
					   false, &op->handle, &gen);
		if (ret)
			op->handle = 0;
		else
			refs[idx] = (struct cxxvm_op_ref){ .handle = op->handle, .gen = gen };
		return ret;
	case CXXVM_OP_UNMAP:
		return cxxvm_unmap_handle_locked(f, handle, gen, false);
	case CXXVM_OP_VERIFY:
		return cxxvm_verify_handle_locked(f, handle, gen, op->seed, &checked, &bad);
	default:
		cxxvm_arena_purge_now(cxxvm_arena);
		return 0;
	}
}

/* Operations copied in and out, and run under one f->lock, at a time. */
#define CXXVM_SUBMIT_CHUNK	32

/**
 * cxxvm_ioctl_submit() - CXXVM_IOC_SUBMIT: run a batch of operations
 * @f: the file
 * @kdata: struct cxxvm_submit, checked
 *
 * Each operation runs as its single command would.  f->lock is taken once
 * per CXXVM_SUBMIT_CHUNK operations (a mutex round trip per operation cost
 * a third of a one-page map+unmap under TCG), so the file's other users
 * interleave between chunks.
 * Context: process context, may sleep.  Reschedules between chunks of at
 * most CXXVM_SUBMIT_CHUNK operations, and ends a chunk early when a
 * reschedule is due (a test of a flag per operation, where a
 * cond_resched() per operation was a call); checks for a pending signal
 * before each operation.
 * Return: 0 once an operation ran; -ERESTARTSYS (a signal), -EFAULT or
 * -ENOMEM if none did.
 */
int cxxvm_ioctl_submit(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_submit *arg = kdata;
	struct cxxvm_op __user *uops = u64_to_user_ptr(arg->ops);
	const bool times = arg->flags & CXXVM_SUBMIT_TIMES;
	u32 done = 0, end = arg->nr_ops, i, n;
	struct cxxvm_op_ref *refs;
	struct cxxvm_op *ops;
	unsigned long left;
	bool stop = false;
	int ret = 0;

	might_sleep();
	ops = kmalloc_array(min_t(u32, arg->nr_ops, CXXVM_SUBMIT_CHUNK), sizeof(*ops), GFP_KERNEL);
	refs = kmalloc_array(arg->nr_ops, sizeof(*refs), GFP_KERNEL);
	if (!ops || !refs) {
		ret = -ENOMEM;
		goto out;
	}
	while (done < end && !stop) {
		n = min_t(u32, CXXVM_SUBMIT_CHUNK, end - done);
		left = copy_from_user(ops, uops + done, n * sizeof(*ops));
		if (left) {
			/*
			 * The batch ends before the first operation not read
			 * whole, whatever the chunk size; once operations
			 * ran, the count says where it stopped.
			 */
			n -= DIV_ROUND_UP(left, sizeof(*ops));
			if (!n) {
				if (!done)
					ret = -EFAULT;
				break;
			}
			end = done + n;
		}
		mutex_lock(&f->lock);
		for (i = 0; i < n && !stop; i++) {
			struct cxxvm_op *op = &ops[i];
			u64 t0 = 0;

			/* Yield between operations, not only between chunks. */
			if (i && need_resched())
				break;
			if (signal_pending(current)) {
				stop = true;
				break;
			}
			if (times)
				t0 = ktime_get_ns();
			op->result = cxxvm_submit_one_locked(f, op, done + i, refs);
			op->ns = times ? ktime_get_ns() - t0 : 0;
			if (op->result && !(arg->flags & CXXVM_SUBMIT_CONTINUE))
				stop = true;
		}
		mutex_unlock(&f->lock);
		cond_resched();
		cxxvm_reap_retired(false);
		if (copy_to_user(uops + done, ops, i * sizeof(*ops)))
			ret = -EFAULT;
		done += i;
		if (ret)
			break;
	}
	arg->nr_done = done;
	if (!ret && !done)
		ret = -ERESTARTSYS;
out:
	kfree(refs);
	kfree(ops);
	return ret;
}

/**
 * cxxvm_buf_file_init() - a file with no buffers or mappings.
 * @f: the new file
 *
 * No memory until the first buffer or mapping.
 * Context: process context.
 */
void cxxvm_buf_file_init(struct cxxvm_file *f)
{
	mutex_init(&f->lock);
	cxxvm_table_init(&f->mappings, CXXVM_MAX_HANDLES, &f->lock);
	cxxvm_table_init(&f->bufs, CXXVM_MAX_BUFS, &f->lock);
	f->spare_mappings = NULL;
	f->nr_spare_mappings = 0;
}

/**
 * cxxvm_buf_file_release() - unmap the file's mappings, free its buffers.
 * @f: the file, closed
 *
 * Its pages go back at once, or after a purge the call runs itself: they
 * do not wait for somebody else's.
 * Context: process context, may sleep.
 */
void cxxvm_buf_file_release(struct cxxvm_file *f)
{
	struct cxxvm_mapping *m;
	struct cxxvm_buf *b;
	u32 id;

	mutex_lock(&f->lock);
	cxxvm_table_for_each(&f->mappings, id, m) {
		cxxvm_table_remove(&f->mappings, id);
		cxxvm_mapping_destroy_locked(f, m);
		cond_resched();
	}
	cxxvm_table_for_each(&f->bufs, id, b) {
		cxxvm_table_remove(&f->bufs, id);
		cxxvm_buf_free(b);
		cond_resched();
	}
	while ((m = f->spare_mappings)) {
		f->spare_mappings = (struct cxxvm_mapping *)m->buf;
		kfree(m);
	}
	f->nr_spare_mappings = 0;
	mutex_unlock(&f->lock);
	cxxvm_table_destroy(&f->mappings);
	cxxvm_table_destroy(&f->bufs);
	mutex_destroy(&f->lock);
	if (atomic64_read(&cxxvm_nr_retired))
		cxxvm_arena_purge_now(cxxvm_arena);
	cxxvm_reap_retired(false);
}
