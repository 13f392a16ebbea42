// SPDX-License-Identifier: GPL-2.0
//
// googletest suite of VmapArena on HostedPlatform: the same rules as the
// KUnit suites, plus what only a simulated MMU can see (a slot reused
// before its shootdown, through a stale TLB entry).
#include <gtest/gtest.h>
// Clang 14's <stdarg.h>, which googletest pulls in, defines va_start()
// whatever __need___va_list asks for, and would hide VmapBlock::va_start()
// in `make thread-safety`.  Nothing here uses varargs.
#undef va_start

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/vmap_arena.h"
#include "hosted_platform.h"

namespace cxxvm::hosted {
namespace {

using Arena = VmapArena<HostedPlatform>;

/// Poll @done every millisecond, for at most 5 s.
template <typename Fn>
void wait_for(Fn &&done)
{
	for (int i = 0; i < 5000 && !done(); ++i)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

class VmapArenaTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		HostedPlatform::set_nr_cpus(4);
		HostedPlatform::set_cpu(0);
		HostedPlatform::reset_counters();
		HostedPlatform::pause_work(false);
		HostedPlatform::hold_shootdowns(false);
		warnings_before_ = warnings();
	}
	void TearDown() override
	{
		HostedPlatform::pause_work(false);
		HostedPlatform::hold_shootdowns(false);
		if (arena_) {
			EXPECT_EQ(0u, Arena::destroy(arena_));
		}
		EXPECT_EQ(0u, HostedPlatform::blocks_reserved());
		EXPECT_EQ(0u, HostedPlatform::violations());
		EXPECT_EQ(warnings_before_, warnings());
	}
	Arena *make(ktl::uint32_t lazy, ktl::uint32_t blocks, bool return_empty = false)
	{
		auto r = Arena::create({.lazy_max_pages = lazy, .max_blocks = blocks,
					.return_empty = return_empty});
		EXPECT_TRUE(r.ok());
		arena_ = r.ok() ? r.value() : nullptr;
		return arena_;
	}
	static std::vector<Pfn> pfns(ktl::uint64_t first, ktl::uint32_t n)
	{
		std::vector<Pfn> v;
		for (ktl::uint32_t i = 0; i < n; ++i)
			v.emplace_back(first + i);
		return v;
	}
	/// @n map+unmap cycles of @p (one mapping of all of it each) on this
	/// thread's CPU; wrap in ASSERT_NO_FATAL_FAILURE().
	static void churn(Arena *a, const std::vector<Pfn> &p, int n)
	{
		for (int k = 0; k < n; ++k) {
			auto va = a->map({p.data(), p.size()});
			ASSERT_TRUE(va.ok()) << k;
			ASSERT_TRUE(a->unmap(va.value(), PageCount(p.size())).ok()) << k;
		}
	}
	/// @n mappings of @p kept live, appended to @live, on this thread's
	/// CPU; wrap in ASSERT_NO_FATAL_FAILURE().
	static void map_live(Arena *a, const std::vector<Pfn> &p, int n, std::vector<VirtAddr> *live)
	{
		for (int i = 0; i < n; ++i) {
			auto va = a->map({p.data(), p.size()});
			ASSERT_TRUE(va.ok()) << i;
			live->push_back(va.value());
		}
	}
	/// One one-page map+unmap on each of @cpus in turn (each gets a block
	/// of its own, or steals an earlier one's if it is empty), then FLUSH:
	/// their blocks are clean and kept (reserve_).  Leaves this thread on
	/// the last of @cpus.  Wrap in ASSERT_NO_FATAL_FAILURE().
	static void clean_blocks_on(Arena *a, std::initializer_list<ktl::uint32_t> cpus)
	{
		for (ktl::uint32_t cpu : cpus) {
			HostedPlatform::set_cpu(cpu);
			ASSERT_NO_FATAL_FAILURE(churn(a, pfns(9, 1), 1));
		}
		a->purge();
		ASSERT_EQ(cpus.size(), a->stats().blocks_live);
	}
	/// Six blocks of live 64-page mappings on this thread's CPU, then all
	/// but the first (*@kept) unmapped: five blocks that a purge empties,
	/// one it cannot; six blocks held then unless @expect_six is false (a
	/// purge ran during the unmaps).  Wrap in ASSERT_NO_FATAL_FAILURE().
	static void six_blocks_one_live(Arena *a, VirtAddr *kept, bool expect_six = true)
	{
		const auto p = pfns(1, CXXVM_MAX_PAGES);
		std::vector<VirtAddr> live;
		ASSERT_NO_FATAL_FAILURE(
			map_live(a, p, 6 * CXXVM_BLOCK_PAGES / CXXVM_MAX_PAGES, &live));
		for (size_t i = 1; i < live.size(); ++i)
			ASSERT_TRUE(a->unmap(live[i], PageCount(64)).ok()) << i;
		if (expect_six) {
			ASSERT_EQ(6u, a->stats().blocks_live);
		}
		*kept = live[0];
	}
	/// Wait until a held-back shootdown is waiting (hold_shootdowns()).
	/// Dirty pages of every block, as the blocks count them, without the
	/// reclaim that stats() does first.
	static ktl::uint64_t blocks_dirty(Arena *a)
	{
		ktl::uint64_t dirty = 0;
		a->for_each_block([&](ktl::uint32_t, const VmapBlock &b) { dirty += b.dirty_pages(); });
		return dirty;
	}
	static void wait_for_held_shootdown()
	{
		wait_for([] { return HostedPlatform::shootdowns_held() != 0; });
		ASSERT_EQ(1, HostedPlatform::shootdowns_held()) << "the worker never started its purge";
	}

