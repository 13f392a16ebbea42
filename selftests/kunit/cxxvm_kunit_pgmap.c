// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_kunit_pgmap - KUnit suites for the C++ pagemap tracker.
 *
 * cxxvm_pagemap: the tracker's rules on made-up pfn ranges (the tracker
 * never touches the memory it tracks): lookup with and without a hint,
 * references, kill/drain, unregister waiting, altmap accounting, bad input,
 * and lookups racing registrations on the other CPU.
 *
 * cxxvm_pagemap_kernel: real MEMORY_DEVICE_PRIVATE pagemaps from
 * request_free_mem_region() and memremap_pages(), as lib/test_hmm.c makes
 * them, each registered in a tracker too: for every pfn and the pfns just
 * outside each range, the tracker's answer equals get_dev_pagemap()'s.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "cxxvm_core.h"

/* Made-up pfns, far above this guest's RAM and below MAX_PHYSMEM_BITS. */
#define FAKE_BASE	(1ULL << 30)

struct test_tracker {
	struct kunit *test;
	struct cxxvm_tracker *t;
};

static void tracker_release(struct kunit_resource *res)
{
	struct test_tracker *tt = res->data;

	/* Every test unregisters what it registered. */
	KUNIT_EXPECT_EQ(tt->test, 0U, cxxvm_tracker_destroy(tt->t));
	kfree(tt);
}

/* A tracker destroyed when the test ends. */
static struct cxxvm_tracker *test_tracker(struct kunit *test, u32 max_ranges)
{
	struct test_tracker *tt = kzalloc(sizeof(*tt), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, tt);
	tt->test = test;
	if (cxxvm_tracker_create(max_ranges, &tt->t)) {
		kfree(tt);
		KUNIT_ASSERT_FAILURE(test, "cxxvm_tracker_create() failed");
	}
	if (!kunit_alloc_resource(test, NULL, tracker_release, GFP_KERNEL, tt)) {
		cxxvm_tracker_destroy(tt->t);
		kfree(tt);
		KUNIT_ASSERT_FAILURE(test, "no KUnit resource for the tracker");
	}
	return tt->t;
}

static int reg(struct cxxvm_tracker *t, u32 type, const struct cxxvm_core_range *r,
	       u32 nr, uintptr_t cookie, struct cxxvm_pgmap **out)
{
	struct cxxvm_pgmap_desc d = {
		.type = type, .nr_ranges = nr, .ranges = r, .cookie = cookie,
	};

	return cxxvm_pgmap_register(t, &d, out);
}

/* Every pfn of every range finds its pagemap; the pfns around find none. */
static void pagemap_lookup_every_pfn(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 16);
	const struct cxxvm_core_range a[] = { { FAKE_BASE, 64 } };
	const struct cxxvm_core_range b[] = { { FAKE_BASE + 1000, 3 }, { FAKE_BASE + 100, 5 } };
	const struct cxxvm_core_range c[] = { { FAKE_BASE + 64, 1 } };	/* touches a */
	struct cxxvm_pgmap *ma, *mb, *mc, *m;
	u64 pfn;

	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0xa, &ma));
	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_PRIVATE, b, 2, 0xb, &mb));
	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_FS_DAX, c, 1, 0xc, &mc));

	for (pfn = FAKE_BASE - 2; pfn < FAKE_BASE + 1010; pfn++) {
		uintptr_t want = 0;

		if (pfn >= FAKE_BASE && pfn < FAKE_BASE + 64)
			want = 0xa;
		else if (pfn == FAKE_BASE + 64)
			want = 0xc;
		else if ((pfn >= FAKE_BASE + 100 && pfn < FAKE_BASE + 105) ||
			 (pfn >= FAKE_BASE + 1000 && pfn < FAKE_BASE + 1003))
			want = 0xb;
		m = cxxvm_pgmap_lookup(t, pfn, NULL);
		KUNIT_ASSERT_EQ_MSG(test, want, m ? cxxvm_pgmap_cookie(m) : 0,
				    "pfn base+%llu", pfn - FAKE_BASE);
		if (m) {
			/* The registration's reference and ours. */
			KUNIT_EXPECT_EQ(test, 2ULL, cxxvm_pgmap_refs(m));
			cxxvm_pgmap_put(m);
		}
	}
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(ma));
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(mb));
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(mc));
	cxxvm_pgmap_unregister(t, ma);
	cxxvm_pgmap_unregister(t, mb);
	cxxvm_pgmap_unregister(t, mc);
	KUNIT_EXPECT_NULL(test, cxxvm_pgmap_lookup(t, FAKE_BASE, NULL));
}

