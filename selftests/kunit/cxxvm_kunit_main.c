// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_kunit - KUnit suites for cxxvm.ko: cxxrt, the C++ vmap block
 * allocator, and the shim's ioctl argument checks.
 *
 * A companion module: it needs cxxvm.ko loaded (for the symbols cxxvm.ko
 * exports on CONFIG_KUNIT kernels) and cannot load on a kernel without
 * KUnit.  Each allocator test makes its own small arena, so the module's
 * global one is never touched, and checks the real PTEs with
 * lookup_address().
 */
#include <kunit/test.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <asm/pgtable.h>

#include <linux/cxxvm.h>
#include "cxxvm_core.h"
#include "cxxvm_kunit.h"
#include "cxxvm_kunit_cxx.h"

/* ---- managed fixtures ---------------------------------------------------- */

struct test_pages {
	u32 nr;
	struct page **pages;
	u64 *pfns;
};

static void test_pages_free(struct kunit_resource *res)
{
	struct test_pages *tp = res->data;

	while (tp->nr)
		__free_page(tp->pages[--tp->nr]);
	kfree(tp->pages);
	kfree(tp->pfns);
	kfree(tp);
}

/*
 * @n fresh pages, freed when the test ends.  KUnit frees resources newest
 * first, so a test takes its pages before its arena: the arena (which may
 * still map them, or hold them in dirty slots) is destroyed first.
 */
static struct test_pages *test_pages(struct kunit *test, u32 n)
{
	struct test_pages *tp = kzalloc(sizeof(*tp), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, tp);
	tp->pages = kcalloc(n, sizeof(*tp->pages), GFP_KERNEL);
	tp->pfns = kcalloc(n, sizeof(*tp->pfns), GFP_KERNEL);
	if (!kunit_alloc_resource(test, NULL, test_pages_free, GFP_KERNEL, tp)) {
		kfree(tp->pages);
		kfree(tp->pfns);
		kfree(tp);
		KUNIT_ASSERT_FAILURE(test, "no KUnit resource for the pages");
	}
	KUNIT_ASSERT_NOT_NULL(test, tp->pages);
	KUNIT_ASSERT_NOT_NULL(test, tp->pfns);
	while (tp->nr < n) {
		struct page *p = alloc_page(GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, p);
		tp->pages[tp->nr] = p;
		tp->pfns[tp->nr] = page_to_pfn(p);
		tp->nr++;
	}
	return tp;
}

static void test_arena_free(struct kunit_resource *res)
{
	cxxvm_arena_destroy(res->data);
}

/* An arena of its own, destroyed when the test ends. */
static struct cxxvm_arena *test_arena(struct kunit *test, u32 lazy_max_pages,
				      u32 max_blocks)
{
	struct cxxvm_arena_params params = {
		.lazy_max_pages = lazy_max_pages,
		.max_blocks = max_blocks,
	};
	struct cxxvm_arena *a = NULL;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_create(&params, &a));
	if (!kunit_alloc_resource(test, NULL, test_arena_free, GFP_KERNEL, a)) {
		cxxvm_arena_destroy(a);
		KUNIT_ASSERT_FAILURE(test, "no KUnit resource for the arena");
	}
	return a;
}

static struct cxxvm_arena_stats stats_of(struct cxxvm_arena *a)
{
	struct cxxvm_arena_stats st;

	cxxvm_arena_get_stats(a, &st);
	return st;
}

static pte_t *pte_of(uintptr_t va)
{
	unsigned int level;
	pte_t *ptep = lookup_address(va, &level);

	return ptep && level == PG_LEVEL_4K ? ptep : NULL;
}

/* The 4 KiB PTE of @va; the test fails (rather than oopses) without one. */
static pte_t pte_at(struct kunit *test, uintptr_t va)
{
	pte_t *ptep = pte_of(va);

	KUNIT_ASSERT_NOT_NULL(test, ptep);
	return *ptep;
}

