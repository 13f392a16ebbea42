// SPDX-License-Identifier: GPL-2.0
//
// VmapArena: cxxvm's vmap block allocator.
#pragma once

#include "vmap_block.h"

namespace cxxvm {

/// The allocator behind cxxvm_arena_map(): the role vmap_block_queue and
/// vb_alloc()/vb_free() play for vm_map_ram() in mm/vmalloc.c.
///
/// This first version has one global queue: every block is shared by all
/// CPUs and the arena's spinlock covers all slot state.  Blocks are kept
/// sorted by address so that unmap finds its block by binary search (the
/// kernel aligns its blocks and indexes them in an xarray; vmap() here only
/// gives page alignment).
///
/// Life of a slot: map() takes a free slot under the lock and writes its
/// PTEs outside it (nobody else can reach the slot yet); unmap() checks the
/// (va, n) pair against the slot, clears the PTEs and marks the slot dirty
/// under the lock.  Once lazy_max_pages are dirty, that unmap() issues one
/// shootdown for all of them (purge()); only then do their slots become
/// free.  So a slot is never handed out while a TLB may still translate
/// its old pages.
///
/// Purges are numbered.  unmap() tells its caller which purge will cover
/// the slot (the next one to start); flushed_seq() says which purges have
/// completed.  A caller that frees the pages it had mapped waits until the
/// covering purge has completed: until then another CPU's TLB may still
/// hold a writable translation to them.
///
/// Locks, in order: purge_mutex_ (sleeps; serialises shootdowns), then the
/// spinlock inside state_.  The shootdown itself runs with only the mutex
/// held: on_each_cpu() must not be called under a spinlock.
///
/// Context: map(), unmap(), purge() and destroy() may sleep (process
/// context).  stats() takes only the spinlock.
template <Platform P>
class VmapArena {
public:
	struct Params {
		ktl::uint32_t lazy_max_pages;
		ktl::uint32_t max_blocks;
	};

	/// Create an arena with no blocks.  Errors: -EINVAL if
	/// lazy_max_pages < CXXVM_MAX_PAGES or max_blocks == 0; -ENOMEM.
	/// Context: process context, may sleep.
	[[nodiscard]] static cxxrt::Result<VmapArena *> create(Params params)
	{
		if (params.lazy_max_pages < CXXVM_MAX_PAGES || params.max_blocks == 0)
			return cxxrt::Errno::kInval;
		VmapArena *a = TRY(cxxrt::make<VmapArena>(cxxrt::Gfp::kKernel, params));
		const auto fail = [a](cxxrt::Errno e) {
			cxxrt::destroy(a);
			return e;
		};
		if (auto r = a->state_.init(); !r.ok())
			return fail(r.errno_value());
		if (auto r = a->purge_mutex_.init(); !r.ok())
			return fail(r.errno_value());
		auto blocks = cxxrt::make_array<VmapBlock *>(cxxrt::Gfp::kKernel, params.max_blocks);
		if (!blocks.ok())
			return fail(blocks.errno_value());
		a->state_.with([&](State &s) { s.blocks = blocks.value(); });
		return a;
	}

	explicit VmapArena(Params params) : params_(params) {}
	VmapArena(const VmapArena &) = delete;
	VmapArena &operator=(const VmapArena &) = delete;

	/// Clear the PTEs of live slots, shoot down, release every block and
	/// free the arena.  Returns how many slots were still live.
	/// Context: process context, may sleep; no other user of the arena.
	static ktl::uint64_t destroy(VmapArena *a)
	{
		a->purge();
		ktl::uint64_t live = 0;
		VmapBlock **blocks = nullptr;
		ktl::uint32_t nr = 0;
		a->state_.with([&](State &s) {
			for (ktl::uint32_t i = 0; i < s.nr_blocks; ++i)
				live += s.blocks[i]->template clear_live_ptes<P>();
			blocks = ktl::exchange(s.blocks, nullptr);
			nr = ktl::exchange(s.nr_blocks, 0u);
		});
		if (live)
			P::tlb_shootdown();
		for (ktl::uint32_t i = 0; i < nr; ++i)
			VmapBlock::release<P>(blocks[i]);
		cxxrt::destroy_array(blocks);
		cxxrt::destroy(a);
		return live;
	}

