/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_internal.h - what the shim's files share, and nothing else sees.
 *
 * The shim, one file per job:
 *   cxxvm_dev.c      the misc device, open/release, the ioctl table, INFO, STATS
 *   cxxvm_buf.c      page buffers, mappings and their backends, retired pages,
 *                    MAP, UNMAP, VERIFY, BUF_CREATE, BUF_DESTROY, SUBMIT
 *   cxxvm_bench.c    the in-kernel map+unmap loop (BENCH), trace replay (REPLAY)
 *   cxxvm_arena.c    the module's C++ arena: parameters, FLUSH, the vmap
 *                    purge notifier, debugfs
 *   cxxvm_pgmap.c    pagemaps: the C++ tracker against the kernel's
 *                    memremap_pages()/get_dev_pagemap(), MEMREMAP
 *   cxxvm_pattern.c  the content check VERIFY, MEMREMAP and PGMAP_VMAP share
 *   cxxvm_table.c    a file's id tables: mapping handles, buffer ids and
 *                    pagemap handles
 *   cxxvm_platform.c the kernel services the C++ core calls (cxxvm_plat_*)
 *   cxxvm_takeover.c the kernel's vm_map_ram() callers served by a C++
 *                    arena through an ftrace hook (takeover=)
 *   cxxvm_kunit_exports.c  symbols for cxxvm_kunit.ko (KUnit builds only)
 */
#ifndef CXXVM_INTERNAL_H
#define CXXVM_INTERNAL_H

#include <linux/bitops.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/types.h>
#include <linux/cxxvm.h>

struct cxxvm_arena;
struct cxxvm_mapping;
struct page;

/* Limits of the ABI (INFO reports them). */
#define CXXVM_MAX_BENCH_ITERATIONS	(1u << 20)
/* Mappings, buffers and pagemaps one open file may hold at once. */
#define CXXVM_MAX_HANDLES		65536
#define CXXVM_MAX_BUFS			1024
#define CXXVM_MAX_PGMAPS		64
/* 256 MiB of 4 KiB pages per buffer. */
#define CXXVM_MAX_BUF_PAGES		(1u << 16)
#define CXXVM_MAX_SUBMIT_OPS		1024

/**
 * struct cxxvm_table - ids 1..@max naming a file's objects (cxxvm_table.c)
 * @slots: @slots[id] is what id names, NULL if it is free
 * @used: bit id set while id is given out; bit 0 always set
 * @size: slots in @slots and bits in @used (0 until the first id), at most
 *	@max + 1
 * @max: highest id
 * @next: every id below it is given out (fs/file.c's next_fd)
 * @lock: held around every call but init and destroy
 */
struct cxxvm_table {
	void **slots;
	unsigned long *used;
	u32 size;
	u32 max;
	u32 next;
	struct mutex *lock;	/* see @lock above */
};

void cxxvm_table_init(struct cxxvm_table *t, u32 max, struct mutex *lock);
int __must_check cxxvm_table_alloc_slow(struct cxxvm_table *t, void *p, u32 *id);
u32 cxxvm_table_next(struct cxxvm_table *t, u32 id);
void cxxvm_table_destroy(struct cxxvm_table *t);

/*
 * The calls of every map and unmap are inline: each out-of-line call and
 * return on SUBMIT's per-operation path was a measurable share of a
 * one-page map+unmap under TCG (cxxvm_table.c).
 */

/**
 * cxxvm_table_alloc() - give @p the lowest free id.
 * @t: the table
 * @p: what the id names (not NULL: a bug, -EINVAL)
 * @id: out: the id, 1..max
 *
 * The lowest free id, as xa_alloc() and alloc_fd() give: a map+unmap
 * cycle gets the same handle every time.  Inline when @t->next is free
 * and within the table (then it is the lowest free id); otherwise
 * cxxvm_table_alloc_slow() searches, and grows the table by doubling.  The
 * table never shrinks before cxxvm_table_destroy().
 * Context: process context; t->lock held.  May sleep when the table
 * grows (GFP_KERNEL_ACCOUNT; might_sleep() there, not on the inline path,
 * where it would be a call on voluntary-preemption kernels).
 * Return: 0; -ENOSPC if ids 1..max are all given out; -ENOMEM (the table
 * is as it was).
 */
static inline int __must_check cxxvm_table_alloc(struct cxxvm_table *t, void *p, u32 *id)
{
	u32 i = t->next;

	lockdep_assert_held(t->lock);
	if (likely(p && i < t->size && !test_bit(i, t->used))) {
		__set_bit(i, t->used);
		t->slots[i] = p;
		t->next = i + 1;
		*id = i;
		return 0;
	}
	return cxxvm_table_alloc_slow(t, p, id);
}

