// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_pgmap.c - pagemaps through /dev/cxxvm: the C++ pagemap tracker
 * beside the kernel's memremap layer.
 *
 * Every pagemap a file creates is registered in the module's tracker.  With
 * CXXVM_PGMAP_REAL it is also a real MEMORY_DEVICE_GENERIC dev_pagemap from
 * memremap_pages() over the memory the administrator gave the module
 * (reserved_mem=SIZE@START, reserved with memmap=SIZE$START), so that the
 * tracker's answers can be held against get_dev_pagemap()'s and ZONE_DEVICE
 * pages can be mapped through the C++ vmap allocator.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include <linux/cxxvm.h>
#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_probes.h"

/* The UAPI's, the tracker's and the kernel's numbers for one thing agree. */
static_assert(CXXVM_PGMAP_MAX_RANGES == CXXVM_CORE_PGMAP_MAX_RANGES);
static_assert(CXXVM_PGMAP_PRIVATE == CXXVM_CORE_PGMAP_PRIVATE);
static_assert(CXXVM_PGMAP_PRIVATE == MEMORY_DEVICE_PRIVATE);
static_assert(CXXVM_PGMAP_COHERENT == CXXVM_CORE_PGMAP_COHERENT);
static_assert(CXXVM_PGMAP_COHERENT == MEMORY_DEVICE_COHERENT);
static_assert(CXXVM_PGMAP_FS_DAX == CXXVM_CORE_PGMAP_FS_DAX);
static_assert(CXXVM_PGMAP_FS_DAX == MEMORY_DEVICE_FS_DAX);
static_assert(CXXVM_PGMAP_GENERIC == CXXVM_CORE_PGMAP_GENERIC);
static_assert(CXXVM_PGMAP_GENERIC == MEMORY_DEVICE_GENERIC);
static_assert(CXXVM_PGMAP_PCI_P2PDMA == CXXVM_CORE_PGMAP_PCI_P2PDMA);
static_assert(CXXVM_PGMAP_PCI_P2PDMA == MEMORY_DEVICE_PCI_P2PDMA);
static_assert(CXXVM_MEMREMAP_WB == MEMREMAP_WB);
static_assert(CXXVM_MEMREMAP_WT == MEMREMAP_WT);
static_assert(CXXVM_MEMREMAP_WC == MEMREMAP_WC);

/* Ranges the module's tracker holds. */
#define CXXVM_TRACKER_RANGES	1024
/* Largest CXXVM_IOC_MEMREMAP and CXXVM_IOC_PGMAP_BENCH. */
#define CXXVM_MAX_MEMREMAP	(64UL << 20)
#define CXXVM_MAX_LOOKUPS	(1u << 20)

static struct cxxvm_tracker *cxxvm_tracker;
static struct cxxvm_arena *cxxvm_pgmap_arena;

static char *cxxvm_reserved_mem_param;
module_param_named(reserved_mem, cxxvm_reserved_mem_param, charp, 0444);
MODULE_PARM_DESC(reserved_mem,
		 "SIZE@START: memory reserved with memmap=SIZE$START that MEMREMAP and real pagemaps may use (none without it)");

/*
 * The memory reserved_mem= names, claimed (not busy, so that MEMREMAP and
 * real pagemaps claim their parts of it under it) while the module lives.
 * Nothing outside it is ever written: firmware also marks memory
 * "reserved" (ACPI tables, chipset MMIO), so "reserved" alone is no
 * permission.
 */
static struct resource cxxvm_reserved_res = {
	.name = "cxxvm reserved_mem",
	.flags = IORESOURCE_MEM,
};
static bool cxxvm_reserved_claimed;

/**
 * struct cxxvm_pgmap_obj - one pagemap of a file
 * @owner: the file
 * @id: its handle in @owner
 * @tm: the tracker's pagemap
 * @flags: CXXVM_PGMAP_*
 * @pending: created by a PGMAP_CREATE whose outputs have not reached the
 *	caller yet: no command of the file finds it (so that undoing the
 *	create cannot hit anything else)
 * @user_refs: references taken with CXXVM_IOC_PGMAP_GET and not yet put
 * @pending_refs: references of GETs whose outputs have not reached the
 *	caller yet (PUT cannot drop them)
 * @first_data_pfn: the first pfn past the altmap (or the first range's)
 * @nr_ranges: ranges
 * @ranges: the ranges
 * @res: REAL: the claimed regions, one per range
 * @pgmap: REAL: the kernel's pagemap
 */
struct cxxvm_pgmap_obj {
	struct cxxvm_pgmap_file *owner;
	u32 id;
	struct cxxvm_pgmap *tm;
	u32 flags;
	bool pending;
	u64 user_refs;
	u64 pending_refs;
	u64 first_data_pfn;
	u32 nr_ranges;
	struct cxxvm_pfn_range ranges[CXXVM_PGMAP_MAX_RANGES];
	struct resource *res[CXXVM_PGMAP_MAX_RANGES];
	struct dev_pagemap *pgmap;
};

/*
 * get_dev_pagemap(pfn, hint) on every kernel.  It lost its hint in 6.18 (a
 * feature probe decides: module/probes/); there the hint's reference is put
 * and @pfn looked up in full, as 6.18's callers do.
 */