static const u32 page_counts[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64 };

static void page_count_desc(const u32 *n, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%u pages", *n);
}

KUNIT_ARRAY_PARAM(page_counts, page_counts, page_count_desc);

/* ---- cxxvm_arena --------------------------------------------------------- */

/* n pages take a 2^order slot, order = ceil(log2(n)). */
static void arena_order_rounding(struct kunit *test)
{
	const u32 n = *(const u32 *)test->param_value;
	struct test_pages *tp = test_pages(test, n);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va, va2;
	u64 seq;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, n, &va));
	KUNIT_EXPECT_EQ(test, 0UL, va & ~PAGE_MASK);
	KUNIT_EXPECT_EQ(test, (u64)roundup_pow_of_two(n), stats_of(a).mapped_pages);
	/* The next slot of the same order starts one slot further on. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, n, &va2));
	KUNIT_EXPECT_EQ(test, va + roundup_pow_of_two(n) * PAGE_SIZE, va2);
	KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_unmap(a, va2, n, &seq));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_unmap(a, va, n, &seq));
	KUNIT_EXPECT_EQ(test, 0ULL, stats_of(a).mapped_pages);
}

/* A mapping's PTEs point at the caller's pfns; the rest of the slot is clear. */
static void arena_ptes_point_at_pfns(struct kunit *test)
{
	const u32 n = *(const u32 *)test->param_value;
	struct test_pages *tp = test_pages(test, n);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va;
	u64 seq;
	u32 i;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, n, &va));
	for (i = 0; i < roundup_pow_of_two(n); i++) {
		pte_t *ptep = pte_of(va + i * PAGE_SIZE);

		KUNIT_ASSERT_NOT_NULL(test, ptep);
		if (i >= n) {
			KUNIT_EXPECT_TRUE_MSG(test, pte_none(*ptep), "page %u of the slot", i);
			continue;
		}
		KUNIT_EXPECT_TRUE(test, pte_present(*ptep));
		KUNIT_EXPECT_EQ_MSG(test, tp->pfns[i], (u64)pte_pfn(*ptep), "page %u", i);
		/* And the CPU agrees: a write through the mapping lands in the page. */
		*(u64 *)(va + i * PAGE_SIZE) = 0xc0ffee00 + i;
		KUNIT_EXPECT_EQ(test, 0xc0ffee00ULL + i, *(u64 *)page_address(tp->pages[i]));
	}
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_unmap(a, va, n, &seq));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_TRUE(test, pte_none(pte_at(test, va + i * PAGE_SIZE)));
}

/* A freed slot is reused only after a shootdown that covers it. */
static void arena_reuse_only_after_shootdown(struct kunit *test)
{
	struct test_pages *tp = test_pages(test, 1);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va1, va2, va3;
	u64 seq, shootdowns;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va1));
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_unmap(a, va1, 1, &seq));
	KUNIT_EXPECT_EQ(test, cxxvm_arena_flushed_seq(a) + 1, seq);
	KUNIT_EXPECT_EQ(test, 1ULL, stats_of(a).dirty_pages);

	/* Dirty, not free: the next map must go elsewhere. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va2));
	KUNIT_EXPECT_NE(test, va1, va2);

	shootdowns = stats_of(a).shootdowns;
	KUNIT_EXPECT_EQ(test, 1ULL, cxxvm_arena_flush(a));
	KUNIT_EXPECT_EQ(test, shootdowns + 1, stats_of(a).shootdowns);
	KUNIT_EXPECT_LE(test, seq, cxxvm_arena_flushed_seq(a));

	/* Shot down: the lowest free slot, va1's, comes back. */
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va3));
	KUNIT_EXPECT_EQ(test, va1, va3);
}

