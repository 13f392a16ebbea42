/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_util.h - what cxxvm-test, cxxvm-faults and cxxvm-fuzz share: the
 * ioctl wrapper, the fake pfns of tracker-only pagemaps, and the kernel's
 * fault injection (failslab, fail_page_alloc) aimed at one task.
 */
#ifndef CXXVM_UTIL_H
#define CXXVM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Pfns far above a test guest's RAM and below MAX_PHYSMEM_BITS. */
#define FAKE_PFN	(1ull << 30)

/* ioctl() that returns -errno instead of -1 (and what it returned otherwise). */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

#define CXXVM_FAILSLAB		"/sys/kernel/debug/failslab"
#define CXXVM_MAKE_IT_FAIL	"/proc/thread-self/make-it-fail"
#define CXXVM_FAIL_PAGE_ALLOC	"/sys/kernel/debug/fail_page_alloc"

/*
 * Aim failslab and fail_page_alloc at tasks with make-it-fail set (the
 * caller sets its own, or its threads' /proc/self/task/TID/make-it-fail),
 * failing one allocation in @percent, or turn both off (@percent NULL).
 * Sleeping allocations fail too (ignore-gfp-wait), and with
 * fail_page_alloc single pages too (min-order); highmem ones (user pages)
 * do not, which keeps the test itself running.  Needs debugfs and a
 * kernel with CONFIG_FAULT_INJECTION_DEBUG_FS.  Returns 0 or -errno.
 */
static inline int fault_injection(const char *percent)
{
	static const char *const injectors[] = { CXXVM_FAILSLAB, CXXVM_FAIL_PAGE_ALLOC };
	static const char *const knobs[][3] = {
		{ CXXVM_FAILSLAB, "task-filter", "Y" },
		{ CXXVM_FAILSLAB, "ignore-gfp-wait", "N" },
		{ CXXVM_FAIL_PAGE_ALLOC, "task-filter", "Y" },
		{ CXXVM_FAIL_PAGE_ALLOC, "ignore-gfp-wait", "N" },
		{ CXXVM_FAIL_PAGE_ALLOC, "ignore-gfp-highmem", "Y" },
		{ CXXVM_FAIL_PAGE_ALLOC, "min-order", "0" },
	};
	static const char *const common[][2] = {
		{ "verbose", "0" },
		{ "interval", "1" },
		{ "times", "-1" },
		{ "space", "0" },
	};
	char path[128];
	size_t i, k;
	int ret;

	for (k = 0; percent && k < sizeof(knobs) / sizeof(knobs[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", knobs[k][0], knobs[k][1]);
		ret = write_file(path, knobs[k][2]);
		if (ret)
			return ret;
	}
	for (i = 0; i < sizeof(injectors) / sizeof(injectors[0]); i++) {
		for (k = 0; percent && k < sizeof(common) / sizeof(common[0]); k++) {
			snprintf(path, sizeof(path), "%s/%s", injectors[i], common[k][0]);
			ret = write_file(path, common[k][1]);
			if (ret)
				return ret;
		}
		snprintf(path, sizeof(path), "%s/probability", injectors[i]);
		ret = write_file(path, percent ? percent : "0");
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Set or clear make-it-fail of the calling thread.  Clearing it may itself
 * meet an injected failure (the open() and write()): it is retried.
 */
static inline int make_it_fail(bool on)
{
	int ret = 0, tries;

	for (tries = 0; tries < 1000; tries++) {
		ret = write_file(CXXVM_MAKE_IT_FAIL, on ? "1" : "0");
		if (!ret)
			break;
	}
	return ret;
}

#endif /* CXXVM_UTIL_H */
