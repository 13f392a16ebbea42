// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_kunit_takeover.c - KUnit suite of the takeover of vm_map_ram()
 * (module/cxxvm_takeover.c).
 *
 * This module is not cxxvm.ko, so its calls of vm_map_ram(),
 * vm_unmap_ram() and vm_unmap_aliases() are what any kernel caller's are:
 * the hook redirects them.  Each case leaves the takeover off and
 * released (no module reference held).
 */
#include <kunit/test.h>
#include "cxxvm_kunit_compat.h"
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/numa.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"

/* More than the arena serves (CXXVM_MAX_PAGES): the kernel's path. */
#define TAKEOVER_PAGES (CXXVM_MAX_PAGES + 1)

struct takeover_pages {
	struct page *pages[TAKEOVER_PAGES];
};

static void takeover_free_pages(struct kunit_resource *res)
{
	struct takeover_pages *p = res->data;
	unsigned int i;

	for (i = 0; i < TAKEOVER_PAGES; i++)
		if (p->pages[i])
			__free_page(p->pages[i]);
	kfree(p);
}

/* Pages owned by the test, each filled with its own index. */
static struct page **takeover_alloc_pages(struct kunit *test)
{
	struct takeover_pages *p = kzalloc(sizeof(*p), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, p);
	if (!kunit_alloc_resource(test, NULL, takeover_free_pages, GFP_KERNEL, p)) {
		kfree(p);
		KUNIT_ASSERT_FAILURE(test, "no KUnit resource for the pages");
	}
	for (i = 0; i < TAKEOVER_PAGES; i++) {
		p->pages[i] = alloc_page(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, p->pages[i]);
		memset(page_address(p->pages[i]), i + 1, PAGE_SIZE);
	}
	return p->pages;
}

/* Every page of @mem is the page it should be: 0 or the first bad one + 1. */
static unsigned int takeover_bad_page(const void *mem, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		const u8 *b = (const u8 *)mem + (size_t)i * PAGE_SIZE;

		if (b[0] != (u8)(i + 1) || b[PAGE_SIZE - 1] != (u8)(i + 1))
			return i + 1;
	}
	return 0;
}

static bool takeover_owned(const void *mem)
{
	return cxxvm_arena_owns(cxxvm_takeover_arena_for_test(), (uintptr_t)mem);
}

static u64 takeover_dirty(void)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_get_stats(cxxvm_takeover_arena_for_test(), &st);
	return st.dirty_pages;
}

/* Off, and released within 10 s (a work item may do it). */
static void takeover_expect_released(struct kunit *test)
{
	unsigned int waited;
	long live = -1;

	KUNIT_EXPECT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_OFF));
	for (waited = 0; waited < 500 && cxxvm_takeover_held_for_test(&live); waited++)
		msleep(20);
	KUNIT_EXPECT_FALSE(test, cxxvm_takeover_held_for_test(&live));
	KUNIT_EXPECT_EQ(test, 0L, live);
}

static void takeover_exit(struct kunit *test)
{
	long live;

	/* Never leave the kernel's callers redirected by a failed case. */
	cxxvm_takeover_warm_for_test(false);
	cxxvm_takeover_set(CXXVM_TAKEOVER_OFF);
	if (cxxvm_takeover_held_for_test(&live))
		kunit_info(test, "takeover still active at exit, %ld live", live);
}

static void takeover_maps_through_the_arena(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	unsigned int n;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_ON));
	for (n = 1; n <= CXXVM_MAX_PAGES; n *= 4) {
		void *mem = vm_map_ram(pages, n, NUMA_NO_NODE);

		KUNIT_ASSERT_NOT_NULL(test, mem);
		KUNIT_EXPECT_TRUE_MSG(test, takeover_owned(mem), "%u pages", n);
		KUNIT_EXPECT_EQ_MSG(test, 0U, takeover_bad_page(mem, n), "%u pages", n);
		vm_unmap_ram(mem, n);
	}
	takeover_expect_released(test);
}

static void takeover_falls_back_past_max_pages(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	void *mem;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_ON));
	mem = vm_map_ram(pages, TAKEOVER_PAGES, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_EXPECT_FALSE(test, takeover_owned(mem));
	KUNIT_EXPECT_EQ(test, 0U, takeover_bad_page(mem, TAKEOVER_PAGES));
	vm_unmap_ram(mem, TAKEOVER_PAGES);
	takeover_expect_released(test);
}

