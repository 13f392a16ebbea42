// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_test - functional selftests of /dev/cxxvm, on the kernel's
 * kselftest harness (TAP output, one forked child per test).
 *
 * Runs as root inside a test guest with cxxvm.ko loaded.  The module-wide
 * counters (CXXVM_IOC_STATS) are used to show that nothing leaks, so no
 * other client may use the device meanwhile.  guest-check.sh loads the
 * module with a small lazy_max_pages and max_blocks, so that purges, slot
 * reuse and a full arena happen all the time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include <linux/cxxvm.h>
#include "cxxvm_reserved.h"
#include "cxxvm_util.h"
#include "kselftest_harness.h"

static int cxxvm_open(void)
{
	return open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

static int map_pages(int fd, __u32 backend, __u32 nr, __u64 *handle)
{
	struct cxxvm_map m = { .backend = backend, .nr_pages = nr };
	int ret = xioctl(fd, CXXVM_IOC_MAP, &m);

	*handle = m.handle;
	return ret;
}

static int unmap_handle(int fd, __u64 handle)
{
	struct cxxvm_unmap u = { .handle = handle };

	return xioctl(fd, CXXVM_IOC_UNMAP, &u);
}

static struct cxxvm_stats read_stats(struct __test_metadata *_metadata, int fd)
{
	struct cxxvm_stats st;

	memset(&st, 0xff, sizeof(st));
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_STATS, &st));
	return st;
}

static int buf_create(int fd, __u32 nr, __u64 *id)
{
	/* id is an out field: what it holds on input does not matter. */
	struct cxxvm_buf_create c = { .nr_pages = nr, .id = ~0ull };
	int ret = xioctl(fd, CXXVM_IOC_BUF_CREATE, &c);

	*id = c.id;
	return ret;
}

static int buf_destroy(int fd, __u64 id)
{
	struct cxxvm_buf_destroy d = { .id = id };

	return xioctl(fd, CXXVM_IOC_BUF_DESTROY, &d);
}

/* Map pages [off, off + nr) of buffer @buf. */
static int map_buf(int fd, __u32 backend, __u64 buf, __u32 off, __u32 nr, __u64 *handle)
{
	struct cxxvm_map m = {
		.backend = backend, .nr_pages = nr, .flags = CXXVM_MAP_BUF,
		.buf = buf, .buf_offset = off,
	};
	int ret = xioctl(fd, CXXVM_IOC_MAP, &m);

	*handle = m.handle;
	return ret;
}

/* VERIFY @handle; *checked: pages_checked (written back on -EIO too). */
static int verify_handle(int fd, __u64 handle, __u32 seed, __u32 *checked)
{
	struct cxxvm_verify v = { .handle = handle, .seed = seed };
	int ret = xioctl(fd, CXXVM_IOC_VERIFY, &v);

	*checked = v.pages_checked;
	return ret;
}

/* SUBMIT @nr ops; *nr_done: the nr_done written back (~0 if none was). */
static int submit(int fd, struct cxxvm_op *ops, __u32 nr, __u32 flags, __u32 *nr_done)
{
	struct cxxvm_submit s = {
		.ops = (uintptr_t)ops, .nr_ops = nr, .op_size = sizeof(*ops),
		.flags = flags, .nr_done = ~0u,
	};
	int ret = xioctl(fd, CXXVM_IOC_SUBMIT, &s);

	*nr_done = s.nr_done;
	return ret;
}

TEST(device_info)
{
	struct cxxvm_info info;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	memset(&info, 0xff, sizeof(info));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_INFO, &info));
	EXPECT_EQ(CXXVM_ABI_VERSION, info.abi_version);
	EXPECT_EQ(CXXVM_NR_BACKENDS, info.nr_backends);
	EXPECT_EQ(64, info.max_pages);
	EXPECT_EQ(getpagesize(), info.page_size);
	EXPECT_EQ(512, info.block_pages);
	EXPECT_LE(64, info.lazy_max_pages);
	EXPECT_LE(1, info.max_blocks);
	EXPECT_EQ(0, info.features & ~(CXXVM_FEAT_GET_DEV_PAGEMAP_HINT | CXXVM_FEAT_INVLPGB));
	EXPECT_LE(CXXVM_TLB_FLUSH_KERNEL, info.tlb_flush);
	EXPECT_GE(CXXVM_TLB_FLUSH_CR4_PGE, info.tlb_flush);
	EXPECT_LE(CXXVM_PURGE_WORKER, info.purge);
	EXPECT_GE(CXXVM_PURGE_CALLER, info.purge);
	EXPECT_EQ(65536, info.max_buf_pages);
	EXPECT_EQ(1024, info.max_submit_ops);
	for (unsigned int i = 0; i < ARRAY_SIZE(info.reserved); i++)
		EXPECT_EQ(0, info.reserved[i]);
	/* reserved_mem=: whole pages, or nothing at all. */
	EXPECT_EQ(0, info.reserved_mem_start % 4096);
	EXPECT_EQ(0, info.reserved_mem_size % 4096);
	if (!info.reserved_mem_size)
		EXPECT_EQ(0, info.reserved_mem_start);
	close(fd);
}

FIXTURE(mapping) {
	int fd;
};

FIXTURE_VARIANT(mapping) {
	__u32 backend;
	__u32 nr_pages;
};

#define MAPPING_VARIANT(be, name, n)					\
	FIXTURE_VARIANT_ADD(mapping, name##_##n) {			\
		.backend = CXXVM_BACKEND_##be, .nr_pages = n,		\
	}

MAPPING_VARIANT(CXX, cxx, 1);
MAPPING_VARIANT(CXX, cxx, 3);
MAPPING_VARIANT(CXX, cxx, 16);
MAPPING_VARIANT(CXX, cxx, 64);
MAPPING_VARIANT(VM_MAP_RAM, vm_map_ram, 1);
MAPPING_VARIANT(VM_MAP_RAM, vm_map_ram, 3);
MAPPING_VARIANT(VM_MAP_RAM, vm_map_ram, 16);
MAPPING_VARIANT(VM_MAP_RAM, vm_map_ram, 64);
MAPPING_VARIANT(VMAP, vmap, 1);
MAPPING_VARIANT(VMAP, vmap, 3);
MAPPING_VARIANT(VMAP, vmap, 16);
MAPPING_VARIANT(VMAP, vmap, 64);

FIXTURE_SETUP(mapping)
{
	self->fd = cxxvm_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(mapping)
{
	close(self->fd);
}

/* map -> verify -> unmap, and the handle is gone afterwards. */
TEST_F(mapping, map_verify_unmap)
{
	struct cxxvm_verify v = { .seed = 0x5eed0000 + variant->nr_pages };
	__u64 h;

	ASSERT_EQ(0, map_pages(self->fd, variant->backend, variant->nr_pages, &h));
	/* An id, not a kernel address. */
	EXPECT_LE(1, h);
	EXPECT_GE(65536, h);

	v.handle = h;
	ASSERT_EQ(0, xioctl(self->fd, CXXVM_IOC_VERIFY, &v));
	EXPECT_EQ(variant->nr_pages, v.pages_checked);
	EXPECT_EQ(~0u, v.bad_page);

	ASSERT_EQ(0, unmap_handle(self->fd, h));
	EXPECT_EQ(-ENOENT, unmap_handle(self->fd, h));
	EXPECT_EQ(-ENOENT, xioctl(self->fd, CXXVM_IOC_VERIFY, &v));
}

/* Several live mappings at once, each still right after the others. */
TEST_F(mapping, many_live_then_verify)
{
	enum { N = 40 };
	__u64 h[N];
	int i;

	for (i = 0; i < N; i++)
		ASSERT_EQ(0, map_pages(self->fd, variant->backend,
				       variant->nr_pages, &h[i]));
	for (i = 0; i < N; i++) {
		struct cxxvm_verify v = { .handle = h[i], .seed = i };

		ASSERT_EQ(0, xioctl(self->fd, CXXVM_IOC_VERIFY, &v));
		EXPECT_EQ(variant->nr_pages, v.pages_checked);
	}
	for (i = 0; i < N; i += 2)
		ASSERT_EQ(0, unmap_handle(self->fd, h[i]));
	/* Shoot down, so that cxx reuses the freed slots; verify again. */
	ASSERT_EQ(0, xioctl(self->fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	for (i = 0; i < N; i += 2)
		ASSERT_EQ(0, map_pages(self->fd, variant->backend,
				       variant->nr_pages, &h[i]));
	for (i = 0; i < N; i++) {
		struct cxxvm_verify v = { .handle = h[i], .seed = 1000 + i };

		ASSERT_EQ(0, xioctl(self->fd, CXXVM_IOC_VERIFY, &v));
	}
}

TEST(unknown_command_is_enotty)
{
	char buf[128] = { 0 };
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IO(CXXVM_IOC_MAGIC, 0x7f), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOR('x', 0x00, struct cxxvm_info), buf));
	/* Numbers in the table's gaps and past its end. */
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x0b, struct cxxvm_map), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x0f, struct cxxvm_map), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x18, struct cxxvm_map), buf));
	/* A known number in another direction is a different command. */
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOW(CXXVM_IOC_MAGIC, 0x01, struct cxxvm_map), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOR(CXXVM_IOC_MAGIC, 0x01, struct cxxvm_map), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x00, struct cxxvm_info), buf));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x08, struct cxxvm_buf_destroy),
				  buf));
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

/* INFO as a newer tool would ask for it: 16 bytes more than ABI 3's. */
struct cxxvm_info_bigger {
	struct cxxvm_info info;
	__u8 extra[16];
};

/* MAP with a field this module does not know, after ABI 3's. */
struct cxxvm_map_bigger {
	struct cxxvm_map m;
	__u64 extra;
};

/* INFO's first version was 64 bytes: one word less is too small. */
struct cxxvm_info_smaller {
	__u32 w[15];
};

/* INFO as a tool built before reserved_mem knew it. */
struct cxxvm_info_first {
	__u32 w[16];
	__u8 extra[16];
};

/*
 * The size in the command is the struct's (copy_struct_from_user()): a
 * larger struct is fine when its tail is zero, -E2BIG otherwise; a struct
 * smaller than the command's first version is -EINVAL; outputs go back up
 * to the smaller of the two sizes.
 */