	Arena *arena_ = nullptr;
	ktl::uint64_t warnings_before_ = 0;
};

// Every page of a mapping reaches its pfn; after unmap the PTEs are clear.
TEST_F(VmapArenaTest, MapsEveryPageToItsPfn)
{
	Arena *a = make(256, 8);
	ASSERT_NE(nullptr, a);
	for (ktl::uint32_t n = 1; n <= CXXVM_MAX_PAGES; ++n) {
		const auto p = pfns(1000 * n, n);
		auto va = a->map({p.data(), p.size()});
		ASSERT_TRUE(va.ok()) << n;
		for (ktl::uint32_t i = 0; i < n; ++i) {
			auto got = HostedPlatform::walk(va.value().plus_pages(i));
			ASSERT_TRUE(got.has_value());
			EXPECT_EQ(p[i], *got);
		}
		ASSERT_TRUE(a->unmap(va.value(), PageCount(n)).ok());
		for (ktl::uint32_t i = 0; i < n; ++i)
			EXPECT_FALSE(HostedPlatform::walk(va.value().plus_pages(i)).has_value());
	}
}

// Bad unmaps are -EINVAL, or -ENOENT for an address in no block, and
// change nothing.
TEST_F(VmapArenaTest, RejectsBadUnmaps)
{
	Arena *a = make(256, 8);
	ASSERT_NE(nullptr, a);
	const auto p = pfns(7, 4);
	auto va = a->map({p.data(), p.size()});
	ASSERT_TRUE(va.ok());
	EXPECT_EQ(-22, a->unmap(va.value(), PageCount(3)).error());
	EXPECT_EQ(-22, a->unmap(va.value().plus_pages(1), PageCount(4)).error());
	EXPECT_EQ(-2, a->unmap(VirtAddr(0x1000), PageCount(4)).error());
	// The guard page after the block, and the block's last page.
	EXPECT_EQ(-2, a->unmap(va.value().plus_pages(512), PageCount(4)).error());
	EXPECT_EQ(-22, a->unmap(va.value().plus_pages(511), PageCount(1)).error());
	EXPECT_TRUE(a->unmap(va.value(), PageCount(4)).ok());
	EXPECT_EQ(-22, a->unmap(va.value(), PageCount(4)).error());
	EXPECT_EQ(-22, a->map({p.data(), std::size_t{0}}).error());
	const auto big = pfns(100, CXXVM_MAX_PAGES + 1);
	EXPECT_EQ(-22, a->map({big.data(), big.size()}).error());
}

// owns() is true for every address of a block the arena holds, live slot
// or not (the takeover keeps such addresses away from the kernel's
// vm_unmap_ram()), and false elsewhere.
TEST_F(VmapArenaTest, OwnsEveryAddressOfItsBlocksOnly)
{
	Arena *a = make(256, 8);
	ASSERT_NE(nullptr, a);
	EXPECT_FALSE(a->owns(VirtAddr(0x1000)));
	const auto p = pfns(7, 4);
	auto va = a->map({p.data(), p.size()});
	ASSERT_TRUE(va.ok());
	EXPECT_TRUE(a->owns(va.value()));
	EXPECT_TRUE(a->owns(va.value().plus_pages(3)));
	// The pages past the slot belong to the same block.
	EXPECT_TRUE(a->owns(va.value().plus_pages(4)));
	ASSERT_TRUE(a->unmap(va.value(), PageCount(4)).ok());
	EXPECT_TRUE(a->owns(va.value()));	// dirty, still the arena's
	EXPECT_FALSE(a->owns(VirtAddr(0x1000)));
	// Once the block goes back to vmalloc, its VA is no longer the arena's.
	a->shrink();
	EXPECT_FALSE(a->owns(va.value()));
}

// The index finds the first and last byte of every block among many,
// after the lowest block and some in the middle left, and nothing in the
// guard pages between them, below the first or past the last
// (VmapIndex::search() bisects for the last block starting at or below
// an address, then checks that the block reaches it).  The hosted VA grows
// only, with one guard page after each block, as vmap() leaves.
TEST_F(VmapArenaTest, IndexFindsEveryBlockAmongMany)
{
	constexpr ktl::uint32_t kBlock = CXXVM_MAX_PAGES;	// one slot fills a block
	constexpr ktl::uint32_t kBlocks = 11;
	auto r = Arena::create({.lazy_max_pages = 4096, .max_blocks = 16, .block_pages = kBlock});
	ASSERT_TRUE(r.ok());
	arena_ = r.value();
	Arena *a = arena_;
	const auto p = pfns(3, kBlock);
	std::vector<VirtAddr> va;
	for (ktl::uint32_t i = 0; i < kBlocks; ++i) {
		auto m = a->map({p.data(), p.size()});
		ASSERT_TRUE(m.ok()) << i;
		va.push_back(m.value());
	}
	ASSERT_EQ(kBlocks, a->stats().blocks_live);
	std::sort(va.begin(), va.end());
	// Release blocks 0, 4, 5 and 9: the first goes, the last stays, the
	// middle thins.
	const std::vector<bool> gone = {true, false, false, false, true, true,
					false, false, false, true, false};
	for (ktl::uint32_t i = 0; i < kBlocks; ++i) {
		if (gone[i]) {
			ASSERT_TRUE(a->unmap(va[i], PageCount(kBlock)).ok()) << i;
		}
	}
	a->shrink();
	ASSERT_EQ(kBlocks - 4, a->stats().blocks_live);
	for (ktl::uint32_t i = 0; i < kBlocks; ++i) {
		EXPECT_EQ(!gone[i], a->owns(va[i])) << i;
		EXPECT_EQ(!gone[i], a->owns(va[i].plus_pages(kBlock - 1))) << i;
		EXPECT_EQ(!gone[i], a->owns(VirtAddr(va[i].plus_pages(kBlock).value() - 1))) << i;
		EXPECT_FALSE(a->owns(va[i].plus_pages(kBlock))) << i << ": its guard page";
		EXPECT_FALSE(a->owns(VirtAddr(va[i].value() - 1))) << i << ": below it";
	}
	EXPECT_EQ(-2, a->unmap(va[4], PageCount(kBlock)).error()) << "a released block";
	for (ktl::uint32_t i = 0; i < kBlocks; ++i) {
		if (!gone[i]) {
			EXPECT_TRUE(a->unmap(va[i], PageCount(kBlock)).ok()) << i;
		}
	}
}

// Blocks of a size that is not a multiple of 64 (takeover_block_pages=255:
// with vmap()'s guard page, one of the kernel's 1 MiB blocks), side by side as
// vmalloc places them: each holds exactly that many pages, and every
// address is found in its own block, not the one before (the index
// bisects with the arena's block size).
TEST_F(VmapArenaTest, BlocksOfAnyPageCountHoldThatManyPages)
{
	constexpr ktl::uint32_t kBlock = 4 * CXXVM_MAX_PAGES - 1;
	auto r = Arena::create({.lazy_max_pages = 4096, .max_blocks = 3, .block_pages = kBlock});
	ASSERT_TRUE(r.ok());
	arena_ = r.value();
	Arena *a = arena_;
	const auto one = pfns(5, 1);
	std::vector<VirtAddr> live;
	for (ktl::uint32_t i = 0; i < 2 * kBlock; ++i) {
		auto va = a->map({one.data(), one.size()});
		ASSERT_TRUE(va.ok()) << i;
		live.push_back(va.value());
		ASSERT_EQ(i / kBlock + 1, a->stats().blocks_live) << i;
	}
	const VirtAddr second = live[kBlock];
	EXPECT_EQ(live[0].plus_pages(kBlock + 1), second) << "blocks one guard page apart";
	EXPECT_TRUE(a->owns(live[kBlock - 1]));
	EXPECT_FALSE(a->owns(live[0].plus_pages(kBlock)));	// the guard page
	// A third block: one page at its start, then 64-page slots.  Two fit
	// (pages 64 and 128); the run from page 192 would need page 255,
	// which the block does not have, though 126 of its pages are free.
	auto first = a->map({one.data(), one.size()});
	ASSERT_TRUE(first.ok());
	live.push_back(first.value());
	const auto big = pfns(100, CXXVM_MAX_PAGES);
	for (int i = 0; i < 2; ++i) {
		auto va = a->map({big.data(), big.size()});
		ASSERT_TRUE(va.ok()) << i;
		live.push_back(va.value());
	}
	EXPECT_EQ(3u, a->stats().blocks_live);
	EXPECT_EQ(-12, a->map({big.data(), big.size()}).error());
	for (size_t i = 0; i < live.size(); ++i) {
		const ktl::uint32_t n = i <= 2 * kBlock ? 1 : CXXVM_MAX_PAGES;
		ASSERT_TRUE(a->unmap(live[i], PageCount(n)).ok()) << i;
	}
}

// After a purge a map takes the slot it freed in a partly used block before
// an empty block, and a full block emptied by the purge is reused next:
// FLUSH's reclaim moves each block it frees pages in to the fill list it
// belongs on (the current block being full).
TEST_F(VmapArenaTest, PurgedBlocksGoBackToTheRightFillList)
{
	Arena *a = make(4096, 8);
	ASSERT_NE(nullptr, a);
	const auto p = pfns(3, CXXVM_MAX_PAGES);
	constexpr int kPerBlock = CXXVM_BLOCK_PAGES / CXXVM_MAX_PAGES;
	std::vector<VirtAddr> live;
	ASSERT_NO_FATAL_FAILURE(map_live(a, p, 3 * kPerBlock, &live));	// blocks A, B, C full
	ASSERT_EQ(3u, a->stats().blocks_live);
	for (int i = 0; i < kPerBlock; ++i)	// all of A
		ASSERT_TRUE(a->unmap(live[i], PageCount(CXXVM_MAX_PAGES)).ok()) << i;
	const VirtAddr freed_in_b = live[kPerBlock + 1];
	ASSERT_TRUE(a->unmap(freed_in_b, PageCount(CXXVM_MAX_PAGES)).ok());
	EXPECT_EQ(0u, a->misfiled_blocks());
	a->purge();
	EXPECT_EQ(0u, a->misfiled_blocks());
	auto in_b = a->map({p.data(), p.size()});
	ASSERT_TRUE(in_b.ok());
	EXPECT_EQ(freed_in_b, in_b.value()) << "took an empty block before a partly used one";
	auto in_a = a->map({p.data(), p.size()});
	ASSERT_TRUE(in_a.ok());
	EXPECT_EQ(live[0], in_a.value()) << "the emptied block was not reused";
	EXPECT_EQ(3u, a->stats().blocks_live);
	EXPECT_EQ(0u, a->misfiled_blocks());
	ASSERT_TRUE(a->unmap(in_a.value(), PageCount(CXXVM_MAX_PAGES)).ok());
	ASSERT_TRUE(a->unmap(in_b.value(), PageCount(CXXVM_MAX_PAGES)).ok());
	for (int i = kPerBlock; i < 3 * kPerBlock; ++i) {
		if (live[i] != freed_in_b) {
			ASSERT_TRUE(a->unmap(live[i], PageCount(CXXVM_MAX_PAGES)).ok()) << i;
		}
	}
}

// Unmaps during a purge's shootdown, in a block that was clean and in one
// with a slot that purge covers: both name the next purge.  B's new slot
// starts a second generation of dirty pages in B, so the purge's reclaim
// still frees B's first slot, and the next purge frees the two others.
// (A purge's last pass that took every block it walked off the unclean
// list once left both slots dirty for ever, and the next purge, with
// nothing to move, completed without a shootdown: a caller waiting for it
// would free pages another CPU may still translate.)
TEST_F(VmapArenaTest, SlotsDirtiedDuringAShootdownWaitForTheNextPurge)
{
	Arena *a = make(4096, 8);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const auto p = pfns(3, CXXVM_MAX_PAGES);
	constexpr int kPerBlock = CXXVM_BLOCK_PAGES / CXXVM_MAX_PAGES;
	std::vector<VirtAddr> live;
	ASSERT_NO_FATAL_FAILURE(map_live(a, p, 2 * kPerBlock, &live));	// A, B full
	ASSERT_TRUE(a->unmap(live[kPerBlock], PageCount(64)).ok());	// B unclean
	HostedPlatform::hold_shootdowns(true);
	std::thread purger([&] { a->purge(); });
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());
	auto in_a = a->unmap(live[0], PageCount(64));	// A was clean
	auto in_b = a->unmap(live[kPerBlock + 1], PageCount(64));	// B's first is in the purge
	HostedPlatform::hold_shootdowns(false);
	purger.join();
	ASSERT_TRUE(in_a.ok());
	ASSERT_TRUE(in_b.ok());
	EXPECT_EQ(2u, in_a.value()) << "not named after the purge in flight";
	EXPECT_EQ(2u, in_b.value());
	EXPECT_EQ(1u, a->flushed_seq());
	EXPECT_EQ(0u, a->misfiled_blocks());
	EXPECT_EQ(128u, a->stats().dirty_pages) << "B's first slot waits for a second purge";
	const ktl::uint64_t shootdowns = HostedPlatform::shootdowns();
	EXPECT_EQ(128u, a->purge()) << "the slots unmapped during the shootdown were lost";
	EXPECT_EQ(shootdowns + 1, HostedPlatform::shootdowns());
	EXPECT_EQ(2u, a->flushed_seq());
	EXPECT_EQ(0u, a->stats().dirty_pages);
	EXPECT_EQ(0u, a->misfiled_blocks());
	for (int i = 1; i < 2 * kPerBlock; ++i) {
		if (i != kPerBlock && i != kPerBlock + 1) {
			ASSERT_TRUE(a->unmap(live[i], PageCount(64)).ok()) << i;
		}
	}
}