/* get_dev_pagemap()'s hint contract. */
static void pagemap_hint(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 4);
	const struct cxxvm_core_range a[] = { { FAKE_BASE, 16 } };
	const struct cxxvm_core_range b[] = { { FAKE_BASE + 32, 16 } };
	struct cxxvm_pgmap *ma, *mb, *m;

	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0xa, &ma));
	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, b, 1, 0xb, &mb));

	m = cxxvm_pgmap_lookup(t, FAKE_BASE, NULL);
	KUNIT_ASSERT_PTR_EQ(test, ma, m);
	/* A hint that covers the pfn comes back as is: no new reference. */
	m = cxxvm_pgmap_lookup(t, FAKE_BASE + 15, m);
	KUNIT_EXPECT_PTR_EQ(test, ma, m);
	KUNIT_EXPECT_EQ(test, 2ULL, cxxvm_pgmap_refs(ma));
	/* One that does not is released, and the pfn looked up. */
	m = cxxvm_pgmap_lookup(t, FAKE_BASE + 32, m);
	KUNIT_EXPECT_PTR_EQ(test, mb, m);
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(ma));
	KUNIT_EXPECT_EQ(test, 2ULL, cxxvm_pgmap_refs(mb));
	/* A miss releases the hint and gives none. */
	m = cxxvm_pgmap_lookup(t, FAKE_BASE + 20, m);
	KUNIT_EXPECT_NULL(test, m);
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(mb));
	/* A dying hint that covers the pfn is still returned as is. */
	m = cxxvm_pgmap_lookup(t, FAKE_BASE, NULL);
	KUNIT_ASSERT_PTR_EQ(test, ma, m);
	KUNIT_EXPECT_TRUE(test, cxxvm_pgmap_kill(t, ma));
	KUNIT_EXPECT_PTR_EQ(test, ma, cxxvm_pgmap_lookup(t, FAKE_BASE + 1, m));
	KUNIT_EXPECT_NULL(test, cxxvm_pgmap_lookup(t, FAKE_BASE + 1, NULL));
	cxxvm_pgmap_put(m);
	KUNIT_EXPECT_EQ(test, 0ULL, cxxvm_pgmap_refs(ma));
	cxxvm_pgmap_unregister(t, ma);
	cxxvm_pgmap_unregister(t, mb);
}

