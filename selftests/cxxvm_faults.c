// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_faults - /dev/cxxvm under injected allocation failures, on the
 * kernel's kselftest harness.
 *
 * Runs as root inside the KUnit test kernel (CONFIG_FAILSLAB,
 * CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS) with cxxvm.ko
 * loaded and no other client.  failslab and fail_page_alloc are aimed at
 * this test's own task only (task-filter, make-it-fail), fail one
 * allocation in FAIL_PERCENT (sleeping ones included) and print nothing.  Every ioctl must then succeed or fail with -ENOMEM, a VERIFY
 * never sees a wrong page, and once injection is off, nothing is left:
 * no mapping, mapped page, retired or leaked page, no pagemap, and the
 * device still maps, verifies and unmaps.  Run by guest-kunit.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/cxxvm.h>
#include "cxxvm_util.h"
#include "kselftest_harness.h"

#define FAIL_PERCENT	"10"
#define ROUNDS		300

/* Injection on, aimed at this task; or off, this task first. */
static int injection(bool on)
{
	int ret;

	if (on) {
		ret = fault_injection(FAIL_PERCENT);
		return ret ? ret : make_it_fail(true);
	}
	/* Off: this task first, or its own writes of the knobs fail too. */
	ret = make_it_fail(false);
	return ret ? ret : fault_injection(NULL);
}

/* -ENOMEMs seen: the injection must have reached the module. */
static unsigned int nr_enomem;

/* 0 or -ENOMEM: anything else under injection is a bug. */
#define EXPECT_OK_OR_ENOMEM(ret) do {					\
	int __r = (ret);						\
	nr_enomem += __r == -ENOMEM;					\
	EXPECT_TRUE(__r == 0 || __r == -ENOMEM)				\
		TH_LOG("%s: %d (%s)", #ret, __r, strerror(-__r));	\
} while (0)

/*
 * One round: a buffer mapped through every backend and verified, a
 * SUBMIT batch, a pagemap created, looked up and destroyed; each step may
 * fail with -ENOMEM only.  What a failed step would have undone is then
 * undone by close().
 */
static void one_round(struct __test_metadata *_metadata, int fd, unsigned int round)
{
	const __u32 nr = 1 + round % 64;
	struct cxxvm_buf_create bc = { .nr_pages = nr };	/* id 0: none */
	__u64 handles[3] = { 0 };
	__u32 backend;
	int ret;

	ret = xioctl(fd, CXXVM_IOC_BUF_CREATE, &bc);
	EXPECT_OK_OR_ENOMEM(ret);
	if (ret)
		bc.id = 0;
	else {
		for (backend = 0; backend < 3; backend++) {
			struct cxxvm_map m = {
				.backend = backend, .nr_pages = nr,
				.flags = CXXVM_MAP_BUF, .buf = bc.id,
			};
			struct cxxvm_verify v = { .seed = round };

			ret = xioctl(fd, CXXVM_IOC_MAP, &m);
			EXPECT_OK_OR_ENOMEM(ret);
			if (ret)
				continue;
			handles[backend] = m.handle;
			v.handle = m.handle;
			ret = xioctl(fd, CXXVM_IOC_VERIFY, &v);
			EXPECT_OK_OR_ENOMEM(ret);
		}
		/* Unmap half of them here, leave the rest to close(). */
		for (backend = 0; backend < 3; backend++) {
			struct cxxvm_unmap u = { .handle = handles[backend] };

			if (handles[backend] && (round + backend) % 2)
				EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_UNMAP, &u));
		}
	}

	if (!bc.id)
		goto pgmap;
	{
		struct cxxvm_op ops[3] = {
			{ .op = CXXVM_OP_MAP, .backend = round % 3, .nr_pages = nr, .buf = bc.id },
			{ .op = CXXVM_OP_VERIFY, .flags = CXXVM_OP_REF, .handle = 0, .seed = round },
			{ .op = CXXVM_OP_UNMAP, .flags = CXXVM_OP_REF, .handle = 0 },
		};
		struct cxxvm_submit s = {
			.ops = (uintptr_t)ops, .nr_ops = 3, .op_size = sizeof(ops[0]),
		};
		__u32 i;

		ret = xioctl(fd, CXXVM_IOC_SUBMIT, &s);
		EXPECT_OK_OR_ENOMEM(ret);
		for (i = 0; !ret && i < s.nr_done && i < 3; i++)
			EXPECT_OK_OR_ENOMEM(ops[i].result);
	}