TEST(struct_sizes_are_extensible)
{
	const unsigned long info_big = _IOR(CXXVM_IOC_MAGIC, 0x00, struct cxxvm_info_bigger);
	const unsigned long map_big = _IOWR(CXXVM_IOC_MAGIC, 0x01, struct cxxvm_map_bigger);
	struct cxxvm_info_bigger ib;
	struct cxxvm_map_bigger mb;
	struct cxxvm_stats st0;
	char buf[128] = { 0 };
	__u32 checked;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	st0 = read_stats(_metadata, fd);

	memset(&ib, 0xaa, sizeof(ib));
	ASSERT_EQ(0, xioctl(fd, info_big, &ib));
	EXPECT_EQ(CXXVM_ABI_VERSION, ib.info.abi_version);
	EXPECT_EQ(CXXVM_NR_BACKENDS, ib.info.nr_backends);
	EXPECT_EQ(1024, ib.info.max_submit_ops);
	for (unsigned int i = 0; i < ARRAY_SIZE(ib.info.reserved); i++)
		EXPECT_EQ(0, ib.info.reserved[i]);
	/* The module wrote its 80 bytes and not one more. */
	for (unsigned int i = 0; i < sizeof(ib.extra); i++) {
		EXPECT_EQ(0xaa, ib.extra[i]) {
			TH_LOG("byte %u past struct cxxvm_info", i);
		}
	}
	EXPECT_EQ(-EINVAL, xioctl(fd, _IOR(CXXVM_IOC_MAGIC, 0x00, struct cxxvm_info_smaller),
				  buf));
	/* An older tool's 64 bytes: filled, and nothing past them written. */
	{
		struct cxxvm_info_first first;

		memset(&first, 0xaa, sizeof(first));
		ASSERT_EQ(0, xioctl(fd, _IOR(CXXVM_IOC_MAGIC, 0x00, __u32[16]), &first));
		EXPECT_EQ(CXXVM_ABI_VERSION, first.w[0]);
		EXPECT_EQ(0, first.w[15]);	/* reserved[2] */
		for (unsigned int i = 0; i < sizeof(first.extra); i++)
			EXPECT_EQ(0xaa, first.extra[i]);
	}

	/* A zero tail asks for nothing more: the ABI 3 MAP. */
	mb = (struct cxxvm_map_bigger){
		.m = { .backend = CXXVM_BACKEND_VMAP, .nr_pages = 2 },
	};
	ASSERT_EQ(0, xioctl(fd, map_big, &mb));
	EXPECT_LE(1, mb.m.handle);
	EXPECT_GE(65536, mb.m.handle);
	EXPECT_EQ(0, mb.extra);
	EXPECT_EQ(st0.live_mappings + 1, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, verify_handle(fd, mb.m.handle, 3, &checked));
	EXPECT_EQ(2, checked);
	EXPECT_EQ(0, unmap_handle(fd, mb.m.handle));

	/* A non-zero tail asks for something this module lacks. */
	mb = (struct cxxvm_map_bigger){
		.m = { .backend = CXXVM_BACKEND_VMAP, .nr_pages = 2 }, .extra = 1,
	};
	EXPECT_EQ(-E2BIG, xioctl(fd, map_big, &mb));
	mb.extra = 1ull << 63;
	EXPECT_EQ(-E2BIG, xioctl(fd, map_big, &mb));
	EXPECT_EQ(0, mb.m.handle);

	/* Smaller than MAP's first version (40 bytes). */
	EXPECT_EQ(-EINVAL, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x01, __u64), buf));
	EXPECT_EQ(-EINVAL, xioctl(fd, _IOWR(CXXVM_IOC_MAGIC, 0x01, struct cxxvm_unmap), buf));

	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

TEST(map_bad_fields_are_einval)
{
	struct cxxvm_map m;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
#define MAP_EINVAL(field, value) do {					\
		memset(&m, 0, sizeof(m));				\
		m.backend = CXXVM_BACKEND_CXX;				\
		m.nr_pages = 1;						\
		m.field = value;					\
		EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_MAP, &m)) {	\
			TH_LOG("map with " #field " = " #value);	\
		}							\
	} while (0)
	MAP_EINVAL(backend, CXXVM_NR_BACKENDS);
	MAP_EINVAL(backend, 0xffffffff);
	MAP_EINVAL(nr_pages, 0);
	MAP_EINVAL(nr_pages, 65);
	MAP_EINVAL(nr_pages, 0xffffffff);
	MAP_EINVAL(flags, 2);
	MAP_EINVAL(flags, CXXVM_MAP_BUF | 2);
	MAP_EINVAL(flags, 0x80000000);
	/* A buffer range without CXXVM_MAP_BUF. */
	MAP_EINVAL(buf_offset, 1);
	MAP_EINVAL(buf, 1);
	MAP_EINVAL(buf, 1ull << 63);
	MAP_EINVAL(reserved[0], 1);
	MAP_EINVAL(reserved[0], 1ull << 63);
#undef MAP_EINVAL
	/* None of the rejected calls left a mapping behind. */
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

TEST(other_bad_fields_are_einval)
{
	struct cxxvm_unmap u = { .handle = 1, .flags = 1 };
	struct cxxvm_verify v = { .handle = 1, .flags = 1 };
	struct cxxvm_flush fl = { .flags = 1u << 31 };
	struct cxxvm_bench b = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 1,
				 .iterations = 1 };
	int fd = cxxvm_open();
	__u64 h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, 1, &h));
	u.handle = h;
	v.handle = h;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_UNMAP, &u));
	u.flags = 0;
	u.reserved0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_UNMAP, &u));
	u.reserved0 = 0;
	u.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_UNMAP, &u));

	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_VERIFY, &v));
	v.flags = 0;
	v.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_VERIFY, &v));

	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	fl.flags = 0;
	fl.reserved0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_FLUSH, &fl));

	b.flags = CXXVM_BENCH_FLAGS + 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));
	b.flags = 0;
	b.iterations = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));
	b.iterations = (1u << 20) + 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));
	b.iterations = 1;
	b.nr_pages = 65;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));
	b.nr_pages = 1;
	b.backend = 3;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));
	b.backend = 0;
	b.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BENCH, &b));

	/* The mapping survived every rejected call. */
	u = (struct cxxvm_unmap){ .handle = h };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_UNMAP, &u));
	close(fd);
}

TEST(unknown_handle_is_enoent)
{
	int fd = cxxvm_open(), other = cxxvm_open();
	struct cxxvm_verify v = { 0 };
	__u64 h;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	EXPECT_EQ(-ENOENT, unmap_handle(fd, 0));
	EXPECT_EQ(-ENOENT, unmap_handle(fd, 4242));
	EXPECT_EQ(-ENOENT, unmap_handle(fd, 1ull << 40));
	EXPECT_EQ(-ENOENT, unmap_handle(fd, ~0ull));
	v.handle = 77;
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_VERIFY, &v));

	/* Handles belong to the descriptor that made them. */
	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_VMAP, 2, &h));
	EXPECT_EQ(-ENOENT, unmap_handle(other, h));
	v.handle = h;
	EXPECT_EQ(-ENOENT, xioctl(other, CXXVM_IOC_VERIFY, &v));
	EXPECT_EQ(0, unmap_handle(fd, h));
	close(other);
	close(fd);
}

TEST(bad_pointer_is_efault)
{
	void *bad = (void *)1;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_INFO, NULL));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_STATS, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_MAP, NULL));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_MAP, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_UNMAP, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_VERIFY, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_FLUSH, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_BENCH, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_BUF_CREATE, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_BUF_DESTROY, bad));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_SUBMIT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_REPLAY, bad));
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

/* Drop CAP_SYS_ADMIN from this (forked) test process's effective set. */
static int drop_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

TEST(mapping_needs_cap_sys_admin)
{
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 1 };
	struct cxxvm_unmap u = { 0 };
	struct cxxvm_verify v = { 0 };
	struct cxxvm_flush fl = { 0 };
	struct cxxvm_bench b = { .nr_pages = 1, .iterations = 1 };
	struct cxxvm_buf_create bc = { .nr_pages = 1 };
	struct cxxvm_buf_destroy bd = { 0 };
	struct cxxvm_op op = { .op = CXXVM_OP_FLUSH };
	struct cxxvm_submit s = { .ops = (uintptr_t)&op, .nr_ops = 1, .op_size = sizeof(op) };
	struct cxxvm_replay_op rop = { .op = CXXVM_REPLAY_MAP, .nr_pages = 1 };
	struct cxxvm_replay rp = { .ops = (uintptr_t)&rop, .nr_ops = 1, .nr_ids = 1, .loops = 1 };
	struct cxxvm_info info;
	int fd = cxxvm_open();
	__u64 h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, 1, &h));
	ASSERT_EQ(0, buf_create(fd, 1, &bd.id));
	ASSERT_EQ(0, drop_cap_sys_admin());
	u.handle = h;
	v.handle = h;
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_MAP, &m));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_UNMAP, &u));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_VERIFY, &v));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_BENCH, &b));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_BUF_CREATE, &bc));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_BUF_DESTROY, &bd));
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_REPLAY, &rp));
	op.result = 12345;
	EXPECT_EQ(-EPERM, xioctl(fd, CXXVM_IOC_SUBMIT, &s));
	EXPECT_EQ(12345, op.result);
	/* Reading what the module supports needs no privilege. */
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_INFO, &info));
	EXPECT_EQ(1, read_stats(_metadata, fd).live_mappings);
	/* close() as an unprivileged holder still frees the mapping. */
	close(fd);
	fd = cxxvm_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

/* A client killed with live mappings on every backend leaks nothing. */
TEST(killed_client_leaks_nothing)
{
	static const __u32 sizes[] = { 1, 3, 16, 64 };
	struct cxxvm_stats before, during, after;
	int fd = cxxvm_open(), pipefd[2], status;
	pid_t pid;
	char c;

	ASSERT_LE(0, fd);
	before = read_stats(_metadata, fd);
	ASSERT_EQ(0, pipe(pipefd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = cxxvm_open();
		__u64 h;

		if (cfd < 0)
			_exit(1);
		for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++)
			for (unsigned int i = 0; i < 4; i++)
				if (map_pages(cfd, be, sizes[i], &h))
					_exit(2);
		if (write(pipefd[1], "m", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	during = read_stats(_metadata, fd);
	EXPECT_EQ(before.live_mappings + 12, during.live_mappings);
	EXPECT_EQ(before.live_pages + 3 * (1 + 3 + 16 + 64), during.live_pages);
	EXPECT_EQ(before.mapped_pages + 1 + 4 + 16 + 64, during.mapped_pages);

	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	/*
	 * The file was released during the child's exit, before waitpid, and
	 * release shot down the cxx slots so their pages could be freed.
	 */
	after = read_stats(_metadata, fd);
	EXPECT_EQ(before.live_mappings, after.live_mappings);
	EXPECT_EQ(before.live_pages, after.live_pages);
	EXPECT_EQ(before.mapped_pages, after.mapped_pages);
	EXPECT_EQ(0, after.retired_pages);
	EXPECT_EQ(0, after.leaked_pages);
	close(pipefd[0]);
	close(fd);
}

/* Unmapped cxx slots stay dirty until a shootdown; FLUSH issues one. */
TEST(flush_shoots_down_dirty_slots)
{
	struct cxxvm_flush fl = { 0 };
	struct cxxvm_stats st0, st1, st2;
	int fd = cxxvm_open();
	__u64 h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	st0 = read_stats(_metadata, fd);
	EXPECT_EQ(0, st0.dirty_pages);

	EXPECT_EQ(0, st0.retired_pages);

	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, 3, &h));
	ASSERT_EQ(0, unmap_handle(fd, h));
	st1 = read_stats(_metadata, fd);
	EXPECT_EQ(4, st1.dirty_pages);	/* 3 pages round up to an order-2 slot */
	EXPECT_EQ(st0.shootdowns, st1.shootdowns);
	/* Not freed yet: another CPU's TLB may still map them. */
	EXPECT_EQ(3, st1.retired_pages);

	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	EXPECT_EQ(4, fl.pages_flushed);
	st2 = read_stats(_metadata, fd);
	EXPECT_EQ(0, st2.dirty_pages);
	EXPECT_EQ(0, st2.retired_pages);
	EXPECT_EQ(st1.shootdowns + 1, st2.shootdowns);

	/* Nothing dirty: a flush issues no shootdown. */
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	EXPECT_EQ(0, fl.pages_flushed);
	EXPECT_EQ(st2.shootdowns, read_stats(_metadata, fd).shootdowns);
	close(fd);
}

/*
 * CXXVM_FLUSH_RELEASE_BLOCKS returns every empty block to vmalloc (the
 * purge notifier's job); a block with a live mapping stays.  debugfs
 * cxxvm/vmap_blocks lists the blocks that are left.
 */
TEST(flush_releases_empty_blocks)
{
	struct cxxvm_flush fl = { .flags = CXXVM_FLUSH_RELEASE_BLOCKS };
	struct cxxvm_stats st;
	int fd = cxxvm_open();
	__u64 live, h;
	char line[256];
	int lines = 0;
	FILE *f;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, 1, &live));
	ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, 64, &h));
	ASSERT_EQ(0, unmap_handle(fd, h));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	st = read_stats(_metadata, fd);
	EXPECT_EQ(0, st.dirty_pages);
	/* Only this file maps cxx pages now: one block, holding @live. */
	EXPECT_EQ(1, st.blocks_live);
	EXPECT_EQ(st.blocks_created - st.blocks_live, st.blocks_freed);

	f = fopen("/sys/kernel/debug/cxxvm/vmap_blocks", "r");
	ASSERT_NE(NULL, f) TH_LOG("debugfs: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " cpu="))
			continue;
		lines++;
		EXPECT_NE(NULL, strstr(line, " live=1\n")) TH_LOG("%s", line);
	}
	fclose(f);
	EXPECT_EQ(1, lines);

	ASSERT_EQ(0, unmap_handle(fd, live));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	EXPECT_EQ(1, fl.blocks_released);
	EXPECT_EQ(0, read_stats(_metadata, fd).blocks_live);
	close(fd);
}