static struct dev_pagemap *cxxvm_get_dev_pagemap_hint(unsigned long pfn,
						      struct dev_pagemap *hint)
{
#ifdef CXXVM_HAVE_GET_DEV_PAGEMAP_PFN_ONLY
	if (hint)
		put_dev_pagemap(hint);
	return get_dev_pagemap(pfn);
#else
	return get_dev_pagemap(pfn, hint);
#endif
}

static struct dev_pagemap *cxxvm_get_dev_pagemap(unsigned long pfn)
{
	return cxxvm_get_dev_pagemap_hint(pfn, NULL);
}

/*
 * The kernel's answer for @pfn, its reference already put: a pointer to
 * compare, never to use.  NULL if no live pagemap holds @pfn.
 */
static struct dev_pagemap *cxxvm_kernel_answer(u64 pfn)
{
	struct dev_pagemap *pgmap = cxxvm_get_dev_pagemap(pfn);

	if (pgmap)
		put_dev_pagemap(pgmap);
	return pgmap;
}

/* Does a kernel pagemap hold any of @nr pfns from @first? */
static bool cxxvm_kernel_pagemap_in(u64 first, u64 nr)
{
	u64 pfn;

	for (pfn = first; pfn < first + nr; pfn++) {
		if (cxxvm_kernel_answer(pfn))
			return true;
		if (pfn % 4096 == 0)
			cond_resched();
	}
	return false;
}

static phys_addr_t cxxvm_range_phys(const struct cxxvm_pfn_range *r)
{
	return PFN_PHYS(r->start_pfn);
}

static u64 cxxvm_range_bytes(const struct cxxvm_pfn_range *r)
{
	return PFN_PHYS(r->nr_pages);
}

/* Is all of [phys, phys + size) in the memory reserved_mem= gave us? */
static bool cxxvm_given_memory(phys_addr_t phys, u64 size)
{
	const struct resource *r = &cxxvm_reserved_res;

	return cxxvm_reserved_claimed && size && phys >= r->start && phys <= r->end &&
	       size - 1 <= r->end - phys;
}

/*
 * The pages an altmap's free must offer for the memmap of @r: x86's
 * vmemmap_populate() takes it in PMD-sized blocks, the first aligned up from
 * base + reserve (altmap_alloc_block_buf()).
 */
static u64 cxxvm_memmap_pages(const struct cxxvm_pfn_range *r, u64 reserve)
{
	u64 blocks = DIV_ROUND_UP(r->nr_pages * sizeof(struct page), PMD_SIZE);
	u64 next = r->start_pfn + reserve;

	return blocks * PTRS_PER_PMD + ALIGN(next, PTRS_PER_PMD) - next;
}

/*
 * @arg as the tracker's description, its ranges in @cr (room for
 * CXXVM_PGMAP_MAX_RANGES), for @cookie.
 */
static struct cxxvm_pgmap_desc cxxvm_pgmap_desc_of(const struct cxxvm_pgmap_create *arg,
						   struct cxxvm_core_range *cr, uintptr_t cookie)
{
	u32 i, n = min_t(u32, arg->nr_ranges, CXXVM_PGMAP_MAX_RANGES);

	for (i = 0; i < n; i++)
		cr[i] = (struct cxxvm_core_range){ arg->ranges[i].start_pfn,
						   arg->ranges[i].nr_pages };
	return (struct cxxvm_pgmap_desc){
		.type = arg->type,
		.nr_ranges = arg->nr_ranges,
		.has_altmap = !!(arg->flags & CXXVM_PGMAP_ALTMAP),
		.ranges = cr,
		.altmap_reserve = arg->altmap_reserve,
		.altmap_free = arg->altmap_free,
		.cookie = cookie,
	};
}

/**
 * cxxvm_check_pgmap_create() - argument checks of CXXVM_IOC_PGMAP_CREATE
 * @kdata: struct cxxvm_pgmap_create, copied in
 *
 * Three layers, each checked once: the ABI's rules here (flags, reserved
 * fields, unused ranges zero, altmap fields only with CXXVM_PGMAP_ALTMAP,
 * REAL only for GENERIC); the pagemap itself (type, range count, empty,
 * overlapping or out-of-bounds ranges, an altmap that does not fit) by
 * the C++ tracker, cxxvm_tracker_check_desc(); and what the kernel's
 * memremap_pages() needs of a REAL one (whole subsections, PAGES_PER_SUBSECTION
 * pages: 2 MiB on x86-64; an altmap that holds the memmap).  Kernel state
 * (System RAM, reservations, other pagemaps) is the handler's.
 * Context: any.
 * Return: 0, -EINVAL, or -ERANGE for a range past the end of physical
 * address space.
 */