/**
 * cxxvm_table_lookup() - what id @id names.
 * @t: the table
 * @id: any value
 *
 * Context: process context; t->lock held.
 * Return: the pointer, or NULL if @id is not given out (0 and ids past the
 * table included).
 */
static inline void *cxxvm_table_lookup(struct cxxvm_table *t, u64 id)
{
	lockdep_assert_held(t->lock);
	if (id >= t->size)
		return NULL;
	return t->slots[array_index_nospec(id, (u64)t->size)];
}

/**
 * cxxvm_table_remove() - take @id back; it is the lowest free id again if
 * none below it is free.
 * @t: the table
 * @id: an id given out, or any other value (then nothing happens)
 *
 * Context: process context; t->lock held.
 * Return: what @id named, or NULL if it was not given out.
 */
static inline void *cxxvm_table_remove(struct cxxvm_table *t, u64 id)
{
	void *p = cxxvm_table_lookup(t, id);

	if (!p)
		return NULL;
	id = array_index_nospec(id, (u64)t->size);
	t->slots[id] = NULL;
	__clear_bit(id, t->used);
	t->next = min_t(u32, t->next, id);
	return p;
}

/* Each id @id given out by @t, in increasing order, @p what it names. */
#define cxxvm_table_for_each(t, id, p)					\
	for ((id) = cxxvm_table_next(t, 1);				\
	     (id) < (t)->size && ((p) = (t)->slots[id], true);		\
	     (id) = cxxvm_table_next(t, (id) + 1))

/**
 * struct cxxvm_pgmap_file - the pagemaps one open /dev/cxxvm owns
 * @lock: serialises this file's pagemap commands
 * @objs: id -> struct cxxvm_pgmap_obj; ids 1..CXXVM_MAX_PGMAPS, under @lock
 */
struct cxxvm_pgmap_file {
	struct mutex lock;	/* see @lock above */
	struct cxxvm_table objs;
};

/**
 * struct cxxvm_file - what one open /dev/cxxvm owns
 * @lock: protects @mappings, @bufs, the spare list, @map_gen, and each
 *	buffer's @maps and @purge_seq; held across a whole MAP, UNMAP or
 *	VERIFY and across SUBMIT's chunks of operations (each may sleep)
 * @mappings: handle -> struct cxxvm_mapping; 1..CXXVM_MAX_HANDLES
 * @bufs: id -> struct cxxvm_buf; 1..CXXVM_MAX_BUFS
 * @spare_mappings: unused mapping structs, linked through their @buf
 * @nr_spare_mappings: how many
 * @map_gen: mappings made so far (wrapping, never 0): each one's generation
 * @pgmaps: the file's pagemaps (cxxvm_pgmap.c)
 */
struct cxxvm_file {
	struct mutex lock;	/* see @lock above */
	struct cxxvm_table mappings;
	struct cxxvm_table bufs;
	struct cxxvm_mapping *spare_mappings;
	u32 nr_spare_mappings;
	u32 map_gen;
	struct cxxvm_pgmap_file pgmaps;
};

/* cxxvm_arena.c: the module's arena and its parameters. */
extern struct cxxvm_arena *cxxvm_arena;
extern unsigned int cxxvm_lazy_max_pages;
extern unsigned int cxxvm_max_blocks;
extern bool cxxvm_caller_purge;
int cxxvm_arena_init(void);
void cxxvm_arena_exit(void);
u32 cxxvm_arena_takeover_block_pages(void);
int cxxvm_arena_create_takeover(struct cxxvm_arena **out);
struct dentry *cxxvm_debugfs_dir(void);

/* cxxvm_takeover.c: vm_map_ram() of the kernel's callers, served by cxx. */
enum {
	CXXVM_TAKEOVER_OFF,
	CXXVM_TAKEOVER_OBSERVE,
	CXXVM_TAKEOVER_ON,
	CXXVM_TAKEOVER_SPLIT,
};
extern struct cxxvm_arena *cxxvm_takeover_arena;
int cxxvm_takeover_set(int mode);
int cxxvm_takeover_init(struct dentry *parent);
void cxxvm_takeover_exit(void);