static void takeover_observe_maps_through_the_kernel(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	void *mem;
	long live;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_OBSERVE));
	KUNIT_EXPECT_TRUE(test, cxxvm_takeover_held_for_test(&live));
	mem = vm_map_ram(pages, 4, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_EXPECT_FALSE(test, takeover_owned(mem));
	KUNIT_EXPECT_EQ(test, 0U, takeover_bad_page(mem, 4));
	vm_unmap_ram(mem, 4);
	takeover_expect_released(test);
}

/*
 * split: cxx serves about one map in two, at random, the kernel the rest;
 * each mapping reads back its pages, the takeover counts only cxx's as
 * live, and every unmap reaches its owner (one of the kernel's sent to
 * the arena would WARN, one of cxx's sent to the kernel would leave it
 * live).  32 maps: both sides serve some unless a fair coin came up the
 * same 32 times.
 */
static void takeover_split_serves_both(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	void *mem[32];
	int i, owned = 0, got = 0;
	long live;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_SPLIT));
	for (i = 0; i < ARRAY_SIZE(mem); i++) {
		mem[i] = vm_map_ram(pages, 4, NUMA_NO_NODE);
		KUNIT_EXPECT_NOT_NULL(test, mem[i]);
		if (!mem[i])
			continue;
		got++;
		owned += takeover_owned(mem[i]);
		KUNIT_EXPECT_EQ_MSG(test, 0U, takeover_bad_page(mem[i], 4), "map %d", i);
	}
	KUNIT_EXPECT_LT(test, 0, owned);
	KUNIT_EXPECT_LT(test, owned, got);
	KUNIT_EXPECT_TRUE(test, cxxvm_takeover_held_for_test(&live));
	KUNIT_EXPECT_EQ(test, (long)owned, live);
	for (i = 0; i < ARRAY_SIZE(mem); i++)
		if (mem[i])
			vm_unmap_ram(mem[i], 4);
	takeover_expect_released(test);
}

/*
 * A caller that changes a page's attributes calls vm_unmap_aliases() so
 * that no lazily unmapped alias of it stays in a TLB: the arena's dirty
 * slots must be shot down by then.
 */
static void takeover_unmap_aliases_purges_the_arena(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	void *mem;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_ON));
	mem = vm_map_ram(pages, 4, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_ASSERT_TRUE(test, takeover_owned(mem));
	vm_unmap_ram(mem, 4);
	/* Far below lazy_max_pages: nothing purged it yet. */
	KUNIT_EXPECT_LE(test, 4ULL, takeover_dirty());
	vm_unmap_aliases();
	KUNIT_EXPECT_EQ(test, 0ULL, takeover_dirty());
	takeover_expect_released(test);
}

/*
 * takeover_warm: before each timed call, one page of it is mapped and
 * unmapped through the allocator that serves the call, and nothing else
 * changes: the arena sees one dirty page more per call it serves, none
 * for a call the kernel serves, and every mapping holds its pages.  A
 * purge in between (another caller's vm_unmap_aliases(), a worker queued
 * before) would reset the count: up to three tries.
 */
static void takeover_warm_goes_to_the_serving_allocator(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	u64 before = 0, mapped = 0, unmapped = 0;
	unsigned int try;
	void *mem;

	if (debug_pagealloc_enabled())
		kunit_skip(test, "debug_pagealloc purges at every unmap: no dirty pages to count");
	cxxvm_takeover_warm_for_test(true);
	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_ON));
	for (try = 0; try < 3; try++) {
		vm_unmap_aliases();
		before = takeover_dirty();
		mem = vm_map_ram(pages, 4, NUMA_NO_NODE);
		KUNIT_ASSERT_NOT_NULL(test, mem);
		KUNIT_EXPECT_TRUE(test, takeover_owned(mem));
		KUNIT_EXPECT_EQ(test, 0U, takeover_bad_page(mem, 4));
		mapped = takeover_dirty();
		vm_unmap_ram(mem, 4);
		unmapped = takeover_dirty();
		if (mapped == before + 1 && unmapped == before + 1 + 1 + 4)
			break;
	}
	KUNIT_EXPECT_EQ(test, before + 1, mapped);
	KUNIT_EXPECT_EQ(test, before + 1 + 1 + 4, unmapped);

	KUNIT_EXPECT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_OBSERVE));
	before = takeover_dirty();
	mem = vm_map_ram(pages, 4, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_EXPECT_FALSE(test, takeover_owned(mem));
	KUNIT_EXPECT_EQ(test, 0U, takeover_bad_page(mem, 4));
	vm_unmap_ram(mem, 4);
	/* Nothing added; a purge could only lower it. */
	KUNIT_EXPECT_GE(test, before, takeover_dirty());
	cxxvm_takeover_warm_for_test(false);
	takeover_expect_released(test);
}

