// SPDX-License-Identifier: GPL-2.0
//
// googletest suite of PagemapTracker and Altmap on HostedPlatform.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "core/pagemap_tracker.h"
#include "hosted_platform.h"

namespace cxxvm::hosted {
namespace {

using Tracker = PagemapTracker<HostedPlatform>;
using Map = Tracker::Map;
constexpr ktl::uint64_t kBase = ktl::uint64_t{1} << 30;

class PagemapTrackerTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		warnings_before_ = warnings();
		auto r = Tracker::create({.max_ranges = 64});
		ASSERT_TRUE(r.ok());
		t_ = r.value();
	}
	void TearDown() override
	{
		EXPECT_EQ(0u, Tracker::destroy(t_));
		EXPECT_EQ(warnings_before_, warnings());
	}
	Map *reg(std::initializer_list<PfnRange> ranges, ktl::uintptr_t cookie,
		 PagemapType type = PagemapType::kGeneric)
	{
		std::vector<PfnRange> v(ranges);
		auto r = t_->register_pagemap({.type = type, .ranges = {v.data(), v.size()},
					       .cookie = cookie});
		EXPECT_TRUE(r.ok()) << r.error();
		return r.ok() ? r.value() : nullptr;
	}

	Tracker *t_ = nullptr;
	ktl::uint64_t warnings_before_ = 0;
};

TEST_F(PagemapTrackerTest, EveryPfnAndTheOnesAround)
{
	Map *a = reg({{Pfn(kBase), 64}}, 1);
	Map *b = reg({{Pfn(kBase + 1000), 3}, {Pfn(kBase + 100), 5}}, 2, PagemapType::kPrivate);
	EXPECT_EQ(PagemapType::kGeneric, a->type());
	EXPECT_EQ(PagemapType::kPrivate, b->type());
	for (ktl::uint64_t pfn = kBase - 2; pfn < kBase + 1010; ++pfn) {
		ktl::uintptr_t want = 0;
		if (pfn >= kBase && pfn < kBase + 64)
			want = 1;
		else if ((pfn >= kBase + 100 && pfn < kBase + 105) ||
			 (pfn >= kBase + 1000 && pfn < kBase + 1003))
			want = 2;
		Map *m = t_->lookup(Pfn(pfn), nullptr);
		ASSERT_EQ(want, m ? m->cookie() : 0) << pfn - kBase;
		if (m) {
			EXPECT_EQ(2u, m->refs());
			m->put();
		}
	}
	t_->unregister(a);
	t_->unregister(b);
}

TEST_F(PagemapTrackerTest, HintContract)
{
	Map *a = reg({{Pfn(kBase), 16}}, 1);
	Map *b = reg({{Pfn(kBase + 32), 16}}, 2);
	Map *m = t_->lookup(Pfn(kBase), nullptr);
	ASSERT_EQ(a, m);
	EXPECT_EQ(a, t_->lookup(Pfn(kBase + 15), m));	// covered: as is
	EXPECT_EQ(2u, a->refs());
	m = t_->lookup(Pfn(kBase + 40), m);		// not covered: put, look up
	EXPECT_EQ(b, m);
	EXPECT_EQ(1u, a->refs());
	EXPECT_EQ(nullptr, t_->lookup(Pfn(kBase + 20), m));	// miss: put, none
	EXPECT_EQ(1u, b->refs());
	t_->unregister(a);
	t_->unregister(b);
}

TEST_F(PagemapTrackerTest, KillDrainAndTryUnregister)
{
	Map *a = reg({{Pfn(kBase), 8}}, 1);
	Map *m = t_->lookup(Pfn(kBase), nullptr);
	ASSERT_EQ(a, m);
	EXPECT_TRUE(t_->kill(a));
	EXPECT_FALSE(t_->kill(a));
	EXPECT_EQ(nullptr, t_->lookup(Pfn(kBase), nullptr));
	EXPECT_EQ(-16, t_->try_unregister(a).error());
	std::vector<PfnRange> again{{Pfn(kBase + 4), 1}};
	EXPECT_EQ(-16, t_->register_pagemap({.type = PagemapType::kGeneric,
					     .ranges = {again.data(), again.size()}}).error());
	m->put();
	EXPECT_TRUE(t_->try_unregister(a).ok());
	Map *c = reg({{Pfn(kBase + 4), 1}}, 3);
	t_->unregister(c);
}