// check_pages(), the size check the shim applies to every backend, is the
// one map() applies.
TEST_F(VmapArenaTest, CheckPagesIsMapsCheck)
{
	Arena *a = make(256, 8);
	ASSERT_NE(nullptr, a);
	const auto p = pfns(1, CXXVM_MAX_PAGES + 1);
	for (std::size_t n = 0; n <= CXXVM_MAX_PAGES + 1; ++n) {
		const int check = Arena::check_pages(n).error();
		auto va = a->map({p.data(), n});
		EXPECT_EQ(check, va.ok() ? 0 : va.error()) << n << " pages";
		EXPECT_EQ(n >= 1 && n <= CXXVM_MAX_PAGES ? 0 : -22, check) << n << " pages";
		if (va.ok()) {
			ASSERT_TRUE(a->unmap(va.value(), PageCount(static_cast<ktl::uint32_t>(n))).ok());
		}
	}
}

// A slot comes back only after a shootdown: a thread that touched the old
// mapping never sees the old pfn through the new one.
TEST_F(VmapArenaTest, NoReuseBeforeShootdown)
{
	Arena *a = make(64, 2);
	ASSERT_NE(nullptr, a);
	for (ktl::uint64_t k = 0; k < 20000; ++k) {
		const Pfn pfn(1 + k);
		auto va = a->map({&pfn, 1});
		ASSERT_TRUE(va.ok()) << k;
		auto seen = HostedPlatform::translate(va.value());
		ASSERT_TRUE(seen.has_value());
		ASSERT_EQ(pfn, *seen) << "stale TLB entry: slot reused before its shootdown, cycle " << k;
		ASSERT_TRUE(a->unmap(va.value(), PageCount(1)).ok());
	}
	EXPECT_LT(0u, a->stats().purges);
}

