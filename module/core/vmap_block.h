// SPDX-License-Identifier: GPL-2.0
//
// VmapBlock: one block of kernel VA carved into order-aligned slots.
#pragma once

#include <cxxrt/alloc.h>
#include <cxxrt/atomic.h>
#include "list.h"
#include "platform.h"
#include "../cxxvm_core.h"

namespace cxxvm {

/// A block's link on one of its queue's fill lists (or the arena's spares).
struct FillLink : ListNode {};
/// A block's link on its queue's list of blocks with dirty pages.
struct UncleanLink : ListNode {};

/// Which fill list of its queue a block is on (VmapBlockQueueState): by its
/// free pages, all (kEmpty), some (kPartial) or none (kFull); kNone while
/// it is on no queue.
enum class Fill : ktl::uint8_t { kNone, kEmpty, kPartial, kFull };

/// Mirrors struct vmap_block in mm/vmalloc.c: a fixed run of kernel VA
/// (pages(), at most kPages pages, set by reserve()) from which 2^order
/// page slots are handed out.
///
/// How it differs from the kernel's:
///  - A slot is free, live or dirty (unmapped, its PTEs clear, but a TLB
///    may still hold its translations).  Each unmap names the purge whose
///    shootdown covers its slot.  The block keeps its dirty pages in two
///    generations: those that name the latest purge any of them names
///    (covering()), and older ones, which all name one earlier purge.
///    Once a generation's purge has completed, reclaim() makes its pages
///    free again (and an unmap that starts a new generation frees the
///    older one, release_to_dirty()), so space freed inside a block is
///    reused; vb_alloc() only ever carves sequentially and reuses nothing
///    until the block is purged.
///  - The block keeps where its PTEs are (found once, at creation: one or
///    two runs, struct cxxvm_pte_runs), so mapping never walks page tables.
///  - The VA comes from vmap() of a placeholder page and is only page
///    aligned; slots are aligned to their order within the block.
///
/// Bitmaps: bit i of free_ is page i, 1 = free; dirty_ and older_ the same
/// for the two generations of dirty pages; head_ marks the first page of
/// each live slot, and npages_[i] holds how many pages its mapping has (the
/// slot's order follows from it).  A page is in at most one of free,
/// dirty, older, live; older_ has pages only if dirty_ has.
///
/// Ownership and locking: a block belongs to one CPU's VmapBlockQueue at a
/// time (owner_), or to nobody while it moves between queues or is being
/// reserved or released.  Slot state, va_start_, filed_ and the two list
/// links (FillLink, UncleanLink) are protected by the owning queue's lock
/// (a block with no owner is on no queue's list; among the arena's spares
/// its FillLink is under the spares' lock), and so is runs_, which map()
/// also reads after the lock (its slot is live, and runs_ changes only with
/// new VA, in an empty block); the PTEs of a live slot belong to whoever
/// mapped it.  owner_ is written under the owning queue's lock and read
/// without it by unmap(), which then takes that lock and reads owner_ again
/// before trusting anything else.
///
/// Metadata is recycled: a block released to vmalloc keeps its VmapBlock,
/// which a later reserve() gives new VA.  So a VmapBlock pointer read
/// without a lock always points at a VmapBlock, possibly a different
/// block's by now; the owner_ and va_start_ checks under the lock catch
/// that.
class VmapBlock : public FillLink, public UncleanLink {
public:
	/// Most pages a block holds (the metadata's capacity).
	static constexpr ktl::uint32_t kPages = CXXVM_BLOCK_PAGES;
	/// Fewest: a slot of the largest order must fit.
	static constexpr ktl::uint32_t kMinPages = CXXVM_MIN_BLOCK_PAGES;
	static_assert(kMinPages == 1u << CXXVM_MAX_ORDER);
	static constexpr ktl::uint32_t kWords = kPages / 64;
	static constexpr ktl::uint32_t kMaxOrder = CXXVM_MAX_ORDER;
	static_assert(kPages % 64 == 0, "bitmaps are whole 64-bit words");
	static_assert((1u << kMaxOrder) <= 64, "a slot never spans two bitmap words");
	static_assert((1u << kMaxOrder) <= 255, "npages_ holds a page count in a byte");

	/// owner_ of a block no queue holds.
	static constexpr ktl::uint32_t kNoOwner = ~0u;

