/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_cmdline.h - what cxxvm-test and cxxvm-bench read off the guest's
 * kernel command line.
 */
#ifndef CXXVM_CMDLINE_H
#define CXXVM_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * The reserved memory given as memmap=SIZE$START (SIZE in MiB, START in
 * hex), in pfns of 4 KiB.  False if the command line has none.
 */
static inline bool reserved_region(unsigned long long *start_pfn, unsigned long long *nr_pages)
{
	char line[4096], *p;
	unsigned long long size, start;
	char unit;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return false;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	for (; p && (p = strstr(p, "memmap=")); p++) {
		if (sscanf(p, "memmap=%llu%c$%llx", &size, &unit, &start) == 3 && unit == 'M') {
			*start_pfn = start / 4096;
			*nr_pages = size * 256;
			return true;
		}
	}
	return false;
}

#endif /* CXXVM_CMDLINE_H */