// The unmap that reaches lazy_max_pages queues the worker and returns: no
// shootdown on the caller's path, no wait.  The worker purges once it runs
// and tells the owner; the pages' covering purge then reads as completed.
TEST_F(VmapArenaTest, ThresholdUnmapQueuesTheWorker)
{
	static std::atomic<int> purged_calls;
	purged_calls = 0;
	auto r = Arena::create({.lazy_max_pages = 64,
				.max_blocks = 4,
				.purged = [](void *) { ++purged_calls; }});
	ASSERT_TRUE(r.ok());
	arena_ = r.value();
	HostedPlatform::pause_work(true);
	const Pfn pfn(7);
	ktl::uint64_t covering = 0;
	for (int k = 0; k < 64 + 32; ++k) {	// past the threshold
		auto va = arena_->map({&pfn, 1});
		ASSERT_TRUE(va.ok()) << k;
		auto seq = arena_->unmap(va.value(), PageCount(1));
		ASSERT_TRUE(seq.ok());
		covering = seq.value();
	}
	auto st = arena_->stats();
	EXPECT_EQ(0u, st.purges) << "a purge ran although the worker is held back";
	EXPECT_EQ(0u, st.caller_purges);
	EXPECT_EQ(0u, st.purge_waits) << "an unmap waited for a purge";
	EXPECT_EQ(64u + 32, st.dirty_pages) << "the dirty pages pass the threshold unpurged";
	EXPECT_LT(arena_->flushed_seq(), covering);

	HostedPlatform::pause_work(false);
	wait_for([&] { return arena_->flushed_seq() >= covering; });
	EXPECT_GE(arena_->flushed_seq(), covering) << "the worker never purged";
	wait_for([] { return purged_calls != 0; });
	st = arena_->stats();
	EXPECT_EQ(1u, st.worker_purges);
	EXPECT_EQ(0u, st.caller_purges);
	EXPECT_EQ(0u, st.dirty_pages);
	EXPECT_EQ(1, purged_calls.load());
}

// With caller_purge the unmap that reaches the threshold purges itself.
TEST_F(VmapArenaTest, CallerPurgeRunsOnTheUnmap)
{
	auto r = Arena::create({.lazy_max_pages = 64, .max_blocks = 4, .caller_purge = true});
	ASSERT_TRUE(r.ok());
	arena_ = r.value();
	HostedPlatform::pause_work(true);
	const Pfn pfn(7);
	for (int k = 0; k < 64; ++k) {
		auto va = arena_->map({&pfn, 1});
		ASSERT_TRUE(va.ok()) << k;
		ASSERT_TRUE(arena_->unmap(va.value(), PageCount(1)).ok());
	}
	HostedPlatform::pause_work(false);
	const auto st = arena_->stats();
	EXPECT_EQ(1u, st.caller_purges);
	EXPECT_EQ(1u, st.purge_waits);
	EXPECT_EQ(0u, st.worker_purges);
	EXPECT_EQ(0u, st.dirty_pages);
}

// The worker is queued but has not run: a map that finds no room and cannot
// grow runs the purge itself rather than wait for the worker.
TEST_F(VmapArenaTest, FullArenaDoesNotWaitForAnIdleWorker)
{
	Arena *a = make(320, 1);	// threshold 320, cap 1280: one block holds 512
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const ktl::uint64_t runs = HostedPlatform::work_runs();
	// 8 slots of 64 pages per block: maps 9 and 17 find every slot dirty.
	ASSERT_NO_FATAL_FAILURE(churn(a, pfns(1, CXXVM_MAX_PAGES), 3 * 512 / 64));
	const auto st = a->stats();
	EXPECT_EQ(runs, HostedPlatform::work_runs()) << "the held worker ran";
	EXPECT_EQ(2u, st.caller_purges);
	EXPECT_EQ(2u, st.purge_waits);
	EXPECT_EQ(0u, st.worker_purges);
}

// A map that finds no room while the worker's purge is in flight (its
// shootdown not yet answered) waits for that purge and then uses the slots
// it freed: it does not start a second purge.
TEST_F(VmapArenaTest, FullArenaWaitsForThePurgeInFlight)
{
	Arena *a = make(320, 1);	// threshold 320, cap 1280: one block holds 512
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const auto p = pfns(1, CXXVM_MAX_PAGES);
	ASSERT_NO_FATAL_FAILURE(churn(a, p, 512 / 64));	// every slot dirty, worker queued
	const ktl::uint64_t seq0 = a->flushed_seq();
	HostedPlatform::hold_shootdowns(true);
	HostedPlatform::pause_work(false);
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());

	std::atomic<bool> mapped{false};
	cxxrt::Result<VirtAddr> va = cxxrt::Errno::kNoMem;
	std::thread mapper([&] {
		HostedPlatform::set_cpu(1);
		va = a->map({p.data(), p.size()});
		mapped = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_FALSE(mapped.load()) << "a map found room in a full arena";
	HostedPlatform::hold_shootdowns(false);
	mapper.join();
	ASSERT_TRUE(va.ok());
	const auto st = a->stats();
	EXPECT_EQ(seq0 + 1, a->flushed_seq()) << "a second purge ran";
	EXPECT_EQ(0u, st.caller_purges);
	EXPECT_EQ(1u, st.purge_waits);
	EXPECT_TRUE(a->unmap(va.value(), PageCount(64)).ok());
}

/// kCapFactor: an unmap that finds this many x lazy_max_pages dirty purges.
constexpr int kCap = 16;

// Unmaps do not wait while the held-back worker lets the dirty pages pass the
// threshold; the one whose report reaches the cap (16 x lazy_max_pages) purges.
// The mappings are made first and unmapped after: a map that found no room
// while a purge is due would purge itself before the cap.
TEST_F(VmapArenaTest, UnmapsWaitOnlyAtTheCap)
{
	Arena *a = make(64, 8);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	std::vector<VirtAddr> live;
	ASSERT_NO_FATAL_FAILURE(map_live(a, pfns(1, CXXVM_MAX_PAGES), kCap + 1, &live));
	for (int i = 0; i < kCap - 1; ++i)
		ASSERT_TRUE(a->unmap(live[i], PageCount(64)).ok()) << i;
	auto st = a->stats();
	EXPECT_EQ(0u, st.caller_purges);
	EXPECT_EQ(0u, st.purge_waits);
	EXPECT_EQ((kCap - 1) * 64u, st.dirty_pages);
	ASSERT_TRUE(a->unmap(live[kCap - 1], PageCount(64)).ok());
	st = a->stats();
	EXPECT_EQ(1u, st.caller_purges);
	EXPECT_EQ(1u, st.purge_waits);
	EXPECT_EQ(0u, st.dirty_pages);
	ASSERT_TRUE(a->unmap(live[kCap], PageCount(64)).ok());
}

// An unmap that reaches the cap while the worker's purge is in flight (its
// shootdown not yet answered) does not wait for it.
TEST_F(VmapArenaTest, UnmapAtTheCapDoesNotWaitForThePurgeInFlight)
{
	Arena *a = make(64, 8);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const Pfn pfn(9);
	ASSERT_NO_FATAL_FAILURE(churn(a, pfns(9, 1), 64));	// the threshold: worker queued
	HostedPlatform::hold_shootdowns(true);
	HostedPlatform::pause_work(false);
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());
	std::atomic<bool> done{false};
	std::atomic<int> cycles{0};
	std::thread unmapper([&] {
		// CPU 0's block has room.
		HostedPlatform::set_cpu(0);
		for (int k = 0; k < kCap * 64 + 16; ++k) {	// past the cap
			auto va = a->map({&pfn, 1});
			if (!va.ok() || !a->unmap(va.value(), PageCount(1)).ok())
				break;
			++cycles;
		}
		done = true;
	});
	wait_for([&] { return done.load(); });
	EXPECT_TRUE(done.load()) << "an unmap past the cap waited for the purge in flight";
	EXPECT_EQ(kCap * 64 + 16, cycles.load()) << "a map or unmap failed";
	HostedPlatform::hold_shootdowns(false);
	unmapper.join();
	EXPECT_EQ(0u, a->stats().caller_purges);
}

