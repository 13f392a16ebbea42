// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_dev.c - /dev/cxxvm: the misc device, its files and the ioctl table.
 *
 * One table row per command of include/uapi/linux/cxxvm.h, in the model of
 * drm_ioctl() and dma_heap_ioctl(): the row gives the struct's first size,
 * whether CAP_SYS_ADMIN is needed, the argument check, the handler and
 * what undoes the handler's work when the outputs cannot be copied back.
 * cxxvm_ioctl() applies the rules of the header's top comment to every
 * command, so that adding a command takes the header, one row and a
 * handler.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"
#include "cxxvm_platform.h"
#include "cxxvm_probes.h"

/* The sizes of ABI 3 and 4; a change is an ABI change (and a new command number). */
static_assert(sizeof(struct cxxvm_info) == 80);	/* 64 before reserved_mem */
static_assert(sizeof(struct cxxvm_map) == 40);
static_assert(sizeof(struct cxxvm_unmap) == 32);
static_assert(sizeof(struct cxxvm_verify) == 40);
static_assert(sizeof(struct cxxvm_flush) == 32);
static_assert(sizeof(struct cxxvm_stats) == 184);	/* 176 before leaked_pages */
static_assert(sizeof(struct cxxvm_bench) == 104);
static_assert(sizeof(struct cxxvm_buf_create) == 32);
static_assert(sizeof(struct cxxvm_buf_destroy) == 32);
static_assert(sizeof(struct cxxvm_op) == 64);
static_assert(sizeof(struct cxxvm_submit) == 40);
static_assert(sizeof(struct cxxvm_pgmap_create) == 192);
static_assert(sizeof(struct cxxvm_pgmap_destroy) == 32);
static_assert(sizeof(struct cxxvm_pgmap_ref) == 48);
static_assert(sizeof(struct cxxvm_pgmap_check) == 56);
static_assert(sizeof(struct cxxvm_memremap) == 48);
static_assert(sizeof(struct cxxvm_pgmap_vmap) == 48);
static_assert(sizeof(struct cxxvm_pgmap_bench) == 64);
static_assert(sizeof(struct cxxvm_replay) == 136);	/* ABI 4 */
static_assert(sizeof(struct cxxvm_replay_op) == 16);
/* VMAP_MAX_ALLOC in mm/vmalloc.c: the largest vm_map_ram() block request. */
static_assert(CXXVM_MAX_PAGES <= BITS_PER_LONG);

/* Every command's struct, in kernel memory, for one ioctl. */
union cxxvm_ioctl_args {
	struct cxxvm_info info;
	struct cxxvm_map map;
	struct cxxvm_unmap unmap;
	struct cxxvm_verify verify;
	struct cxxvm_flush flush;
	struct cxxvm_stats stats;
	struct cxxvm_bench bench;
	struct cxxvm_buf_create buf_create;
	struct cxxvm_buf_destroy buf_destroy;
	struct cxxvm_submit submit;
	struct cxxvm_replay replay;
	struct cxxvm_pgmap_create pgmap_create;
	struct cxxvm_pgmap_destroy pgmap_destroy;
	struct cxxvm_pgmap_ref pgmap_ref;
	struct cxxvm_pgmap_check pgmap_check;
	struct cxxvm_memremap memremap;
	struct cxxvm_pgmap_vmap pgmap_vmap;
	struct cxxvm_pgmap_bench pgmap_bench;
};

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