/* REPLAY(@ops, @n, @ids, @backend) into @r; 0 or -errno. */
static int replay(struct cxxvm_replay_op *ops, __u32 n, __u32 ids, __u32 backend,
		  struct cxxvm_replay *r)
{
	int fd = cxxvm_open(), ret;

	if (fd < 0)
		return -errno;
	*r = (struct cxxvm_replay){ .ops = (uintptr_t)ops, .nr_ops = n, .nr_ids = ids,
				    .backend = backend, .loops = 2 };
	ret = xioctl(fd, CXXVM_IOC_REPLAY, r);
	close(fd);
	return ret;
}

#define RMAP(p, i) { .op = CXXVM_REPLAY_MAP, .nr_pages = (p), .id = (i) }
#define RUNMAP(p, i) { .op = CXXVM_REPLAY_UNMAP, .nr_pages = (p), .id = (i) }

/*
 * REPLAY checks the whole trace before it runs any of it: every malformed
 * field or operation is -EINVAL, and leaves nothing mapped.
 */
TEST(replay_refuses_malformed_traces)
{
	struct cxxvm_replay_op ops[4] = { RMAP(2, 0), RMAP(3, 1), RUNMAP(2, 0), RUNMAP(3, 1) };
	static const struct {
		unsigned int at;
		struct cxxvm_replay_op op;
	} spoils[] = {
		{ 1, { 0, 3, 1, 0 } },					/* no such op */
		{ 1, { 3, 3, 1, 0 } },
		{ 1, RMAP(0, 1) },					/* no pages */
		{ 1, RMAP(CXXVM_MAX_REPLAY_PAGES + 1, 1) },
		{ 1, { CXXVM_REPLAY_MAP, 3, 1, 1 } },			/* reserved */
		{ 1, RMAP(3, 0) },					/* id 0 is live */
		{ 1, RUNMAP(3, 1) },					/* id 1 is not */
		{ 2, RUNMAP(4, 0) },					/* not its MAP's count */
		{ 3, RUNMAP(2, 0) },					/* unmapped twice */
	};
	struct cxxvm_replay_op bad[4];
	struct cxxvm_replay r;
	int fd = cxxvm_open();
	__u64 live;

	ASSERT_LE(0, fd);
	live = read_stats(_metadata, fd).live_mappings;
	ASSERT_EQ(0, replay(ops, 4, 2, CXXVM_BACKEND_CXX, &r));
	EXPECT_EQ(-EINVAL, replay(ops, 0, 2, CXXVM_BACKEND_CXX, &r));
	EXPECT_EQ(-EINVAL, replay(ops, CXXVM_MAX_REPLAY_OPS + 1, 2, CXXVM_BACKEND_CXX, &r));
	EXPECT_EQ(-EINVAL, replay(ops, 4, 0, CXXVM_BACKEND_CXX, &r));
	EXPECT_EQ(-EINVAL, replay(ops, 4, CXXVM_MAX_REPLAY_IDS + 1, CXXVM_BACKEND_CXX, &r));
	/* An id past nr_ids. */
	EXPECT_EQ(-EINVAL, replay(ops, 4, 1, CXXVM_BACKEND_CXX, &r));
	EXPECT_EQ(-EINVAL, replay(ops, 4, 2, CXXVM_NR_BACKENDS, &r));
	r = (struct cxxvm_replay){ .ops = (uintptr_t)ops, .nr_ops = 4, .nr_ids = 2,
				   .flags = CXXVM_REPLAY_FLAGS + 1 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));	/* loops = 0 too */
	r.loops = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));	/* an unknown flag */
	r.flags = 0;
	r.loops = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));
	r.loops = CXXVM_MAX_REPLAY_LOOPS + 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));
	r.loops = 1;
	r.reserved0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));
	r.reserved0 = 0;
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_REPLAY, &r));
	r.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_REPLAY, &r));
	r.reserved[1] = 0;
	r.ops = 1;
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_REPLAY, &r));

	/* One operation spoiled at a time, the rest as in ops. */
	for (unsigned int i = 0; i < ARRAY_SIZE(spoils); i++) {
		memcpy(bad, ops, sizeof(bad));
		bad[spoils[i].at] = spoils[i].op;
		EXPECT_EQ(-EINVAL, replay(bad, 4, 2, CXXVM_BACKEND_CXX, &r)) {
			TH_LOG("spoiled trace %u was accepted", i);
		}
	}
	/* 65 maps of 1024 pages: more than CXXVM_MAX_REPLAY_LIVE at once. */
	struct cxxvm_replay_op big[65];

	for (unsigned int i = 0; i < ARRAY_SIZE(big); i++)
		big[i] = (struct cxxvm_replay_op)RMAP(CXXVM_MAX_REPLAY_PAGES, i);
	EXPECT_EQ(-EINVAL, replay(big, 65, 65, CXXVM_BACKEND_VMAP, &r));
	EXPECT_EQ(0, replay(big, 8, 8, CXXVM_BACKEND_VMAP, &r));
	EXPECT_EQ(live, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

/*
 * A trace with overlapping lifetimes, every size class, a map the C++
 * arena cannot serve (65 pages: to the kernel, as the takeover does) and
 * mappings the trace leaves live, through every backend.
 */
TEST(replay_runs_a_trace_through_every_backend)
{
	struct cxxvm_replay_op ops[] = {
		RMAP(1, 0), RMAP(4, 1), RMAP(64, 2), RUNMAP(1, 0), RMAP(65, 0),
		RMAP(3, 3), RUNMAP(4, 1), RUNMAP(64, 2), RMAP(16, 1), RUNMAP(65, 0),
		RMAP(2, 2), RUNMAP(16, 1),
	};
	const __u32 n = ARRAY_SIZE(ops);
	struct cxxvm_replay r;
	int fd;

	for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
		ASSERT_EQ(0, replay(ops, n, 4, be, &r));
		EXPECT_EQ(7, r.maps);
		/* 1 + 4 + 64 - 1 + 65 + 3 = 136 pages at once. */
		EXPECT_EQ(136, r.peak_pages);
		EXPECT_LT(0, r.elapsed_ns);
		EXPECT_LT(0, r.map_ns);
		EXPECT_LT(0, r.unmap_ns);
		if (be == CXXVM_BACKEND_CXX) {
			/* The 65 pages in each of 2 loops, and any a full arena refused. */
			EXPECT_LE(2, r.fallbacks);
			EXPECT_GE(7 * 2, r.fallbacks);
			EXPECT_NE(CXXVM_BENCH_NOT_COUNTED, r.shootdowns);
			EXPECT_NE(CXXVM_BENCH_NOT_COUNTED, r.blocks_created);
			EXPECT_NE(CXXVM_BENCH_NOT_COUNTED, r.peak_va_pages);
			/*
			 * A block at least: 64 pages and its guard at the
			 * fewest (takeover_block_pages=64).
			 */
			EXPECT_LE(65, r.peak_va_pages);
		} else {
			EXPECT_EQ(0, r.fallbacks);
			EXPECT_EQ(CXXVM_BENCH_NOT_COUNTED, r.shootdowns);
			EXPECT_EQ(CXXVM_BENCH_NOT_COUNTED, r.peak_va_pages);
		}
		/* Cold: the same trace, the TLB flushed before each call of pass 2. */
		r.flags = CXXVM_REPLAY_COLD;
		r.loops = 1;
		fd = cxxvm_open();
		ASSERT_LE(0, fd);
#if defined(__x86_64__) || defined(__i386__)
		ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_REPLAY, &r));
		EXPECT_EQ(7, r.maps);
		EXPECT_EQ(136, r.peak_pages);
		EXPECT_LT(0, r.map_ns);
		EXPECT_LT(0, r.unmap_ns);
#else
		EXPECT_EQ(-EOPNOTSUPP, xioctl(fd, CXXVM_IOC_REPLAY, &r));
#endif
		close(fd);
	}
}

TEST(bench_reports_ordered_figures)
{
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
		struct cxxvm_bench b = { .backend = be, .nr_pages = 4,
					 .iterations = 200 };

		ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_BENCH, &b));
		EXPECT_LT(0, b.min_ns);
		EXPECT_LE(b.min_ns, b.p50_ns);
		EXPECT_LE(b.p50_ns, b.p99_ns);
		EXPECT_LE(b.p99_ns, b.max_ns);
		EXPECT_LT(0, b.elapsed_ns);
		if (be == CXXVM_BACKEND_CXX) {
			EXPECT_NE(CXXVM_BENCH_NOT_COUNTED, b.shootdowns);
			EXPECT_NE(CXXVM_BENCH_NOT_COUNTED, b.blocks_created);
		} else {
			EXPECT_EQ(CXXVM_BENCH_NOT_COUNTED, b.shootdowns);
		}

		/* Untimed: pass 1 only, no percentiles (stale ones cleared). */
		b = (struct cxxvm_bench){ .backend = be, .nr_pages = 4, .iterations = 200,
					  .flags = CXXVM_BENCH_UNTIMED, .min_ns = 1,
					  .p50_ns = 1, .p99_ns = 1, .max_ns = 1 };
		ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_BENCH, &b));
		EXPECT_LT(0, b.elapsed_ns);
		EXPECT_EQ(0, b.min_ns | b.p50_ns | b.p99_ns | b.max_ns);
		/* Pass 1's counters are still filled in. */
		EXPECT_EQ(be == CXXVM_BACKEND_CXX, b.shootdowns != CXXVM_BENCH_NOT_COUNTED);
	}
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Spin in userspace (no syscall, no context switch) until *v == want;
 * -ECANCELED once the other side has given up (*v == -1).
 */
static int spin_until(atomic_int *v, int want)
{
	struct timespec t0, t;
	int cur;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((cur = atomic_load(v)) != want) {
		if (cur == -1)
			return -ECANCELED;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			return -ETIMEDOUT;
	}
	return 0;
}

struct remote_ctx {
	int fd;
	int reader_cpu;
	int rounds;
	atomic_int step;
	__u64 handle;
	int err;
	const char *what;
};

/*
 * The reader, on its own CPU: map, touch the mapping (its TLB now holds
 * the translations), hand the handle over and spin in userspace while the
 * other CPU unmaps it, flushes and maps new pages into the same slot; then
 * check the new mapping at once.
 */
static void *remote_reader(void *p)
{
	struct remote_ctx *c = p;

	c->err = pin_to_cpu(c->reader_cpu);
	c->what = "pin";
	for (int r = 0; r < c->rounds && !c->err; r++) {
		struct cxxvm_verify v = { .seed = 2 * r };

		c->what = "map";
		c->err = map_pages(c->fd, CXXVM_BACKEND_CXX, 1 + r % 4, &v.handle);
		if (c->err)
			break;
		c->what = "verify before";
		c->err = xioctl(c->fd, CXXVM_IOC_VERIFY, &v);
		if (c->err)
			break;
		c->handle = v.handle;
		atomic_store(&c->step, 2 * r + 1);
		c->what = "wait";
		c->err = spin_until(&c->step, 2 * r + 2);
		if (c->err)
			break;
		v = (struct cxxvm_verify){ .handle = c->handle, .seed = 2 * r + 1 };
		c->what = "verify after remote reuse";
		c->err = xioctl(c->fd, CXXVM_IOC_VERIFY, &v);
		if (c->err)
			break;
		c->what = "unmap";
		c->err = unmap_handle(c->fd, c->handle);
	}
	atomic_store(&c->step, -1);
	return NULL;
}