// Holds CPU @cpu's queue lock (through for_each_block()) from construction
// until destruction.
class QueueLockHolder {
public:
	QueueLockHolder(Arena *a, ktl::uint32_t cpu)
		: t_([this, a, cpu] {
			  a->for_each_block([&](ktl::uint32_t c, const VmapBlock &) {
				  if (c != cpu || holding_)
					  return;
				  holding_ = true;
				  while (!release_)
					  std::this_thread::sleep_for(std::chrono::milliseconds(1));
			  });
		  })
	{
		wait_for([this] { return holding_.load(); });
	}
	~QueueLockHolder() { release(); }
	bool holding() const { return holding_; }
	void release()
	{
		release_ = true;
		if (t_.joinable())
			t_.join();
	}

private:
	std::atomic<bool> holding_{false}, release_{false};
	std::thread t_;
};

// The worker's purge takes no queue lock (under contention, a vCPU the host
// may have descheduled holds one): it completes with both dirty queues'
// locks held, and its shootdown covers the unmaps there that named it.
// Their slots stay dirty until somebody holding those locks reclaims them
// (stats() does); FLUSH then has nothing left to shoot down.
TEST_F(VmapArenaTest, WorkerPurgeTakesNoQueueLock)
{
	Arena *a = make(64, 8);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const Pfn pfn(9);
	ktl::uint64_t covering = 0;
	VirtAddr last(0);
	// The threshold, half on CPU 1 and half on CPU 0: worker queued.
	for (ktl::uint32_t cpu : {1u, 0u}) {
		HostedPlatform::set_cpu(cpu);
		for (int k = 0; k < 32; ++k) {
			auto va = a->map({&pfn, 1});
			ASSERT_TRUE(va.ok()) << k;
			ASSERT_EQ(pfn, HostedPlatform::translate(va.value()));	// in this TLB now
			auto r = a->unmap(va.value(), PageCount(1));
			ASSERT_TRUE(r.ok());
			covering = r.value();
			last = va.value();
		}
	}
	{
		// CPU 1's first: a holder walks the queues in order.
		QueueLockHolder held1(a, 1);
		ASSERT_TRUE(held1.holding());
		QueueLockHolder held0(a, 0);
		ASSERT_TRUE(held0.holding());
		const ktl::uint64_t seq0 = a->flushed_seq();
		const ktl::uint64_t runs0 = HostedPlatform::work_runs();
		HostedPlatform::pause_work(false);
		wait_for([&] { return HostedPlatform::work_runs() != runs0; });
		ASSERT_NE(runs0, HostedPlatform::work_runs()) << "the worker waited for a held queue lock";
		EXPECT_EQ(seq0 + 1, a->flushed_seq());
		EXPECT_LE(covering, a->flushed_seq()) << "the purge CPU 0's unmaps named did not complete";
		EXPECT_FALSE(HostedPlatform::translate(last).has_value())
			<< "a TLB still translates an unmapped page whose covering purge completed";
		held1.release();	// first: held0's walk goes on to queue 1
	}
	HostedPlatform::pause_work(true);
	EXPECT_EQ(64u, blocks_dirty(a)) << "the purge freed slots itself";
	auto st = a->stats();
	EXPECT_EQ(0u, st.dirty_pages) << "stats() did not reclaim the covered slots";
	EXPECT_EQ(1u, st.shootdowns);
	EXPECT_EQ(0u, a->misfiled_blocks());
	const ktl::uint64_t shootdowns = HostedPlatform::shootdowns();
	EXPECT_EQ(0u, a->purge());
	EXPECT_EQ(shootdowns, HostedPlatform::shootdowns()) << "FLUSH shot down with nothing dirty";
}

// A queue whose CPU stopped mapping is reclaimed by the worker's sweep after
// the next purge, if its lock is free at the first try: CPU 1 reaches the
// threshold and stops; the purge covers its slots; CPU 0 reaches it again,
// and the second purge reclaims CPU 1's queue.  With CPU 1's lock held the
// sweep passes it by, and the purge completes all the same.
TEST_F(VmapArenaTest, WorkerSweepReclaimsAnIdleQueue)
{
	for (bool hold : {false, true}) {
		SCOPED_TRACE(hold ? "CPU 1's lock held" : "CPU 1's lock free");
		Arena *a = make(64, 8);
		ASSERT_NE(nullptr, a);
		// A clean block each, so that CPU 0 has room and steals nothing.
		ASSERT_NO_FATAL_FAILURE(clean_blocks_on(a, {0, 1}));
		const ktl::uint64_t seq0 = a->flushed_seq();
		HostedPlatform::pause_work(true);
		ASSERT_NO_FATAL_FAILURE(churn(a, pfns(9, 1), 64));	// on CPU 1
		const ktl::uint64_t runs1 = HostedPlatform::work_runs();
		HostedPlatform::pause_work(false);
		wait_for([&] { return HostedPlatform::work_runs() != runs1; });
		ASSERT_EQ(seq0 + 1, a->flushed_seq());
		HostedPlatform::pause_work(true);
		HostedPlatform::set_cpu(0);
		ASSERT_NO_FATAL_FAILURE(churn(a, pfns(9, 1), 64));
		{
			QueueLockHolder held(a, 1);
			if (!hold)
				held.release();
			// The sweep follows purges_done_: wait for the worker's
			// return, with the lock still held.
			const ktl::uint64_t runs0 = HostedPlatform::work_runs();
			HostedPlatform::pause_work(false);
			wait_for([&] { return HostedPlatform::work_runs() != runs0; });
			ASSERT_NE(runs0, HostedPlatform::work_runs())
				<< "the purge waited for an idle queue's lock";
			EXPECT_EQ(seq0 + 2, a->flushed_seq());
		}
		HostedPlatform::pause_work(true);
		// CPU 0's 64 slots, covered but its own to reclaim; CPU 1's
		// unless the sweep took them.
		EXPECT_EQ(hold ? 128u : 64u, blocks_dirty(a));
		const auto st = a->stats();
		EXPECT_EQ(hold ? 0u : 1u, st.reclaim_sweeps);
		EXPECT_EQ(0u, st.dirty_pages);
		EXPECT_EQ(0u, a->misfiled_blocks());
		HostedPlatform::pause_work(false);
		EXPECT_EQ(0u, Arena::destroy(a));
		arena_ = nullptr;
	}
}