	/// Metadata for a block, preferably on NUMA node @node, with no VA yet.
	/// Context: process context, may sleep.  Errors: -ENOMEM.
	[[nodiscard]] static cxxrt::Result<VmapBlock *> create(int node)
	{
		return cxxrt::make_on_node<VmapBlock>(cxxrt::Gfp::kKernel, node);
	}

	/// Reserve @pages (kMinPages..kPages) of VA through the platform and
	/// make every slot free.  @pages need not be a multiple of 64: the
	/// pages past it in the last bitmap word are never free, so no slot
	/// reaches them.  The block must have no VA (new, or after
	/// unreserve()) and no owner.  Context: process context, may sleep.
	/// Errors: -ENOMEM (VA), or the platform's errno.
	template <Platform P>
	[[nodiscard]] cxxrt::Result<void> reserve(ktl::uint32_t pages)
	{
		ktl::uintptr_t va = 0;
		TRY_VOID(P::va_reserve(pages, &va, &runs_));
		va_start_ = VirtAddr(va);
		pages_ = pages;
		words_ = (pages + 63) / 64;
		for (ktl::uint32_t w = 0; w < kWords; ++w) {
			free_[w] = w < pages / 64 ? ~0ull : 0;
			dirty_[w] = older_[w] = head_[w] = 0;
		}
		if (pages % 64)
			free_[pages / 64] = (1ull << (pages % 64)) - 1;
		free_pages_ = pages;
		dirty_pages_ = older_pages_ = live_slots_ = scan_from_ = 0;
		covering_ = older_covering_ = 0;
		return {};
	}

	/// Release the VA to vmalloc.  All PTEs must be clear and shot down,
	/// and the block must have no owner.  Context: process context, may
	/// sleep.
	template <Platform P>
	void unreserve()
	{
		P::va_release(va_start_);
		va_start_ = VirtAddr(0);
	}

	VmapBlock() = default;
	VmapBlock(const VmapBlock &) = delete;
	VmapBlock &operator=(const VmapBlock &) = delete;

	/// The queue (CPU) whose lock protects the slot state.  Acquire pairs
	/// with the release in set_owner(); a reader must still take that
	/// queue's lock and re-read owner() before using the block.
	[[nodiscard]] ktl::uint32_t owner() const { return owner_.load(ktl::memory_order::acquire); }
	/// Called with the old owner's lock held (or none if kNoOwner) and the
	/// new owner's lock held (or none if kNoOwner).
	void set_owner(ktl::uint32_t cpu) { owner_.store(cpu, ktl::memory_order::release); }

	[[nodiscard]] ktl::uint32_t free_pages() const { return free_pages_; }
	/// Pages unmapped and not yet reclaimed (reclaim()).
	[[nodiscard]] ktl::uint32_t dirty_pages() const { return dirty_pages_ + older_pages_; }
	/// The purge whose shootdown covers every dirty page (the latest any
	/// unmap here named); meaningless while none is dirty.
	[[nodiscard]] ktl::uint64_t covering() const { return covering_; }
	/// Pages in live slots (a slot counts whole: 2^order pages).
	[[nodiscard]] ktl::uint32_t live_pages() const { return pages_ - free_pages_ - dirty_pages(); }
	/// Every slot free: nothing live, nothing waiting for a shootdown.
	[[nodiscard]] bool empty() const { return free_pages_ == pages_; }
	/// Some page dirty: reclaim() has work here once a purge completed.
	[[nodiscard]] bool unclean() const { return dirty_pages_ != 0; }
	/// The fill list the block belongs on now.
	[[nodiscard]] Fill fill() const
	{
		return empty() ? Fill::kEmpty : free_pages_ ? Fill::kPartial : Fill::kFull;
	}

	/// The fill list the block is on, kept by its queue
	/// (VmapBlockQueueState) under the queue's lock.
	[[nodiscard]] Fill filed() const { return filed_; }
	void set_filed(Fill f) { filed_ = f; }

	[[nodiscard]] VirtAddr va_start() const { return va_start_; }
	[[nodiscard]] VirtAddr va_end() const { return va_start_.plus_pages(pages_); }
	[[nodiscard]] bool contains(VirtAddr va) const { return va >= va_start_ && va < va_end(); }

	/// Write the PTEs of pages [@idx, @idx + @n) to map @pfns.
	template <Platform P>
	[[gnu::always_inline]] void set_ptes(ktl::uint32_t idx, const Pfn *pfns, ktl::uint32_t n) const
	{
		for_pte_runs(idx, n, [&](ktl::uintptr_t pte, ktl::uint32_t done, ktl::uint32_t count)
					     __attribute__((always_inline)) {
			P::ptes_set(pte, pfns + done, count);
		});
	}

