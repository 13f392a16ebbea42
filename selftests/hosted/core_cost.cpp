// SPDX-License-Identifier: GPL-2.0
//
// core_cost CASE N: the hosted core doing N operations of one kind with
// callgrind's instrumentation on only around them, for `make callgrind`
// (instructions per operation: a deterministic figure to track from commit
// to commit).  Outside valgrind the markers do nothing.
//
//   map1, map16, map64   map+unmap of P pages (after a lazy_max_pages warm-up)
//   lookup               tracker lookup + put, pseudo-random pfns, 16 pagemaps
//   hinted               tracker lookup with the last result as the hint
//
// The counts include HostedPlatform's own PTE writes and locks (std::mutex,
// atomic exchanges), which the kernel's are not: compare commits, not the
// kernel.
#include "core/pagemap_tracker.h"
#include "core/vmap_arena.h"
#include "hosted_platform.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <valgrind/callgrind.h>
#include <vector>

using namespace cxxvm;
using namespace cxxvm::hosted;

namespace {

int map_unmap(ktl::uint32_t pages, ktl::uint64_t n)
{
	auto r = VmapArena<HostedPlatform>::create({.lazy_max_pages = 16384, .max_blocks = 64});
	if (!r.ok())
		return 1;
	auto *a = r.value();
	std::vector<Pfn> pfns;
	for (ktl::uint32_t i = 0; i < pages; ++i)
		pfns.emplace_back(100 + i);
	auto cycle = [&] {
		auto va = a->map({pfns.data(), pfns.size()});
		return va.ok() && a->unmap(va.value(), PageCount(pages)).ok();
	};
	for (int i = 0; i < 16384; ++i)
		if (!cycle())
			return 1;
	CALLGRIND_START_INSTRUMENTATION;
	for (ktl::uint64_t i = 0; i < n; ++i)
		if (!cycle())
			return 1;
	CALLGRIND_STOP_INSTRUMENTATION;
	return VmapArena<HostedPlatform>::destroy(a) != 0;
}

int lookups(bool hinted, ktl::uint64_t n)
{
	using Tracker = PagemapTracker<HostedPlatform>;
	constexpr ktl::uint64_t kBase = ktl::uint64_t{1} << 30, kPages = 2048;
	auto r = Tracker::create({.max_ranges = 16});
	if (!r.ok())
		return 1;
	Tracker *t = r.value();
	for (int i = 0; i < 16; ++i) {
		const PfnRange range{Pfn(kBase + i * kPages), kPages};
		if (!t->register_pagemap({.type = PagemapType::kGeneric, .ranges = {&range, 1}}).ok())
			return 1;
	}
	std::vector<ktl::uint64_t> pfns(n);
	ktl::uint64_t x = 88172645463325252ull;
	for (ktl::uint64_t i = 0; i < n; ++i) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pfns[i] = kBase + (hinted ? i % (16 * kPages) : x % (16 * kPages));
	}
	ktl::uint64_t hits = 0;
	Tracker::Map *m = nullptr;
	CALLGRIND_START_INSTRUMENTATION;
	for (ktl::uint64_t i = 0; i < n; ++i) {
		if (hinted) {
			m = t->lookup(Pfn(pfns[i]), m);
			hits += m != nullptr;
		} else if (Tracker::Map *h = t->lookup(Pfn(pfns[i]), nullptr)) {
			++hits;
			h->put();
		}
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	if (m)
		m->put();
	const bool ok = hits == n;
	return !ok || Tracker::destroy(t) != 16;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: core_cost map1|map16|map64|lookup|hinted N\n");
		return 2;
	}
	const ktl::uint64_t n = std::strtoull(argv[2], nullptr, 0);
	if (!std::strcmp(argv[1], "map1"))
		return map_unmap(1, n);
	if (!std::strcmp(argv[1], "map16"))
		return map_unmap(16, n);
	if (!std::strcmp(argv[1], "map64"))
		return map_unmap(64, n);
	if (!std::strcmp(argv[1], "lookup"))
		return lookups(false, n);
	if (!std::strcmp(argv[1], "hinted"))
		return lookups(true, n);
	return 2;
}
