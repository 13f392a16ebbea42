// SPDX-License-Identifier: GPL-2.0
//
// The simulated MMU of HostedPlatform and the hosted cxxrt runtime.
#include "hosted_platform.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <cxxrt/runtime.h>

namespace cxxvm::hosted {

namespace {

constexpr ktl::uint64_t kPresent = 1;

/// PTEs of no page between a block's two runs (va_reserve()).
constexpr ktl::uint32_t kRunGap = 8;
/// Pages of VA one page-table page maps, as on x86-64.
constexpr ktl::uint32_t kPmdPages = 512;

/// A block of made-up VA and its PTEs: pages [0, split) in ptes[0, split),
/// pages [split, pages) kRunGap entries further on.
struct Block {
	ktl::uint32_t pages;
	ktl::uint32_t split;
	std::unique_ptr<std::atomic<ktl::uint64_t>[]> ptes;

	[[nodiscard]] ktl::uint32_t slot(ktl::uint32_t page) const
	{
		return page < split ? page : page + kRunGap;
	}
};

std::mutex blocks_lock;
std::map<ktl::uintptr_t, Block> blocks;	// by first address
ktl::uintptr_t next_va = 0xffffc90000000000ull;
std::atomic<ktl::uint64_t> tlb_generation{0};

/// One TLB per thread: va -> pfn, valid while generation matches.
struct Tlb {
	ktl::uint64_t generation = 0;
	std::unordered_map<ktl::uintptr_t, ktl::uint64_t> entries;
};
thread_local Tlb tlb;

/// The PTE of @va, or nullptr.  Caller holds blocks_lock.
std::atomic<ktl::uint64_t> *pte_of(ktl::uintptr_t va)
{
	auto it = blocks.upper_bound(va);
	if (it == blocks.begin())
		return nullptr;
	--it;
	const ktl::uintptr_t idx = (va - it->first) >> kPageShift;
	return idx < it->second.pages ? &it->second.ptes[it->second.slot(idx)] : nullptr;
}

std::atomic<int> alloc_countdown{0};
std::atomic<ktl::uint64_t> warn_count{0};
std::atomic<bool> warn_quiet{false};

} // namespace

thread_local ktl::uint32_t HostedPlatform::cpu_ = 0;

cxxrt::Result<void> HostedPlatform::va_reserve(ktl::uint32_t n, ktl::uintptr_t *va,
					       cxxvm_pte_runs *runs)
{
	if (fail_init())
		return cxxrt::Errno::kNoMem;
	std::lock_guard<std::mutex> g(blocks_lock);
	const ktl::uintptr_t start = next_va;
	next_va += (ktl::uintptr_t{n} + 1) << kPageShift;	// a guard page, as vmap()'s
	Block &b = blocks[start];
	b.pages = n;
	const ktl::uint32_t to_pmd = kPmdPages - ((start >> kPageShift) % kPmdPages);
	b.split = n < to_pmd ? n : to_pmd;
	b.ptes.reset(new std::atomic<ktl::uint64_t>[n + kRunGap]());
	runs->split = b.split;
	runs->first[0] = reinterpret_cast<ktl::uintptr_t>(&b.ptes[0]);
	runs->first[1] = b.split < n ? reinterpret_cast<ktl::uintptr_t>(&b.ptes[b.slot(b.split)]) : 0;
	*va = start;
	++blocks_;
	// Like the shim's reservation (vmap() with PAGE_NONE), no shootdown:
	// fresh VA whose PTEs were never present.
	return {};
}

void HostedPlatform::va_release(VirtAddr va)
{
	std::lock_guard<std::mutex> g(blocks_lock);
	auto it = blocks.find(va.value());
	if (it == blocks.end()) {
		++violations_;
		return;
	}
	for (ktl::uint32_t i = 0; i < it->second.pages + kRunGap; ++i)
		if (it->second.ptes[i].load() & kPresent)
			++violations_;	// vunmap() of a block still mapping something
	blocks.erase(it);
	--blocks_;
}

void HostedPlatform::ptes_set(ktl::uintptr_t first, const Pfn *pfns, ktl::uint32_t n)
{
	for (ktl::uint32_t i = 0; i < n; ++i) {
		auto *pte = reinterpret_cast<std::atomic<ktl::uint64_t> *>(first) + i;
		const ktl::uint64_t old = pte->exchange((pfns[i].value() << kPageShift) | kPresent,
							std::memory_order_relaxed);
		if (old & kPresent)
			++violations_;	// mapped over a live mapping
	}
}

void HostedPlatform::ptes_clear(ktl::uintptr_t first, ktl::uint32_t n)
{
	for (ktl::uint32_t i = 0; i < n; ++i) {
		auto *pte = reinterpret_cast<std::atomic<ktl::uint64_t> *>(first) + i;
		if (!(pte->exchange(0, std::memory_order_relaxed) & kPresent))
			++violations_;	// cleared what was not mapped
	}
}

namespace {
std::mutex hold_lock;
std::condition_variable hold_cv;
bool held = false;
} // namespace

void HostedPlatform::hold_shootdowns(bool h)
{
	std::lock_guard<std::mutex> g(hold_lock);
	held = h;
	hold_cv.notify_all();
}

void HostedPlatform::tlb_shootdown()
{
	{
		// An IPI that some vCPU is slow to answer.
		std::unique_lock<std::mutex> g(hold_lock);
		if (held) {
			++shootdowns_waiting_;
			hold_cv.wait(g, [] { return !held; });
			--shootdowns_waiting_;
		}
	}
	tlb_generation.fetch_add(1);
	++shootdowns_;
}

ktl::optional<Pfn> HostedPlatform::walk(VirtAddr va)
{
	std::lock_guard<std::mutex> g(blocks_lock);
	std::atomic<ktl::uint64_t> *pte = pte_of(va.value());
	if (!pte) {
		++violations_;	// an address no block holds
		return ktl::nullopt;
	}
	const ktl::uint64_t v = pte->load(std::memory_order_relaxed);
	if (!(v & kPresent))
		return ktl::nullopt;
	return Pfn(v >> kPageShift);
}

ktl::optional<Pfn> HostedPlatform::translate(VirtAddr va)
{
	const ktl::uint64_t gen = tlb_generation.load();
	if (tlb.generation != gen) {
		tlb.entries.clear();
		tlb.generation = gen;
	}
	const ktl::uintptr_t page = va.value() & ~(kPageSize - 1);
	if (auto it = tlb.entries.find(page); it != tlb.entries.end())
		return Pfn(it->second);
	const ktl::optional<Pfn> pfn = walk(VirtAddr(page));
	if (pfn)
		tlb.entries[page] = pfn->value();
	return pfn;
}

void fail_nth_alloc(int n)
{
	alloc_countdown = n;
}

ktl::uint64_t warnings()
{
	return warn_count.load();
}

void quiet_warnings(bool quiet)
{
	warn_quiet = quiet;
}

} // namespace cxxvm::hosted

// ---- the hosted cxxrt runtime (the shim's cxxrt_*() in the kernel) ---------

extern "C" void *cxxrt_alloc_node(size_t size, unsigned int, int)
{
	using cxxvm::hosted::alloc_countdown;
	if (alloc_countdown > 0 && --alloc_countdown == 0)
		return nullptr;
	return std::malloc(size);
}

extern "C" void *cxxrt_alloc(size_t size, unsigned int gfp)
{
	return cxxrt_alloc_node(size, gfp, CXXRT_NO_NODE);
}

extern "C" void cxxrt_free(const void *ptr)
{
	std::free(const_cast<void *>(ptr));
}

extern "C" void cxxrt_bug(const char *why)
{
	std::fprintf(stderr, "cxxrt_bug: %s\n", why);
	std::abort();
}

extern "C" void cxxrt_warn(const char *why)
{
	++cxxvm::hosted::warn_count;
	if (!cxxvm::hosted::warn_quiet.load(std::memory_order_relaxed))
		std::fprintf(stderr, "cxxrt_warn: %s\n", why);
}