/*
 * A slot unmapped, shot down and reused on one CPU reads right on another
 * CPU that had the old translations cached: the shootdown reached it.
 * With a shootdown that misses the reader's CPU, the reader writes through
 * its stale TLB entry into the old page and VERIFY returns -EIO.  Both
 * directions, 32 rounds each, sizes 1..4 pages.
 */
TEST(cxx_reuse_seen_by_other_cpu)
{
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_LE(2, ncpu) TH_LOG("needs two CPUs to show a cross-CPU shootdown");
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	for (int reader = 0; reader < 2; reader++) {
		struct remote_ctx c = { .fd = fd, .reader_cpu = reader, .rounds = 32 };
		pthread_t t;

		ASSERT_EQ(0, pin_to_cpu(1 - reader));
		ASSERT_EQ(0, pthread_create(&t, NULL, remote_reader, &c));
		for (int r = 0; r < c.rounds; r++) {
			__u32 n = 1 + r % 4;

			if (spin_until(&c.step, 2 * r + 1))
				break;	/* the reader failed or timed out */
			/* Same size, arena otherwise idle: the same slot again. */
			ASSERT_EQ(0, unmap_handle(fd, c.handle));
			ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
			ASSERT_EQ(0, map_pages(fd, CXXVM_BACKEND_CXX, n, &c.handle));
			atomic_store(&c.step, 2 * r + 2);
		}
		ASSERT_EQ(0, pthread_join(t, NULL));
		EXPECT_EQ(0, c.err) {
			TH_LOG("reader on cpu %d: %s: %s", reader, c.what, strerror(-c.err));
		}
	}
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

struct stress_arg {
	int fd;
	int cpu;
	int iterations;
	int err;		/* first -errno seen, 0 if none */
	const char *what;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	__u32 x = 0x9e3779b9u * (a->cpu + 1);

	if (pin_to_cpu(a->cpu)) {
		a->err = -errno;
		a->what = "pin";
		return NULL;
	}
	for (int i = 0; i < a->iterations && !a->err; i++) {
		struct cxxvm_verify v = { .seed = x };
		__u64 h;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		a->err = map_pages(a->fd, CXXVM_BACKEND_CXX, 1 + x % 64, &h);
		a->what = "map";
		if (a->err)
			break;
		v.handle = h;
		a->err = xioctl(a->fd, CXXVM_IOC_VERIFY, &v);
		a->what = "verify";
		if (a->err)
			break;
		a->err = unmap_handle(a->fd, h);
		a->what = "unmap";
		if (!a->err && i % 64 == 63) {
			a->err = xioctl(a->fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 });
			a->what = "flush";
		}
	}
	return NULL;
}

/*
 * Tests whose fixed amount of work takes more than the harness's 30 s on a
 * debug kernel (KASAN, lockdep, UBSAN) under TCG: a 7.2 debug guest beside
 * another guest was killed at 30 s in cxx_concurrent_map_unmap_flush.  The
 * timeout is a hang detector, not a speed check.
 */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

/*
 * One thread per CPU maps, verifies and unmaps random sizes while purges
 * run under them.  With a small arena (as make check loads it) the test
 * first fills it with 64-page mappings and gives back exactly three
 * order-6 slots: the threads (two CPUs, one slot each at most) then run
 * on a full arena, where a map must purge and wait for other threads'
 * purges, and always find a slot that is free, dirty or being purged.
 * No call may fail; in particular no -ENOMEM.
 */
TEST_F_TIMEOUT(slow, cxx_concurrent_map_unmap_flush, 300)
{
	enum { MAX_FILL = 16 * 8, GIVE_BACK = 3 };
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), fd = cxxvm_open();
	struct stress_arg args[2];
	pthread_t threads[2];
	struct cxxvm_info info;
	__u64 fill[MAX_FILL];
	int nfill = 0, ret = 0;

	ASSERT_LE(0, fd);
	ASSERT_LE(2, ncpu) TH_LOG("needs two CPUs");
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_INFO, &info));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	if (info.max_blocks * info.block_pages / 64 <= MAX_FILL) {
		while (nfill < MAX_FILL) {
			ret = map_pages(fd, CXXVM_BACKEND_CXX, 64, &fill[nfill]);
			if (ret)
				break;
			nfill++;
		}
		ASSERT_EQ(-ENOMEM, ret) TH_LOG("the arena did not fill up");
		ASSERT_LE(GIVE_BACK, nfill);
		for (int i = 0; i < GIVE_BACK; i++)
			ASSERT_EQ(0, unmap_handle(fd, fill[--nfill]));
		ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	} else {
		TH_LOG("arena of %u blocks is too large to fill; running unfilled",
		       info.max_blocks);
	}

	for (int c = 0; c < 2; c++) {
		args[c] = (struct stress_arg){ .fd = fd, .cpu = c, .iterations = 600 };
		ASSERT_EQ(0, pthread_create(&threads[c], NULL, stress_thread, &args[c]));
	}
	for (int c = 0; c < 2; c++) {
		ASSERT_EQ(0, pthread_join(threads[c], NULL));
		EXPECT_EQ(0, args[c].err) {
			TH_LOG("cpu %d: %s failed: %s", c, args[c].what,
			       strerror(-args[c].err));
		}
	}
	while (nfill)
		ASSERT_EQ(0, unmap_handle(fd, fill[--nfill]));
	EXPECT_EQ(0, read_stats(_metadata, fd).live_mappings);
	close(fd);
}

/* ---- buffers and batches ------------------------------------------------- */

/* Bad BUF_CREATE and BUF_DESTROY arguments; nothing was created by them. */
TEST(buf_bad_fields)
{
	struct cxxvm_buf_create c;
	struct cxxvm_buf_destroy d;
	int fd = cxxvm_open();
	__u64 id;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, buf_create(fd, 0, &id));
	EXPECT_EQ(-EINVAL, buf_create(fd, 65537, &id));
	EXPECT_EQ(-EINVAL, buf_create(fd, ~0u, &id));
	c = (struct cxxvm_buf_create){ .nr_pages = 1, .flags = 1 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_CREATE, &c));
	c = (struct cxxvm_buf_create){ .nr_pages = 1, .flags = 1u << 31 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_CREATE, &c));
	c = (struct cxxvm_buf_create){ .nr_pages = 1, .reserved = { 0, 1 } };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_CREATE, &c));
	/* None of them made a buffer: the first id of this file is unused. */
	EXPECT_EQ(-ENOENT, buf_destroy(fd, 1));

	ASSERT_EQ(0, buf_create(fd, 1, &id));
	EXPECT_LE(1, id);
	EXPECT_GE(1024, id);
	d = (struct cxxvm_buf_destroy){ .id = id, .flags = 1 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_DESTROY, &d));
	d = (struct cxxvm_buf_destroy){ .id = id, .reserved0 = 1 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_DESTROY, &d));
	d = (struct cxxvm_buf_destroy){ .id = id, .reserved = { 0, 1 } };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_BUF_DESTROY, &d));
	EXPECT_EQ(-ENOENT, buf_destroy(fd, 0));
	EXPECT_EQ(-ENOENT, buf_destroy(fd, 1025));
	EXPECT_EQ(-ENOENT, buf_destroy(fd, ~0ull));
	/* It survived every rejected call. */
	EXPECT_EQ(0, buf_destroy(fd, id));
	close(fd);
}

/*
 * A buffer mapped by every backend at once (aliases of the same pages),
 * busy while any mapping lives, its range checked; ids are the file's.
 */
TEST(buf_map_every_backend)
{
	__u64 id, h[CXXVM_NR_BACKENDS], a, b, other_id;
	struct cxxvm_stats st0, st1;
	int fd = cxxvm_open(), other = cxxvm_open();
	__u32 checked;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 64, &id));
	EXPECT_NE(0, id);
	/* A buffer maps nothing by itself. */
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);

	for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
		ASSERT_EQ(0, map_buf(fd, be, id, 8, 16, &h[be])) {
			TH_LOG("backend %u", be);
		}
		EXPECT_LE(1, h[be]);
		EXPECT_GE(65536, h[be]);
	}
	EXPECT_NE(h[0], h[1]);
	EXPECT_NE(h[1], h[2]);
	EXPECT_NE(h[0], h[2]);
	for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
		checked = 0;
		EXPECT_EQ(0, verify_handle(fd, h[be], 0xb0f0 + be, &checked)) {
			TH_LOG("backend %u", be);
		}
		EXPECT_EQ(16, checked);
	}
	st1 = read_stats(_metadata, fd);
	EXPECT_EQ(st0.live_mappings + 3, st1.live_mappings);
	/* 16 pages through cxx: one order-4 slot. */
	EXPECT_EQ(st0.mapped_pages + 16, st1.mapped_pages);

	EXPECT_EQ(-EBUSY, buf_destroy(fd, id));
	/* Ranges: the last pages are fine, one past the end is not. */
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_CXX, id, 60, 8, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_VMAP, id, 64, 1, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_VMAP, id, 65, 1, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_VMAP, id, ~0u, 1, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_VMAP, id, 0, 65, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_BACKEND_VMAP, id, 0, 0, &a));
	EXPECT_EQ(-EINVAL, map_buf(fd, CXXVM_NR_BACKENDS, id, 0, 1, &a));
	ASSERT_EQ(0, map_buf(fd, CXXVM_BACKEND_VM_MAP_RAM, id, 56, 8, &a));
	EXPECT_EQ(0, verify_handle(fd, a, 56, &checked));
	EXPECT_EQ(8, checked);
	EXPECT_EQ(0, unmap_handle(fd, a));
	/* Unknown buffers, and another file's. */
	EXPECT_EQ(-ENOENT, map_buf(fd, CXXVM_BACKEND_CXX, id + 1, 0, 1, &a));
	EXPECT_EQ(-ENOENT, map_buf(fd, CXXVM_BACKEND_CXX, 0, 0, 1, &a));
	EXPECT_EQ(-ENOENT, map_buf(fd, CXXVM_BACKEND_CXX, 4242, 0, 1, &a));
	EXPECT_EQ(-ENOENT, map_buf(fd, CXXVM_BACKEND_CXX, ~0ull, 0, 1, &a));
	EXPECT_EQ(-ENOENT, map_buf(other, CXXVM_BACKEND_CXX, id, 0, 1, &a));
	EXPECT_EQ(-ENOENT, buf_destroy(other, id));
	/* Another file's buffer, whatever its id: not this one. */
	ASSERT_EQ(0, buf_create(other, 1, &other_id));
	EXPECT_EQ(0, buf_destroy(other, other_id));
	EXPECT_EQ(-EBUSY, buf_destroy(fd, id));
	EXPECT_EQ(st0.live_mappings + 3, read_stats(_metadata, fd).live_mappings);

	/* Two cxx mappings of the same pages: both reach them. */
	ASSERT_EQ(0, map_buf(fd, CXXVM_BACKEND_CXX, id, 0, 4, &a));
	ASSERT_EQ(0, map_buf(fd, CXXVM_BACKEND_CXX, id, 0, 4, &b));
	EXPECT_NE(a, b);
	EXPECT_EQ(0, verify_handle(fd, a, 1, &checked));
	EXPECT_EQ(4, checked);
	EXPECT_EQ(0, verify_handle(fd, b, 2, &checked));
	EXPECT_EQ(4, checked);
	EXPECT_EQ(0, verify_handle(fd, a, 3, &checked));
	EXPECT_EQ(4, checked);
	EXPECT_EQ(st0.live_mappings + 5, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, unmap_handle(fd, a));
	EXPECT_EQ(-EBUSY, buf_destroy(fd, id));
	EXPECT_EQ(0, unmap_handle(fd, b));

	for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
		EXPECT_EQ(-EBUSY, buf_destroy(fd, id));
		EXPECT_EQ(0, unmap_handle(fd, h[be]));
	}
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, buf_destroy(fd, id));
	EXPECT_EQ(-ENOENT, buf_destroy(fd, id));
	EXPECT_EQ(-ENOENT, map_buf(fd, CXXVM_BACKEND_CXX, id, 0, 1, &a));
	close(other);
	close(fd);
}

