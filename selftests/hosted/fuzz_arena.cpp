// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer harness: random sequences of map, unmap, bad unmap, flush,
// shrink and touch on a small VmapArena<HostedPlatform>, on two simulated
// CPUs, against a reference model of the live mappings.  Checked after
// every step: live mappings never overlap; every page of a live mapping
// reads its pfn through this thread's TLB (a slot reused before the
// shootdown that covers its old mapping reads the old pfn); the platform
// saw no wrong PTE write; every block is on the lists its state calls for;
// nothing WARNed; everything is released at the end.
// The core first: clang's <cstdio> defines va_start() as a macro, which
// VmapBlock::va_start() must not meet.
#include "core/vmap_arena.h"
#include "hosted_platform.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <vector>

using namespace cxxvm;
using namespace cxxvm::hosted;
using Arena = VmapArena<HostedPlatform>;

namespace {

struct Live {
	ktl::uint32_t n;
	ktl::uint64_t first;	// pfn of page 0; page i maps first + i
};

[[noreturn]] void fail(const char *what, ktl::uint64_t a = 0, ktl::uint64_t b = 0)
{
	std::fprintf(stderr, "fuzz_arena: %s (%#llx, %#llx)\n", what, (unsigned long long)a,
		     (unsigned long long)b);
	std::abort();
}

void check_pages(ktl::uintptr_t va, const Live &l)
{
	for (ktl::uint32_t i = 0; i < l.n; ++i) {
		auto got = HostedPlatform::translate(VirtAddr(va).plus_pages(i));
		if (!got || got->value() != l.first + i)
			fail("a live page reads the wrong pfn (stale TLB or wrong PTE)", va, i);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HostedPlatform::set_nr_cpus(2);
	HostedPlatform::set_cpu(0);
	HostedPlatform::reset_counters();
	const ktl::uint64_t warned = warnings();
	// An odd length (its last byte is no operation) picks the takeover's
	// policy: every empty block returned on a purge on request.  Its
	// second bit a block size that is not a multiple of 64 (255 pages, the
	// last bitmap word in part).
	auto r = Arena::create({.lazy_max_pages = 64, .max_blocks = 3,
				.block_pages = (size & 2) ? 255u : ktl::uint32_t{CXXVM_BLOCK_PAGES},
				.return_empty = (size & 1) != 0});
	if (!r.ok())
		fail("create");
	Arena *a = r.value();
	std::map<ktl::uintptr_t, Live> live;
	ktl::uint64_t next_pfn = 1;

	for (size_t i = 0; i + 1 < size; i += 2) {
		const uint8_t op = data[i], arg = data[i + 1];
		HostedPlatform::set_cpu(op >> 7);
		switch (op & 7) {
		case 0:
		case 1:
		case 2: {	// map 1..64 pages
			const ktl::uint32_t n = 1 + arg % CXXVM_MAX_PAGES;
			std::vector<Pfn> pfns;
			for (ktl::uint32_t k = 0; k < n; ++k)
				pfns.emplace_back(next_pfn + k);
			auto va = a->map({pfns.data(), pfns.size()});
			if (!va.ok()) {
				if (va.error() != -12)
					fail("map: unexpected errno", va.error());
				break;
			}
			const ktl::uintptr_t lo = va.value().value();
			const ktl::uintptr_t hi = va.value().plus_pages(n).value();
			auto it = live.lower_bound(lo);
			if (it != live.end() && it->first < hi)
				fail("new mapping overlaps a live one", lo, it->first);
			if (it != live.begin()) {
				auto p = std::prev(it);
				if (VirtAddr(p->first).plus_pages(p->second.n).value() > lo)
					fail("new mapping overlaps a live one", lo, p->first);
			}
			live[lo] = {n, next_pfn};
			next_pfn += n;
			check_pages(lo, live[lo]);
			break;
		}
		case 3:
		case 4: {	// unmap the arg-th live mapping
			if (live.empty())
				break;
			auto it = std::next(live.begin(), arg % live.size());
			check_pages(it->first, it->second);
			if (!a->unmap(VirtAddr(it->first), PageCount(it->second.n)).ok())
				fail("unmap of a live mapping failed", it->first);
			live.erase(it);
			break;
		}
		case 5: {	// a wrong unmap: -EINVAL, nothing changes
			if (live.empty())
				break;
			auto it = std::next(live.begin(), arg % live.size());
			const ktl::uint32_t wrong = it->second.n == 1 ? 2 : it->second.n - 1;
			if (a->unmap(VirtAddr(it->first), PageCount(wrong)).error() != -22)
				fail("a wrong unmap was not -EINVAL", it->first);
			// An address up to a block away, live or not: -ENOENT
			// exactly where owns() says the arena has no block.
			const VirtAddr near(it->first + (ktl::uintptr_t{arg} % 1024) * 4096 - 512 * 4096);
			const bool live_there = live.count(near.value()) && live[near.value()].n == 1;
			if (!live_there && (a->unmap(near, PageCount(1)).error() == -2) == a->owns(near))
				fail("-ENOENT disagrees with owns()", near.value());
			break;
		}
		case 6:		// touch: every live page, through the TLB
			for (auto &[va, l] : live)
				check_pages(va, l);
			break;
		case 7:
			if (arg & 1)
				a->shrink();
			else
				a->purge();
			break;
		}
		if (HostedPlatform::violations())
			fail("the platform saw a wrong PTE write", HostedPlatform::violations());
		if (const ktl::uint64_t bad = a->misfiled_blocks())
			fail("a block on the wrong list of its queue", bad);
	}
	const auto st = a->stats();
	if (st.live_mappings != live.size())
		fail("live mappings: arena and model disagree", st.live_mappings, live.size());
	for (auto &[va, l] : live)
		if (!a->unmap(VirtAddr(va), PageCount(l.n)).ok())
			fail("final unmap failed", va);
	if (Arena::destroy(a) != 0)
		fail("destroy found live mappings");
	if (HostedPlatform::blocks_reserved() || HostedPlatform::violations() || warnings() != warned)
		fail("leak, wrong PTE write or WARN at the end");
	return 0;
}