// A put() without a reference (a caller bug: it WARNs) on a dead pagemap
// must not let a racing tryget_live() pin it.  The put's fetch_sub used to
// borrow from kDying for a moment, and the tryget succeeded on the dead
// pagemap.  The puts go on until the reader has tried 10^6 times while
// they ran (or 10 s passed), so that a busy host cannot make it race
// nothing; the old put() was caught tens to thousands of times.
TEST_F(PagemapTrackerTest, PutOnADeadPagemapNeverRevivesIt)
{
	Map *a = reg({{Pfn(kBase), 8}}, 1);
	ASSERT_TRUE(t_->kill(a));
	ASSERT_EQ(0u, a->refs());
	std::atomic<bool> stop{false};
	std::atomic<ktl::uint64_t> tries{0};
	std::atomic<int> revived{0};
	std::thread reader([&] {
		while (!stop.load(std::memory_order_relaxed)) {
			if (a->tryget_live())
				revived.fetch_add(1);
			tries.fetch_add(1, std::memory_order_relaxed);
		}
	});
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	ktl::uint64_t puts = 0;
	quiet_warnings(true);
	while (tries.load(std::memory_order_relaxed) < 1000000 &&
	       std::chrono::steady_clock::now() < deadline) {
		for (int i = 0; i < 64; ++i)
			a->put();
		puts += 64;
	}
	quiet_warnings(false);
	stop = true;
	reader.join();
	EXPECT_LE(1000000u, tries.load()) << "the reader hardly ran";
	EXPECT_EQ(0, revived.load()) << "in " << puts << " puts";
	warnings_before_ += puts;
	if (revived.load() == 0) {
		EXPECT_TRUE(t_->try_unregister(a).ok());
	}
}