/* live -> dying -> dead, and the ranges stay reserved until unregistered. */
static void pagemap_kill_drain(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 4);
	const struct cxxvm_core_range a[] = { { FAKE_BASE, 8 } };
	struct cxxvm_pgmap *ma, *m1, *m2, *again;

	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0xa, &ma));
	m1 = cxxvm_pgmap_lookup(t, FAKE_BASE, NULL);
	m2 = cxxvm_pgmap_lookup(t, FAKE_BASE + 7, NULL);
	KUNIT_ASSERT_PTR_EQ(test, ma, m1);
	KUNIT_ASSERT_PTR_EQ(test, ma, m2);
	cxxvm_pgmap_get(m2);
	KUNIT_EXPECT_EQ(test, 4ULL, cxxvm_pgmap_refs(ma));

	KUNIT_EXPECT_TRUE(test, cxxvm_pgmap_kill(t, ma));
	KUNIT_EXPECT_FALSE(test, cxxvm_pgmap_kill(t, ma));
	KUNIT_EXPECT_EQ(test, 3ULL, cxxvm_pgmap_refs(ma));
	KUNIT_EXPECT_NULL(test, cxxvm_pgmap_lookup(t, FAKE_BASE, NULL));
	KUNIT_EXPECT_EQ(test, -EBUSY, cxxvm_pgmap_try_unregister(t, ma));
	KUNIT_EXPECT_EQ(test, -EBUSY, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0, &again));
	cxxvm_pgmap_put(m1);
	cxxvm_pgmap_put(m2);
	KUNIT_EXPECT_EQ(test, -EBUSY, cxxvm_pgmap_try_unregister(t, ma));
	cxxvm_pgmap_put(m2);
	KUNIT_EXPECT_EQ(test, 0ULL, cxxvm_pgmap_refs(ma));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_pgmap_try_unregister(t, ma));

	/* The same ranges again, live at once. */
	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0xaa, &again));
	m1 = cxxvm_pgmap_lookup(t, FAKE_BASE + 3, NULL);
	KUNIT_ASSERT_NOT_NULL(test, m1);
	KUNIT_EXPECT_EQ(test, (uintptr_t)0xaa, cxxvm_pgmap_cookie(m1));
	cxxvm_pgmap_put(m1);
	cxxvm_pgmap_unregister(t, again);
}

struct unregister_ctx {
	struct cxxvm_tracker *t;
	struct cxxvm_pgmap *m;
	struct completion done;
};

static int unregister_thread(void *arg)
{
	struct unregister_ctx *c = arg;

	cxxvm_pgmap_unregister(c->t, c->m);
	complete(&c->done);
	return 0;
}

/* unregister() sleeps until the last reference is put, then returns. */
static void pagemap_unregister_waits(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 4);
	const struct cxxvm_core_range a[] = { { FAKE_BASE, 8 } };
	struct unregister_ctx c = { .t = t };
	struct task_struct *k;
	struct cxxvm_pgmap *m;

	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, a, 1, 0xa, &c.m));
	m = cxxvm_pgmap_lookup(t, FAKE_BASE, NULL);
	KUNIT_ASSERT_PTR_EQ(test, c.m, m);
	init_completion(&c.done);
	k = kthread_run(unregister_thread, &c, "cxxvm_unreg");
	KUNIT_ASSERT_FALSE(test, IS_ERR(k));
	/* It killed the pagemap and is waiting on our reference. */
	KUNIT_EXPECT_EQ(test, 0UL, wait_for_completion_timeout(&c.done, msecs_to_jiffies(200)));
	KUNIT_EXPECT_NULL(test, cxxvm_pgmap_lookup(t, FAKE_BASE, NULL));
	cxxvm_pgmap_put(m);
	KUNIT_EXPECT_NE(test, 0UL, wait_for_completion_timeout(&c.done, 10 * HZ));
	KUNIT_EXPECT_NULL(test, cxxvm_pgmap_lookup(t, FAKE_BASE, NULL));
}