/* Off with a mapping live: the unmap still reaches the arena, then it is released. */
static void takeover_off_keeps_the_hook_while_mapped(struct kunit *test)
{
	struct page **pages = takeover_alloc_pages(test);
	void *mem;
	long live;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_ON));
	mem = vm_map_ram(pages, 2, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_ASSERT_TRUE(test, takeover_owned(mem));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_takeover_set(CXXVM_TAKEOVER_OFF));
	KUNIT_EXPECT_TRUE(test, cxxvm_takeover_held_for_test(&live));
	KUNIT_EXPECT_EQ(test, 1L, live);
	/* Off: a new map is the kernel's. */
	{
		void *other = vm_map_ram(pages + 2, 2, NUMA_NO_NODE);

		KUNIT_ASSERT_NOT_NULL(test, other);
		KUNIT_EXPECT_FALSE(test, takeover_owned(other));
		vm_unmap_ram(other, 2);
	}
	KUNIT_EXPECT_EQ(test, 0U, takeover_bad_page(mem, 2));
	vm_unmap_ram(mem, 2);
	takeover_expect_released(test);
}

struct takeover_load {
	struct page **pages;
	u64 maps, cxx;
	unsigned int bad, failed;
};

static int takeover_load_thread(void *data)
{
	struct takeover_load *l = data;
	unsigned int i = 0;

	while (!kthread_should_stop()) {
		unsigned int n = 1 + i++ % 16;
		void *mem = vm_map_ram(l->pages, n, NUMA_NO_NODE);

		if (!mem) {
			l->failed++;
		} else {
			l->maps++;
			l->cxx += takeover_owned(mem);
			if (takeover_bad_page(mem, n))
				l->bad++;
			vm_unmap_ram(mem, n);
		}
		/*
		 * Not in a trampoline or a wrapper here: an RCU-tasks
		 * quiescent state.  Switching off waits for an RCU-tasks grace
		 * period, which a thread that is only ever preempted (never
		 * sleeps) would hold up for good.
		 */
		cond_resched_tasks_rcu_qs();
	}
	return 0;
}

/* Two threads map and unmap while the mode flips 30 times. */
static void takeover_switched_under_load(struct kunit *test)
{
	static const int modes[] = {
		CXXVM_TAKEOVER_ON, CXXVM_TAKEOVER_OFF, CXXVM_TAKEOVER_OBSERVE,
		CXXVM_TAKEOVER_SPLIT, CXXVM_TAKEOVER_OFF,
	};
	struct takeover_load l[2] = {};
	struct task_struct *t[2];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		l[i].pages = takeover_alloc_pages(test);
		t[i] = kthread_run(takeover_load_thread, &l[i], "cxxvm_takeover/%u", i);
		if (IS_ERR(t[i])) {
			if (i)
				kthread_stop(t[0]);
			KUNIT_ASSERT_FAILURE(test, "kthread_run() failed");
		}
	}
	for (i = 0; i < 30; i++) {
		KUNIT_EXPECT_EQ(test, 0, cxxvm_takeover_set(modes[i % ARRAY_SIZE(modes)]));
		msleep(20);
	}
	for (i = 0; i < 2; i++) {
		kthread_stop(t[i]);
		KUNIT_EXPECT_EQ(test, 0U, l[i].bad);
		KUNIT_EXPECT_EQ(test, 0U, l[i].failed);
		KUNIT_EXPECT_LT(test, 0ULL, l[i].maps);
		kunit_info(test, "thread %u: %llu maps, %llu through the arena", i, l[i].maps,
			   l[i].cxx);
	}
	/* Each thread ran through at least one "on" period (20 ms each). */
	KUNIT_EXPECT_LT(test, 0ULL, l[0].cxx + l[1].cxx);
	takeover_expect_released(test);
}

static struct kunit_case cxxvm_takeover_cases[] = {
	KUNIT_CASE(takeover_maps_through_the_arena),
	KUNIT_CASE(takeover_falls_back_past_max_pages),
	KUNIT_CASE(takeover_observe_maps_through_the_kernel),
	KUNIT_CASE(takeover_split_serves_both),
	KUNIT_CASE(takeover_unmap_aliases_purges_the_arena),
	KUNIT_CASE(takeover_warm_goes_to_the_serving_allocator),
	KUNIT_CASE(takeover_off_keeps_the_hook_while_mapped),
	KUNIT_CASE(takeover_switched_under_load),
	{}
};

static struct kunit_suite cxxvm_takeover_suite = {
	.name = "cxxvm_takeover",
	.exit = takeover_exit,
	.test_cases = cxxvm_takeover_cases,
};

kunit_test_suites(&cxxvm_takeover_suite);