/* Unmap reaching lazy_max_pages issues the shootdown itself. */
static void arena_lazy_threshold_purges(struct kunit *test)
{
	struct test_pages *tp = test_pages(test, 16);
	struct cxxvm_arena *a = test_arena(test, 64, 2);
	u64 seq, shootdowns;
	uintptr_t va[4];
	int i;

	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 16, &va[i]));
	/* After the maps: reserving the block cost a shootdown of its own. */
	shootdowns = stats_of(a).shootdowns;
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_unmap(a, va[i], 16, &seq));
	KUNIT_EXPECT_EQ(test, 48ULL, stats_of(a).dirty_pages);
	KUNIT_EXPECT_EQ(test, shootdowns, stats_of(a).shootdowns);
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_unmap(a, va[3], 16, &seq));
	KUNIT_EXPECT_EQ(test, 0ULL, stats_of(a).dirty_pages);
	KUNIT_EXPECT_EQ(test, shootdowns + 1, stats_of(a).shootdowns);
	KUNIT_EXPECT_LE(test, seq, cxxvm_arena_flushed_seq(a));
}

/* A full block is followed by a new block. */
static void arena_full_block_then_new_block(struct kunit *test)
{
	const u32 per_block = CXXVM_BLOCK_PAGES;
	struct test_pages *tp = test_pages(test, 1);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va, first = 0;
	u32 i;

	for (i = 0; i < per_block; i++) {
		KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va));
		if (!i)
			first = va;
		KUNIT_ASSERT_EQ(test, first + i * PAGE_SIZE, va);
	}
	KUNIT_EXPECT_EQ(test, 1ULL, stats_of(a).blocks_live);
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va));
	KUNIT_EXPECT_EQ(test, 2ULL, stats_of(a).blocks_live);
	KUNIT_EXPECT_EQ(test, 2ULL, stats_of(a).blocks_created);
	KUNIT_EXPECT_TRUE(test, va < first || va >= first + per_block * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, (u64)per_block + 1, stats_of(a).live_mappings);
	/* The arena resource tears down all 513 live mappings. */
}

/* A full arena: -ENOMEM with nothing dirty, a purge once something is. */
static void arena_full_arena_purges(struct kunit *test)
{
	const u32 slots = CXXVM_BLOCK_PAGES / CXXVM_MAX_PAGES;
	struct test_pages *tp = test_pages(test, CXXVM_MAX_PAGES);
	struct cxxvm_arena *a = test_arena(test, 4096, 1);
	uintptr_t va[CXXVM_BLOCK_PAGES / CXXVM_MAX_PAGES], extra;
	u64 seq, shootdowns;
	u32 i;

	for (i = 0; i < slots; i++)
		KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, CXXVM_MAX_PAGES, &va[i]));
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_arena_map(a, tp->pfns, 1, &extra));
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_unmap(a, va[3], CXXVM_MAX_PAGES, &seq));
	shootdowns = stats_of(a).shootdowns;
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, CXXVM_MAX_PAGES, &extra));
	KUNIT_EXPECT_EQ(test, va[3], extra);
	KUNIT_EXPECT_EQ(test, shootdowns + 1, stats_of(a).shootdowns);
}

/* unmap() refuses anything but a live mapping of exactly the mapped size. */
static void arena_unmap_rejects_bad_calls(struct kunit *test)
{
	struct test_pages *tp = test_pages(test, 3);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va;
	u64 seq;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 3, &va));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va, 4, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va, 2, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va, 0, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va + 1, 3, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va + PAGE_SIZE, 3, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, PAGE_OFFSET, 3, &seq));
	/* Still mapped after every rejected call. */
	KUNIT_EXPECT_TRUE(test, pte_present(pte_at(test, va + 2 * PAGE_SIZE)));
	KUNIT_EXPECT_EQ(test, 1ULL, stats_of(a).live_mappings);
	KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_unmap(a, va, 3, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_unmap(a, va, 3, &seq));
}

