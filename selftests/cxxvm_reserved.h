/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_reserved.h - the memory cxxvm.ko was given with reserved_mem=, as
 * CXXVM_IOC_INFO reports it, for cxxvm-test and cxxvm-bench.
 */
#ifndef CXXVM_RESERVED_H
#define CXXVM_RESERVED_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/cxxvm.h>

/*
 * The module's reserved_mem= in pfns of 4 KiB.  False without it (or
 * without the module): MEMREMAP and real pagemaps then refuse all memory.
 */
static inline bool reserved_region(unsigned long long *start_pfn, unsigned long long *nr_pages)
{
	struct cxxvm_info info = { 0 };
	int fd = open("/dev/cxxvm", O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return false;
	ret = ioctl(fd, CXXVM_IOC_INFO, &info);
	close(fd);
	if (ret || !info.reserved_mem_size)
		return false;
	*start_pfn = info.reserved_mem_start / 4096;
	*nr_pages = info.reserved_mem_size / 4096;
	return true;
}

#endif /* CXXVM_RESERVED_H */