/* 1024 buffers per file at most; a destroyed buffer's room is free again. */
TEST(buf_limit_per_file)
{
	enum { MAX_BUFS = 1024 };
	int fd = cxxvm_open();
	__u64 id, first, last = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, buf_create(fd, 1, &first));
	for (int i = 1; i < MAX_BUFS; i++) {
		ASSERT_EQ(0, buf_create(fd, 1, &id)) {
			TH_LOG("buffer %d", i);
		}
		EXPECT_LE(1, id);
		EXPECT_GE(MAX_BUFS, id);
		last = id;
	}
	EXPECT_EQ(-ENOSPC, buf_create(fd, 1, &id));
	EXPECT_EQ(0, buf_destroy(fd, first));
	ASSERT_EQ(0, buf_create(fd, 1, &id));
	EXPECT_EQ(first, id);
	EXPECT_EQ(-ENOSPC, buf_create(fd, 1, &id));
	EXPECT_EQ(0, buf_destroy(fd, last));
	/* Closing frees all 1024. */
	close(fd);
}

/*
 * BUF_DESTROY right after the buffer's last cxx unmap: the id goes at
 * once; the pages may wait for the purge that covers the unmap (retired),
 * and a FLUSH runs that purge.
 */
TEST(buf_destroy_before_purge)
{
	struct cxxvm_stats st0, st1, st2;
	int fd = cxxvm_open();
	__u64 id, h;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	st0 = read_stats(_metadata, fd);
	EXPECT_EQ(0, st0.retired_pages);
	ASSERT_EQ(0, buf_create(fd, 4, &id));
	ASSERT_EQ(0, map_buf(fd, CXXVM_BACKEND_CXX, id, 0, 4, &h));
	ASSERT_EQ(0, unmap_handle(fd, h));
	/* Buffer pages stay with the buffer: none retired while it lives. */
	EXPECT_EQ(st0.retired_pages, read_stats(_metadata, fd).retired_pages);
	EXPECT_EQ(0, buf_destroy(fd, id));
	EXPECT_EQ(-ENOENT, buf_destroy(fd, id));
	st1 = read_stats(_metadata, fd);
	/* Parked until the purge, or already freed if a purge ran. */
	EXPECT_TRUE(st1.retired_pages == st0.retired_pages ||
		    st1.retired_pages == st0.retired_pages + 4) {
		TH_LOG("retired_pages %llu", (unsigned long long)st1.retired_pages);
	}
	EXPECT_EQ(st0.live_mappings, st1.live_mappings);

	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	st2 = read_stats(_metadata, fd);
	EXPECT_EQ(0, st2.retired_pages);
	EXPECT_EQ(0, st2.dirty_pages);
	close(fd);
}

/* A page that reads fine and faults on write, holding @len bytes of @src. */
static void *read_only_copy(const void *src, size_t len)
{
	void *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, getpagesize(), PROT_READ)) {
		munmap(p, getpagesize());
		return NULL;
	}
	return p;
}

/*
 * The struct reads fine but the outputs cannot be written back: -EFAULT,
 * and what the command made is undone, since the caller cannot name it.
 * SUBMIT is the exception: the operations that ran stay done.
 */
TEST(copy_out_failure_undoes)
{
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_VM_MAP_RAM, .nr_pages = 1 };
	struct cxxvm_buf_create c = { .nr_pages = 4 };
	struct cxxvm_op op = { .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
			       .nr_pages = 2 };
	struct cxxvm_submit s = { .nr_ops = 1, .op_size = sizeof(op) };
	struct cxxvm_stats st0, st;
	int fd = cxxvm_open(), fresh;
	void *ro;
	__u64 id;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &(struct cxxvm_flush){ 0 }));
	st0 = read_stats(_metadata, fd);

	/* MAP of its own pages. */
	ro = read_only_copy(&m, sizeof(m));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_MAP, ro));
	st = read_stats(_metadata, fd);
	EXPECT_EQ(st0.live_mappings, st.live_mappings);
	EXPECT_EQ(st0.live_pages, st.live_pages);

	/* MAP of a buffer, through cxx: the buffer is not left busy. */
	ASSERT_EQ(0, buf_create(fd, 8, &id));
	m = (struct cxxvm_map){ .backend = CXXVM_BACKEND_CXX, .nr_pages = 4,
				.flags = CXXVM_MAP_BUF, .buf = id, .buf_offset = 2 };
	ro = read_only_copy(&m, sizeof(m));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_MAP, ro));
	st = read_stats(_metadata, fd);
	EXPECT_EQ(st0.live_mappings, st.live_mappings);
	EXPECT_EQ(st0.mapped_pages, st.mapped_pages);
	EXPECT_EQ(0, buf_destroy(fd, id));

	/* BUF_CREATE on a fresh file: no buffer is left under any id. */
	fresh = cxxvm_open();
	ASSERT_LE(0, fresh);
	ro = read_only_copy(&c, sizeof(c));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, xioctl(fresh, CXXVM_IOC_BUF_CREATE, ro));
	for (__u64 i = 1; i <= 4; i++) {
		EXPECT_EQ(-ENOENT, buf_destroy(fresh, i)) {
			TH_LOG("buffer id %llu", (unsigned long long)i);
		}
	}

	/* SUBMIT whose results cannot go back: the MAP it ran stays. */
	ASSERT_EQ(0, buf_create(fresh, 2, &id));
	op.buf = id;
	op.result = 12345;
	ro = read_only_copy(&op, sizeof(op));
	ASSERT_NE(NULL, ro);
	s.ops = (uintptr_t)ro;
	EXPECT_EQ(-EFAULT, xioctl(fresh, CXXVM_IOC_SUBMIT, &s));
	EXPECT_EQ(12345, ((struct cxxvm_op *)ro)->result);
	EXPECT_EQ(st0.live_mappings + 1, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(-EBUSY, buf_destroy(fresh, id));
	/* Closing the file drops it, and the buffer's pages after a purge. */
	close(fresh);
	st = read_stats(_metadata, fd);
	EXPECT_EQ(st0.live_mappings, st.live_mappings);
	EXPECT_EQ(0, st.retired_pages);
	close(fd);
}

/* Out fields are ignored on input: whatever they hold, the call works. */
TEST(out_fields_ignored_on_input)
{
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 2, .handle = ~0ull };
	struct cxxvm_verify v;
	struct cxxvm_flush fl;
	struct cxxvm_bench b;
	struct cxxvm_op op;
	__u32 done;
	int fd = cxxvm_open();
	__u64 id;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_MAP, &m));
	EXPECT_LE(1, m.handle);
	EXPECT_GE(65536, m.handle);
	v = (struct cxxvm_verify){ .handle = m.handle, .seed = 9, .pages_checked = 77,
				   .bad_page = 5 };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_VERIFY, &v));
	EXPECT_EQ(2, v.pages_checked);
	EXPECT_EQ(~0u, v.bad_page);
	EXPECT_EQ(0, unmap_handle(fd, m.handle));

	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH,
			    &(struct cxxvm_flush){ .flags = CXXVM_FLUSH_RELEASE_BLOCKS }));
	/* Nothing dirty, no empty block: this flush does nothing. */
	fl = (struct cxxvm_flush){ .pages_flushed = 123, .blocks_released = 456 };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	EXPECT_EQ(0, fl.pages_flushed);
	EXPECT_EQ(0, fl.blocks_released);

	b = (struct cxxvm_bench){
		.backend = CXXVM_BACKEND_VMAP, .nr_pages = 1, .iterations = 10,
		.elapsed_ns = 1, .min_ns = ~0ull, .p50_ns = 0, .p99_ns = 0, .max_ns = 0,
		.shootdowns = 5, .blocks_created = 5,
	};
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_BENCH, &b));
	EXPECT_LT(0, b.min_ns);
	EXPECT_LE(b.min_ns, b.p50_ns);
	EXPECT_LE(b.p50_ns, b.p99_ns);
	EXPECT_LE(b.p99_ns, b.max_ns);
	EXPECT_EQ(CXXVM_BENCH_NOT_COUNTED, b.shootdowns);
	EXPECT_EQ(CXXVM_BENCH_NOT_COUNTED, b.blocks_created);

	/* buf_create() passes id = ~0 in. */
	ASSERT_EQ(0, buf_create(fd, 1, &id));
	EXPECT_LE(1, id);
	EXPECT_GE(1024, id);
	EXPECT_EQ(0, buf_destroy(fd, id));

	/* submit() passes nr_done = ~0 in; the op's result and ns are out. */
	op = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH, .result = 12345, .ns = 777 };
	EXPECT_EQ(0, submit(fd, &op, 1, 0, &done));
	EXPECT_EQ(1, done);
	EXPECT_EQ(0, op.result);
	EXPECT_EQ(0, op.ns);
	close(fd);
}

/* SUBMIT: map, verify and unmap 8 ranges of a buffer in one call. */
TEST(submit_map_verify_unmap)
{
	enum { N = 8, NR_OPS = 3 * N };
	struct cxxvm_op ops[NR_OPS];
	struct cxxvm_stats st0;
	int fd = cxxvm_open();
	__u32 done;
	__u64 id;

	ASSERT_LE(0, fd);
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 64, &id));
	for (__u32 i = 0; i < N; i++) {
		ops[3 * i] = (struct cxxvm_op){
			.op = CXXVM_OP_MAP, .backend = i % CXXVM_NR_BACKENDS,
			.nr_pages = 1 + i, .buf = id, .buf_offset = i,
		};
		ops[3 * i + 1] = (struct cxxvm_op){
			.op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 3 * i,
			.seed = 0x5eb + i,
		};
		ops[3 * i + 2] = (struct cxxvm_op){
			.op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 3 * i,
		};
	}
	for (int i = 0; i < NR_OPS; i++)
		ops[i].result = 12345;

	ASSERT_EQ(0, submit(fd, ops, NR_OPS, CXXVM_SUBMIT_TIMES, &done));
	EXPECT_EQ(NR_OPS, done);
	for (int i = 0; i < NR_OPS; i++) {
		EXPECT_EQ(0, ops[i].result) {
			TH_LOG("op %d: %s", i, strerror(-ops[i].result));
		}
		EXPECT_LT(0, ops[i].ns) {
			TH_LOG("op %d", i);
		}
	}
	for (int i = 0; i < N; i++) {
		EXPECT_LE(1, ops[3 * i].handle);
		EXPECT_GE(65536, ops[3 * i].handle);
		/* REF ops keep their index. */
		EXPECT_EQ(3 * i, ops[3 * i + 1].handle);
	}
	/* Every mapping is gone again, and the buffer is free. */
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	for (int i = 0; i < N; i++)
		EXPECT_EQ(-ENOENT, unmap_handle(fd, ops[3 * i].handle));
	EXPECT_EQ(0, buf_destroy(fd, id));
	close(fd);
}

