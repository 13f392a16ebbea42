/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_pgmap.h - the pagemap half of /dev/cxxvm (cxxvm_pgmap.c).
 */
#ifndef CXXVM_PGMAP_H
#define CXXVM_PGMAP_H

#include <linux/mutex.h>
#include <linux/xarray.h>

struct cxxvm_arena;

/**
 * struct cxxvm_pgmap_file - the pagemaps one open /dev/cxxvm owns
 * @lock: serialises this file's pagemap commands
 * @objs: id -> struct cxxvm_pgmap_obj; ids 1..CXXVM_MAX_PGMAPS
 */
struct cxxvm_pgmap_file {
	struct mutex lock;	/* see @lock above */
	struct xarray objs;
};

int cxxvm_pgmap_init(struct cxxvm_arena *arena);
void cxxvm_pgmap_exit(void);
void cxxvm_pgmap_file_init(struct cxxvm_pgmap_file *pf);
void cxxvm_pgmap_file_release(struct cxxvm_pgmap_file *pf);
long cxxvm_pgmap_ioctl(struct cxxvm_pgmap_file *pf, unsigned int cmd,
		       void __user *uarg);

/* From cxxvm_main.c: VERIFY's content check, shared by MEMREMAP and VMAP. */
bool cxxvm_check_pattern(u64 *dst, const u64 *src, size_t bytes, u32 seed,
			 u32 page, u32 dir);

#endif /* CXXVM_PGMAP_H */