	/// Map @pfns (1..CXXVM_MAX_PAGES of them) contiguously; the slot is
	/// rounded up to 2^order pages.  Mirrors vb_alloc() + vmap_pages_range().
	/// Errors: -EINVAL for a bad count; -ENOMEM when max_blocks are held
	/// and a shootdown frees nothing that fits, or a new block fails.
	/// Context: process context, may sleep (new block, purge).
	[[nodiscard]] cxxrt::Result<VirtAddr> map(ktl::span<const Pfn> pfns)
	{
		if (pfns.empty() || pfns.size() > CXXVM_MAX_PAGES)
			return cxxrt::Errno::kInval;
		const auto n = static_cast<ktl::uint32_t>(pfns.size());

		for (;;) {
			const Placement p = state_.with([&](State &s) { return s.alloc(PageCount(n), params_); });
			if (p.block) {
				P::ptes_set(p.block->ptes(p.idx), pfns.data(), n);
				return p.block->va_start().plus_pages(p.idx);
			}
			switch (p.next) {
			case Next::kPurge:
				purge();
				break;
			case Next::kGrow:
				TRY_VOID(grow());
				break;
			case Next::kNoSpace:
				return cxxrt::Errno::kNoMem;
			}
		}
	}

	/// Unmap what map() returned: clear the PTEs now, defer the shootdown.
	/// Issues the batched shootdown when lazy_max_pages are dirty.  Returns
	/// the number of the purge that covers the slot: the pages stay
	/// reachable through stale TLB entries until flushed_seq() reaches it.
	/// Mirrors vb_free().  Errors: -EINVAL if (@va, @n) is not a live
	/// mapping of exactly @n pages.
	/// Context: process context, may sleep (the batched shootdown).
	[[nodiscard]] cxxrt::Result<ktl::uint64_t> unmap(VirtAddr va, PageCount n)
	{
		ktl::uint64_t covering = 0;
		bool purge_now = false;
		const bool found = state_.with([&](State &s) {
			VmapBlock *b = s.find(va);
			if (!b)
				return false;
			const auto idx = b->page_index(va);
			if (!idx || !b->is_live_slot(*idx, n))
				return false;
			P::ptes_clear(b->ptes(*idx), n.value());
			const ktl::uint32_t slot = b->release_to_dirty(*idx);
			s.dirty_pages += slot;
			s.mapped_pages -= slot;
			--s.live_mappings;
			covering = s.purges_started + 1;
			purge_now = s.dirty_pages >= params_.lazy_max_pages;
			return true;
		});
		if (!found)
			return cxxrt::Errno::kInval;
		if (purge_now)
			purge();
		return covering;
	}

	/// The number of purges whose shootdown has completed.  Context: takes
	/// the spinlock.
	[[nodiscard]] ktl::uint64_t flushed_seq()
	{
		return state_.with([](State &s) { return s.purges_done; });
	}

	/// Shoot down every dirty slot and make it free.  When this returns,
	/// every slot unmapped before the call is reusable.  Returns the pages
	/// made free.  The equivalent of vm_unmap_aliases() for the arena.
	/// Context: process context, may sleep.
	ktl::uint64_t purge()
	{
		Guard<typename P::Mutex> g(&purge_mutex_);
		const ktl::uint64_t pages = state_.with([](State &s) {
			ktl::uint64_t moved = 0;
			for (ktl::uint32_t i = 0; i < s.nr_blocks; ++i)
				moved += s.blocks[i]->begin_purge();
			if (moved) {
				s.dirty_pages -= moved;
				s.purging_pages += moved;
				++s.purges_started;
			}
			return moved;
		});
		if (!pages)
			return 0;
		P::tlb_shootdown();
		state_.with([pages](State &s) {
			for (ktl::uint32_t i = 0; i < s.nr_blocks; ++i)
				s.blocks[i]->end_purge();
			s.purging_pages -= pages;
			++s.purges_done;
			++s.shootdowns;
		});
		return pages;
	}

