// SPDX-License-Identifier: GPL-2.0
//
// VmapIndex: from a kernel address to the vmap block that holds it.
#pragma once

#include <cxxrt/alloc.h>
#include <cxxrt/atomic.h>
#include "platform.h"
#include "vmap_block.h"

namespace cxxvm {

/// The role of the vmap_blocks xarray in mm/vmalloc.c: vb_free() finds its
/// block with xa_load(addr_to_vb_idx(addr)) under RCU.  The kernel's blocks
/// are aligned to their size; ours come from vmap() and are only page
/// aligned, so the index is a sorted array of (va_start, block) searched
/// by bisection: O(log n) for n blocks (at most max_blocks).
///
/// Readers take no lock and write nothing shared: the array is guarded by a
/// sequence count (seqcount_t's scheme, in the C++ memory model: relaxed
/// loads between an acquire load of the count and an acquire fence).
/// Writers (a block added or released, rare and in process context)
/// serialise on a spinlock, so a writer is never preempted with the count
/// odd.  A reader may see a block that has just been removed and recycled;
/// callers check va_start and the owner under the owner's lock (see
/// VmapBlock).
///
/// Context: process context (find() takes the writers' spinlock while a
/// writer is mid-update); insert()/remove() take the spinlock.
template <Platform P>
class VmapIndex {
public:
	/// What find() returns: a block and the va_start it was indexed under.
	struct Hit {
		VmapBlock *block;
		VirtAddr va_start;
	};

	/// Room for @capacity blocks of @block_pages pages each.
	/// Errors: -ENOMEM.  Context: may sleep.
	[[nodiscard]] cxxrt::Result<void> init(ktl::uint32_t capacity, ktl::uint32_t block_pages)
	{
		block_pages_ = block_pages;
		TRY_VOID(lock_.init(LockClass::kArenaIndex));
		entries_ = TRY(cxxrt::make_array<Entry>(cxxrt::Gfp::kKernel, capacity));
		capacity_ = capacity;
		return {};
	}

	VmapIndex() = default;
	VmapIndex(const VmapIndex &) = delete;
	VmapIndex &operator=(const VmapIndex &) = delete;
	~VmapIndex() { cxxrt::destroy_array(entries_); }

	/// The block whose [va_start, va_start + block_pages pages) holds @va.
	[[nodiscard, gnu::always_inline]] ktl::optional<Hit> find(VirtAddr va) const
	{
		for (;;) {
			// Acquire: the entries we read next are at least as new
			// as this count.
			const ktl::uint32_t seq = seq_.load(ktl::memory_order::acquire);
			if (seq & 1) {
				// A writer is mid-update: wait on its lock rather
				// than spin (it may sleep with the lock on RT).
				Guard<typename P::SpinLock> g(&lock_);
				continue;
			}
			const ktl::optional<Hit> hit = search(va);
			// Acquire fence: the loads above happen before the re-read
			// of the count, so an unchanged count means no writer ran.
			ktl::atomic_thread_fence(ktl::memory_order::acquire);
			if (seq_.load(ktl::memory_order::relaxed) == seq)
				return hit;
		}
	}

	/// Add @b (whose VA is reserved).  Returns false if the index is full.
	[[nodiscard]] bool insert(VmapBlock *b)
	{
		Guard<typename P::SpinLock> g(&lock_);
		const ktl::uint32_t nr = nr_.load(ktl::memory_order::relaxed);
		if (nr == capacity_)
			return false;
		ktl::uint32_t i = nr;
		write_begin();
		for (; i > 0 && load_va(i - 1) > b->va_start().value(); --i)
			copy_entry(i, i - 1);
		entries_[i].va.store(b->va_start().value(), ktl::memory_order::relaxed);
		entries_[i].block.store(b, ktl::memory_order::relaxed);
		nr_.store(nr + 1, ktl::memory_order::relaxed);
		write_end();
		return true;
	}

	/// Remove @b, which must be in the index.
	void remove(VmapBlock *b)
	{
		Guard<typename P::SpinLock> g(&lock_);
		const ktl::uint32_t nr = nr_.load(ktl::memory_order::relaxed);
		ktl::uint32_t i = 0;
		while (i < nr && entries_[i].block.load(ktl::memory_order::relaxed) != b)
			++i;
		if (i == nr) {
			cxxrt_warn("VmapIndex::remove: block not indexed");
			return;
		}
		write_begin();
		for (; i + 1 < nr; ++i)
			copy_entry(i, i + 1);
		nr_.store(nr - 1, ktl::memory_order::relaxed);
		write_end();
	}

private:
	/// Both fields are atomics so that a reader racing a writer reads
	/// torn-free words (and discards them); see find().
	struct Entry {
		ktl::atomic<ktl::uintptr_t> va;
		ktl::atomic<VmapBlock *> block;
	};

	[[nodiscard]] ktl::uintptr_t load_va(ktl::uint32_t i) const
	{
		return entries_[i].va.load(ktl::memory_order::relaxed);
	}

	void copy_entry(ktl::uint32_t to, ktl::uint32_t from) CXXVM_REQUIRES(lock_)
	{
		entries_[to].va.store(load_va(from), ktl::memory_order::relaxed);
		entries_[to].block.store(entries_[from].block.load(ktl::memory_order::relaxed),
					 ktl::memory_order::relaxed);
	}

	/// Bisection over a snapshot that may be torn; find() validates it.
	/// It finds the last block that starts at or below @va (branch-free:
	/// one load and one conditional move per step), then checks that the
	/// block reaches @va.
	[[nodiscard, gnu::always_inline]] ktl::optional<Hit> search(VirtAddr va) const
	{
		const ktl::uint32_t nr = nr_.load(ktl::memory_order::relaxed);
		if (!nr || nr > capacity_)
			return ktl::nullopt;	// empty, or torn: the count check retries
		ktl::uint32_t base = 0;
		for (ktl::uint32_t len = nr; len > 1;) {
			const ktl::uint32_t half = len / 2;
			if (load_va(base + half) <= va.value())
				base += half;
			len -= half;
		}
		const VirtAddr start(load_va(base));
		if (va < start || start.plus_pages(block_pages_) <= va)
			return ktl::nullopt;
		return Hit{entries_[base].block.load(ktl::memory_order::relaxed), start};
	}

	/// Make the count odd; the release fence orders it before the entry
	/// stores that follow (seqcount's write barrier).
	void write_begin() CXXVM_REQUIRES(lock_)
	{
		seq_.store(seq_.load(ktl::memory_order::relaxed) + 1, ktl::memory_order::relaxed);
		ktl::atomic_thread_fence(ktl::memory_order::release);
	}

	/// Make the count even again; release orders the entry stores before it.
	void write_end() CXXVM_REQUIRES(lock_)
	{
		seq_.store(seq_.load(ktl::memory_order::relaxed) + 1, ktl::memory_order::release);
	}

	mutable typename P::SpinLock lock_;
	Entry *entries_ = nullptr;
	ktl::uint32_t capacity_ = 0;
	ktl::uint32_t block_pages_ = 0;	///< every block's size (one arena's)
	ktl::atomic<ktl::uint32_t> nr_{0};
	ktl::atomic<ktl::uint32_t> seq_{0};
};

} // namespace cxxvm