pgmap:
	{
		struct cxxvm_pgmap_create c = {
			.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
			.ranges = { { FAKE_PFN + 64 * (round % 8), 64 } },
		};
		struct cxxvm_pgmap_ref r = { .pfn = FAKE_PFN + 64 * (round % 8) };

		ret = xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c);
		EXPECT_OK_OR_ENOMEM(ret);
		if (!ret) {
			ret = xioctl(fd, CXXVM_IOC_PGMAP_GET, &r);
			EXPECT_OK_OR_ENOMEM(ret);
			if (!ret) {
				struct cxxvm_pgmap_ref p = { .handle = r.handle };

				EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_PUT, &p));
			}
			if (round % 2) {
				struct cxxvm_pgmap_destroy d = { .handle = c.handle };

				EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_DESTROY, &d));
			}
		}
	}
}

/* After the storm: the ranges every round used are free, and a mapping works. */
static void still_works(struct __test_metadata *_metadata, int fd)
{
	struct cxxvm_pgmap_create c = {
		.type = CXXVM_PGMAP_GENERIC, .nr_ranges = 1,
		.ranges = { { FAKE_PFN, 64 * 8 } },
	};
	struct cxxvm_map m = { .backend = CXXVM_BACKEND_CXX, .nr_pages = 16 };
	struct cxxvm_verify v = { .seed = 1 };
	struct cxxvm_unmap u;

	/* -EBUSY here would be a pagemap some failed path left behind. */
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_PGMAP_CREATE, &c));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_MAP, &m));
	v.handle = m.handle;
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_VERIFY, &v));
	u = (struct cxxvm_unmap){ .handle = m.handle };
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_UNMAP, &u));
}

TEST(ioctls_under_injected_allocation_failures)
{
	struct cxxvm_flush fl = { 0 };
	struct cxxvm_stats st;
	unsigned int round;
	int fd, failed_opens = 0;

	ASSERT_EQ(0, access(CXXVM_FAILSLAB, F_OK))
		TH_LOG("no failslab: this test needs the KUnit test kernel");
	/* No page faults of our own while allocations fail. */
	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_FUTURE));
	ASSERT_EQ(0, injection(true));
	for (round = 0; round < ROUNDS; round++) {
		fd = open("/dev/cxxvm", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			EXPECT_EQ(ENOMEM, errno);
			failed_opens++;
			continue;
		}
		one_round(_metadata, fd, round);
		close(fd);
	}
	ASSERT_EQ(0, injection(false));
	TH_LOG("%u rounds: %d opens and %u ioctls failed with -ENOMEM",
	       ROUNDS, failed_opens, nr_enomem);
	EXPECT_LT(0, nr_enomem) TH_LOG("no ioctl saw an injected failure");

	/* Nothing left, and the device still works. */
	fd = open("/dev/cxxvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, xioctl(fd, CXXVM_IOC_FLUSH, &fl));
	memset(&st, 0xff, sizeof(st));
	ASSERT_EQ(0, xioctl(fd, CXXVM_IOC_STATS, &st));
	EXPECT_EQ(0, st.live_mappings);
	EXPECT_EQ(0, st.live_pages);
	EXPECT_EQ(0, st.mapped_pages);
	EXPECT_EQ(0, st.retired_pages);
	EXPECT_EQ(0, st.leaked_pages);
	still_works(_metadata, fd);
	close(fd);
}

TEST_HARNESS_MAIN