/* Teardown with live mappings clears them and says how many there were. */
static void arena_teardown_with_live_mappings(struct kunit *test)
{
	struct cxxvm_arena_params params = { .lazy_max_pages = 1024, .max_blocks = 2 };
	struct test_pages *tp = test_pages(test, 4);
	struct cxxvm_arena *a = NULL;
	uintptr_t va;
	u64 seq;
	int i;

	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_create(&params, &a));
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1 + i % 4, &va));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_unmap(a, va, 1, &seq));
	KUNIT_EXPECT_EQ(test, 4ULL, cxxvm_arena_destroy(a));
}

static void arena_create_rejects_bad_params(struct kunit *test)
{
	struct cxxvm_arena_params bad[] = {
		{ .lazy_max_pages = CXXVM_MAX_PAGES - 1, .max_blocks = 1 },
		{ .lazy_max_pages = 1024, .max_blocks = 0 },
	};
	struct cxxvm_arena *a = NULL;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		a = NULL;
		KUNIT_EXPECT_EQ(test, -EINVAL, cxxvm_arena_create(&bad[i], &a));
		/* An arena that should not exist must not leak either. */
		if (a)
			cxxvm_arena_destroy(a);
	}
}

static struct kunit_case cxxvm_arena_cases[] = {
	KUNIT_CASE_PARAM(arena_order_rounding, page_counts_gen_params),
	KUNIT_CASE_PARAM(arena_ptes_point_at_pfns, page_counts_gen_params),
	KUNIT_CASE(arena_reuse_only_after_shootdown),
	KUNIT_CASE(arena_lazy_threshold_purges),
	KUNIT_CASE(arena_full_block_then_new_block),
	KUNIT_CASE(arena_full_arena_purges),
	KUNIT_CASE(arena_unmap_rejects_bad_calls),
	KUNIT_CASE(arena_teardown_with_live_mappings),
	KUNIT_CASE(arena_create_rejects_bad_params),
	{}
};

static struct kunit_suite cxxvm_arena_suite = {
	.name = "cxxvm_arena",
	.test_cases = cxxvm_arena_cases,
};

/* ---- cxxvm_cxxrt ----------------------------------------------------------- */

static void cxxrt_make_failure_constructs_nothing(struct kunit *test)
{
	int constructed = -1;

	cxxrt_test_fail_nth_alloc(1);
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_kunit_make_probe(&constructed));
	KUNIT_EXPECT_EQ(test, 0, constructed);
	KUNIT_EXPECT_EQ(test, 0, cxxvm_kunit_make_probe(&constructed));
	KUNIT_EXPECT_EQ(test, 1, constructed);
}

static void cxxrt_make_array_bounds(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 0, cxxvm_kunit_make_array(100));
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_kunit_make_array(0));
	/* n * sizeof(T) would overflow: refused before any allocation. */
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_kunit_make_array(SIZE_MAX / 4));
	cxxrt_test_fail_nth_alloc(1);
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_kunit_make_array(100));
}

static const u32 alignments[] = { 1, 2, 4, 8 };

static void alignment_desc(const u32 *align, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "alignas(%u)", *align);
}

KUNIT_ARRAY_PARAM(alignments, alignments, alignment_desc);

static void cxxrt_make_alignment(struct kunit *test)
{
	const u32 align = *(const u32 *)test->param_value;
	uintptr_t addr = cxxvm_kunit_make_aligned(align);

	KUNIT_ASSERT_NE(test, 0UL, addr);
	KUNIT_EXPECT_EQ(test, 0UL, addr % align);
	/* kmalloc's minimum, which cxxrt promises for every type. */
	KUNIT_EXPECT_EQ(test, 0UL, addr % 8);
}

/*
 * cxxvm_arena_create() allocates the arena, its spinlock, its mutex and
 * its block array: make each one fail in turn.  Nothing may leak (kmemleak
 * runs after the suites).
 */
static const u32 failing_allocs[] = { 1, 2, 3, 4 };