// An unmap that names a later purge than its block's newest generation of
// dirty slots, while an older generation waits, frees the older one on the
// spot: its purge completed before the newest one's began.  A1 names purge
// 1, A2 (unmapped during purge 1's shootdown) names 2; neither is reclaimed
// (the worker's purge takes no queue lock, and nothing maps); A3, unmapped
// during purge 2's shootdown, names 3 and frees A1, whose slot the next map
// takes at once.
TEST_F(VmapArenaTest, NewGenerationFreesTheOlderOne)
{
	Arena *a = make(64, 8);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const auto p = pfns(3, CXXVM_MAX_PAGES);
	std::vector<VirtAddr> live;
	ASSERT_NO_FATAL_FAILURE(map_live(a, p, 3, &live));	// one block
	ASSERT_TRUE(a->unmap(live[0], PageCount(64)).ok());	// the threshold
	HostedPlatform::hold_shootdowns(true);
	ktl::uint64_t runs = HostedPlatform::work_runs();
	HostedPlatform::pause_work(false);
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());	// purge 1
	auto a2 = a->unmap(live[1], PageCount(64));
	ASSERT_TRUE(a2.ok());
	EXPECT_EQ(2u, a2.value());
	HostedPlatform::pause_work(true);	// A2's report queued purge 2: hold it
	HostedPlatform::hold_shootdowns(false);
	wait_for([&] { return HostedPlatform::work_runs() != runs; });
	ASSERT_EQ(1u, a->flushed_seq());
	EXPECT_EQ(128u, blocks_dirty(a));
	HostedPlatform::hold_shootdowns(true);
	runs = HostedPlatform::work_runs();
	HostedPlatform::pause_work(false);
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());	// purge 2
	auto a3 = a->unmap(live[2], PageCount(64));
	ASSERT_TRUE(a3.ok());
	EXPECT_EQ(3u, a3.value());
	EXPECT_EQ(128u, blocks_dirty(a)) << "A1 was not freed when A3 started a generation";
	EXPECT_EQ(0u, a->misfiled_blocks());
	auto again = a->map({p.data(), p.size()});
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(live[0], again.value()) << "A1's slot was not free";
	HostedPlatform::pause_work(true);	// A3's report queued purge 3: hold it
	HostedPlatform::hold_shootdowns(false);
	wait_for([&] { return HostedPlatform::work_runs() != runs; });
	ASSERT_EQ(2u, a->flushed_seq());
	EXPECT_EQ(64u, a->stats().dirty_pages) << "A2, covered by purge 2, was not reclaimed";
	ASSERT_TRUE(a->unmap(again.value(), PageCount(64)).ok());
	EXPECT_EQ(128u, a->purge());
	EXPECT_EQ(0u, a->stats().dirty_pages);
	EXPECT_EQ(0u, a->misfiled_blocks());
}

// A map with no room on its CPU steals another CPU's empty block, but not
// by waiting for that queue's lock: with the lock held it grows instead.
TEST_F(VmapArenaTest, StealSkipsAHeldQueue)
{
	Arena *a = make(64, 8);
	ASSERT_NE(nullptr, a);
	const auto one = pfns(9, 1);
	ASSERT_NO_FATAL_FAILURE(clean_blocks_on(a, {1}));	// CPU 1's block, empty
	HostedPlatform::set_cpu(0);
	{
		QueueLockHolder held(a, 1);
		ASSERT_TRUE(held.holding());
		std::atomic<bool> mapped{false};
		cxxrt::Result<VirtAddr> va = cxxrt::Errno::kNoMem;
		std::thread mapper([&] {
			HostedPlatform::set_cpu(0);
			va = a->map({one.data(), 1});
			mapped = true;
		});
		wait_for([&] { return mapped.load(); });
		EXPECT_TRUE(mapped.load()) << "the map waited for a held queue lock";
		held.release();
		mapper.join();
		ASSERT_TRUE(va.ok());
		EXPECT_TRUE(a->unmap(va.value(), PageCount(1)).ok());
	}
	auto st = a->stats();
	EXPECT_EQ(0u, st.steals) << "stole from a held queue";
	EXPECT_EQ(2u, st.blocks_created);
	// Unheld, the next CPU with no block steals CPU 1's.
	HostedPlatform::set_cpu(2);
	ASSERT_NO_FATAL_FAILURE(churn(a, one, 1));
	st = a->stats();
	EXPECT_EQ(1u, st.steals);
	EXPECT_EQ(2u, st.blocks_created);
}

// A CPU with no room steals a block that a completed purge covers but whose
// own CPU has not reclaimed (it stopped mapping): steal() reclaims that
// queue first, so the map takes the emptied block instead of borrowing a
// slot in it (max_blocks 1: no block can be added).
TEST_F(VmapArenaTest, StealReclaimsAQueueThatIsBehind)
{
	Arena *a = make(64, 1);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	HostedPlatform::set_cpu(1);
	ASSERT_NO_FATAL_FAILURE(churn(a, pfns(9, 1), 64));	// the threshold
	HostedPlatform::pause_work(false);
	wait_for([&] { return a->flushed_seq() == 1; });
	ASSERT_EQ(1u, a->flushed_seq());
	HostedPlatform::set_cpu(0);
	const auto one = pfns(9, 1);
	auto va = a->map({one.data(), 1});
	ASSERT_TRUE(va.ok());
	EXPECT_TRUE(a->unmap(va.value(), PageCount(1)).ok());
	const auto st = a->stats();
	EXPECT_EQ(1u, st.steals) << "the covered block was not reclaimed and stolen";
	EXPECT_EQ(0u, st.borrows);
	EXPECT_EQ(1u, st.blocks_created);
	EXPECT_EQ(0u, a->misfiled_blocks());
}

// A map with no room while a purge is due and the worker has not run purges
// rather than reserve a block (which would hold VA for slots the purge frees).
TEST_F(VmapArenaTest, MapPurgesRatherThanGrowWhenDue)
{
	Arena *a = make(320, 4);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	ASSERT_NO_FATAL_FAILURE(churn(a, pfns(1, CXXVM_MAX_PAGES), 3 * 512 / 64));
	const auto st = a->stats();
	EXPECT_EQ(1u, st.blocks_created) << "a block was reserved while a purge was due";
	EXPECT_EQ(2u, st.caller_purges);
	EXPECT_EQ(0u, st.worker_purges);
}

// While a purge is due, a map grows the arena only to grow_limit_ (7/8 of
// max_blocks) blocks and then waits for the purge in flight, even though
// max_blocks would allow more; after it, growth goes on.
TEST_F(VmapArenaTest, GrowsOnlyToTheLimitWhileAPurgeIsDue)
{
	// 4 CPUs, lazy 64: reserve_ = 1 + 2 x 4 = 9 blocks; max_blocks 24, so
	// the limit is 21.
	constexpr ktl::uint64_t kLimit = 21;
	Arena *a = make(64, 24);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	const auto one = pfns(9, 1);
	ASSERT_NO_FATAL_FAILURE(churn(a, one, 64));	// 64 pages dirty: a purge is due
	HostedPlatform::hold_shootdowns(true);
	HostedPlatform::pause_work(false);
	ASSERT_NO_FATAL_FAILURE(wait_for_held_shootdown());
	ASSERT_NO_FATAL_FAILURE(churn(a, one, 64));	// due again, while the worker's purge is in flight

	constexpr int kMaps = 22 * 512 / 64;	// 22 blocks' worth, all live
	const auto p = pfns(1, CXXVM_MAX_PAGES);
	std::vector<VirtAddr> live;
	std::atomic<bool> done{false};
	std::thread mapper([&] {
		HostedPlatform::set_cpu(1);
		for (int i = 0; i < kMaps; ++i) {
			auto va = a->map({p.data(), p.size()});
			if (!va.ok())
				break;
			live.push_back(va.value());
		}
		done = true;
	});
	wait_for([&] { return done || a->stats().blocks_created >= kLimit; });
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_FALSE(done.load()) << "the map did not wait for the due purge";
	EXPECT_EQ(kLimit, a->stats().blocks_created) << "grew past grow_limit_ while a purge was due";
	HostedPlatform::hold_shootdowns(false);
	mapper.join();
	EXPECT_EQ(size_t{kMaps}, live.size()) << "a map failed after the purge";
	const auto st = a->stats();
	EXPECT_LT(kLimit, st.blocks_created) << "no growth once no purge was due";
	EXPECT_LE(1u, st.purge_waits);
	for (VirtAddr va : live)
		ASSERT_TRUE(a->unmap(va, PageCount(64)).ok());
}

