// SPDX-License-Identifier: GPL-2.0
/*
 * cxxrt_kernel.c - the kernel side of cxxrt (cxxrt/include/cxxrt/runtime.h):
 * allocation, and what a C++ core bug or warning becomes.  C, because it
 * includes kernel headers.
 */
#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/numa.h>
#include <linux/printk.h>
#include <linux/slab.h>

#include <cxxrt/runtime.h>

#ifdef CXXVM_KUNIT
void cxxrt_test_fail_nth_alloc(unsigned int n);
#endif

static gfp_t cxxrt_gfp(unsigned int gfp)
{
	switch (gfp) {
	case CXXRT_GFP_NOWAIT:
		return GFP_NOWAIT;
	case CXXRT_GFP_ATOMIC:
		return GFP_ATOMIC;
	default:
		return GFP_KERNEL;
	}
}

#ifdef CXXVM_KUNIT
static atomic_t cxxrt_fail_countdown = ATOMIC_INIT(0);

void cxxrt_test_fail_nth_alloc(unsigned int n)
{
	atomic_set(&cxxrt_fail_countdown, n);
}

/* True for the allocation the countdown reaches (it was 1). */
static bool cxxrt_should_fail(void)
{
	return atomic_dec_if_positive(&cxxrt_fail_countdown) == 0;
}
#else
static inline bool cxxrt_should_fail(void)
{
	return false;
}
#endif

void *cxxrt_alloc(size_t size, unsigned int gfp)
{
	return cxxrt_alloc_node(size, gfp, CXXRT_NO_NODE);
}

void *cxxrt_alloc_node(size_t size, unsigned int gfp, int node)
{
	if (cxxrt_should_fail())
		return NULL;
	return kmalloc_node(size, cxxrt_gfp(gfp), node);
}

void cxxrt_free(const void *ptr)
{
	kfree(ptr);
}

void cxxrt_bug(const char *why)
{
	pr_crit("cxxvm: %s\n", why);
	BUG();
}

void cxxrt_warn(const char *why)
{
	WARN(1, "cxxvm: %s\n", why);
}