	/// Clear the PTEs of pages [@idx, @idx + @n).
	template <Platform P>
	[[gnu::always_inline]] void clear_ptes(ktl::uint32_t idx, ktl::uint32_t n) const
	{
		for_pte_runs(idx, n, [&](ktl::uintptr_t pte, ktl::uint32_t, ktl::uint32_t count)
					     __attribute__((always_inline)) {
			P::ptes_clear(pte, count);
		});
	}

	/// The page index of @va inside the block, or nullopt if @va is not a
	/// page-aligned address of this block.
	[[nodiscard]] ktl::optional<ktl::uint32_t> page_index(VirtAddr va) const
	{
		if (!contains(va) || !va.page_aligned())
			return ktl::nullopt;
		return static_cast<ktl::uint32_t>((va.value() - va_start_.value()) >> kPageShift);
	}

	/// Take the lowest free slot for a mapping of @n pages (1..64): the page
	/// index of its first page, or nullopt if no aligned run of 2^order free
	/// pages is left.  Constant work per bitmap word.  Caller holds the
	/// owning queue's lock.
	[[nodiscard, gnu::always_inline]] ktl::optional<ktl::uint32_t> alloc(PageCount n)
	{
		const Order o = Order::for_pages(n);
		const ktl::uint32_t size = o.pages();
		if (free_pages_ < size)
			return ktl::nullopt;
		for (ktl::uint32_t w = scan_from_; w < words_; ++w) {
			// Bit i of m ends up set iff pages i .. i+size-1 are free.
			ktl::uint64_t m = free_[w];
			for (ktl::uint32_t s = 1; s < size && m; s <<= 1)
				m &= m >> s;
			m &= aligned_starts(o);
			if (!m)
				continue;
			const ktl::uint32_t bit = ktl::countr_zero(m);
			free_[w] &= ~run_mask(bit, size);
			head_[w] |= 1ull << bit;
			const ktl::uint32_t idx = w * 64 + bit;
			npages_[idx] = static_cast<ktl::uint8_t>(n.value());
			free_pages_ -= size;
			++live_slots_;
			while (scan_from_ < words_ && !free_[scan_from_])
				++scan_from_;
			return idx;
		}
		return ktl::nullopt;
	}

	/// True if a live mapping of exactly @n pages starts at page @idx.
	[[nodiscard]] bool is_live_slot(ktl::uint32_t idx, PageCount n) const
	{
		return (head_[idx / 64] >> (idx % 64)) & 1 && npages_[idx] == n.value();
	}

	/// What release_to_dirty() did: the slot's pages, and the pages of an
	/// older generation it made free.
	struct Released {
		ktl::uint32_t slot;
		ktl::uint32_t freed;
	};

	/// Live -> dirty for the slot at @idx (is_live_slot() must hold),
	/// named for purge @seq: the caller has cleared its PTEs and then,
	/// after a full fence, read @seq - 1 from the arena's count of purges
	/// begun (an acquire read).  A slot that names a later purge than
	/// covering() starts a new generation: the older one is made free at
	/// once and the current one becomes the older.  That is safe because
	/// purges run one at a time: @seq > covering() means purge covering()
	/// has begun, so the older generation's purge, an earlier one, has
	/// completed, and the acquire read of the count orders its shootdown
	/// before.  Caller holds the owning queue's lock.
	[[gnu::always_inline]] Released release_to_dirty(ktl::uint32_t idx, ktl::uint64_t seq)
	{
		const ktl::uint32_t size = Order::for_pages(PageCount(npages_[idx])).pages();
		head_[idx / 64] &= ~(1ull << (idx % 64));
		--live_slots_;
		ktl::uint32_t freed = 0;
		if (seq > covering_) {
			if (dirty_pages_) [[unlikely]] {
				freed = make_free(older_, older_pages_);
				for (ktl::uint32_t w = 0; w < words_; ++w) {
					older_[w] = dirty_[w];
					dirty_[w] = 0;
				}
				older_pages_ = ktl::exchange(dirty_pages_, 0u);
				older_covering_ = covering_;
			}
			covering_ = seq;
		}
		dirty_[idx / 64] |= run_mask(idx % 64, size);
		dirty_pages_ += size;
		return {size, freed};
	}