// After a purge on request (FLUSH, vm_unmap_aliases()) a return_empty arena
// (the takeover's) returns every empty block, as the
// kernel's vm_unmap_aliases() frees its vmap blocks with nothing live; by
// default the arena keeps reserve_ of them.
TEST_F(VmapArenaTest, ReturnEmptyGivesBackEveryEmptyBlockOnPurge)
{
	for (bool return_empty : {false, true}) {
		SCOPED_TRACE(return_empty ? "return_empty" : "default");
		// lazy 4096, 4 CPUs: reserve_ = 4096 x 4 / 512 + 8 = 40 blocks.
		Arena *a = make(4096, 64, return_empty);
		ASSERT_NE(nullptr, a);
		VirtAddr kept(0);
		ASSERT_NO_FATAL_FAILURE(six_blocks_one_live(a, &kept));
		EXPECT_LT(0u, a->purge());
		// The live block, and none (return_empty) or all five empty ones.
		EXPECT_EQ(return_empty ? 1u : 6u, a->stats().blocks_live);
		ASSERT_TRUE(a->unmap(kept, PageCount(64)).ok());
		EXPECT_EQ(0u, Arena::destroy(a));
		arena_ = nullptr;
	}
}

// Not after the worker's purge (release_surplus()): return_empty or not, an
// arena keeps its empty blocks for the next lazy_max_pages of dirty slots
// until it holds more than grow_limit_ (giving them back there made a
// busy takeover arena vmap() a block per 12 maps in replays).
TEST_F(VmapArenaTest, ThresholdPurgesKeepEmptyBlocksEvenWithReturnEmpty)
{
	for (bool return_empty : {false, true}) {
		SCOPED_TRACE(return_empty ? "return_empty" : "default");
		Arena *a = make(40 * 64, 64, return_empty);
		ASSERT_NE(nullptr, a);
		HostedPlatform::pause_work(true);
		// 47 x 64 dirty pages: past lazy_max_pages, short of the cap.
		VirtAddr kept(0);
		ASSERT_NO_FATAL_FAILURE(six_blocks_one_live(a, &kept));
		const ktl::uint64_t runs = HostedPlatform::work_runs();
		HostedPlatform::pause_work(false);
		// Until the worker's run is over, release_surplus() included.
		wait_for([&] { return HostedPlatform::work_runs() != runs; });
		ASSERT_EQ(1u, a->stats().worker_purges);
		EXPECT_EQ(0u, a->stats().dirty_pages);
		EXPECT_EQ(6u, a->stats().blocks_live);
		ASSERT_TRUE(a->unmap(kept, PageCount(64)).ok());
		EXPECT_EQ(0u, Arena::destroy(a));
		arena_ = nullptr;
	}
}

// Past grow_limit_ (7/8 of max_blocks), the purges return only the blocks
// beyond it, not all but reserve_: what a burst grew serves the next one.
TEST_F(VmapArenaTest, PurgesReturnOnlyTheBlocksBeyondTheGrowthLimit)
{
	HostedPlatform::set_nr_cpus(1);
	// lazy 64, 1 CPU: reserve_ = 1 + 2 = 3 blocks; max_blocks 16: the
	// limit is 14.
	Arena *a = make(64, 16);
	ASSERT_NE(nullptr, a);
	HostedPlatform::pause_work(true);
	std::vector<VirtAddr> live;	// 16 blocks, nothing dirty
	ASSERT_NO_FATAL_FAILURE(map_live(a, pfns(1, CXXVM_MAX_PAGES), 16 * 512 / 64, &live));
	ASSERT_EQ(16u, a->stats().blocks_live);
	for (VirtAddr va : live)	// the cap purges on the way
		ASSERT_TRUE(a->unmap(va, PageCount(64)).ok());
	const ktl::uint64_t runs = HostedPlatform::work_runs();
	HostedPlatform::pause_work(false);
	wait_for([&] { return HostedPlatform::work_runs() != runs; });
	const auto st = a->stats();
	EXPECT_LT(0u, st.caller_purges);
	EXPECT_EQ(0u, st.dirty_pages);
	EXPECT_EQ(14u, st.blocks_live) << "returned more than the blocks beyond grow_limit_";
	EXPECT_EQ(2u, st.blocks_freed);
}

// When a threshold purge does return blocks (with caller_purge, the
// takeover's when cxxvm.ko is loaded with caller_purge=1), a return_empty
// arena keeps reserve_ of them like any other, not none.
TEST_F(VmapArenaTest, ThresholdPurgesOfAReturnEmptyArenaKeepTheReserve)
{
	HostedPlatform::set_nr_cpus(1);
	// lazy 64, 1 CPU, caller_purge: reserve_ = 64 / 512 (rounded up) + 2 = 3.
	auto r = Arena::create({.lazy_max_pages = 64, .max_blocks = 64, .caller_purge = true,
				.return_empty = true});
	ASSERT_TRUE(r.ok());
	arena_ = r.value();
	VirtAddr kept(0);
	// Six blocks, one mapping live; the first unmap past 64 dirty pages
	// purges (the caller's) and later ones purge again as they pass it.
	ASSERT_NO_FATAL_FAILURE(six_blocks_one_live(arena_, &kept, false));
	EXPECT_LE(1u, arena_->stats().caller_purges);
	EXPECT_EQ(0u, arena_->stats().dirty_pages);
	EXPECT_EQ(1u + 3u, arena_->stats().blocks_live);
	ASSERT_TRUE(arena_->unmap(kept, PageCount(64)).ok());
}

// A full arena purges to make room, and fails only when everything is live.
TEST_F(VmapArenaTest, FullArenaPurgesThenFails)
{
	Arena *a = make(4096, 2);
	ASSERT_NE(nullptr, a);
	const auto p = pfns(1, CXXVM_MAX_PAGES);
	std::vector<VirtAddr> live;
	for (int i = 0; i < 2 * 512 / 64; ++i) {
		auto va = a->map({p.data(), p.size()});
		ASSERT_TRUE(va.ok());
		live.push_back(va.value());
	}
	EXPECT_EQ(-12, a->map({p.data(), 1}).error());
	ASSERT_TRUE(a->unmap(live.back(), PageCount(64)).ok());
	live.pop_back();
	auto va = a->map({p.data(), p.size()});	// the purge frees the dirty slot
	ASSERT_TRUE(va.ok());
	live.push_back(va.value());
	for (VirtAddr v : live)
		ASSERT_TRUE(a->unmap(v, PageCount(64)).ok());
}