/* struct vmem_altmap's accounting: offset, aligned allocation, free. */
static void pagemap_altmap(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 4);
	const struct cxxvm_core_range a[] = { { FAKE_BASE, 4096 } };
	struct cxxvm_pgmap_desc d = {
		.type = MEMORY_DEVICE_GENERIC, .nr_ranges = 1, .ranges = a,
		.has_altmap = 1, .altmap_reserve = 2, .altmap_free = 200,
	};
	struct cxxvm_altmap_info ai;
	struct cxxvm_pgmap *m;
	u64 pfn;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_register(t, &d, &m));
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_get(t, m, &ai));
	KUNIT_EXPECT_EQ(test, FAKE_BASE, ai.base_pfn);
	KUNIT_EXPECT_EQ(test, FAKE_BASE + 4095, ai.end_pfn);
	KUNIT_EXPECT_EQ(test, 202ULL, ai.offset);	/* vmem_altmap_offset() */

	/* 64 pages from base+2: aligned up to base+64, 62 skipped. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_alloc(t, m, 64, &pfn));
	KUNIT_EXPECT_EQ(test, FAKE_BASE + 64, pfn);
	/* 3 pages: 1-aligned, right after. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_alloc(t, m, 3, &pfn));
	KUNIT_EXPECT_EQ(test, FAKE_BASE + 128, pfn);
	/* 4 pages: next is base+131, aligned to base+132. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_alloc(t, m, 4, &pfn));
	KUNIT_EXPECT_EQ(test, FAKE_BASE + 132, pfn);
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_get(t, m, &ai));
	KUNIT_EXPECT_EQ(test, 71ULL, ai.alloc);
	KUNIT_EXPECT_EQ(test, 63ULL, ai.align);
	/* 200 - 134 = 66 left: 64 aligned to base+192 needs 56 + 64. */
	KUNIT_EXPECT_EQ(test, -ENOSPC, cxxvm_pgmap_altmap_alloc(t, m, 64, &pfn));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_pgmap_altmap_alloc(t, m, 66, &pfn));
	KUNIT_EXPECT_EQ(test, FAKE_BASE + 136, pfn);
	KUNIT_EXPECT_EQ(test, -ENOSPC, cxxvm_pgmap_altmap_alloc(t, m, 1, &pfn));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_altmap_alloc(t, m, 0, &pfn));

	/* vmem_altmap_free() lowers alloc only; more than alloc is refused. */
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_altmap_free(t, m, 138));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_pgmap_altmap_free(t, m, 137));
	KUNIT_ASSERT_EQ(test, 0, cxxvm_pgmap_altmap_get(t, m, &ai));
	KUNIT_EXPECT_EQ(test, 0ULL, ai.alloc);
	cxxvm_pgmap_unregister(t, m);
}

/* Each bad description gets its errno and registers nothing. */
static void pagemap_bad_input(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 3);
	const u64 limit = 1ULL << (MAX_PHYSMEM_BITS - PAGE_SHIFT);
	const struct cxxvm_core_range one[] = { { FAKE_BASE, 16 } };
	const struct cxxvm_core_range two[] = { { FAKE_BASE, 16 }, { FAKE_BASE + 64, 16 } };
	const struct cxxvm_core_range empty[] = { { FAKE_BASE, 0 } };
	const struct cxxvm_core_range mutual[] = { { FAKE_BASE, 16 }, { FAKE_BASE + 15, 4 } };
	const struct cxxvm_core_range past[] = { { limit - 1, 2 } };
	const struct cxxvm_core_range wrap[] = { { ~0ULL - 1, 4 } };
	const struct cxxvm_core_range overlap[] = { { FAKE_BASE + 8, 16 } };
	const struct cxxvm_core_range other_two[] = { { FAKE_BASE + 200, 1 }, { FAKE_BASE + 300, 1 } };
	struct cxxvm_core_range nine[9];
	struct cxxvm_pgmap_desc d = {
		.type = MEMORY_DEVICE_GENERIC, .nr_ranges = 1, .ranges = one,
		.has_altmap = 1, .altmap_reserve = 10, .altmap_free = 7,
	};
	struct cxxvm_pgmap *m, *x;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(nine); i++)
		nine[i] = (struct cxxvm_core_range){ FAKE_BASE + 100 * i, 1 };
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, 0, one, 1, 0, &x));
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, 6, one, 1, 0, &x));
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, MEMORY_DEVICE_GENERIC, one, 0, 0, &x));
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, MEMORY_DEVICE_GENERIC, nine, 9, 0, &x));
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, MEMORY_DEVICE_GENERIC, empty, 1, 0, &x));
	KUNIT_EXPECT_EQ(test, -EINVAL, reg(t, MEMORY_DEVICE_GENERIC, mutual, 2, 0, &x));
	KUNIT_EXPECT_EQ(test, -ERANGE, reg(t, MEMORY_DEVICE_GENERIC, past, 1, 0, &x));
	KUNIT_EXPECT_EQ(test, -ERANGE, reg(t, MEMORY_DEVICE_GENERIC, wrap, 1, 0, &x));
	/* An altmap bigger than its range; an altmap on two ranges. */
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_register(t, &d, &x));
	d.altmap_free = 6;
	d.ranges = two;
	d.nr_ranges = 2;
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_register(t, &d, &x));
	d.has_altmap = 2;
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_register(t, &d, &x));

	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, two, 2, 0, &m));
	KUNIT_EXPECT_EQ(test, -EBUSY, reg(t, MEMORY_DEVICE_GENERIC, overlap, 1, 0, &x));
	KUNIT_EXPECT_EQ(test, -ENOSPC, reg(t, MEMORY_DEVICE_GENERIC, other_two, 2, 0, &x));
	/* An altmap call on a pagemap without one. */
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_pgmap_altmap_free(t, m, 0));
	cxxvm_pgmap_unregister(t, m);
	/* Nothing above registered anything: all the room is free again. */
	KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_GENERIC, nine, 3, 0, &m));
	cxxvm_pgmap_unregister(t, m);
}