int cxxvm_check_pgmap_create(const void *kdata)
{
	const struct cxxvm_pgmap_create *arg = kdata;
	struct cxxvm_core_range cr[CXXVM_PGMAP_MAX_RANGES];
	struct cxxvm_pgmap_desc desc;
	u32 i;
	int ret;

	if ((arg->flags & ~CXXVM_PGMAP_FLAGS) || arg->reserved0 ||
	    !cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	for (i = arg->nr_ranges; i < CXXVM_PGMAP_MAX_RANGES; i++)
		if (arg->ranges[i].start_pfn || arg->ranges[i].nr_pages)
			return -EINVAL;
	if (!(arg->flags & CXXVM_PGMAP_ALTMAP) && (arg->altmap_reserve || arg->altmap_free))
		return -EINVAL;
	if ((arg->flags & CXXVM_PGMAP_REAL) && arg->type != CXXVM_PGMAP_GENERIC)
		return -EINVAL;

	desc = cxxvm_pgmap_desc_of(arg, cr, 0);
	ret = cxxvm_tracker_check_desc(&desc);
	if (ret || !(arg->flags & CXXVM_PGMAP_REAL))
		return ret;

	/* Memory hotplug WARNs on a span that is not whole subsections. */
	for (i = 0; i < arg->nr_ranges; i++)
		if (!IS_ALIGNED(arg->ranges[i].start_pfn | arg->ranges[i].nr_pages,
				PAGES_PER_SUBSECTION))
			return -EINVAL;
	if ((arg->flags & CXXVM_PGMAP_ALTMAP) &&
	    arg->altmap_free < cxxvm_memmap_pages(&arg->ranges[0], arg->altmap_reserve))
		return -EINVAL;
	return 0;
}

/* Undo cxxvm_pgmap_make_real(). */
static void cxxvm_pgmap_unmake_real(struct cxxvm_pgmap_obj *o)
{
	u32 i;

	if (o->pgmap) {
		struct dev_pagemap *pgmap = o->pgmap;

		WRITE_ONCE(o->pgmap, NULL);
		memunmap_pages(pgmap);
		kfree(pgmap);
	}
	for (i = 0; i < o->nr_ranges; i++) {
		if (o->res[i])
			release_mem_region(o->res[i]->start, resource_size(o->res[i]));
		o->res[i] = NULL;
	}
}

/*
 * CXXVM_PGMAP_REAL: claim the reserved regions and memremap_pages() them as
 * one MEMORY_DEVICE_GENERIC pagemap, checking first everything that would
 * make memremap_pages() WARN (another pagemap at any of the pfns, memory
 * that is not reserved).
 */
static int cxxvm_pgmap_make_real(struct cxxvm_pgmap_obj *o, const struct cxxvm_pgmap_create *arg)
{
	struct dev_pagemap *pgmap;
	void *addr;
	u32 i;

	for (i = 0; i < o->nr_ranges; i++) {
		const struct cxxvm_pfn_range *r = &o->ranges[i];

		if (!cxxvm_given_memory(cxxvm_range_phys(r), cxxvm_range_bytes(r)))
			return -ENXIO;
		if (cxxvm_kernel_pagemap_in(r->start_pfn, r->nr_pages))
			return -EBUSY;
	}
	for (i = 0; i < o->nr_ranges; i++) {
		o->res[i] = request_mem_region(cxxvm_range_phys(&o->ranges[i]),
					       cxxvm_range_bytes(&o->ranges[i]), "cxxvm pagemap");
		if (!o->res[i]) {
			cxxvm_pgmap_unmake_real(o);
			return -EBUSY;
		}
	}
	pgmap = kzalloc(struct_size(pgmap, ranges, o->nr_ranges - 1), GFP_KERNEL);
	if (!pgmap) {
		cxxvm_pgmap_unmake_real(o);
		return -ENOMEM;
	}
	pgmap->type = MEMORY_DEVICE_GENERIC;
	pgmap->nr_range = o->nr_ranges;
	for (i = 0; i < o->nr_ranges; i++) {
		pgmap->ranges[i].start = cxxvm_range_phys(&o->ranges[i]);
		pgmap->ranges[i].end = pgmap->ranges[i].start + cxxvm_range_bytes(&o->ranges[i]) - 1;
	}
	if (o->flags & CXXVM_PGMAP_ALTMAP) {
		/* end_pfn and reserve are const in struct vmem_altmap. */
		struct vmem_altmap altmap = {
			.base_pfn = o->ranges[0].start_pfn,
			.end_pfn = o->ranges[0].start_pfn + o->ranges[0].nr_pages - 1,
			.reserve = arg->altmap_reserve,
			.free = arg->altmap_free,
		};

		memcpy(&pgmap->altmap, &altmap, sizeof(altmap));
		pgmap->flags |= PGMAP_ALTMAP_VALID;
	}
	addr = memremap_pages(pgmap, NUMA_NO_NODE);
	if (IS_ERR(addr)) {
		kfree(pgmap);
		cxxvm_pgmap_unmake_real(o);
		return PTR_ERR(addr);
	}
	/* Read by other files' CHECK through the tracker: see cxxvm_tracker_answer(). */
	WRITE_ONCE(o->pgmap, pgmap);
	return 0;
}

/*
 * Free a pagemap that is out of its file's table: put the file's references,
 * wait for other files' lookups to drain (unregister), then tear down the
 * kernel's pagemap.  Nobody can take a new reference: it was killed before
 * it left the table (or the file is being released).
 */
static void cxxvm_pgmap_obj_free(struct cxxvm_pgmap_obj *o)
{
	cxxvm_tracker_kill(cxxvm_tracker, o->tm);
	for (; o->user_refs; o->user_refs--)
		cxxvm_tracker_put(o->tm);
	for (; o->pending_refs; o->pending_refs--)
		cxxvm_tracker_put(o->tm);
	cxxvm_tracker_unregister(cxxvm_tracker, o->tm);
	cxxvm_pgmap_unmake_real(o);
	kfree(o);
}

/**
 * cxxvm_ioctl_pgmap_create() - CXXVM_IOC_PGMAP_CREATE
 * @f: the file
 * @kdata: struct cxxvm_pgmap_create, checked
 *
 * Context: process context, may sleep; takes the file's pagemap lock.
 * Return: 0 or -errno as include/uapi/linux/cxxvm.h says.
 */
int cxxvm_ioctl_pgmap_create(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_core_range cr[CXXVM_PGMAP_MAX_RANGES];
	struct cxxvm_pgmap_create *arg = kdata;
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_desc desc;
	struct cxxvm_pgmap_obj *o;
	u32 i;
	int ret;

	might_sleep();
	for (i = 0; i < arg->nr_ranges; i++)
		if (region_intersects(cxxvm_range_phys(&arg->ranges[i]),
				      cxxvm_range_bytes(&arg->ranges[i]),
				      IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) != REGION_DISJOINT)
			return -ENXIO;

	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o)
		return -ENOMEM;
	o->owner = pf;
	o->flags = arg->flags;
	o->nr_ranges = arg->nr_ranges;
	memcpy(o->ranges, arg->ranges, sizeof(o->ranges));
	desc = cxxvm_pgmap_desc_of(arg, cr, (uintptr_t)o);
	o->first_data_pfn = arg->ranges[0].start_pfn + arg->altmap_reserve + arg->altmap_free;

	mutex_lock(&pf->lock);
	/* The tracker first: it rejects overlaps without touching the kernel. */
	ret = cxxvm_tracker_register(cxxvm_tracker, &desc, &o->tm);
	if (ret)
		goto unlock_free;
	if (arg->flags & CXXVM_PGMAP_REAL) {
		ret = cxxvm_pgmap_make_real(o, arg);
		if (ret)
			goto unregister;
	}
	o->pending = true;
	ret = cxxvm_table_alloc(&pf->objs, o, &o->id);
	if (ret)
		goto unmake;
	arg->handle = o->id;
	arg->first_data_pfn = o->first_data_pfn;
	mutex_unlock(&pf->lock);
	return 0;

unmake:
	/* As cxxvm_pgmap_obj_free(): lookups stop finding it first. */
	cxxvm_tracker_kill(cxxvm_tracker, o->tm);
	cxxvm_pgmap_unmake_real(o);
unregister:
	cxxvm_tracker_unregister(cxxvm_tracker, o->tm);
unlock_free:
	mutex_unlock(&pf->lock);
	kfree(o);
	return ret;
}