/* The largest batch, with references across the module's copy chunks. */
TEST(submit_max_ops)
{
	enum { NR_OPS = 1024, MAPS = NR_OPS / 2 };
	struct cxxvm_stats st0;
	struct cxxvm_op *ops;
	int fd = cxxvm_open();
	__u32 done;
	__u64 id;

	ASSERT_LE(0, fd);
	ops = calloc(NR_OPS + 1, sizeof(*ops));
	ASSERT_NE(NULL, ops);
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 64, &id));
	for (__u32 i = 0; i < MAPS; i++) {
		ops[i] = (struct cxxvm_op){
			.op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_VM_MAP_RAM,
			.nr_pages = 1, .buf = id, .buf_offset = i % 64,
		};
		/* Unmapped in reverse order. */
		ops[MAPS + i] = (struct cxxvm_op){
			.op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = MAPS - 1 - i,
		};
	}
	ops[NR_OPS].result = 12345;
	ASSERT_EQ(0, submit(fd, ops, NR_OPS, 0, &done));
	EXPECT_EQ(NR_OPS, done);
	for (int i = 0; i < NR_OPS; i++) {
		EXPECT_EQ(0, ops[i].result) {
			TH_LOG("op %d: %s", i, strerror(-ops[i].result));
		}
	}
	for (int i = 0; i < MAPS; i++)
		EXPECT_NE(0, ops[i].handle);
	/* Nothing past nr_ops was touched. */
	EXPECT_EQ(12345, ops[NR_OPS].result);
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, buf_destroy(fd, id));
	free(ops);
	close(fd);
}

/*
 * A REF names the mapping an earlier op made, not its handle number: once
 * that mapping is unmapped, a REF to it is -ENOENT even though the next
 * MAP got the same handle (the lowest free one).
 */
TEST(submit_ref_to_unmapped_mapping)
{
	struct cxxvm_op ops[5];
	struct cxxvm_stats st0;
	int fd = cxxvm_open();
	__u32 done;
	__u64 id;

	ASSERT_LE(0, fd);
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 8, &id));
	ops[0] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
				    .nr_pages = 1, .buf = id };
	ops[1] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 0 };
	ops[2] = ops[0];
	ops[3] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 0,
				    .seed = 5 };
	ops[4] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 2 };
	ASSERT_EQ(0, submit(fd, ops, 5, CXXVM_SUBMIT_CONTINUE, &done));
	EXPECT_EQ(5, done);
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(0, ops[1].result);
	EXPECT_EQ(0, ops[2].result);
	/* The handle was reused... */
	EXPECT_EQ(ops[0].handle, ops[2].handle);
	/* ...but the REF to the first mapping does not reach the second. */
	EXPECT_EQ(-ENOENT, ops[3].result);
	EXPECT_EQ(0, ops[4].result);
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, buf_destroy(fd, id));
	close(fd);
}

/*
 * A failed op stops the batch (nr_done counts it) unless CONTINUE; each
 * op's result is the errno of its single command.
 */
TEST(submit_errors)
{
	/* What each op of the CONTINUE batch below returns. */
	static const int want[16] = {
		0, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -ENOENT, -ENOENT, 0,
		-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -ENOENT, 0,
	};
	struct cxxvm_op ops[16];
	struct cxxvm_submit s;
	struct cxxvm_stats st0;
	int fd = cxxvm_open();
	__u32 done;
	__u64 id;

	ASSERT_LE(0, fd);
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 64, &id));

	/* The 2nd op fails: the 3rd does not run, its result is untouched. */
#define STOP_BATCH(...) do {						\
		ops[0] = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH };	\
		ops[1] = (struct cxxvm_op){ __VA_ARGS__ };		\
		ops[2] = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH };	\
		for (int i = 0; i < 3; i++) {				\
			ops[i].result = 12345;				\
			ops[i].ns = 777;				\
		}							\
	} while (0)
	STOP_BATCH(.op = CXXVM_OP_UNMAP, .handle = 0);
	ASSERT_EQ(0, submit(fd, ops, 3, 0, &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(-ENOENT, ops[1].result);
	EXPECT_EQ(12345, ops[2].result);
	/* Without CXXVM_SUBMIT_TIMES, ns comes back 0. */
	EXPECT_EQ(0, ops[0].ns);
	EXPECT_EQ(0, ops[1].ns);
	EXPECT_EQ(777, ops[2].ns);

	STOP_BATCH(.op = CXXVM_OP_UNMAP, .handle = 0);
	ASSERT_EQ(0, submit(fd, ops, 3, CXXVM_SUBMIT_CONTINUE, &done));
	EXPECT_EQ(3, done);
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(-ENOENT, ops[1].result);
	EXPECT_EQ(0, ops[2].result);

	STOP_BATCH(.op = CXXVM_OP_FLUSH, .reserved0 = 1);
	ASSERT_EQ(0, submit(fd, ops, 3, CXXVM_SUBMIT_TIMES, &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(-EINVAL, ops[1].result);
	EXPECT_EQ(12345, ops[2].result);
	EXPECT_EQ(777, ops[2].ns);

	STOP_BATCH(.op = CXXVM_OP_FLUSH, .reserved = 1);
	ASSERT_EQ(0, submit(fd, ops, 3, 0, &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(-EINVAL, ops[1].result);
	EXPECT_EQ(12345, ops[2].result);

	/* A failed first op: the call still succeeds, nr_done says 1. */
	STOP_BATCH(.op = CXXVM_OP_FLUSH);
	ops[0].op = 0;
	ASSERT_EQ(0, submit(fd, ops, 3, 0, &done));
	EXPECT_EQ(1, done);
	EXPECT_EQ(-EINVAL, ops[0].result);
	EXPECT_EQ(12345, ops[1].result);
#undef STOP_BATCH

	/* References and unused fields, all run with CONTINUE. */
	memset(ops, 0, sizeof(ops));
	ops[0] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
				    .nr_pages = 2, .buf = id };
	/* REF to itself, to a later op, past the batch. */
	ops[1] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 1 };
	ops[2] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 5 };
	ops[3] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF,
				    .handle = 1000 };
	/* A MAP that fails (past the buffer's end), and REFs to it. */
	ops[4] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
				    .nr_pages = 2, .buf = id, .buf_offset = 63 };
	ops[5] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 4 };
	ops[6] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 4 };
	/* The good mapping, by reference. */
	ops[7] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 0,
				    .seed = 7 };
	/* Fields an op does not use must be zero. */
	ops[8] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 0,
				    .seed = 1 };
	ops[9] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .flags = CXXVM_OP_REF,
				    .backend = CXXVM_BACKEND_CXX, .nr_pages = 1, .buf = id };
	ops[10] = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH, .handle = 1 };
	ops[11] = (struct cxxvm_op){ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 0,
				     .nr_pages = 1 };
	/* An unknown op and flag, an unknown buffer. */
	ops[12] = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH + 1 };
	ops[13] = (struct cxxvm_op){ .op = CXXVM_OP_FLUSH, .flags = 1u << 1 };
	ops[14] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
				     .nr_pages = 1, .buf = id + 1 };
	/* Unmapped by reference; the handle is gone afterwards. */
	ops[15] = (struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 0 };
	for (int i = 0; i < 16; i++)
		ops[i].result = 12345;
	ASSERT_EQ(0, submit(fd, ops, 16, CXXVM_SUBMIT_CONTINUE, &done));
	EXPECT_EQ(16, done);
	for (int i = 0; i < 16; i++) {
		EXPECT_EQ(want[i], ops[i].result) {
			TH_LOG("op %d", i);
		}
	}
	EXPECT_NE(0, ops[0].handle);
	EXPECT_EQ(-ENOENT, unmap_handle(fd, ops[0].handle));
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);

	/* Errors of the batch itself: nothing ran. */
	ops[0] = (struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_VMAP,
				    .nr_pages = 1, .buf = id, .result = 12345 };
	EXPECT_EQ(-EINVAL, submit(fd, ops, 0, 0, &done));
	EXPECT_EQ(-EINVAL, submit(fd, ops, 1025, 0, &done));
	EXPECT_EQ(-EINVAL, submit(fd, ops, 1, 1u << 2, &done));
	EXPECT_EQ(-EINVAL, submit(fd, ops, 1, 1u << 31, &done));
	EXPECT_EQ(-EFAULT, submit(fd, NULL, 1, 0, &done));
	EXPECT_EQ(-EFAULT, submit(fd, (void *)1, 1, 0, &done));
	s = (struct cxxvm_submit){ .ops = (uintptr_t)ops, .nr_ops = 1,
				   .op_size = sizeof(ops[0]) - 8 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_SUBMIT, &s));
	s.op_size = sizeof(ops[0]) + 8;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_SUBMIT, &s));
	s.op_size = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_SUBMIT, &s));
	s.op_size = sizeof(ops[0]);
	s.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_SUBMIT, &s));
	EXPECT_EQ(12345, ops[0].result);
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, buf_destroy(fd, id));
	close(fd);
}

/*
 * A batch that runs into an unreadable page in its sixth operation: the
 * five before it run, whatever the module's chunk size, and the call
 * returns 0 with the count; one whose first operation is unreadable is
 * -EFAULT, with nothing run.
 */
TEST(submit_stops_at_unreadable_op)
{
	long pg = getpagesize();
	struct cxxvm_stats st0;
	struct cxxvm_op *edge;
	int fd = cxxvm_open();
	__u32 done;
	char *two;
	__u64 id;

	ASSERT_LE(0, fd);
	st0 = read_stats(_metadata, fd);
	ASSERT_EQ(0, buf_create(fd, 1, &id));
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, mprotect(two + pg, pg, PROT_NONE));
	/* Ops 0..4 in the first page, op 5 across the boundary. */
	edge = (struct cxxvm_op *)(two + pg - 5 * sizeof(*edge) - 8);
	for (int i = 0; i < 5; i++)
		edge[i] = (i & 1) ?
			(struct cxxvm_op){ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF,
					   .handle = i - 1, .result = 12345 } :
			(struct cxxvm_op){ .op = CXXVM_OP_MAP, .backend = CXXVM_BACKEND_CXX,
					   .nr_pages = 1, .buf = id, .result = 12345 };
	EXPECT_EQ(0, submit(fd, edge, 8, 0, &done));
	EXPECT_EQ(5, done);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(0, edge[i].result);
	/* The last MAP's mapping is live: unmapping it is the proof. */
	EXPECT_EQ(0, unmap_handle(fd, edge[4].handle));
	EXPECT_EQ(-EFAULT, submit(fd, (struct cxxvm_op *)(two + pg - 8), 2, 0, &done));
	EXPECT_EQ(st0.live_mappings, read_stats(_metadata, fd).live_mappings);
	EXPECT_EQ(0, buf_destroy(fd, id));
	munmap(two, 2 * pg);
	close(fd);
}

/* ---- pagemaps ------------------------------------------------------------ */

static int pgmap_create(int fd, __u32 type, __u32 flags, __u64 start, __u64 nr, __u64 *handle)
{
	struct cxxvm_pgmap_create c = {
		.type = type, .flags = flags, .nr_ranges = 1,
		.ranges = { { start, nr } },
	};
	int ret = xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c);

	*handle = c.handle;
	return ret;
}

static int pgmap_destroy(int fd, __u64 handle)
{
	struct cxxvm_pgmap_destroy d = { .handle = handle };

	return xioctl(fd, CXXVM_IOC_PGMAP_DESTROY, &d);
}

static int pgmap_get(int fd, __u64 pfn, __u64 *handle, __u64 *refs)
{
	struct cxxvm_pgmap_ref r = { .pfn = pfn };
	int ret = xioctl(fd, CXXVM_IOC_PGMAP_GET, &r);

	*handle = r.handle;
	*refs = r.refs;
	return ret;
}

static int pgmap_put(int fd, __u64 handle, __u64 *refs)
{
	struct cxxvm_pgmap_ref r = { .handle = handle };
	int ret = xioctl(fd, CXXVM_IOC_PGMAP_PUT, &r);

	*refs = r.refs;
	return ret;
}