static void failing_alloc_desc(const u32 *n, char *desc)
{
	static const char *const what[] = { "", "arena", "spinlock", "mutex", "block array" };

	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "allocation %u (%s) fails", *n, what[*n]);
}

KUNIT_ARRAY_PARAM(failing_allocs, failing_allocs, failing_alloc_desc);

static void cxxrt_arena_create_alloc_failure(struct kunit *test)
{
	struct cxxvm_arena_params params = { .lazy_max_pages = 1024, .max_blocks = 2 };
	struct cxxvm_arena *a = NULL;

	cxxrt_test_fail_nth_alloc(*(const u32 *)test->param_value);
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_arena_create(&params, &a));
	cxxrt_test_fail_nth_alloc(0);
}

/* A block whose metadata cannot be allocated fails the map, not the arena. */
static void cxxrt_block_alloc_failure(struct kunit *test)
{
	struct test_pages *tp = test_pages(test, 1);
	struct cxxvm_arena *a = test_arena(test, 1024, 2);
	uintptr_t va;
	u64 seq;

	cxxrt_test_fail_nth_alloc(1);
	KUNIT_EXPECT_EQ(test, -ENOMEM, cxxvm_arena_map(a, tp->pfns, 1, &va));
	KUNIT_EXPECT_EQ(test, 0ULL, stats_of(a).blocks_live);
	KUNIT_ASSERT_EQ(test, 0, cxxvm_arena_map(a, tp->pfns, 1, &va));
	KUNIT_EXPECT_EQ(test, 0, cxxvm_arena_unmap(a, va, 1, &seq));
}

static void cxxrt_exit(struct kunit *test)
{
	cxxrt_test_fail_nth_alloc(0);
}

static struct kunit_case cxxvm_cxxrt_cases[] = {
	KUNIT_CASE(cxxrt_make_failure_constructs_nothing),
	KUNIT_CASE(cxxrt_make_array_bounds),
	KUNIT_CASE_PARAM(cxxrt_make_alignment, alignments_gen_params),
	KUNIT_CASE_PARAM(cxxrt_arena_create_alloc_failure, failing_allocs_gen_params),
	KUNIT_CASE(cxxrt_block_alloc_failure),
	{}
};

static struct kunit_suite cxxvm_cxxrt_suite = {
	.name = "cxxvm_cxxrt",
	.exit = cxxrt_exit,
	.test_cases = cxxvm_cxxrt_cases,
};

/* ---- cxxvm_ioctl_args ------------------------------------------------------ */

struct args_case {
	const char *what;
	int (*check)(const void *arg);
	union {
		struct cxxvm_map map;
		struct cxxvm_unmap unmap;
		struct cxxvm_verify verify;
		struct cxxvm_flush flush;
		struct cxxvm_bench bench;
	} arg;
	int expect;
};

static int check_map(const void *a)
{
	return cxxvm_check_map(a);
}

static int check_unmap(const void *a)
{
	return cxxvm_check_unmap(a);
}

static int check_verify(const void *a)
{
	return cxxvm_check_verify(a);
}

static int check_flush(const void *a)
{
	return cxxvm_check_flush(a);
}

static int check_bench(const void *a)
{
	return cxxvm_check_bench(a);
}


#define MAP(...)	.check = check_map, .arg.map = { .nr_pages = 1, __VA_ARGS__ }
#define UNMAP(...)	.check = check_unmap, .arg.unmap = { .handle = 1, __VA_ARGS__ }
#define VERIFY(...)	.check = check_verify, .arg.verify = { .handle = 1, __VA_ARGS__ }
#define FLUSH(...)	.check = check_flush, .arg.flush = { __VA_ARGS__ }
#define BENCH(...)	.check = check_bench, \
	.arg.bench = { .nr_pages = 1, .iterations = 1, __VA_ARGS__ }