/* The common part of the checks: no flags, zero reserved fields. */
#define CXXVM_NO_FLAGS_RESERVED(arg)						\
	((arg)->flags || (arg)->reserved0 ||					\
	 !cxxvm_zeroed((arg)->reserved, sizeof((arg)->reserved)) ? -EINVAL : 0)

int cxxvm_check_pgmap_destroy(const void *kdata)
{
	return CXXVM_NO_FLAGS_RESERVED((const struct cxxvm_pgmap_destroy *)kdata);
}

/* GET: @pfn in (@handle and @refs out). */
int cxxvm_check_pgmap_get(const void *kdata)
{
	return CXXVM_NO_FLAGS_RESERVED((const struct cxxvm_pgmap_ref *)kdata);
}

/* PUT: @handle in, @pfn unused (zero), @refs out. */
int cxxvm_check_pgmap_put(const void *kdata)
{
	const struct cxxvm_pgmap_ref *arg = kdata;

	return arg->pfn ? -EINVAL : CXXVM_NO_FLAGS_RESERVED(arg);
}

int cxxvm_check_pgmap_check(const void *kdata)
{
	return CXXVM_NO_FLAGS_RESERVED((const struct cxxvm_pgmap_check *)kdata);
}

int cxxvm_check_memremap(const void *kdata)
{
	const struct cxxvm_memremap *arg = kdata;

	if (!cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (!arg->flags || (arg->flags & ~CXXVM_MEMREMAP_FLAGS))
		return -EINVAL;
	if (!arg->size || arg->size > CXXVM_MAX_MEMREMAP || !PAGE_ALIGNED(arg->size) ||
	    !PAGE_ALIGNED(arg->phys_addr) || arg->phys_addr + arg->size < arg->phys_addr)
		return -EINVAL;
	return 0;
}

int cxxvm_check_pgmap_vmap(const void *kdata)
{
	const struct cxxvm_pgmap_vmap *arg = kdata;

	if (!cxxvm_zeroed(arg->reserved, sizeof(arg->reserved)))
		return -EINVAL;
	if (cxxvm_arena_check_pages(arg->nr_pages))
		return -EINVAL;
	return 0;
}

int cxxvm_check_pgmap_bench(const void *kdata)
{
	const struct cxxvm_pgmap_bench *arg = kdata;

	if (CXXVM_NO_FLAGS_RESERVED(arg))
		return -EINVAL;
	if (arg->backend > CXXVM_LOOKUP_KERNEL || arg->mode > CXXVM_LOOKUP_HINTED ||
	    !arg->iterations || arg->iterations > CXXVM_MAX_LOOKUPS)
		return -EINVAL;
	return 0;
}

/* This file's pagemap @handle, pending ones included, or NULL. */
static struct cxxvm_pgmap_obj *cxxvm_pgmap_obj_any(struct cxxvm_pgmap_file *pf, u64 handle)
{
	return cxxvm_table_lookup(&pf->objs, handle);
}

/* This file's pagemap @handle, or NULL: what its commands may find. */
static struct cxxvm_pgmap_obj *cxxvm_pgmap_obj(struct cxxvm_pgmap_file *pf, u64 handle)
{
	struct cxxvm_pgmap_obj *o = cxxvm_pgmap_obj_any(pf, handle);

	return o && !o->pending ? o : NULL;
}

/* PGMAP_CREATE's outputs reached the caller: the pagemap is the file's. */
void cxxvm_commit_pgmap_create(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_pgmap_create *arg = kdata;
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_obj *o;

	mutex_lock(&pf->lock);
	o = cxxvm_pgmap_obj_any(pf, arg->handle);
	if (!WARN_ON_ONCE(!o || !o->pending))
		o->pending = false;
	mutex_unlock(&pf->lock);
}

/*
 * PGMAP_CREATE's outputs did not reach the caller: destroy the pagemap,
 * which nobody else could find or take a reference on meanwhile.
 */
void cxxvm_undo_pgmap_create(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_pgmap_create *arg = kdata;
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_obj *o;

	mutex_lock(&pf->lock);
	o = cxxvm_pgmap_obj_any(pf, arg->handle);
	if (WARN_ON_ONCE(!o || !o->pending))
		o = NULL;
	else
		cxxvm_table_remove(&pf->objs, o->id);
	mutex_unlock(&pf->lock);
	if (o)
		cxxvm_pgmap_obj_free(o);
}

/* PGMAP_DESTROY of @handle. */
static int cxxvm_pgmap_destroy(struct cxxvm_pgmap_file *pf, u64 handle)
{
	struct cxxvm_pgmap_obj *o;
	int ret = 0;

	mutex_lock(&pf->lock);
	o = cxxvm_pgmap_obj(pf, handle);
	if (!o) {
		ret = -ENOENT;
	} else {
		/* Under pf->lock: no GET of this file takes a reference after. */
		cxxvm_tracker_kill(cxxvm_tracker, o->tm);
		if (o->user_refs || o->pending_refs)
			ret = -EBUSY;
		else
			cxxvm_table_remove(&pf->objs, o->id);
	}
	mutex_unlock(&pf->lock);
	if (o && !ret)
		cxxvm_pgmap_obj_free(o);	/* waits for other users' lookups */
	return ret;
}

/**
 * cxxvm_ioctl_pgmap_destroy() - CXXVM_IOC_PGMAP_DESTROY
 * @f: the file
 * @kdata: struct cxxvm_pgmap_destroy, checked
 *
 * Context: process context, may sleep (waits for other files' lookups).
 * Return: 0, -ENOENT or -EBUSY.
 */
int cxxvm_ioctl_pgmap_destroy(struct cxxvm_file *f, void *kdata)
{
	const struct cxxvm_pgmap_destroy *arg = kdata;

	might_sleep();
	return cxxvm_pgmap_destroy(&f->pgmaps, arg->handle);
}

int cxxvm_ioctl_pgmap_get(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_ref *arg = kdata;
	struct cxxvm_pgmap_obj *o = NULL;
	struct cxxvm_pgmap *m;

	might_sleep();
	mutex_lock(&pf->lock);
	m = cxxvm_tracker_lookup(cxxvm_tracker, arg->pfn, NULL);
	if (m) {
		o = (struct cxxvm_pgmap_obj *)cxxvm_tracker_cookie(m);
		/* Somebody else's, or (a bug) one that has left our table. */
		if (o->owner != pf || cxxvm_pgmap_obj(pf, o->id) != o) {
			cxxvm_tracker_put(m);
			o = NULL;
		}
	}
	if (o) {
		o->pending_refs++;
		arg->handle = o->id;
		arg->refs = o->user_refs + o->pending_refs;
	}
	mutex_unlock(&pf->lock);
	return o ? 0 : -ENOENT;
}

/* GET's commit (@keep) or undo: the reference is the file's, or put. */
static void cxxvm_pgmap_get_done(struct cxxvm_file *f, const struct cxxvm_pgmap_ref *arg,
				 bool keep)
{
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_obj *o;

	mutex_lock(&pf->lock);
	/* A pending reference keeps the pagemap in the table (DESTROY: -EBUSY). */
	o = cxxvm_pgmap_obj(pf, arg->handle);
	if (!WARN_ON_ONCE(!o || !o->pending_refs)) {
		o->pending_refs--;
		if (keep)
			o->user_refs++;
		else
			cxxvm_tracker_put(o->tm);
	}
	mutex_unlock(&pf->lock);
}

void cxxvm_commit_pgmap_get(struct cxxvm_file *f, void *kdata)
{
	cxxvm_pgmap_get_done(f, kdata, true);
}

void cxxvm_undo_pgmap_get(struct cxxvm_file *f, void *kdata)
{
	cxxvm_pgmap_get_done(f, kdata, false);
}

int cxxvm_ioctl_pgmap_put(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_ref *arg = kdata;
	struct cxxvm_pgmap_obj *o;
	int ret = 0;

	might_sleep();
	mutex_lock(&pf->lock);
	o = cxxvm_pgmap_obj(pf, arg->handle);
	if (!o) {
		ret = -ENOENT;
	} else if (!o->user_refs) {
		ret = -EINVAL;
	} else {
		cxxvm_tracker_put(o->tm);
		arg->refs = --o->user_refs;
	}
	mutex_unlock(&pf->lock);
	return ret;
}

/* The tracker's answer for @pfn as the kernel's pagemap, or NULL. */
static struct dev_pagemap *cxxvm_tracker_answer(u64 pfn)
{
	struct cxxvm_pgmap *m = cxxvm_tracker_lookup(cxxvm_tracker, pfn, NULL);
	struct dev_pagemap *pgmap;

	if (!m)
		return NULL;
	pgmap = READ_ONCE(((struct cxxvm_pgmap_obj *)cxxvm_tracker_cookie(m))->pgmap);
	cxxvm_tracker_put(m);
	/* A pagemap only the tracker knows: never the kernel's answer. */
	return pgmap ?: ERR_PTR(-ENXIO);
}

/* Compare both answers over @o's ranges and one pfn either side. */
static void cxxvm_pgmap_check_one(struct cxxvm_pgmap_obj *o, struct cxxvm_pgmap_check *arg)
{
	u32 i;
	u64 pfn;

	for (i = 0; i < o->nr_ranges; i++) {
		const struct cxxvm_pfn_range *r = &o->ranges[i];

		u64 first = r->start_pfn ? r->start_pfn - 1 : 0;

		for (pfn = first; pfn <= r->start_pfn + r->nr_pages; pfn++) {
			if (cxxvm_kernel_answer(pfn) != cxxvm_tracker_answer(pfn)) {
				if (!arg->mismatches++)
					arg->first_mismatch_pfn = pfn;
			}
			arg->pfns_checked++;
			if (pfn % 4096 == 0)
				cond_resched();
		}
	}
}

int cxxvm_ioctl_pgmap_check(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_check *arg = kdata;
	struct cxxvm_pgmap_obj *o;
	int ret = 0;
	u32 id;

	might_sleep();
	arg->pfns_checked = 0;
	arg->mismatches = 0;
	arg->first_mismatch_pfn = ~0ULL;
	mutex_lock(&pf->lock);
	if (arg->handle) {
		o = cxxvm_pgmap_obj(pf, arg->handle);
		if (!o)
			ret = -ENOENT;
		else if (!o->pgmap)
			ret = -EINVAL;
		else
			cxxvm_pgmap_check_one(o, arg);
	} else {
		cxxvm_table_for_each(&pf->objs, id, o)
			if (o->pgmap && !o->pending)
				cxxvm_pgmap_check_one(o, arg);	/* pf->lock: stable */
	}
	mutex_unlock(&pf->lock);
	return ret;
}

/*
 * CXXVM_IOC_MEMREMAP: reserved_mem= only (nothing else is safe to scribble
 * on), claimed for the duration, outside every pagemap (whose
 * memtype memremap_pages() fixed to WB: a WT or WC mapping would conflict).
 */
int cxxvm_ioctl_memremap(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_memremap *arg = kdata;
	struct resource *res;
	void *va;
	u64 pfn;
	int ret = 0;

	might_sleep();
	arg->bytes_checked = 0;
	if (!cxxvm_given_memory(arg->phys_addr, arg->size))
		return -ENXIO;
	for (pfn = PHYS_PFN(arg->phys_addr); pfn < PHYS_PFN(arg->phys_addr + arg->size); pfn++)
		if (cxxvm_tracker_answer(pfn))
			return -EBUSY;
	if (cxxvm_kernel_pagemap_in(PHYS_PFN(arg->phys_addr), PHYS_PFN(arg->size)))
		return -EBUSY;
	res = request_mem_region(arg->phys_addr, arg->size, "cxxvm memremap");
	if (!res)
		return -EBUSY;
	/* memremap() tries WB, then WT, then WC, of those given. */
	va = memremap(arg->phys_addr, arg->size, arg->flags);
	if (!va) {
		ret = -ENOMEM;
		goto release;
	}
	if (cxxvm_check_pattern(va, va, arg->size, arg->seed, 0, 0))
		arg->bytes_checked = arg->size;
	else
		ret = -EIO;
	memunmap(va);
release:
	release_mem_region(arg->phys_addr, arg->size);
	return ret;
}

/*
 * CXXVM_IOC_PGMAP_VMAP: ZONE_DEVICE pages through the C++ allocator against
 * the same memory through memremap(MEMREMAP_WB), both ways.  The arena is
 * flushed before returning: no TLB may keep a translation to the device
 * pages once the call is over (the pagemap may go next).
 */
int cxxvm_ioctl_pgmap_vmap(struct cxxvm_file *f, void *kdata)
{
	u64 pfns[CXXVM_MAX_PAGES], seq;
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_vmap *arg = kdata;
	struct cxxvm_pgmap_obj *o;
	uintptr_t addr;
	phys_addr_t phys;
	u64 data_pages;
	void *wb;
	u32 i;
	int ret;

	might_sleep();
	arg->pages_checked = 0;
	mutex_lock(&pf->lock);
	o = cxxvm_pgmap_obj(pf, arg->handle);
	if (!o) {
		ret = -ENOENT;
		goto unlock;
	}
	data_pages = o->ranges[0].start_pfn + o->ranges[0].nr_pages - o->first_data_pfn;
	ret = -EINVAL;
	if (!o->pgmap || arg->offset > data_pages || arg->nr_pages > data_pages - arg->offset)
		goto unlock;
	for (i = 0; i < arg->nr_pages; i++)
		pfns[i] = o->first_data_pfn + arg->offset + i;
	phys = PFN_PHYS(pfns[0]);
	wb = memremap(phys, PFN_PHYS(arg->nr_pages), MEMREMAP_WB);
	ret = -ENOMEM;
	if (!wb)
		goto unlock;
	ret = cxxvm_arena_map(cxxvm_pgmap_arena, pfns, arg->nr_pages, &addr);
	if (ret)
		goto unmap_wb;
	if (cxxvm_check_pattern((u64 *)addr, wb, PFN_PHYS(arg->nr_pages), arg->seed, 0, 0) &&
	    cxxvm_check_pattern(wb, (u64 *)addr, PFN_PHYS(arg->nr_pages), arg->seed, 0, 1))
		arg->pages_checked = arg->nr_pages;
	else
		ret = -EIO;
	WARN_ON_ONCE(cxxvm_arena_unmap(cxxvm_pgmap_arena, addr, arg->nr_pages, &seq));
	cxxvm_arena_purge_now(cxxvm_pgmap_arena);
unmap_wb:
	memunmap(wb);
unlock:
	mutex_unlock(&pf->lock);
	return ret;
}

/* xorshift64: cheap pfns for the bench (get_random_u32() costs µs here). */
static u64 cxxvm_xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The @k-th pfn of the union of @objs' ranges, in order. */
static u64 cxxvm_nth_pfn(struct cxxvm_pgmap_obj **objs, u32 n, u64 k)
{
	u32 i, r;

	for (i = 0; i < n; i++) {
		for (r = 0; r < objs[i]->nr_ranges; r++) {
			if (k < objs[i]->ranges[r].nr_pages)
				return objs[i]->ranges[r].start_pfn + k;
			k -= objs[i]->ranges[r].nr_pages;
		}
	}
	return 0;
}

static u64 cxxvm_lookup_loop(u32 backend, u32 mode, const u64 *pfns, u32 n)
{
	u64 hits = 0;
	u32 i;

	if (backend == CXXVM_LOOKUP_TRACKER && mode == CXXVM_LOOKUP_RANDOM) {
		for (i = 0; i < n; i++) {
			struct cxxvm_pgmap *m = cxxvm_tracker_lookup(cxxvm_tracker, pfns[i], NULL);

			if (m) {
				hits++;
				cxxvm_tracker_put(m);
			}
		}
	} else if (backend == CXXVM_LOOKUP_TRACKER) {
		struct cxxvm_pgmap *m = NULL;

		for (i = 0; i < n; i++) {
			m = cxxvm_tracker_lookup(cxxvm_tracker, pfns[i], m);
			hits += !!m;
		}
		cxxvm_tracker_put(m);
	} else if (mode == CXXVM_LOOKUP_RANDOM) {
		for (i = 0; i < n; i++) {
			struct dev_pagemap *p = cxxvm_get_dev_pagemap(pfns[i]);

			if (p) {
				hits++;
				put_dev_pagemap(p);
			}
		}
	} else {
		struct dev_pagemap *p = NULL;

		for (i = 0; i < n; i++) {
			p = cxxvm_get_dev_pagemap_hint(pfns[i], p);
			hits += !!p;
		}
		if (p)
			put_dev_pagemap(p);
	}
	return hits;
}

int cxxvm_ioctl_pgmap_bench(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_pgmap_obj *objs[CXXVM_MAX_PGMAPS], *o;
	struct cxxvm_pgmap_file *pf = &f->pgmaps;
	struct cxxvm_pgmap_bench *arg = kdata;
	u64 total = 0, seed, k, t0;
	u32 n = 0, i, r, id;
	u64 *pfns;
	int ret = 0;

	might_sleep();
	pfns = kvmalloc_array(arg->iterations, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	mutex_lock(&pf->lock);
	cxxvm_table_for_each(&pf->objs, id, o) {
		if (!o->pgmap || o->pending)
			continue;
		objs[n++] = o;
		for (r = 0; r < o->nr_ranges; r++)
			total += o->ranges[r].nr_pages;
	}
	if (!n) {
		ret = -ENOENT;
		goto out;
	}
	seed = arg->seed | 1ULL << 40;
	for (i = 0, k = 0; i < arg->iterations; i++, k = (k + 1) % total) {
		u64 j = arg->mode == CXXVM_LOOKUP_RANDOM ? cxxvm_xorshift(&seed) % total : k;

		pfns[i] = cxxvm_nth_pfn(objs, n, j);
		if (i % 4096 == 0)
			cond_resched();
	}
	t0 = ktime_get_ns();
	arg->hits = cxxvm_lookup_loop(arg->backend, arg->mode, pfns, arg->iterations);
	arg->elapsed_ns = ktime_get_ns() - t0;
	arg->pagemaps = n;
out:
	mutex_unlock(&pf->lock);
	kvfree(pfns);
	return ret;
}

/** cxxvm_pgmap_file_init() - a file with no pagemaps.  Context: any. */
void cxxvm_pgmap_file_init(struct cxxvm_pgmap_file *pf)
{
	mutex_init(&pf->lock);
	cxxvm_table_init(&pf->objs, CXXVM_MAX_PGMAPS, &pf->lock);
}

/**
 * cxxvm_pgmap_file_release() - put the file's references, destroy its
 * pagemaps.
 * @pf: the file's pagemaps
 *
 * Context: process context, may sleep (waits for other files' lookups).
 */
void cxxvm_pgmap_file_release(struct cxxvm_pgmap_file *pf)
{
	struct cxxvm_pgmap_obj *o;
	u32 id;

	/* One at a time: a pagemap is freed without pf->lock, as DESTROY does. */
	mutex_lock(&pf->lock);
	while ((id = cxxvm_table_next(&pf->objs, 1)) < pf->objs.size) {
		o = cxxvm_table_remove(&pf->objs, id);
		mutex_unlock(&pf->lock);
		cxxvm_pgmap_obj_free(o);
		mutex_lock(&pf->lock);
	}
	mutex_unlock(&pf->lock);
	cxxvm_table_destroy(&pf->objs);
	mutex_destroy(&pf->lock);
}

/* walk_iomem_res_desc() callback: a busy resource in reserved_mem=. */
static int cxxvm_reserved_busy(struct resource *res, void *param)
{
	pr_err("reserved_mem=%s: %pR is claimed\n", (const char *)param, res);
	return 1;
}

/*
 * walk_iomem_res_desc() callback over the "Reserved" parts of the range,
 * in address order: 1 at a gap before @res, else *@next moves past it.
 */
static int cxxvm_reserved_step(struct resource *res, void *next)
{
	u64 *n = next;

	if (res->start > *n)
		return 1;
	*n = max_t(u64, *n, (u64)res->end + 1);
	return 0;
}

/*
 * Parse reserved_mem=SIZE@START (memparse() suffixes; '$' as memmap=
 * writes it is taken too) and claim it: all of it must be reserved memory
 * (e820 "Reserved", as memmap=SIZE$START makes it) that nobody has claimed.
 */
static int cxxvm_reserved_mem_claim(void)
{
	const char *p = cxxvm_reserved_mem_param;
	struct resource *r = &cxxvm_reserved_res;
	u64 size, start, next;
	char *end;

	if (!p || !*p)
		return 0;
	size = memparse(p, &end);
	if (*end != '@' && *end != '$')
		goto syntax;
	start = memparse(end + 1, &end);
	if (*end && *end != '\n')
		goto syntax;
	if (!size || !PAGE_ALIGNED(size) || !PAGE_ALIGNED(start) || start + size < start ||
	    start + size - 1 > (u64)PHYS_ADDR_MAX) {
		pr_err("reserved_mem=%s: size and start must be whole pages, size not 0\n", p);
		return -EINVAL;
	}
	/*
	 * Nothing but "Reserved" in it (region_intersects()), and "Reserved"
	 * all of it: region_intersects() does not see holes, the walk does
	 * (it returns -EINVAL when it finds nothing, 1 at a gap).
	 */
	next = start;
	if (region_intersects(start, size, IORESOURCE_MEM, IORES_DESC_RESERVED) !=
	    REGION_INTERSECTS ||
	    walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, start, start + size - 1,
				&next, cxxvm_reserved_step) != 0 ||
	    next != start + size) {
		pr_err("reserved_mem=%s: not all reserved memory (boot with memmap=SIZE$START)\n",
		       p);
		return -ENXIO;
	}
	/*
	 * Claim first, then look for a busy part: whoever claims a part
	 * later nests under us, whoever did before is found.  Claimed means
	 * busy: the e820 "Reserved" ranges themselves are not.
	 */
	r->start = start;
	r->end = start + size - 1;
	if (insert_resource(&iomem_resource, r)) {
		pr_err("reserved_mem=%s: straddles a region of the resource tree\n", p);
		return -EBUSY;
	}
	if (walk_iomem_res_desc(IORES_DESC_NONE, IORESOURCE_MEM | IORESOURCE_BUSY, start,
				start + size - 1, (void *)p, cxxvm_reserved_busy) == 1) {
		remove_resource(r);
		return -EBUSY;
	}
	cxxvm_reserved_claimed = true;
	return 0;
syntax:
	pr_err("reserved_mem=%s: expected SIZE@START, as in reserved_mem=256M@0x30000000\n", p);
	return -EINVAL;
}

/**
 * cxxvm_pgmap_reserved_mem() - the memory reserved_mem= gave the module.
 * @start: physical address (bytes)
 * @size: bytes; 0 (and @start 0) without the parameter
 *
 * Context: any.
 */
void cxxvm_pgmap_reserved_mem(u64 *start, u64 *size)
{
	*start = cxxvm_reserved_claimed ? cxxvm_reserved_res.start : 0;
	*size = cxxvm_reserved_claimed ? resource_size(&cxxvm_reserved_res) : 0;
}

/**
 * cxxvm_pgmap_init() - claim reserved_mem= and create the module's tracker.
 * @arena: the C++ vmap arena CXXVM_IOC_PGMAP_VMAP maps through
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL for a reserved_mem= that is not SIZE@START in whole
 * pages, -ENXIO if not all of it is reserved memory, -EBUSY if someone
 * has claimed part of it; -ENOMEM.
 */
int cxxvm_pgmap_init(struct cxxvm_arena *arena)
{
	int ret;

	might_sleep();
	ret = cxxvm_reserved_mem_claim();
	if (ret)
		return ret;
	cxxvm_pgmap_arena = arena;
	ret = cxxvm_tracker_create(CXXVM_TRACKER_RANGES, &cxxvm_tracker);
	if (ret && cxxvm_reserved_claimed) {
		remove_resource(&cxxvm_reserved_res);
		cxxvm_reserved_claimed = false;
	}
	return ret;
}

/**
 * cxxvm_pgmap_exit() - every file is closed: free the tracker, give back
 * reserved_mem=.
 *
 * Context: process context.
 */
void cxxvm_pgmap_exit(void)
{
	WARN_ON(cxxvm_tracker_destroy(cxxvm_tracker));
	if (cxxvm_reserved_claimed) {
		WARN_ON(remove_resource(&cxxvm_reserved_res));
		cxxvm_reserved_claimed = false;
	}
}