	/// Dirty -> free for each generation whose purge is among the @done
	/// completed ones (its shootdown has returned, so no TLB still
	/// translates those pages).  Returns the pages made free.  Caller
	/// holds the owning queue's lock.
	ktl::uint32_t reclaim(ktl::uint64_t done)
	{
		ktl::uint32_t q = 0;
		if (older_covering_ <= done)
			q += make_free(older_, older_pages_);
		if (covering_ <= done)
			q += make_free(dirty_, dirty_pages_);
		return q;
	}

	/// Clear the PTEs of every live slot (teardown).  Returns the number of
	/// live slots.  Caller holds the owning queue's lock or is the last user.
	template <Platform P>
	ktl::uint32_t clear_live_ptes()
	{
		for (ktl::uint32_t w = 0; w < words_; ++w) {
			for (ktl::uint64_t h = head_[w]; h; h &= h - 1) {
				const ktl::uint32_t idx = w * 64 + ktl::countr_zero(h);
				clear_ptes<P>(idx, npages_[idx]);
			}
		}
		return live_slots_;
	}

private:
	/// One generation of dirty pages (@bits, @pages of them: dirty_ or
	/// older_) -> free.  Returns the pages made free.
	ktl::uint32_t make_free(ktl::uint64_t (&bits)[kWords], ktl::uint32_t &pages)
	{
		if (!pages)
			return 0;
		for (ktl::uint32_t w = 0; w < words_; ++w) {
			free_[w] |= bits[w];
			bits[w] = 0;
		}
		free_pages_ += pages;
		scan_from_ = 0;
		return ktl::exchange(pages, 0u);
	}

	/// @fn(address of the first PTE, pages before it, pages) for each run
	/// of PTEs that follow each other among pages [@idx, @idx + @n): one,
	/// or two where the pages cross into another page-table page.
	template <typename Fn>
	[[gnu::always_inline]] void for_pte_runs(ktl::uint32_t idx, ktl::uint32_t n, Fn &&fn) const
	{
		constexpr ktl::uintptr_t kPte = sizeof(ktl::uint64_t);
		const ktl::uint32_t split = runs_.split;
		if (idx + n <= split) {
			fn(runs_.first[0] + idx * kPte, 0u, n);
			return;
		}
		if (idx >= split) {
			fn(runs_.first[1] + (idx - split) * kPte, 0u, n);
			return;
		}
		fn(runs_.first[0] + idx * kPte, 0u, split - idx);
		fn(runs_.first[1], split - idx, n - (split - idx));
	}

	/// Bits at multiples of 2^o: where a slot of order @o may start.
	static constexpr ktl::uint64_t aligned_starts(Order o)
	{
		constexpr ktl::uint64_t kMasks[] = {
			~0ull,
			0x5555555555555555ull,
			0x1111111111111111ull,
			0x0101010101010101ull,
			0x0001000100010001ull,
			0x0000000100000001ull,
			0x0000000000000001ull,
		};
		static_assert(sizeof(kMasks) / sizeof(kMasks[0]) == kMaxOrder + 1);
		return kMasks[o.value()];
	}

	/// @size bits from @bit up (size is a power of two from 1 to 64,
	/// bit + size <= 64).
	static constexpr ktl::uint64_t run_mask(ktl::uint32_t bit, ktl::uint32_t size)
	{
		return (~0ull >> (64 - size)) << bit;
	}

	ktl::atomic<ktl::uint32_t> owner_{kNoOwner};
	Fill filed_ = Fill::kNone;
	VirtAddr va_start_{0};
	ktl::uint32_t pages_ = 0;	///< VA reserved, in pages
	ktl::uint32_t words_ = 0;	///< bitmap words in use: pages_ rounded up
	ktl::uint32_t free_pages_ = 0;
	ktl::uint32_t dirty_pages_ = 0;
	ktl::uint32_t older_pages_ = 0;
	ktl::uint32_t live_slots_ = 0;
	ktl::uint32_t scan_from_ = 0;	///< no free page in words below this
	ktl::uint64_t covering_ = 0;	///< see covering()
	ktl::uint64_t older_covering_ = 0;	///< the purge older_ names
	ktl::uint64_t free_[kWords] = {};	///< all clear until reserve()
	ktl::uint64_t dirty_[kWords] = {};
	ktl::uint64_t older_[kWords] = {};
	ktl::uint64_t head_[kWords] = {};
	ktl::uint8_t npages_[kPages] = {};
	cxxvm_pte_runs runs_ = {};	///< where the PTEs are, from reserve()
};

} // namespace cxxvm