/*
 * A reader on each other CPU looks up random pfns while this CPU registers
 * and unregisters pagemaps (reusing their objects).  Pagemap k always
 * covers [FAKE_BASE + 64k, +64) and carries cookie k + 1, so a reader can
 * tell a wrong answer.  Checks: never a pagemap that does not hold the pfn,
 * and every reference back at the end.
 */
#define RACE_MAPS	8
#define RACE_ROUNDS	400

struct race_ctx {
	struct cxxvm_tracker *t;
	struct completion done;
	bool stop;
	u64 hits, misses;
	const char *failure;
};

static int race_reader(void *arg)
{
	struct race_ctx *c = arg;
	struct rnd_state rnd;

	prandom_seed_state(&rnd, 0xcafe);
	while (!READ_ONCE(c->stop) && !c->failure) {
		u64 off = prandom_u32_state(&rnd) % (64 * RACE_MAPS);
		struct cxxvm_pgmap *m = cxxvm_pgmap_lookup(c->t, FAKE_BASE + off, NULL);

		if (!m) {
			c->misses++;
		} else {
			if (cxxvm_pgmap_cookie(m) != off / 64 + 1)
				c->failure = "a pagemap that does not hold the pfn";
			c->hits++;
			cxxvm_pgmap_put(m);
		}
		if ((c->hits + c->misses) % 256 == 0)
			cond_resched();
	}
	complete(&c->done);
	return 0;
}

static void pagemap_lookup_races_unregister(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, RACE_MAPS);
	struct race_ctx c = { .t = t };
	struct cxxvm_pgmap *m[RACE_MAPS] = {};
	struct task_struct *k;
	struct rnd_state rnd;
	u32 round, i;

	KUNIT_ASSERT_GE(test, num_online_cpus(), 2U);
	init_completion(&c.done);
	k = kthread_create_on_cpu(race_reader, &c, 1, "cxxvm_race/%u");
	KUNIT_ASSERT_FALSE(test, IS_ERR(k));
	wake_up_process(k);
	prandom_seed_state(&rnd, 0xbeef);
	for (round = 0; round < RACE_ROUNDS && !c.failure; round++) {
		i = prandom_u32_state(&rnd) % RACE_MAPS;
		if (m[i]) {
			cxxvm_pgmap_unregister(t, m[i]);
			m[i] = NULL;
		} else {
			struct cxxvm_core_range r = { FAKE_BASE + 64 * i, 64 };

			if (reg(t, MEMORY_DEVICE_GENERIC, &r, 1, i + 1, &m[i])) {
				c.failure = "register";
				m[i] = NULL;
			}
		}
		if (round % 16 == 0)
			cond_resched();
	}
	WRITE_ONCE(c.stop, true);
	wait_for_completion(&c.done);
	KUNIT_EXPECT_FALSE_MSG(test, c.failure, "%s", c.failure ?: "");
	kunit_info(test, "%llu hits, %llu misses", c.hits, c.misses);
	KUNIT_EXPECT_LT(test, 0ULL, c.hits);
	for (i = 0; i < RACE_MAPS; i++) {
		if (!m[i])
			continue;
		KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_pgmap_refs(m[i]));
		cxxvm_pgmap_unregister(t, m[i]);
	}
}