TEST_F(PagemapTrackerTest, UnregisterWaitsForTheLastPut)
{
	Map *a = reg({{Pfn(kBase), 8}}, 1);
	Map *m = t_->lookup(Pfn(kBase), nullptr);
	ASSERT_EQ(a, m);
	std::atomic<bool> done{false};
	std::thread t([&] {
		t_->unregister(a);
		done = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(done.load());
	m->put();
	t.join();
	EXPECT_TRUE(done.load());
}

TEST_F(PagemapTrackerTest, BadInput)
{
	// register_pagemap()'s errno, which check_desc() (the validator the
	// shim's ioctl checks call) must give too, with no tracker involved.
	auto reg_err = [&](PagemapType type, std::vector<PfnRange> v, bool altmap = false,
			   ktl::uint64_t reserve = 0, ktl::uint64_t free = 0) {
		const PagemapDesc d{.type = type, .ranges = {v.data(), v.size()},
				    .has_altmap = altmap, .altmap_reserve = reserve,
				    .altmap_free = free};
		const int err = t_->register_pagemap(d).error();
		EXPECT_EQ(err, Tracker::check_desc(d).error());
		return err;
	};
	const auto g = PagemapType::kGeneric;
	{
		const PfnRange ok[] = {{Pfn(kBase), 16}, {Pfn(kBase + 32), 16}};
		EXPECT_TRUE(Tracker::check_desc({.type = g, .ranges = ok}).ok());
	}
	EXPECT_EQ(-22, reg_err(static_cast<PagemapType>(0), {{Pfn(kBase), 1}}));
	EXPECT_EQ(-22, reg_err(static_cast<PagemapType>(6), {{Pfn(kBase), 1}}));
	EXPECT_EQ(-22, reg_err(g, {}));
	EXPECT_EQ(-22, reg_err(g, {{Pfn(kBase), 0}}));
	EXPECT_EQ(-22, reg_err(g, {{Pfn(kBase), 16}, {Pfn(kBase + 15), 2}}));
	EXPECT_EQ(-34, reg_err(g, {{Pfn((ktl::uint64_t{1} << 34) - 1), 2}}));
	EXPECT_EQ(-22, reg_err(g, {{Pfn(kBase), 16}}, true, 8, 9));
	EXPECT_EQ(-22, reg_err(g, {{Pfn(kBase), 16}, {Pfn(kBase + 32), 16}}, true, 0, 1));
}

TEST_F(PagemapTrackerTest, AltmapAccounting)
{
	auto am = Altmap::create(Pfn(kBase), 4096, 2, 200);
	ASSERT_TRUE(am.ok());
	Altmap a = am.value();
	EXPECT_EQ(202u, a.offset());
	EXPECT_EQ(kBase + 64, a.alloc(64).value().value());
	EXPECT_EQ(kBase + 128, a.alloc(3).value().value());
	EXPECT_EQ(kBase + 132, a.alloc(4).value().value());
	EXPECT_EQ(71u, a.allocated());
	EXPECT_EQ(63u, a.align());
	EXPECT_EQ(-28, a.alloc(64).error());
	EXPECT_EQ(kBase + 136, a.alloc(66).value().value());
	EXPECT_EQ(-28, a.alloc(1).error());
	EXPECT_EQ(-22, a.free(138).error());
	EXPECT_TRUE(a.free(137).ok());
	EXPECT_EQ(0u, a.allocated());
}

// Readers on three threads look up random pfns while this one registers
// and unregisters (reusing Pagemap objects): an answer always holds the
// pfn, and every reference comes back.
TEST_F(PagemapTrackerTest, LookupsRaceRegistrations)
{
	constexpr int kMaps = 8;
	std::atomic<bool> stop{false};
	std::atomic<int> wrong{0};
	std::atomic<ktl::uint64_t> hits{0}, tries{0};
	std::atomic<int> started{0};
	auto reader = [&](int seed) {
		std::mt19937 rng(seed);
		++started;
		while (!stop) {
			++tries;
			const ktl::uint64_t off = rng() % (64 * kMaps);
			Map *m = t_->lookup(Pfn(kBase + off), nullptr);
			if (!m)
				continue;
			if (m->cookie() != off / 64 + 1 || !m->covers(Pfn(kBase + off)))
				++wrong;
			++hits;
			m->put();
		}
	};
	std::vector<std::thread> readers;
	for (int i = 0; i < 3; ++i)
		readers.emplace_back(reader, i + 1);
	while (started < 3)	// race only once every reader runs
		std::this_thread::yield();
	Map *maps[kMaps] = {};
	std::mt19937 rng(99);
	// 3000 rounds, and on a busy host more, until the readers have
	// looked up a few thousand times and found something (10 s at most):
	// a writer done before the readers ran raced nothing.
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	for (int round = 0; round < 3000 || ((tries < 3000 || hits == 0) &&
					     std::chrono::steady_clock::now() < deadline);
	     ++round) {
		const int i = rng() % kMaps;
		if (maps[i]) {
			if (round % 2)
				t_->unregister(maps[i]);
			else
				while (!t_->try_unregister(maps[i]).ok())
					std::this_thread::yield();
			maps[i] = nullptr;
		} else {
			maps[i] = reg({{Pfn(kBase + 64 * i), 64}}, i + 1);
		}
	}
	stop = true;
	for (auto &t : readers)
		t.join();
	EXPECT_EQ(0, wrong.load());
	EXPECT_LT(0u, hits.load());
	for (Map *m : maps) {
		if (!m)
			continue;
		EXPECT_EQ(1u, m->refs());
		t_->unregister(m);
	}
}

} // namespace
} // namespace cxxvm::hosted