/* Tracker only: lookup, references, kill with references held, reuse. */
TEST(pgmap_lifecycle)
{
	int fd = cxxvm_open();
	__u64 a, b, h, refs;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 64, &a));
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_FS_DAX, 0, FAKE_PFN + 64, 1, &b));
	EXPECT_NE(a, b);
	EXPECT_EQ(0, pgmap_get(fd, FAKE_PFN, &h, &refs));
	EXPECT_EQ(a, h);
	EXPECT_EQ(1, refs);
	EXPECT_EQ(0, pgmap_get(fd, FAKE_PFN + 63, &h, &refs));
	EXPECT_EQ(a, h);
	EXPECT_EQ(2, refs);
	EXPECT_EQ(0, pgmap_get(fd, FAKE_PFN + 64, &h, &refs));
	EXPECT_EQ(b, h);
	EXPECT_EQ(-ENOENT, pgmap_get(fd, FAKE_PFN + 65, &h, &refs));
	EXPECT_EQ(-ENOENT, pgmap_get(fd, FAKE_PFN - 1, &h, &refs));

	/* References held: DESTROY kills, says -EBUSY, keeps the range. */
	EXPECT_EQ(-EBUSY, pgmap_destroy(fd, a));
	EXPECT_EQ(-ENOENT, pgmap_get(fd, FAKE_PFN + 1, &h, &refs));
	EXPECT_EQ(-EBUSY, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 1, &h));
	EXPECT_EQ(0, pgmap_put(fd, a, &refs));
	EXPECT_EQ(1, refs);
	EXPECT_EQ(-EBUSY, pgmap_destroy(fd, a));
	EXPECT_EQ(0, pgmap_put(fd, a, &refs));
	EXPECT_EQ(0, refs);
	EXPECT_EQ(-EINVAL, pgmap_put(fd, a, &refs));
	EXPECT_EQ(0, pgmap_destroy(fd, a));
	EXPECT_EQ(-ENOENT, pgmap_destroy(fd, a));
	EXPECT_EQ(-ENOENT, pgmap_put(fd, a, &refs));

	/* The range is free again; b still has its reference (closed below). */
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 64, &a));
	EXPECT_EQ(0, pgmap_get(fd, FAKE_PFN + 5, &h, &refs));
	EXPECT_EQ(a, h);
	close(fd);

	/* Closing put the references and destroyed both. */
	fd = cxxvm_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 65, &a));
	close(fd);
}

/*
 * A file holds 64 pagemaps, numbered from 1 by the lowest free handle: the
 * 65th is -ENOSPC, a destroyed handle is the next one given, and closing
 * the file destroys them all.
 */
TEST(pgmap_limit_per_file)
{
	enum { MAX_PGMAPS = 64 };
	int fd = cxxvm_open();
	__u64 h;

	ASSERT_LE(0, fd);
	for (__u64 i = 1; i <= MAX_PGMAPS; i++) {
		ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN + i, 1, &h)) {
			TH_LOG("pagemap %llu", (unsigned long long)i);
		}
		EXPECT_EQ(i, h);
	}
	EXPECT_EQ(-ENOSPC, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN + 100, 1, &h));
	EXPECT_EQ(0, pgmap_destroy(fd, 7));
	EXPECT_EQ(-ENOENT, pgmap_destroy(fd, 7));
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN + 100, 1, &h));
	EXPECT_EQ(7, h);
	EXPECT_EQ(-ENOSPC, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN + 101, 1, &h));
	close(fd);

	/* Closing destroyed all 64: every range is free again. */
	fd = cxxvm_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 128, &h));
	EXPECT_EQ(1, h);
	close(fd);
}

/* Another file's pagemaps are not this file's to look up or destroy. */
TEST(pgmap_handles_belong_to_their_file)
{
	int fd = cxxvm_open(), other = cxxvm_open();
	__u64 a, h, refs;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 8, &a));
	EXPECT_EQ(-ENOENT, pgmap_get(other, FAKE_PFN, &h, &refs));
	EXPECT_EQ(-ENOENT, pgmap_destroy(other, a));
	EXPECT_EQ(-EBUSY, pgmap_create(other, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN + 7, 1, &h));
	EXPECT_EQ(0, pgmap_destroy(fd, a));
	close(other);
	close(fd);
}

/* Each bad description has its errno, and leaves nothing behind. */
TEST(pgmap_bad_input)
{
	struct cxxvm_pgmap_create c;
	__u64 start, nr, h;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
#define CREATE(...) (c = (struct cxxvm_pgmap_create){ __VA_ARGS__ }, \
		     xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c))
	EXPECT_EQ(-EINVAL, CREATE(.type = 0, .nr_ranges = 1, .ranges = { { FAKE_PFN, 1 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = 6, .nr_ranges = 1, .ranges = { { FAKE_PFN, 1 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 0));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 9));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				  .ranges = { { FAKE_PFN, 0 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = 1u << 7, .nr_ranges = 1,
				  .ranges = { { FAKE_PFN, 1 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				  .ranges = { { FAKE_PFN, 1 } }, .reserved = { 1 }));
	/* Overlapping ranges within one pagemap. */
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 2,
				  .ranges = { { FAKE_PFN, 16 }, { FAKE_PFN + 15, 1 } }));
	/* An altmap bigger than its range; one on two ranges. */
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_ALTMAP,
				  .nr_ranges = 1, .ranges = { { FAKE_PFN, 16 } },
				  .altmap_reserve = 8, .altmap_free = 9));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_ALTMAP,
				  .nr_ranges = 2, .ranges = { { FAKE_PFN, 16 }, { FAKE_PFN + 32, 16 } },
				  .altmap_free = 1));
	/* Past the end of physical address space (2^52 bytes at most). */
	EXPECT_EQ(-ERANGE, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				  .ranges = { { 1ull << 40, 1 } }));
	EXPECT_EQ(-ERANGE, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				  .ranges = { { ~0ull, 2 } }));
	/* System RAM: the first MiB above 16 MiB is RAM in every guest. */
	EXPECT_EQ(-ENXIO, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				 .ranges = { { 0x1000, 16 } }));
	/* REAL: GENERIC only, reserved memory only, an altmap that holds the memmap. */
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_PRIVATE, .flags = CXXVM_PGMAP_REAL,
				  .nr_ranges = 1, .ranges = { { start, 512 } }));
	EXPECT_EQ(-ENXIO, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				 .nr_ranges = 1, .ranges = { { FAKE_PFN, 512 } }));
	/* REAL in whole 2 MiB subsections only (hotplug would WARN). */
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				  .nr_ranges = 1, .ranges = { { start, 256 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				  .nr_ranges = 1, .ranges = { { start + 8, 512 } }));
	EXPECT_EQ(-EINVAL, CREATE(.type = CXXVM_PGMAP_GENERIC,
				  .flags = CXXVM_PGMAP_REAL | CXXVM_PGMAP_ALTMAP,
				  .nr_ranges = 1, .ranges = { { start, 32768 } }, .altmap_free = 511));
	/* Overlap with a registered pagemap, the kernel's one included. */
	ASSERT_EQ(0, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
			    .nr_ranges = 1, .ranges = { { start, 512 } }));
	h = c.handle;
	EXPECT_EQ(-EBUSY, CREATE(.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
				 .ranges = { { start + 511, 2 } }));
	EXPECT_EQ(-EBUSY, CREATE(.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL,
				 .nr_ranges = 1, .ranges = { { start, 1024 } }));
	EXPECT_EQ(0, pgmap_destroy(fd, h));
#undef CREATE
	/* Nothing was left claimed or registered by the calls above. */
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL, start, 1024, &h));
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 64, &h));
	close(fd);
}

/*
 * Real pagemaps (memremap_pages() over the reserved memory), one with an
 * altmap carving its memmap, one with two ranges: the tracker and
 * get_dev_pagemap() agree on every pfn and the pfns around, and again after
 * one is destroyed.
 */
TEST(pgmap_cross_check_with_kernel)
{
	struct cxxvm_pgmap_create c;
	struct cxxvm_pgmap_check k = { 0 };
	struct cxxvm_memremap m;
	__u64 start, nr, a, b, h, refs;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
	ASSERT_LE(2 * 32768, nr);
	/* A whole memory section, its memmap in its first 512 pages. */
	c = (struct cxxvm_pgmap_create){
		.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL | CXXVM_PGMAP_ALTMAP,
		.nr_ranges = 1, .ranges = { { start, 32768 } }, .altmap_free = 512,
	};
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c));
	a = c.handle;
	EXPECT_EQ(start + 512, c.first_data_pfn);
	/* Two 8 MiB ranges in the next section, 2 MiB apart. */
	c = (struct cxxvm_pgmap_create){
		.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL, .nr_ranges = 2,
		.ranges = { { start + 32768 + 2560, 2048 }, { start + 32768, 2048 } },
	};
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c));
	b = c.handle;

	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	EXPECT_EQ(0, k.mismatches);
	EXPECT_EQ(~0ull, k.first_mismatch_pfn);
	EXPECT_EQ(32768 + 2 + 2 * (2048 + 2), k.pfns_checked);
	k = (struct cxxvm_pgmap_check){ .handle = b };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	EXPECT_EQ(0, k.mismatches);
	EXPECT_EQ(2 * (2048 + 2), k.pfns_checked);

	EXPECT_EQ(0, pgmap_destroy(fd, a));
	EXPECT_EQ(-ENOENT, pgmap_get(fd, start + 600, &h, &refs));
	k = (struct cxxvm_pgmap_check){ 0 };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	EXPECT_EQ(0, k.mismatches);
	EXPECT_EQ(2 * (2048 + 2), k.pfns_checked);
	/* The kernel forgot it too: memremap() refuses pagemap memory. */
	m = (struct cxxvm_memremap){ .phys_addr = start * 4096, .size = 1 << 20,
				     .flags = CXXVM_MEMREMAP_WB, .seed = 1 };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));
	m = (struct cxxvm_memremap){ .phys_addr = (start + 32768) * 4096,
				     .size = 1 << 20, .flags = CXXVM_MEMREMAP_WB };
	EXPECT_EQ(-EBUSY, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));
	/* A tracker-only pagemap is not the kernel's: CHECK says so. */
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, start + 32768 + 2048, 1, &h));
	k = (struct cxxvm_pgmap_check){ .handle = b };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	EXPECT_EQ(1, k.mismatches);
	EXPECT_EQ(start + 32768 + 2048, k.first_mismatch_pfn);
	k = (struct cxxvm_pgmap_check){ .handle = h };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	close(fd);
}

/* memremap() with each flag and with all of them, then bad requests. */
TEST(memremap_wb_wt_wc)
{
	static const __u32 flags[] = {
		CXXVM_MEMREMAP_WB, CXXVM_MEMREMAP_WT, CXXVM_MEMREMAP_WC,
		CXXVM_MEMREMAP_WB | CXXVM_MEMREMAP_WT | CXXVM_MEMREMAP_WC,
		CXXVM_MEMREMAP_WT | CXXVM_MEMREMAP_WC,
	};
	struct cxxvm_memremap m;
	__u64 start, nr, h;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
	for (unsigned int i = 0; i < ARRAY_SIZE(flags); i++) {
		m = (struct cxxvm_memremap){ .phys_addr = start * 4096 + (i << 22),
					     .size = 4 << 20, .flags = flags[i], .seed = i };
		EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));
		EXPECT_EQ(4 << 20, m.bytes_checked);
	}
	m = (struct cxxvm_memremap){ .phys_addr = 16 << 20, .size = 4096,
				     .flags = CXXVM_MEMREMAP_WB };
	EXPECT_EQ(-ENXIO, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));	/* System RAM */
	m = (struct cxxvm_memremap){ .phys_addr = start * 4096, .size = 4096 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));	/* no flag */
	m.flags = CXXVM_MEMREMAP_WB;
	m.size = 100;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));	/* not pages */
	m.size = 65 << 20;
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));	/* too big */
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL, start, 512, &h));
	m.size = 4096;
	EXPECT_EQ(-EBUSY, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));	/* a pagemap's */
	close(fd);
}