static struct kunit_case cxxvm_pagemap_cases[] = {
	KUNIT_CASE(pagemap_lookup_every_pfn),
	KUNIT_CASE(pagemap_hint),
	KUNIT_CASE(pagemap_kill_drain),
	KUNIT_CASE(pagemap_unregister_waits),
	KUNIT_CASE(pagemap_altmap),
	KUNIT_CASE(pagemap_bad_input),
	KUNIT_CASE(pagemap_lookup_races_unregister),
	{}
};

static struct kunit_suite cxxvm_pagemap_suite = {
	.name = "cxxvm_pagemap",
	.test_cases = cxxvm_pagemap_cases,
};

/* ---- cxxvm_pagemap_kernel: against the real memremap layer ----------------- */

#define PRIVATE_MAPS	2
#define PRIVATE_BYTES	(128UL << 20)	/* one memory section */

static void private_page_free(struct page *page)
{
}

static vm_fault_t private_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;	/* nothing is ever migrated to these pages */
}

static const struct dev_pagemap_ops private_ops = {
	.page_free = private_page_free,
	.migrate_to_ram = private_migrate_to_ram,
};

struct private_map {
	struct resource *res;
	struct dev_pagemap pgmap;
	bool mapped;
};

static void private_maps_release(struct kunit_resource *res)
{
	struct private_map *p = res->data;
	u32 i;

	for (i = 0; i < PRIVATE_MAPS; i++) {
		if (p[i].mapped)
			memunmap_pages(&p[i].pgmap);
		if (p[i].res)
			release_mem_region(p[i].res->start, resource_size(p[i].res));
	}
	kfree(p);
}

/* The kernel's answer for @pfn, as a private_map index + 1, or 0. */
static uintptr_t kernel_answer(struct private_map *p, u64 pfn)
{
	struct dev_pagemap *pgmap = get_dev_pagemap(pfn, NULL);
	uintptr_t who = 0;
	u32 i;

	if (!pgmap)
		return 0;
	for (i = 0; i < PRIVATE_MAPS; i++)
		if (pgmap == &p[i].pgmap)
			who = i + 1;
	put_dev_pagemap(pgmap);
	return who ?: ~(uintptr_t)0;	/* someone else's pagemap */
}

static uintptr_t tracker_answer(struct cxxvm_tracker *t, u64 pfn)
{
	struct cxxvm_pgmap *m = cxxvm_pgmap_lookup(t, pfn, NULL);
	uintptr_t who;

	if (!m)
		return 0;
	who = cxxvm_pgmap_cookie(m);
	cxxvm_pgmap_put(m);
	return who;
}

/* Compare the two on every pfn of every range and one pfn either side. */
static u64 cross_check(struct kunit *test, struct cxxvm_tracker *t, struct private_map *p)
{
	u64 pfn, checked = 0;
	u32 i;

	for (i = 0; i < PRIVATE_MAPS; i++) {
		u64 first = PHYS_PFN(p[i].res->start), last = PHYS_PFN(p[i].res->end);

		for (pfn = first - 1; pfn <= last + 1; pfn++, checked++) {
			uintptr_t k = kernel_answer(p, pfn), c = tracker_answer(t, pfn);

			if (k != c) {
				KUNIT_FAIL(test, "pfn %#llx: kernel %lu, tracker %lu", pfn, k, c);
				return checked;
			}
		}
	}
	return checked;
}

/*
 * PRIVATE_MAPS real MEMORY_DEVICE_PRIVATE pagemaps, torn down when the
 * test ends, each registered in @t with cookie index + 1 (in @m).
 */
