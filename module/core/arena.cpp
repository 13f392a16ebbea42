// SPDX-License-Identifier: GPL-2.0
//
// The C entry points of the vmap allocator (cxxvm_core.h), instantiated with
// KernelPlatform.  struct cxxvm_arena is never defined: a handle is a
// VmapArena<KernelPlatform> pointer in disguise.
#include "kernel_platform.h"
#include "vmap_arena.h"

using Arena = cxxvm::VmapArena<cxxvm::KernelPlatform>;

namespace {

Arena *arena_of(cxxvm_arena *a)
{
	return reinterpret_cast<Arena *>(a);
}

} // namespace

extern "C" int cxxvm_arena_create(const cxxvm_arena_params *params, cxxvm_arena **out)
{
	if (params->flags & ~CXXVM_ARENA_FLAGS)
		return static_cast<int>(cxxrt::Errno::kInval);
	const auto r = Arena::create({.lazy_max_pages = params->lazy_max_pages,
				      .max_blocks = params->max_blocks,
				      .block_pages = params->block_pages ? params->block_pages
									 : cxxvm::VmapBlock::kPages,
				      .caller_purge = (params->flags & CXXVM_ARENA_CALLER_PURGE) != 0,
				      .return_empty = (params->flags & CXXVM_ARENA_RETURN_EMPTY) != 0,
				      .purged = params->purged,
				      .purged_ctx = params->purged_ctx});
	if (!r.ok())
		return r.error();
	*out = reinterpret_cast<cxxvm_arena *>(r.value());
	return 0;
}

extern "C" uint64_t cxxvm_arena_destroy(cxxvm_arena *a)
{
	return a ? Arena::destroy(arena_of(a)) : 0;
}

extern "C" int cxxvm_arena_map(cxxvm_arena *a, const uint64_t *pfns, uint32_t n, uintptr_t *va)
{
	// Pfn is a u64 with no padding (types.h), so the array is one of Pfns.
	const auto r = arena_of(a)->map({reinterpret_cast<const cxxvm::Pfn *>(pfns), n});
	if (!r.ok())
		return r.error();
	*va = r.value().value();
	return 0;
}

extern "C" int cxxvm_arena_unmap(cxxvm_arena *a, uintptr_t va, uint32_t n, uint64_t *purge_seq)
{
	const auto r = arena_of(a)->unmap(cxxvm::VirtAddr(va), cxxvm::PageCount(n));
	if (!r.ok())
		return r.error();
	*purge_seq = r.value();
	return 0;
}

extern "C" bool cxxvm_arena_owns(cxxvm_arena *a, uintptr_t va)
{
	return arena_of(a)->owns(cxxvm::VirtAddr(va));
}

extern "C" uint64_t cxxvm_arena_purged_seq(cxxvm_arena *a)
{
	return arena_of(a)->flushed_seq();
}

extern "C" uint64_t cxxvm_arena_purge_now(cxxvm_arena *a)
{
	return arena_of(a)->purge();
}

extern "C" uint64_t cxxvm_arena_shrink(cxxvm_arena *a)
{
	return arena_of(a)->shrink();
}

extern "C" void cxxvm_arena_for_each_block(cxxvm_arena *a,
					   void (*fn)(void *ctx, const cxxvm_block_info *info),
					   void *ctx)
{
	arena_of(a)->for_each_block([&](ktl::uint32_t cpu, const cxxvm::VmapBlock &b) {
		const cxxvm_block_info info = {
			.cpu = cpu,
			.free_pages = b.free_pages(),
			.va_start = b.va_start().value(),
			.va_end = b.va_end().value(),
			.dirty_pages = b.dirty_pages(),
			.live_pages = b.live_pages(),
		};
		fn(ctx, &info);
	});
}

extern "C" void cxxvm_arena_get_stats(cxxvm_arena *a, cxxvm_arena_stats *stats)
{
	*stats = arena_of(a)->stats();
}