/* Each "START-END : NAME" line of /proc/iomem, any depth: false at the end. */
static bool iomem_next(FILE *f, __u64 *start, __u64 *end, char *name, size_t len)
{
	char line[256];
	int n;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %llx-%llx : %n", start, end, &n) != 2)
			continue;
		snprintf(name, len, "%s", line + n);
		name[strcspn(name, "\n")] = 0;
		return true;
	}
	return false;
}

/*
 * Only the memory given as reserved_mem= is ever written: firmware's own
 * "Reserved" ranges (the ACPI tables of a q35 guest live in one), ACPI
 * tables and NVS, chipset MMIO, the first MiB, and a hole in physical
 * address space are all refused, by MEMREMAP and by PGMAP_CREATE(REAL).
 * Reserved memory alone used to pass: MEMREMAP wrote its pattern over the
 * ACPI tables and a real pagemap was made over a hole.
 */
TEST(firmware_memory_is_refused)
{
	static const char *const names[] = {
		"Reserved", "ACPI Tables", "ACPI Non-volatile Storage", "IOAPIC 0", "HPET 0",
		"Local APIC", "PCI Bus 0000:00", "System ROM", "Video ROM",
	};
	unsigned int tried_reserved = 0, tried_mmio = 0;
	__u64 start, nr, s, e, h;
	struct cxxvm_memremap m;
	char name[128];
	FILE *f;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
	f = fopen("/proc/iomem", "r");
	ASSERT_NE(NULL, f);
	while (iomem_next(f, &s, &e, name, sizeof(name))) {
		bool known = false;

		for (unsigned int i = 0; i < ARRAY_SIZE(names); i++)
			known |= !strcmp(name, names[i]);
		/* Ours (reserved_mem= lies in a "Reserved" range) or unknown. */
		if (!known || (s < (start + nr) * 4096 && e >= start * 4096))
			continue;
		ASSERT_NE(0, e) TH_LOG("/proc/iomem shows no addresses: not root?");
		m = (struct cxxvm_memremap){ .phys_addr = s & ~4095ull, .size = 4096,
					     .flags = CXXVM_MEMREMAP_WB };
		EXPECT_EQ(-ENXIO, xioctl(fd, CXXVM_IOC_MEMREMAP, &m)) {
			TH_LOG("MEMREMAP of %s at %#llx", name, s);
		}
		EXPECT_EQ(0, m.bytes_checked);
		if (!strcmp(name, "Reserved"))
			tried_reserved++;
		else if (strncmp(name, "ACPI", 4) && strcmp(name, "System ROM"))
			tried_mmio++;
	}
	fclose(f);
	EXPECT_LE(1, tried_reserved) TH_LOG("no firmware \"Reserved\" range to try");
	EXPECT_LE(1, tried_mmio) TH_LOG("no MMIO range to try");

	/* Page 0, and whole subsections of a hole and of the MMIO window. */
	m = (struct cxxvm_memremap){ .phys_addr = 0, .size = 4096, .flags = CXXVM_MEMREMAP_WB };
	EXPECT_EQ(-ENXIO, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));
	EXPECT_EQ(-ENXIO, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL,
				       0xfd00000000ull >> 12, 512, &h));
	EXPECT_EQ(-ENXIO, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL,
				       0xfec00000ull >> 12, 512, &h));
	/* Straddling the end of reserved_mem=. */
	m = (struct cxxvm_memremap){ .phys_addr = (start + nr - 1) * 4096, .size = 8192,
				     .flags = CXXVM_MEMREMAP_WB };
	EXPECT_EQ(-ENXIO, xioctl(fd, CXXVM_IOC_MEMREMAP, &m));
	EXPECT_EQ(-ENXIO, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL,
				       start + nr - 512, 1024, &h));
	close(fd);
}

/*
 * Both halves: ZONE_DEVICE pages mapped by the C++ vmap allocator show what
 * memremap(MEMREMAP_WB) of the same memory shows, both ways.
 */
TEST(pgmap_vmap_matches_memremap)
{
	struct cxxvm_pgmap_create c = {
		.type = CXXVM_PGMAP_GENERIC, .flags = CXXVM_PGMAP_REAL | CXXVM_PGMAP_ALTMAP,
		.nr_ranges = 1, .altmap_reserve = 3, .altmap_free = 1021,
	};
	struct cxxvm_pgmap_vmap v;
	__u64 start, nr, data;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
	c.ranges[0] = (struct cxxvm_pfn_range){ start, 32768 };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c));
	EXPECT_EQ(start + 1024, c.first_data_pfn);
	data = 32768 - 1024;
	for (__u32 n = 1; n <= 64; n *= 4) {
		v = (struct cxxvm_pgmap_vmap){ .handle = c.handle, .offset = n * 7,
					       .nr_pages = n, .seed = n };
		EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
		EXPECT_EQ(n, v.pages_checked);
	}
	v = (struct cxxvm_pgmap_vmap){ .handle = c.handle, .offset = data - 64, .nr_pages = 64 };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
	v = (struct cxxvm_pgmap_vmap){ .handle = c.handle, .offset = data - 63, .nr_pages = 64 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
	v = (struct cxxvm_pgmap_vmap){ .handle = c.handle, .nr_pages = 65 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
	v = (struct cxxvm_pgmap_vmap){ .handle = 99, .nr_pages = 1 };
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
	close(fd);
}

/* PGMAP_BENCH: every lookup over real pagemaps hits, on both backends. */
TEST(pgmap_bench_hits)
{
	struct cxxvm_pgmap_bench b = { .iterations = 1000 };
	__u64 start, nr, h;
	int fd = cxxvm_open();

	ASSERT_LE(0, fd);
	ASSERT_TRUE(reserved_region(&start, &nr));
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_PGMAP_BENCH, &b));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL,
					  start + 32768 + 1024 * i, 512, &h));
	for (__u32 be = 0; be < 2; be++) {
		for (__u32 mode = 0; mode < 2; mode++) {
			b = (struct cxxvm_pgmap_bench){ .backend = be, .mode = mode,
							.iterations = 5000, .seed = 7 };
			EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_BENCH, &b));
			EXPECT_EQ(5000, b.hits);
			EXPECT_EQ(4, b.pagemaps);
			EXPECT_LT(0, b.elapsed_ns);
		}
	}
	b = (struct cxxvm_pgmap_bench){ .backend = 2, .iterations = 1 };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_PGMAP_BENCH, &b));
	close(fd);
}

/* A client killed while holding references leaves nothing behind. */
TEST(pgmap_killed_client_leaks_nothing)
{
	__u64 start, nr, h, refs;
	int status, fd;
	pid_t pid;

	ASSERT_TRUE(reserved_region(&start, &nr));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		fd = cxxvm_open();
		if (fd < 0 ||
		    pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL, start, 1024, &h) ||
		    pgmap_get(fd, start + 3, &h, &refs) || pgmap_get(fd, start + 4, &h, &refs))
			_exit(1);
		raise(SIGKILL);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	fd = cxxvm_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, CXXVM_PGMAP_REAL, start, 1024, &h));
	close(fd);
}

/*
 * Out fields are ignored on input; PUT's pfn is not one (it must be zero).
 * Commands that need reserved memory to succeed are called so that they
 * fail past the argument check, with their errno rather than -EINVAL.
 */
TEST(pgmap_out_fields_ignored_on_input)
{
	struct cxxvm_pgmap_create c = {
		.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1, .ranges = { { FAKE_PFN, 4 } },
		.handle = ~0ull, .first_data_pfn = 7,
	};
	struct cxxvm_pgmap_ref r;
	struct cxxvm_pgmap_check k;
	struct cxxvm_memremap mr;
	struct cxxvm_pgmap_vmap v;
	struct cxxvm_pgmap_bench b;
	int fd = cxxvm_open();
	__u64 a;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c));
	a = c.handle;
	EXPECT_LE(1, a);
	EXPECT_GE(64, a);
	EXPECT_EQ(FAKE_PFN, c.first_data_pfn);

	r = (struct cxxvm_pgmap_ref){ .pfn = FAKE_PFN + 1, .handle = a + 99, .refs = 99 };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_GET, &r));
	EXPECT_EQ(a, r.handle);
	EXPECT_EQ(1, r.refs);
	r = (struct cxxvm_pgmap_ref){ .pfn = FAKE_PFN + 2, .handle = ~0ull, .refs = ~0ull };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_GET, &r));
	EXPECT_EQ(a, r.handle);
	EXPECT_EQ(2, r.refs);
	r = (struct cxxvm_pgmap_ref){ .pfn = 1, .handle = a };
	EXPECT_EQ(-EINVAL, xioctl(fd, CXXVM_IOC_PGMAP_PUT, &r));
	r = (struct cxxvm_pgmap_ref){ .handle = a, .refs = 99 };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_PUT, &r));
	EXPECT_EQ(1, r.refs);
	r = (struct cxxvm_pgmap_ref){ .handle = a, .refs = ~0ull };
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_PUT, &r));
	EXPECT_EQ(0, r.refs);

	/* Handle 0: this file's REAL pagemaps, of which it has none. */
	k = (struct cxxvm_pgmap_check){ .pfns_checked = 1, .mismatches = 2,
					.first_mismatch_pfn = 3 };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));
	EXPECT_EQ(0, k.pfns_checked);
	EXPECT_EQ(0, k.mismatches);
	EXPECT_EQ(~0ull, k.first_mismatch_pfn);
	k = (struct cxxvm_pgmap_check){ .handle = a + 99, .pfns_checked = 1 };
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_PGMAP_CHECK, &k));

	mr = (struct cxxvm_memremap){ .phys_addr = 16 << 20, .size = 4096,
				      .flags = CXXVM_MEMREMAP_WB, .bytes_checked = 4096 };
	EXPECT_EQ(-ENXIO, xioctl(fd, CXXVM_IOC_MEMREMAP, &mr));	/* System RAM */
	v = (struct cxxvm_pgmap_vmap){ .handle = a + 99, .nr_pages = 1, .pages_checked = 1 };
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_PGMAP_VMAP, &v));
	b = (struct cxxvm_pgmap_bench){ .iterations = 1, .elapsed_ns = 1, .hits = 1,
					.pagemaps = 1 };
	EXPECT_EQ(-ENOENT, xioctl(fd, CXXVM_IOC_PGMAP_BENCH, &b));	/* no REAL one */
	EXPECT_EQ(0, pgmap_destroy(fd, a));
	close(fd);
}

/* PGMAP_CREATE and PGMAP_GET whose outputs cannot go back are undone. */
TEST(pgmap_copy_out_failure_undoes)
{
	struct cxxvm_pgmap_create c = {
		.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1, .ranges = { { FAKE_PFN, 8 } },
	};
	struct cxxvm_pgmap_ref r = { .pfn = FAKE_PFN + 3 };
	__u64 a, h, refs;
	int fd = cxxvm_open();
	void *ro;

	ASSERT_LE(0, fd);
	ro = read_only_copy(&c, sizeof(c));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, ro));
	/* No pagemap was left: the range is free, no pfn of it is found. */
	EXPECT_EQ(-ENOENT, pgmap_get(fd, FAKE_PFN, &h, &refs));
	ASSERT_EQ(0, pgmap_create(fd, CXXVM_PGMAP_GENERIC, 0, FAKE_PFN, 8, &a));

	ro = read_only_copy(&r, sizeof(r));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, xioctl(fd, CXXVM_IOC_PGMAP_GET, ro));
	/* The reference was put again: nothing to put, DESTROY goes through. */
	EXPECT_EQ(-EINVAL, pgmap_put(fd, a, &refs));
	EXPECT_EQ(0, pgmap_destroy(fd, a));
	close(fd);
}

TEST_HARNESS_MAIN