static struct private_map *private_maps(struct kunit *test, struct cxxvm_tracker *t,
					struct cxxvm_pgmap **m)
{
	struct private_map *p;
	u32 i;

	p = kcalloc(PRIVATE_MAPS, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	if (!kunit_alloc_resource(test, NULL, private_maps_release, GFP_KERNEL, p)) {
		kfree(p);
		KUNIT_ASSERT_FAILURE(test, "no KUnit resource");
	}
	for (i = 0; i < PRIVATE_MAPS; i++) {
		struct cxxvm_core_range r;
		struct resource *res;
		void *ret;

		res = request_free_mem_region(&iomem_resource, PRIVATE_BYTES, "cxxvm_kunit");
		KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(res), "request_free_mem_region: %ld",
				       PTR_ERR(res));
		p[i].res = res;
		p[i].pgmap.type = MEMORY_DEVICE_PRIVATE;
		p[i].pgmap.range.start = res->start;
		p[i].pgmap.range.end = res->end;
		p[i].pgmap.nr_range = 1;
		p[i].pgmap.ops = &private_ops;
		p[i].pgmap.owner = p;
		ret = memremap_pages(&p[i].pgmap, numa_node_id());
		KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(ret), "memremap_pages: %ld", PTR_ERR(ret));
		p[i].mapped = true;
		r.start_pfn = PHYS_PFN(res->start);
		r.nr_pages = PHYS_PFN(resource_size(res));
		KUNIT_ASSERT_EQ(test, 0, reg(t, MEMORY_DEVICE_PRIVATE, &r, 1, i + 1, &m[i]));
	}
	return p;
}

/* Every pfn of every range, and the pfns around: the same answer. */
static void pagemap_kernel_cross_check(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 8);
	struct cxxvm_pgmap *m[PRIVATE_MAPS];
	struct private_map *p = private_maps(test, t, m);
	u64 checked;
	u32 i;

	checked = cross_check(test, t, p);
	kunit_info(test, "%llu pfns agree", checked);
	KUNIT_EXPECT_EQ(test, (u64)PRIVATE_MAPS * (PHYS_PFN(PRIVATE_BYTES) + 2), checked);
	for (i = 0; i < PRIVATE_MAPS; i++)
		cxxvm_pgmap_unregister(t, m[i]);
}

/* After a kill (and the kernel's teardown) both say none; the rest agree. */
static void pagemap_kernel_kill_agrees(struct kunit *test)
{
	struct cxxvm_tracker *t = test_tracker(test, 8);
	struct cxxvm_pgmap *m[PRIVATE_MAPS];
	struct private_map *p = private_maps(test, t, m);
	u64 first = PHYS_PFN(p[0].res->start), last = PHYS_PFN(p[0].res->end), pfn;

	KUNIT_EXPECT_TRUE(test, cxxvm_pgmap_kill(t, m[0]));
	memunmap_pages(&p[0].pgmap);
	p[0].mapped = false;
	for (pfn = first; pfn <= last; pfn++) {
		if (tracker_answer(t, pfn) || kernel_answer(p, pfn)) {
			KUNIT_FAIL(test, "pfn %#llx: still found after the kill", pfn);
			break;
		}
	}
	cxxvm_pgmap_unregister(t, m[0]);
	KUNIT_EXPECT_EQ(test, (u64)PRIVATE_MAPS * (PHYS_PFN(PRIVATE_BYTES) + 2),
			cross_check(test, t, p));
	cxxvm_pgmap_unregister(t, m[1]);
}

static struct kunit_case cxxvm_pagemap_kernel_cases[] = {
	KUNIT_CASE(pagemap_kernel_cross_check),
	KUNIT_CASE(pagemap_kernel_kill_agrees),
	{}
};

static struct kunit_suite cxxvm_pagemap_kernel_suite = {
	.name = "cxxvm_pagemap_kernel",
	.test_cases = cxxvm_pagemap_kernel_cases,
};

kunit_test_suites(&cxxvm_pagemap_suite, &cxxvm_pagemap_kernel_suite);