// Tunables out of range are -EINVAL before anything is allocated: a
// max_blocks past the bound used to become an index kmalloc too large for
// the kernel's allocator (a WARN at module load).
TEST_F(VmapArenaTest, CreateRejectsTunablesOutOfRange)
{
	const struct {
		ktl::uint32_t lazy, blocks, block_pages;
		int err;
	} cases[] = {
		{ CXXVM_MAX_PAGES - 1, 8, 512, -22 },
		{ 256, 0, 512, -22 },
		{ 256, CXXVM_CORE_MAX_BLOCKS + 1, 512, -22 },
		{ 256, ~0u, 512, -22 },
		{ 256, 8, CXXVM_MIN_BLOCK_PAGES - 1, -22 },
		{ 256, 8, CXXVM_BLOCK_PAGES + 1, -22 },
		{ 256, 8, 0, -22 },
		{ CXXVM_MAX_PAGES, 1, 512, 0 },
		{ 256, CXXVM_CORE_MAX_BLOCKS, 512, 0 },
		{ 256, 8, CXXVM_MIN_BLOCK_PAGES, 0 },
		{ 256, 8, 255, 0 },
	};
	for (const auto &c : cases) {
		auto r = Arena::create({.lazy_max_pages = c.lazy, .max_blocks = c.blocks,
					.block_pages = c.block_pages});
		if (r.ok()) {
			EXPECT_EQ(0, c.err) << c.lazy << " " << c.blocks << " " << c.block_pages;
			EXPECT_EQ(0u, Arena::destroy(r.value()));
		} else {
			EXPECT_EQ(c.err, r.error()) << c.lazy << " " << c.blocks << " " << c.block_pages;
		}
	}
}

// Every allocation and lock of arena creation may fail: -ENOMEM, no leak
// (ASan's leak checker sees the rest).
TEST_F(VmapArenaTest, CreateSurvivesEachAllocationFailure)
{
	for (int n = 1; n <= 64; ++n) {
		fail_nth_alloc(n);
		auto r = Arena::create({.lazy_max_pages = 256, .max_blocks = 8});
		fail_nth_alloc(0);
		if (r.ok()) {
			EXPECT_EQ(0u, Arena::destroy(r.value()));
			EXPECT_LT(4, n);	// at least the arena, index, queues
			return;
		}
		EXPECT_EQ(-12, r.error());
	}
	FAIL() << "creation never succeeded";
}

// Every lock init of arena creation may fail too (in the kernel a lock is
// an allocation; here it is not), and so may the VA reservation of a new
// block: -ENOMEM, then a retry succeeds.
TEST_F(VmapArenaTest, SurvivesEachPlatformFailure)
{
	int n = 1;
	for (;; ++n) {
		HostedPlatform::fail_nth_init(n);
		auto r = Arena::create({.lazy_max_pages = 256, .max_blocks = 8});
		HostedPlatform::fail_nth_init(0);
		if (r.ok()) {
			EXPECT_EQ(0u, Arena::destroy(r.value()));
			break;
		}
		ASSERT_EQ(-12, r.error());
		ASSERT_LT(n, 64) << "creation never succeeded";
	}
	EXPECT_LT(3, n);	// the purge mutex, spares and index locks, queues
	Arena *a = make(256, 8);
	ASSERT_NE(nullptr, a);
	const Pfn pfn(5);
	HostedPlatform::fail_nth_init(1);	// the first block's va_reserve()
	EXPECT_EQ(-12, a->map({&pfn, 1}).error());
	HostedPlatform::fail_nth_init(0);
	auto va = a->map({&pfn, 1});
	ASSERT_TRUE(va.ok());
	EXPECT_TRUE(a->unmap(va.value(), PageCount(1)).ok());
}

// One thread per CPU maps random sizes with random lifetimes; every page
// is checked through the simulated MMU before its unmap, and no two live
// mappings overlap.
TEST_F(VmapArenaTest, ThreadsStress)
{
	Arena *a = make(256, 6);
	ASSERT_NE(nullptr, a);
	std::mutex live_lock;
	std::set<std::pair<ktl::uintptr_t, ktl::uintptr_t>> live;	// [start, end)
	std::atomic<int> failures{0};

	auto worker = [&](ktl::uint32_t cpu) {
		HostedPlatform::set_cpu(cpu);
		std::mt19937 rng(cpu + 1);
		struct Slot {
			VirtAddr va{0};
			ktl::uint32_t n = 0;
			ktl::uint64_t first = 0;
		} slots[24];
		ktl::uint64_t tag = ktl::uint64_t{cpu} << 40;
		for (int op = 0; op < 4000 && !failures; ++op) {
			Slot &s = slots[rng() % 24];
			if (s.n) {
				for (ktl::uint32_t i = 0; i < s.n; ++i) {
					auto got = HostedPlatform::translate(s.va.plus_pages(i));
					if (!got || got->value() != s.first + i) {
						ADD_FAILURE() << "CPU " << cpu << " op " << op << ": page " << i
							      << " of " << s.n << " reads "
							      << (got ? got->value() : 0) << ", want "
							      << s.first + i;
						++failures;
					}
				}
				{
					std::lock_guard<std::mutex> g(live_lock);
					live.erase({s.va.value(), s.va.plus_pages(s.n).value()});
				}
				if (!a->unmap(s.va, PageCount(s.n)).ok()) {
					ADD_FAILURE() << "unmap failed";
					++failures;
				}
				s.n = 0;
				continue;
			}
			const ktl::uint32_t n = 1 + rng() % CXXVM_MAX_PAGES;
			std::vector<Pfn> p;
			for (ktl::uint32_t i = 0; i < n; ++i)
				p.emplace_back(tag + i);
			auto va = a->map({p.data(), p.size()});
			if (!va.ok())
				continue;	// -ENOMEM: every block live
			{
				std::lock_guard<std::mutex> g(live_lock);
				const ktl::uintptr_t lo = va.value().value();
				const ktl::uintptr_t hi = va.value().plus_pages(n).value();
				auto it = live.lower_bound({lo, 0});
				if ((it != live.end() && it->first < hi) ||
				    (it != live.begin() && std::prev(it)->second > lo)) {
					auto o = it != live.end() && it->first < hi ? it : std::prev(it);
					ADD_FAILURE() << "CPU " << cpu << ": [" << std::hex << lo << ", " << hi
						      << ") overlaps live [" << o->first << ", " << o->second
						      << ")" << std::dec;
					++failures;
				}
				live.insert({lo, hi});
			}
			s = {va.value(), n, tag};
			tag += CXXVM_MAX_PAGES;
		}
		for (Slot &s : slots) {
			if (!s.n)
				continue;
			{
				std::lock_guard<std::mutex> g(live_lock);
				live.erase({s.va.value(), s.va.plus_pages(s.n).value()});
			}
			if (!a->unmap(s.va, PageCount(s.n)).ok())
				++failures;
		}
	};
	std::vector<std::thread> threads;
	for (ktl::uint32_t cpu = 0; cpu < 4; ++cpu)
		threads.emplace_back(worker, cpu);
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(0, failures.load());
	EXPECT_EQ(0u, a->stats().live_mappings);
	EXPECT_LT(0u, a->stats().purges);
	EXPECT_EQ(0u, a->misfiled_blocks());
}

} // namespace
} // namespace cxxvm::hosted