static int cxxvm_ioctl_info(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_info *info = kdata;

	*info = (struct cxxvm_info){
		.abi_version = CXXVM_ABI_VERSION,
		.nr_backends = CXXVM_NR_BACKENDS,
		.max_pages = CXXVM_MAX_PAGES,
		.page_size = PAGE_SIZE,
		.block_pages = CXXVM_BLOCK_PAGES,
		.lazy_max_pages = cxxvm_lazy_max_pages,
		.max_bench_iterations = CXXVM_MAX_BENCH_ITERATIONS,
		.max_blocks = cxxvm_max_blocks,
		.features = cxxvm_features(),
		.tlb_flush = cxxvm_plat_tlb_flush(),
		.purge = cxxvm_caller_purge ? CXXVM_PURGE_CALLER : CXXVM_PURGE_WORKER,
		.max_buf_pages = CXXVM_MAX_BUF_PAGES,
		.max_submit_ops = CXXVM_MAX_SUBMIT_OPS,
	};
	cxxvm_pgmap_reserved_mem(&info->reserved_mem_start, &info->reserved_mem_size);
	return 0;
}

static int cxxvm_ioctl_stats(struct cxxvm_file *f, void *kdata)
{
	struct cxxvm_stats *st = kdata;
	struct cxxvm_arena_stats as;

	cxxvm_arena_get_stats(cxxvm_arena, &as);
	*st = (struct cxxvm_stats){
		.live_mappings = cxxvm_live_mappings(),
		.live_pages = cxxvm_live_pages(),
		.blocks_created = as.blocks_created,
		.blocks_live = as.blocks_live,
		.shootdowns = as.shootdowns,
		.dirty_pages = as.dirty_pages,
		.mapped_pages = as.mapped_pages,
		.retired_pages = cxxvm_retired_pages(),
		.blocks_freed = as.blocks_freed,
		.purges = as.purges,
		.steals = as.steals,
		.borrows = as.borrows,
		.purge_ns = as.purge_ns,
		.shootdown_ns = as.shootdown_ns,
		.caller_purges = as.caller_purges,
		.worker_purges = as.worker_purges,
		.purge_waits = as.purge_waits,
		.purge_wait_ns = as.purge_wait_ns,
		.lock_contended = as.lock_contended,
		.lock_wait_ns = as.lock_wait_ns,
		.reserve_ns = as.reserve_ns,
		.release_ns = as.release_ns,
		.leaked_pages = cxxvm_leaked_pages(),
	};
	return 0;
}

/* Row flags: who may call; when outputs go back. */
#define CXXVM_IOCF_ADMIN	BIT(0)	/* needs CAP_SYS_ADMIN */
#define CXXVM_IOCF_OUT_ON_EIO	BIT(1)	/* outputs go back on -EIO too */

/**
 * struct cxxvm_ioctl_desc - one command of the table
 * @cmd: the command as this module defines it (_IOC_SIZE: its struct)
 * @min_size: the struct's size in the command's first ABI; smaller is
 *	-EINVAL
 * @flags: CXXVM_IOCF_*
 * @check: argument check that needs no state, or NULL
 * @fn: the handler
 * @commit: makes what a successful @fn created (pending until then, found
 *	by no other command) the file's, once the outputs reached the caller
 * @undo: undoes a successful @fn whose outputs could not be copied back;
 *	both NULL if @fn makes nothing the caller must name
 */
struct cxxvm_ioctl_desc {
	unsigned int cmd;
	unsigned int min_size;
	unsigned int flags;
	int (*check)(const void *kdata);
	int (*fn)(struct cxxvm_file *f, void *kdata);
	void (*commit)(struct cxxvm_file *f, void *kdata);
	void (*undo)(struct cxxvm_file *f, void *kdata);
};