static const struct args_case args_cases[] = {
	{ "map: valid", MAP(), 0 },
	{ "map: largest", MAP(.nr_pages = 64, .backend = CXXVM_BACKEND_VMAP), 0 },
	{ "map: unknown backend", MAP(.backend = CXXVM_NR_BACKENDS), -EINVAL },
	{ "map: 0 pages", MAP(.nr_pages = 0), -EINVAL },
	{ "map: 65 pages", MAP(.nr_pages = 65), -EINVAL },
	{ "map: unknown flag", MAP(.flags = 1), -EINVAL },
	{ "map: high flag", MAP(.flags = 1u << 31), -EINVAL },
	{ "map: reserved0", MAP(.reserved0 = 1), -EINVAL },
	{ "map: reserved[0]", MAP(.reserved = { 1, 0 }), -EINVAL },
	{ "map: reserved[1]", MAP(.reserved = { 0, 1ull << 63 }), -EINVAL },
	{ "map: output handle ignored", MAP(.handle = 99), 0 },
	{ "unmap: valid", UNMAP(), 0 },
	{ "unmap: handle 0", UNMAP(.handle = 0), -ENOENT },
	{ "unmap: handle past the limit", UNMAP(.handle = 65537), -ENOENT },
	{ "unmap: handle above 32 bits", UNMAP(.handle = 1ull << 32 | 1), -ENOENT },
	{ "unmap: unknown flag", UNMAP(.flags = 2), -EINVAL },
	{ "unmap: reserved0", UNMAP(.reserved0 = 1), -EINVAL },
	{ "unmap: reserved[1]", UNMAP(.reserved = { 0, 1 }), -EINVAL },
	{ "verify: valid", VERIFY(.seed = 7), 0 },
	{ "verify: unknown flag", VERIFY(.flags = 1), -EINVAL },
	{ "verify: reserved[0]", VERIFY(.reserved = { 1, 0 }), -EINVAL },
	{ "verify: handle 0", VERIFY(.handle = 0), -ENOENT },
	{ "flush: valid", FLUSH(), 0 },
	{ "flush: unknown flag", FLUSH(.flags = 1), -EINVAL },
	{ "flush: reserved0", FLUSH(.reserved0 = 1), -EINVAL },
	{ "flush: reserved[1]", FLUSH(.reserved = { 0, 1 }), -EINVAL },
	{ "bench: valid", BENCH(), 0 },
	{ "bench: most iterations", BENCH(.iterations = 1u << 20), 0 },
	{ "bench: 0 iterations", BENCH(.iterations = 0), -EINVAL },
	{ "bench: too many iterations", BENCH(.iterations = (1u << 20) + 1), -EINVAL },
	{ "bench: unknown backend", BENCH(.backend = 3), -EINVAL },
	{ "bench: 65 pages", BENCH(.nr_pages = 65), -EINVAL },
	{ "bench: unknown flag", BENCH(.flags = 1), -EINVAL },
	{ "bench: reserved[3]", BENCH(.reserved = { 0, 0, 0, 1 }), -EINVAL },
};

static void args_case_desc(const struct args_case *c, char *desc)
{
	strscpy(desc, c->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(args_cases, args_cases, args_case_desc);

static void ioctl_args_checked(struct kunit *test)
{
	const struct args_case *c = test->param_value;

	KUNIT_EXPECT_EQ_MSG(test, c->expect, c->check(&c->arg), "%s", c->what);
}

static struct kunit_case cxxvm_ioctl_args_cases[] = {
	KUNIT_CASE_PARAM(ioctl_args_checked, args_cases_gen_params),
	{}
};

static struct kunit_suite cxxvm_ioctl_args_suite = {
	.name = "cxxvm_ioctl_args",
	.test_cases = cxxvm_ioctl_args_cases,
};

kunit_test_suites(&cxxvm_arena_suite, &cxxvm_cxxrt_suite, &cxxvm_ioctl_args_suite);

MODULE_DESCRIPTION("KUnit suites for cxxvm.ko");
MODULE_LICENSE("GPL");