/* cxxvm_buf.c */
int cxxvm_backend_map(u32 backend, struct page **pages, const u64 *pfns, u32 nr, void **va);
/* cxxvm_backend_unmap() after a failed C++ unmap: never free the pages. */
#define CXXVM_SEQ_NEVER	U64_MAX
u64 cxxvm_backend_unmap(u32 backend, void *va, u32 nr);
int cxxvm_pages_alloc(struct page **pages, u64 *pfns, u32 nr, gfp_t gfp);
void cxxvm_pages_release(struct page **pages, u32 nr, u64 seq);
u64 cxxvm_leaked_pages(void);
void cxxvm_reap_retired(bool all);
u64 cxxvm_retired_pages(void);
u64 cxxvm_live_mappings(void);
u64 cxxvm_live_pages(void);
void cxxvm_buf_file_init(struct cxxvm_file *f);
void cxxvm_buf_file_release(struct cxxvm_file *f);

/* cxxvm_pgmap.c */
int cxxvm_pgmap_init(struct cxxvm_arena *arena);
void cxxvm_pgmap_exit(void);
void cxxvm_pgmap_reserved_mem(u64 *start, u64 *size);
void cxxvm_pgmap_file_init(struct cxxvm_pgmap_file *pf);
void cxxvm_pgmap_file_release(struct cxxvm_pgmap_file *pf);

/* cxxvm_pattern.c */
bool cxxvm_check_pattern(u64 *dst, const u64 *src, size_t bytes, u32 seed,
			 u32 page, u32 dir);

/*
 * The ioctl handlers of the table in cxxvm_dev.c.  Each gets the file and
 * the command's struct in kernel memory, copied in and zero-extended, with
 * the row's check already passed; it fills in the outputs, which the table
 * copies back.  Return: 0 or -errno as include/uapi/linux/cxxvm.h says.
 * Context: process context, may sleep; no lock held.
 */
int cxxvm_ioctl_map(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_unmap(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_verify(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_flush(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_bench(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_replay(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_buf_create(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_buf_destroy(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_submit(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_create(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_destroy(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_get(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_put(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_check(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_memremap(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_vmap(struct cxxvm_file *f, void *kdata);
int cxxvm_ioctl_pgmap_bench(struct cxxvm_file *f, void *kdata);

/*
 * A command that creates something the caller must name makes it pending:
 * no other command finds it until its outputs have been copied back.  Then
 * the table calls the row's commit, or, if the copy faulted, its undo
 * (include/uapi/linux/cxxvm.h: "nothing is left that the caller cannot
 * name"), which therefore cannot hit anything else.
 * Context: process context, may sleep; no lock held.
 */
void cxxvm_commit_map(struct cxxvm_file *f, void *kdata);
void cxxvm_commit_buf_create(struct cxxvm_file *f, void *kdata);
void cxxvm_commit_pgmap_create(struct cxxvm_file *f, void *kdata);
void cxxvm_commit_pgmap_get(struct cxxvm_file *f, void *kdata);
void cxxvm_undo_map(struct cxxvm_file *f, void *kdata);
void cxxvm_undo_buf_create(struct cxxvm_file *f, void *kdata);
void cxxvm_undo_pgmap_create(struct cxxvm_file *f, void *kdata);
void cxxvm_undo_pgmap_get(struct cxxvm_file *f, void *kdata);

/*
 * Argument checks of the table rows, on the copied-in struct: only what
 * needs no state (flags, reserved fields, counts, enums).
 * Return: 0, -EINVAL, -ENOENT (a handle that cannot exist) or -ERANGE (a
 * pfn range past the end of physical address space).  Context: any.
 */
int cxxvm_check_map(const void *kdata);
int cxxvm_check_unmap(const void *kdata);
int cxxvm_check_verify(const void *kdata);
int cxxvm_check_flush(const void *kdata);
int cxxvm_check_bench(const void *kdata);
int cxxvm_check_replay(const void *kdata);
int cxxvm_check_buf_create(const void *kdata);
int cxxvm_check_buf_destroy(const void *kdata);
int cxxvm_check_submit(const void *kdata);
int cxxvm_check_pgmap_create(const void *kdata);
int cxxvm_check_pgmap_destroy(const void *kdata);
int cxxvm_check_pgmap_get(const void *kdata);
int cxxvm_check_pgmap_put(const void *kdata);
int cxxvm_check_pgmap_check(const void *kdata);
int cxxvm_check_memremap(const void *kdata);
int cxxvm_check_pgmap_vmap(const void *kdata);
int cxxvm_check_pgmap_bench(const void *kdata);

/* True if @len bytes at @p are all zero. */
static inline bool cxxvm_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

#endif /* CXXVM_INTERNAL_H */
