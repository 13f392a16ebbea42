// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_table.c - the id tables of an open /dev/cxxvm: mapping handles,
 * buffer ids and pagemap handles.
 *
 * An array of pointers indexed by id and a bitmap of the ids given out,
 * grown by doubling, in the manner of the fd table (fs/file.c: alloc_fd(),
 * expand_fdtable(), next_fd).  It replaces an allocating xarray, whose
 * xa_alloc() and xa_erase() (the free-mark search, the mark updates, the
 * stores and their RCU) took about 40% of a one-page map+unmap cycle
 * driven through SUBMIT under TCG: more than the C++ allocator itself.
 * Every table operation is under the lock its owner gave cxxvm_table_init()
 * (the file's f->lock; pf->lock for its pagemaps), so the table needs no
 * RCU: a lookup is a bounds check and a load.  What every map and unmap
 * calls (alloc's common case, lookup, remove) is inline in
 * cxxvm_internal.h; growth and the rest are here.
 */
#include <linux/bitmap.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"

/* Slots of a new table: the handles of small batches never grow it. */
#define CXXVM_TABLE_MIN_SLOTS	64

/* Highest id a table may have: its slots must stay a sane allocation. */
#define CXXVM_TABLE_MAX_ID	(1u << 24)

/**
 * cxxvm_table_init() - an empty table of ids 1..@max.
 * @t: the table
 * @max: highest id, 1..2^24 (a bug otherwise: WARNs and uses 1)
 * @lock: the mutex every other call holds (asserted)
 *
 * No memory until the first id.
 * Context: any.
 */
void cxxvm_table_init(struct cxxvm_table *t, u32 max, struct mutex *lock)
{
	if (WARN_ON_ONCE(!max || max > CXXVM_TABLE_MAX_ID))
		max = 1;
	*t = (struct cxxvm_table){ .max = max, .next = 1, .lock = lock };
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_table_init);

/* Room for ids below @size (at most max + 1), old entries kept. */
static int cxxvm_table_grow(struct cxxvm_table *t, u32 size)
{
	unsigned long *used;
	void **slots;

	/*
	 * Both kvcalloc(), as alloc_fdtable() does: at 65537 ids the bitmap
	 * alone is 8 KiB, which kmalloc would take from order-2 pages.
	 */
	slots = kvcalloc(size, sizeof(*slots), GFP_KERNEL_ACCOUNT);
	used = kvcalloc(BITS_TO_LONGS(size), sizeof(*used), GFP_KERNEL_ACCOUNT);
	if (!slots || !used) {
		kvfree(slots);
		kvfree(used);
		return -ENOMEM;
	}
	/* Id 0 is never given out. */
	__set_bit(0, used);
	if (t->size) {
		memcpy(slots, t->slots, t->size * sizeof(*slots));
		bitmap_copy(used, t->used, t->size);
	}
	kvfree(t->slots);
	kvfree(t->used);
	t->slots = slots;
	t->used = used;
	t->size = size;
	return 0;
}

/**
 * cxxvm_table_alloc_slow() - cxxvm_table_alloc() when @t->next is taken or
 * past the table: search for the lowest free id, growing the table if
 * there is none.
 * @t: the table
 * @p: what the id names (not NULL: a bug, -EINVAL)
 * @id: out: the id, 1..max
 *
 * Context: process context, may sleep (growing allocates with
 * GFP_KERNEL_ACCOUNT); t->lock held.
 * Return: as cxxvm_table_alloc(), and -EINVAL for a NULL @p (a bug: WARNs).
 */
int cxxvm_table_alloc_slow(struct cxxvm_table *t, void *p, u32 *id)
{
	u32 i, size;
	int ret;

	lockdep_assert_held(t->lock);
	might_sleep();
	if (WARN_ON_ONCE(!p))
		return -EINVAL;
	i = find_next_zero_bit(t->used, t->size, t->next);
	if (i >= t->size) {
		if (t->size > t->max)
			return -ENOSPC;
		/* Doubling, but straight to max + 1 rather than past max. */
		size = max(2 * t->size, CXXVM_TABLE_MIN_SLOTS);
		if (size >= t->max)
			size = t->max + 1;
		ret = cxxvm_table_grow(t, size);
		if (ret)
			return ret;
		i = find_next_zero_bit(t->used, t->size, t->next);
	}
	__set_bit(i, t->used);
	t->slots[i] = p;
	t->next = i + 1;
	*id = i;
	return 0;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_table_alloc_slow);

/**
 * cxxvm_table_next() - the lowest id given out at or above @id.
 * @t: the table
 * @id: where to start (1 for the first)
 *
 * For cxxvm_table_for_each(); the table may change between calls.
 * Context: process context; t->lock held.
 * Return: the id, or t->size if none.
 */
u32 cxxvm_table_next(struct cxxvm_table *t, u32 id)
{
	lockdep_assert_held(t->lock);
	return find_next_bit(t->used, t->size, max(id, 1u));
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_table_next);

/**
 * cxxvm_table_destroy() - free the table's memory; the ids it still gives
 * out are forgotten (their owner has freed what they name).
 * @t: the table
 *
 * Context: process context; t->lock need not be held (the file is gone).
 */
void cxxvm_table_destroy(struct cxxvm_table *t)
{
	kvfree(t->slots);
	kvfree(t->used);
	cxxvm_table_init(t, t->max, t->lock);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_table_destroy);