	/// A consistent snapshot of the counters.  Context: takes the spinlock.
	[[nodiscard]] cxxvm_arena_stats stats()
	{
		return state_.with([](State &s) {
			return cxxvm_arena_stats{
				.blocks_created = s.blocks_created,
				.blocks_live = s.nr_blocks,
				.shootdowns = s.shootdowns,
				.dirty_pages = s.dirty_pages + s.purging_pages,
				.mapped_pages = s.mapped_pages,
				.live_mappings = s.live_mappings,
			};
		});
	}

private:
	enum class Next { kPurge, kGrow, kNoSpace };

	/// Where map() got its slot, or what it must do before retrying.
	struct Placement {
		VmapBlock *block;
		ktl::uint32_t idx;
		Next next;
	};

	/// Slot state of the whole arena, under the spinlock.
	struct State {
		VmapBlock **blocks;		///< sorted by va_start
		ktl::uint32_t nr_blocks;
		ktl::uint32_t hint;		///< block of the last successful alloc
		ktl::uint64_t dirty_pages;	///< unmapped, no purge has begun
		ktl::uint64_t purging_pages;	///< in the shootdown under way
		ktl::uint64_t purges_started;	///< purges that moved pages
		ktl::uint64_t purges_done;	///< ... and whose shootdown returned
		ktl::uint64_t mapped_pages;
		ktl::uint64_t live_mappings;
		ktl::uint64_t blocks_created;
		ktl::uint64_t shootdowns;

		/// The block holding @va, by binary search over va_start.
		VmapBlock *find(VirtAddr va) const
		{
			ktl::uint32_t lo = 0, hi = nr_blocks;
			while (lo < hi) {
				const ktl::uint32_t mid = lo + (hi - lo) / 2;
				if (blocks[mid]->va_end() <= va)
					lo = mid + 1;
				else
					hi = mid;
			}
			return lo < nr_blocks && blocks[lo]->contains(va) ? blocks[lo] : nullptr;
		}

		/// Take a slot from the hinted block, else the first that has one.
		/// With no room and no new block allowed: purge if any pages are
		/// dirty or being purged (purge() waits for a purge under way).
		Placement alloc(PageCount n, const Params &params)
		{
			for (ktl::uint32_t k = 0; k < nr_blocks; ++k) {
				const ktl::uint32_t i = (hint + k) % nr_blocks;
				if (const auto idx = blocks[i]->alloc(n)) {
					hint = i;
					mapped_pages += Order::for_pages(n).pages();
					++live_mappings;
					return {blocks[i], *idx, Next::kGrow};
				}
			}
			if (nr_blocks < params.max_blocks)
				return {nullptr, 0, Next::kGrow};
			if (dirty_pages || purging_pages)
				return {nullptr, 0, Next::kPurge};
			return {nullptr, 0, Next::kNoSpace};
		}

		/// Insert @b keeping the array sorted.  False if the arena is full.
		bool insert(VmapBlock *b, const Params &params)
		{
			if (nr_blocks >= params.max_blocks)
				return false;
			ktl::uint32_t i = nr_blocks;
			for (; i > 0 && blocks[i - 1]->va_start() > b->va_start(); --i)
				blocks[i] = blocks[i - 1];
			blocks[i] = b;
			hint = i;
			++nr_blocks;
			++blocks_created;
			return true;
		}
	};

	/// Add one block.  Another thread may have added one meanwhile; then
	/// both are kept while there is room, since either may be needed.
	/// Creating a block costs one shootdown (cxxvm_plat_va_reserve()).
	[[nodiscard]] cxxrt::Result<void> grow()
	{
		VmapBlock *b = TRY(VmapBlock::create<P>());
		const bool kept = state_.with([&](State &s) {
			++s.shootdowns;
			return s.insert(b, params_);
		});
		if (!kept)
			VmapBlock::release<P>(b);
		return {};
	}

	const Params params_;
	typename P::Mutex purge_mutex_;
	Protected<State, typename P::SpinLock> state_;
};

} // namespace cxxvm