#define CXXVM_IOCTL(_cmd, _min, _flags, _check, _fn)			\
	[_IOC_NR(CXXVM_IOC_##_cmd)] = {					\
		.cmd = CXXVM_IOC_##_cmd, .min_size = (_min),		\
		.flags = (_flags), .check = (_check), .fn = (_fn),	\
	}
/* A command that creates something: its commit and undo are named after it. */
#define CXXVM_IOCTL_CREATES(_cmd, _min, _flags, _name)			\
	[_IOC_NR(CXXVM_IOC_##_cmd)] = {					\
		.cmd = CXXVM_IOC_##_cmd, .min_size = (_min),		\
		.flags = (_flags), .check = cxxvm_check_##_name,	\
		.fn = cxxvm_ioctl_##_name, .commit = cxxvm_commit_##_name, \
		.undo = cxxvm_undo_##_name,				\
	}

#define A CXXVM_IOCF_ADMIN
static const struct cxxvm_ioctl_desc cxxvm_ioctls[] = {
	CXXVM_IOCTL(INFO, 64, 0, NULL, cxxvm_ioctl_info),
	CXXVM_IOCTL_CREATES(MAP, 40, A, map),
	CXXVM_IOCTL(UNMAP, 32, A, cxxvm_check_unmap, cxxvm_ioctl_unmap),
	CXXVM_IOCTL(VERIFY, 40, A | CXXVM_IOCF_OUT_ON_EIO, cxxvm_check_verify,
		    cxxvm_ioctl_verify),
	CXXVM_IOCTL(FLUSH, 32, A, cxxvm_check_flush, cxxvm_ioctl_flush),
	CXXVM_IOCTL(STATS, 176, 0, NULL, cxxvm_ioctl_stats),
	CXXVM_IOCTL(BENCH, 104, A, cxxvm_check_bench, cxxvm_ioctl_bench),
	CXXVM_IOCTL_CREATES(BUF_CREATE, 32, A, buf_create),
	CXXVM_IOCTL(BUF_DESTROY, 32, A, cxxvm_check_buf_destroy, cxxvm_ioctl_buf_destroy),
	CXXVM_IOCTL(SUBMIT, 40, A, cxxvm_check_submit, cxxvm_ioctl_submit),
	CXXVM_IOCTL(REPLAY, 136, A, cxxvm_check_replay, cxxvm_ioctl_replay),
	CXXVM_IOCTL_CREATES(PGMAP_CREATE, 192, A, pgmap_create),
	CXXVM_IOCTL(PGMAP_DESTROY, 32, A, cxxvm_check_pgmap_destroy, cxxvm_ioctl_pgmap_destroy),
	CXXVM_IOCTL_CREATES(PGMAP_GET, 48, A, pgmap_get),
	CXXVM_IOCTL(PGMAP_PUT, 48, A, cxxvm_check_pgmap_put, cxxvm_ioctl_pgmap_put),
	CXXVM_IOCTL(PGMAP_CHECK, 56, A, cxxvm_check_pgmap_check, cxxvm_ioctl_pgmap_check),
	CXXVM_IOCTL(MEMREMAP, 48, A, cxxvm_check_memremap, cxxvm_ioctl_memremap),
	CXXVM_IOCTL(PGMAP_VMAP, 48, A, cxxvm_check_pgmap_vmap, cxxvm_ioctl_pgmap_vmap),
	CXXVM_IOCTL(PGMAP_BENCH, 64, A, cxxvm_check_pgmap_bench, cxxvm_ioctl_pgmap_bench),
};
#undef A

/* The row of @cmd's number, or NULL: no such command, or another type. */
static const struct cxxvm_ioctl_desc *cxxvm_ioctl_desc(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd);
	const struct cxxvm_ioctl_desc *d;

	if (_IOC_TYPE(cmd) != CXXVM_IOC_MAGIC || nr >= ARRAY_SIZE(cxxvm_ioctls))
		return NULL;
	d = &cxxvm_ioctls[array_index_nospec(nr, ARRAY_SIZE(cxxvm_ioctls))];
	return d->fn ? d : NULL;
}

/**
 * cxxvm_ioctl_check() - the argument check of @cmd's table row.
 * @cmd: a CXXVM_IOC_* command
 * @kdata: its struct, at the module's size
 *
 * For KUnit: every command's checks through the table the ioctl uses.
 * Context: any.
 * Return: 0 (also for a command without a check), the check's -errno, or
 * -ENOTTY for an unknown command.
 */
int cxxvm_ioctl_check(unsigned int cmd, const void *kdata)
{
	const struct cxxvm_ioctl_desc *d = cxxvm_ioctl_desc(cmd);

	if (!d || d->cmd != cmd)
		return -ENOTTY;
	return d->check ? d->check(kdata) : 0;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_ioctl_check);

static long cxxvm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct cxxvm_ioctl_desc *d = cxxvm_ioctl_desc(cmd);
	struct cxxvm_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	unsigned int usize = _IOC_SIZE(cmd), ksize;
	union cxxvm_ioctl_args kdata;
	int ret;

	if (!d || _IOC_DIR(cmd) != _IOC_DIR(d->cmd))
		return -ENOTTY;
	if ((d->flags & CXXVM_IOCF_ADMIN) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	ksize = _IOC_SIZE(d->cmd);
	if (WARN_ON_ONCE(ksize > sizeof(kdata)))
		return -ENOTTY;
	if (usize < d->min_size)
		return -EINVAL;
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		/* Zero-extends a smaller struct; -E2BIG for a non-zero tail. */
		ret = copy_struct_from_user(&kdata, ksize, uarg, usize);
		if (ret)
			return ret;
	} else {
		memset(&kdata, 0, ksize);
	}
	if (d->check) {
		ret = d->check(&kdata);
		if (ret)
			return ret;
	}
	ret = d->fn(f, &kdata);
	if (ret && !(ret == -EIO && (d->flags & CXXVM_IOCF_OUT_ON_EIO)))
		return ret;
	if ((_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(uarg, &kdata, min(usize, ksize))) {
		if (!ret && d->undo)
			d->undo(f, &kdata);
		return -EFAULT;
	}
	if (!ret && d->commit)
		d->commit(f, &kdata);
	return ret;
}

static int cxxvm_open(struct inode *inode, struct file *file)
{
	struct cxxvm_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	cxxvm_buf_file_init(f);
	cxxvm_pgmap_file_init(&f->pgmaps);
	file->private_data = f;
	return 0;
}

static int cxxvm_release(struct inode *inode, struct file *file)
{
	struct cxxvm_file *f = file->private_data;

	/* Pagemaps first: their pages may be mapped through the arena. */
	cxxvm_pgmap_file_release(&f->pgmaps);
	cxxvm_buf_file_release(f);
	kfree(f);
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

static int __init cxxvm_init(void)
{
	int ret;

	ret = cxxvm_platform_init();
	if (ret)
		return ret;
	ret = cxxvm_arena_init();
	if (ret)
		goto platform_exit;
	ret = cxxvm_pgmap_init(cxxvm_arena);
	if (ret)
		goto arena_exit;
	ret = misc_register(&cxxvm_miscdev);
	if (ret)
		goto pgmap_exit;
	/* Last: once hooked, the kernel's callers may reach the module. */
	ret = cxxvm_takeover_init(cxxvm_debugfs_dir());
	if (ret)
		goto misc_exit;
	pr_info("loaded: ABI %u, lazy_max_pages=%u, max_blocks=%u, TLB flush %s, purge by %s\n",
		CXXVM_ABI_VERSION, cxxvm_lazy_max_pages, cxxvm_max_blocks,
		cxxvm_plat_tlb_flush_method(cxxvm_plat_tlb_flush()),
		cxxvm_caller_purge ? "the caller" : "a worker");
	return 0;

misc_exit:
	misc_deregister(&cxxvm_miscdev);
pgmap_exit:
	cxxvm_pgmap_exit();
arena_exit:
	cxxvm_arena_exit();
platform_exit:
	cxxvm_platform_exit();
	return ret;
}

static void __exit cxxvm_exit(void)
{
	cxxvm_takeover_exit();
	misc_deregister(&cxxvm_miscdev);
	cxxvm_pgmap_exit();
	cxxvm_arena_exit();
	cxxvm_platform_exit();
}

module_init(cxxvm_init);
module_exit(cxxvm_exit);

MODULE_DESCRIPTION("cxxvm: a C++ vmap block allocator beside vm_map_ram");
MODULE_AUTHOR("cxxvm developers");
MODULE_LICENSE("GPL");
