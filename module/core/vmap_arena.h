// SPDX-License-Identifier: GPL-2.0
//
// VmapArena: cxxvm's vmap block allocator.
#pragma once

#include <cxxrt/atomic.h>
#include "vmap_block.h"
#include "vmap_index.h"

namespace cxxvm {

/// One CPU's blocks: mirrors struct vmap_block_queue in mm/vmalloc.c.
///
/// The queue's spinlock protects its lists of blocks, the slot state of
/// every block on them (see VmapBlock) and its counters.  The CPU it belongs
/// to takes it on every map and, in the common case, unmap; other CPUs take
/// it only to unmap a slot of one of its blocks, to borrow a slot, to steal
/// an empty block, for statistics, and (the purge worker, with a try only)
/// to reclaim a queue whose CPU has not done so itself; a purge that must
/// free every dirty slot (FLUSH, shrink, a map with no room) takes them
/// all.  Queues of CPUs that go offline keep their blocks; other CPUs
/// borrow, steal and reclaim them.
///
/// Every block is on one fill list, by its free pages (VmapBlock::fill()):
/// map() tries the current block, then looks in partial_blocks, then takes
/// from empty_blocks (vbq->free holds only blocks with free space, so that
/// vb_alloc() never walks full ones); steal() and the release take
/// empty_blocks.  A block with dirty pages is also on unclean_blocks,
/// which is all a reclaim walks.  So no map, unmap or reclaim walks a full
/// block (unless it is unclean) or a clean empty one under the lock, and
/// the queue may hold hundreds (measured, 7.2, 4 vCPUs on
/// 2 CPUs: when a block filled, map() walked all of them looking for a
/// partly used one, and a purge's passes walked them all, holding the
/// owner's lock; the N-thread p99 per cycle at P = 8 and 16 read 2.3 to
/// 4 times vm_map_ram's).
struct VmapBlockQueueState {
	IntrusiveList<VmapBlock, FillLink> empty_blocks;	///< every page free
	IntrusiveList<VmapBlock, FillLink> partial_blocks;	///< some pages free
	IntrusiveList<VmapBlock, FillLink> full_blocks;	///< no page free
	IntrusiveList<VmapBlock, UncleanLink> unclean_blocks;	///< dirty pages
	VmapBlock *current = nullptr;	///< block of the last allocation
	ktl::uint32_t nr_blocks = 0;
	ktl::uint32_t nr_empty = 0;	///< on empty_blocks
	ktl::uint32_t nr_unclean = 0;	///< on unclean_blocks
	ktl::uint32_t unreported = 0;	///< dirty pages not yet in dirty_reported_
	ktl::uint64_t dirty_pages = 0;	///< unmapped, not yet reclaimed
	/// Purges completed as of the last reclaim (VmapArena::reclaim()).
	ktl::uint64_t reclaimed = 0;
	ktl::uint64_t mapped_pages = 0;	///< pages of live slots
	ktl::uint64_t live_mappings = 0;

	/// Put @b, which is on no queue, on this one's lists.
	void add(VmapBlock *b)
	{
		file(b, b->fill());
		if (b->unclean()) {
			unclean_blocks.push_front(b);
			++nr_unclean;
		}
		++nr_blocks;
	}

	/// Take @b off this queue's lists.
	void remove(VmapBlock *b)
	{
		unfile(b);
		if (decltype(unclean_blocks)::linked(b)) {
			unclean_blocks.remove(b);
			--nr_unclean;
		}
		--nr_blocks;
		if (current == b)
			current = nullptr;
	}

	/// Move @b to the fill list its free pages call for, after an
	/// allocation or a reclaim changed them.
	[[gnu::always_inline]] void refile(VmapBlock *b)
	{
		const Fill f = b->fill();
		if (f == b->filed()) [[likely]]
			return;
		unfile(b);
		file(b, f);
	}

	/// A slot was just taken from @b: refile it if that can have changed
	/// its list (it was empty or is now full), without computing its fill
	/// on every map.
	[[gnu::always_inline]] void allocated(VmapBlock *b)
	{
		if (b->free_pages() == 0 || b->filed() == Fill::kEmpty) [[unlikely]]
			refile(b);
	}

	/// @b got dirty pages: put it on unclean_blocks if it is not there.
	/// Returns whether it was not.
	[[gnu::always_inline]] bool dirtied(VmapBlock *b)
	{
		if (decltype(unclean_blocks)::linked(b)) [[likely]]
			return false;
		unclean_blocks.push_front(b);
		++nr_unclean;
		return true;
	}

	/// Call @fn(VmapBlock *) for every block; @fn may remove() the block
	/// it is given, but not refile() it (it could be visited twice).
	template <typename Fn>
	void for_each_block(Fn &&fn)
	{
		empty_blocks.for_each(fn);
		partial_blocks.for_each(fn);
		full_blocks.for_each(fn);
	}

	/// Some block of the queue, or nullptr.
	[[nodiscard]] VmapBlock *any_block() const
	{
		if (VmapBlock *b = empty_blocks.front())
			return b;
		if (VmapBlock *b = partial_blocks.front())
			return b;
		return full_blocks.front();
	}

private:
	/// The list of @f (not Fill::kNone).
	IntrusiveList<VmapBlock, FillLink> &fill_list(Fill f)
	{
		return f == Fill::kEmpty ? empty_blocks : f == Fill::kPartial ? partial_blocks : full_blocks;
	}

	void file(VmapBlock *b, Fill f)
	{
		fill_list(f).push_front(b);
		b->set_filed(f);
		nr_empty += f == Fill::kEmpty;
	}

	void unfile(VmapBlock *b)
	{
		nr_empty -= b->filed() == Fill::kEmpty;
		fill_list(b->filed()).remove(b);
		b->set_filed(Fill::kNone);
	}
};

/// Size of a queue object with its lock (CXXVM_PLAT_LOCK_BYTES of room):
/// a power of two, so that kmalloc() puts each queue in cache lines of its
/// own and in one page (its size class is naturally aligned), and CPUs do
/// not bounce each other's.
inline constexpr ktl::size_t kQueueBytes = 512;

/// The allocator behind cxxvm_arena_map(): the role of vmap_block_queue
/// and vb_alloc()/vb_free() for vm_map_ram() in mm/vmalloc.c.
///
/// Where a map goes, in order (map()):
///  1. a slot in the local CPU's blocks: the common path, which takes only
///     the local queue's lock (so preemption is off while it touches the
///     queue) and prefers partly used blocks to empty ones;
///  2. an empty block stolen from another CPU (no shootdown, no new VA);
///     then, if a purge is due and none is running (the worker has not
///     been scheduled yet), that purge, and start again: it makes
///     lazy_max_pages of slots reclaimable where a new block adds one
///     block's;
///  3. a new block for the local CPU, while fewer than max_blocks exist
///     (and, with the worker, while a purge is due, fewer than
///     grow_limit_: past it, wait for that purge and start again);
///  4. a slot borrowed from another CPU's block, without moving the block;
///  5. a purge, if anything is dirty, then start again; else -ENOMEM.
/// A new block before a borrowed slot keeps later maps and unmaps on the
/// local queue, as new_vmap_block() does; stealing empties first keeps the
/// VA held down; borrowing last means the arena fails only when no CPU's
/// block has room, which is what the kernel's per-CPU free lists cannot
/// promise.
///
/// Life of a slot: map() takes a free slot under the owning queue's lock
/// and writes its PTEs outside it (nobody else can reach the slot yet);
/// unmap() checks the (va, n) pair, clears the PTEs, marks the slot dirty
/// and names the purge that will cover it, under the same lock.  A purge
/// issues one shootdown and counts itself complete (purge_locked(); the
/// worker's takes no queue lock); whoever next holds the queue's lock
/// (reclaim(): in the common case the queue's own CPU, on its next map)
/// makes free the dirty slots of every block whose covering purge has
/// completed.  So a slot is never handed out while a TLB may still
/// translate its old pages, and space freed inside a block is reused
/// (vb_alloc() never reuses it).
///
/// Lazy purge: each queue counts its dirty pages and reports them to the
/// arena-wide dirty_reported_ in chunks (report_chunk_, at most 64 pages),
/// so that the per-unmap cost stays on the local cache line.  The unmap
/// whose report takes dirty_reported_ to lazy_max_pages queues the purge
/// worker and returns: the caller never waits for the shootdown, as
/// vb_free() never does (free_vmap_area_noflush() schedules
/// drain_vmap_work).  The worker's purge covers whatever was dirty when
/// it began, and waits for no queue lock.  Meanwhile unmaps go on and
/// dirty pages may pass lazy_max_pages, as the kernel's do; map() keeps
/// finding room in free slots, other CPUs' blocks and new blocks, and waits only when none is left (then for the purge in
/// flight, or it runs one itself if none is), or when a purge is due and
/// the arena already holds grow_limit_ blocks.  So growth (grow_limit_,
/// max_blocks) bounds what a lagging worker lets accumulate; a cap is the
/// last resort: an unmap whose report finds kCapFactor x lazy_max_pages
/// dirty runs a purge itself if none is running (it never waits for
/// another thread's).
/// With caller_purge the
/// unmap runs the purge itself instead (what cxxvm did before the worker,
/// kept to measure against).
///
/// The shootdown (P::tlb_shootdown()) is an IPI to every CPU for a full
/// kernel TLB flush, as the kernel's purge does (flush_tlb_kernel_range()
/// over the lazy areas' span, which on x86 is a full flush past 33
/// pages), but the shim's sleeps while it waits: a purge covers
/// lazy_max_pages pages spread over many blocks, and any CPU may have
/// touched any mapping, so neither a page-by-page flush nor a subset of
/// CPUs would do.
///
/// Purges are numbered.  unmap() tells its caller which purge covers the
/// slot; flushed_seq() says which purges have completed.  A caller that
/// frees the pages it had mapped waits until the covering purge completed:
/// until then another CPU's TLB may still hold a writable translation.
///
/// Returning blocks (the fragmented-block purge): after a purge and a
/// reclaim, a block with every slot free is empty.  The arena keeps up to
/// reserve_ empty blocks (enough to absorb the dirty slots until the next
/// purge: up to kReserveFactor x lazy_max_pages with the worker, which may
/// lag; lazy_max_pages with caller_purge; plus two per CPU for the partly
/// used blocks each CPU holds when a purge comes; purge() of a return_empty arena: none) and
/// returns the rest to vmalloc: purge() at once, the threshold purges
/// with caller_purge; with the worker they return only the blocks beyond
/// grow_limit_ (release_surplus()); shrink() (the vmap purge notifier) returns all
/// of them.  A block with a live slot is never
/// returned, but its free slots are reused.
///
/// Locks, in order: purge_mutex_ (sleeps; serialises purges and block
/// release), then one queue lock at a time, then the index's spinlock.
/// The shootdown runs with only the mutex held: it sleeps.  A queue lock
/// waited for is counted and its wait timed (lock_contended, lock_wait_ns;
/// tries of a held lock, by steal(), release_surplus() or the worker's
/// sweep, are not; the queues the sweep reclaims count in reclaim_sweeps),
/// as is every wait for a purge on a map() or unmap() caller's path
/// (purge_waits, purge_wait_ns).
///
/// Context: map(), purge(), shrink() and destroy() may sleep (process
/// context); unmap() sleeps only with caller_purge.  flushed_seq() and
/// stats() do not sleep.
///
/// The map and unmap paths are always_inline down to the platform calls:
/// under emulation every call frame costs an indirect return, which showed
/// as about 0.1 of vm_map_ram's time per cycle in cxxvm-bench.
template <Platform P>
class VmapArena {
public:
	struct Params {
		ktl::uint32_t lazy_max_pages;
		ktl::uint32_t max_blocks;
		/// Pages of VA per block, VmapBlock::kMinPages..kPages.
		ktl::uint32_t block_pages = VmapBlock::kPages;
		/// The unmap that reaches lazy_max_pages purges (no worker).
		bool caller_purge = false;
		/// purge() keeps no empty block, not reserve_
		/// (CXXVM_ARENA_RETURN_EMPTY).
		bool return_empty = false;
		/// Called by the worker at the end of each run, with no lock
		/// held (may sleep); may be null.
		void (*purged)(void *ctx) = nullptr;
		void *purged_ctx = nullptr;
	};

	/// Create an arena with no blocks and a queue per possible CPU, each
	/// on its CPU's NUMA node, and its purge worker.  Errors: -EINVAL if
	/// lazy_max_pages < CXXVM_MAX_PAGES, max_blocks is not in
	/// 1..CXXVM_CORE_MAX_BLOCKS or block_pages not in
	/// VmapBlock::kMinPages..kPages; -ENOMEM.
	/// Context: process context, may sleep.
	[[nodiscard]] static cxxrt::Result<VmapArena *> create(Params params)
	{
		if (params.lazy_max_pages < CXXVM_MAX_PAGES || params.max_blocks == 0 ||
		    params.max_blocks > CXXVM_CORE_MAX_BLOCKS ||
		    params.block_pages < VmapBlock::kMinPages || params.block_pages > VmapBlock::kPages)
			return cxxrt::Errno::kInval;
		VmapArena *a = TRY(cxxrt::make<VmapArena>(cxxrt::Gfp::kKernel, params));
		if (auto r = a->init(); !r.ok()) {
			a->teardown();
			return r.errno_value();
		}
		return a;
	}

	explicit VmapArena(Params params)
		: params_(params), nr_queues_(P::nr_cpu_ids()),
		  report_chunk_(report_chunk(params.lazy_max_pages, nr_queues_)),
		  reserve_(static_cast<ktl::uint32_t>(
			  (ktl::uint64_t{params.lazy_max_pages} * (params.caller_purge ? 1 : kReserveFactor) +
			   params.block_pages - 1) / params.block_pages +
			  2 * nr_queues_)),
		  grow_limit_(grow_limit(reserve_, params.max_blocks)),
		  keep_(params.return_empty ? 0 : reserve_)
	{
	}
	VmapArena(const VmapArena &) = delete;
	VmapArena &operator=(const VmapArena &) = delete;

	/// Wait for the purge worker and cancel it, clear the PTEs of live
	/// slots, shoot down, release every block and free the arena.  Returns
	/// how many slots were still live.
	/// Context: process context, may sleep; no other user of the arena.
	static ktl::uint64_t destroy(VmapArena *a)
	{
		a->work_.cancel();
		a->purge();
		ktl::uint64_t live = 0;
		for (ktl::uint32_t cpu = 0; cpu < a->nr_queues_; ++cpu) {
			a->with_queue(cpu, [&](VmapBlockQueueState &s) {
				s.for_each_block([&](VmapBlock *b) {
					live += b->clear_live_ptes<P>();
				});
			});
		}
		if (live)
			P::tlb_shootdown();
		a->teardown();
		return live;
	}

	/// The page counts map() takes: 1..CXXVM_MAX_PAGES, the shim's
	/// cxxvm_arena_check_pages().  Errors: -EINVAL.  Context: any.
	[[nodiscard]] static cxxrt::Result<void> check_pages(ktl::size_t n)
	{
		if (cxxvm_arena_check_pages(n))
			return cxxrt::Errno::kInval;
		return {};
	}

	/// Map @pfns (1..CXXVM_MAX_PAGES of them) contiguously; the slot is
	/// rounded up to 2^order pages.  Mirrors vb_alloc() +
	/// vmap_pages_range().  Errors: -EINVAL for a bad count; -ENOMEM when
	/// no block has room, max_blocks exist and a purge frees nothing, or a
	/// new block fails.
	/// Context: process context, may sleep (new block, purge).
	[[nodiscard, gnu::always_inline]] cxxrt::Result<VirtAddr> map(ktl::span<const Pfn> pfns)
	{
		TRY_VOID(check_pages(pfns.size()));
		const PageCount n(static_cast<ktl::uint32_t>(pfns.size()));

		for (;;) {
			// Acquire: pairs with the release in purge_locked(); a
			// purge completed after this load lets us retry.
			const ktl::uint64_t seen = purges_done_.load(ktl::memory_order::acquire);
			ktl::optional<Placement> p = alloc_local(n, seen);
			if (!p)
				p = steal(n, seen);
			// A purge is due and none is running (the worker has not
			// been scheduled yet): run it rather than reserve a block,
			// which yields one block, not lazy_max_pages of slots (and
			// VA the arena keeps).  Then start again.
			if (!p && !params_.caller_purge && purge_due() &&
			    purge_if_idle(Reason::kThreshold))
				continue;
			// While a purge is due and grow_limit_ blocks exist, wait
			// for the purge (below) rather than grow: see grow_limit_.
			const bool throttled = !p && !params_.caller_purge && purge_due() &&
					       nr_blocks_.load(ktl::memory_order::relaxed) >= grow_limit_;
			// A failed grow (no VA, no memory) still lets a borrow or a
			// purge succeed; its errno is returned only if they fail.
			ktl::optional<cxxrt::Errno> grow_error;
			if (!p && !throttled) {
				auto g = grow(n);
				if (g.ok())
					p = g.value();
				else
					grow_error = g.errno_value();
			}
			if (!p)
				p = borrow(n, seen);
			if (p) {
				p->block->template set_ptes<P>(p->idx, pfns.data(), n.value());
				return p->va;
			}
			if (throttled) {
				// The purge in flight, or one run here; then the
				// next pass may grow if none is due any more.
				(void)purge_if_needed(Reason::kThrottled, seen);
				continue;
			}
			if (!purge_if_needed(grow_error ? Reason::kNoRoomNoGrow : Reason::kNoRoom, seen))
				return grow_error ? *grow_error : cxxrt::Errno::kNoMem;
		}
	}

	/// Unmap what map() returned: clear the PTEs now, defer the shootdown.
	/// When the dirty pages reach lazy_max_pages, queues the purge worker
	/// and returns without waiting (caller_purge: runs the purge).  Only
	/// if they reach kCapFactor times that, because the worker has not
	/// run, and no purge is running, does it run one itself.
	/// Returns the number of the purge that covers the slot: the pages stay
	/// reachable through stale TLB entries until flushed_seq() reaches it.
	/// Mirrors vb_free().  Errors: -ENOENT if @va lies in no block of the
	/// arena (owns() would be false), so that the takeover can hand the
	/// call to the kernel without a second lookup; -EINVAL if it does but
	/// (@va, @n) is not a live mapping of exactly @n pages.
	/// Context: process context; sleeps only with caller_purge or past the
	/// cap with no purge running.
	[[nodiscard, gnu::always_inline]] cxxrt::Result<ktl::uint64_t> unmap(VirtAddr va, PageCount n)
	{
		const Released r = unmap_locked(va, n);
		if (!r.ok)
			return r.foreign ? cxxrt::Errno::kNoEnt : cxxrt::Errno::kInval;
		if (r.purge_now) [[unlikely]] {
			if (params_.caller_purge) {
				purge_if_needed(Reason::kThreshold, 0);
			} else {
				work_.queue();
				if (r.over_cap)
					purge_if_idle(Reason::kCap);
			}
		}
		return r.covering;
	}

	/// The number of purges whose shootdown has completed.  Context: any.
	[[nodiscard]] ktl::uint64_t flushed_seq() const
	{
		// Acquire: pairs with the release in purge_locked(), so a caller that
		// sees purge N complete also sees its shootdown done.
		return purges_done_.load(ktl::memory_order::acquire);
	}

	/// Whether @va lies in a block the arena holds now, live slot or not:
	/// an address vm_unmap_ram() must not hand to the kernel's allocator.
	/// Context: process context (the index's seqcount reader).
	[[nodiscard]] bool owns(VirtAddr va) const { return index_.find(va).has_value(); }

	/// Shoot down every dirty slot and make it free.  When this returns,
	/// every slot unmapped before the call is reusable.  Returns the pages
	/// made free.  The equivalent of vm_unmap_aliases() for the arena.
	/// Context: process context, may sleep.
	ktl::uint64_t purge()
	{
		Guard<typename P::Mutex> g(&purge_mutex_);
		const ktl::uint64_t pages = purge_locked(Walk::kAll);
		release_empty_blocks(keep_);
		return pages;
	}

	/// purge(), then return every empty block to vmalloc: what the vmap
	/// purge notifier asks for when vmalloc space runs out.  Returns the
	/// pages of VA returned.  Context: process context, may sleep.
	ktl::uint64_t shrink()
	{
		Guard<typename P::Mutex> g(&purge_mutex_);
		purge_locked(Walk::kAll);
		return release_empty_blocks(0) * ktl::uint64_t{params_.block_pages};
	}

	/// Counters.  Each queue's figures are consistent; their sum is taken
	/// one queue at a time, so it is exact only when the arena is quiet
	/// (a block moving between queues is in no queue's blocks_live).
	/// Context: process context; takes each queue's lock in turn.
	[[nodiscard]] cxxvm_arena_stats stats()
	{
		cxxvm_arena_stats st{};
		const ktl::uint64_t done = flushed_seq();
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			with_queue(cpu, [&](VmapBlockQueueState &s) {
				reclaim_if_behind(cpu, s, done);
				st.blocks_live += s.nr_blocks;
				st.dirty_pages += s.dirty_pages;
				st.mapped_pages += s.mapped_pages;
				st.live_mappings += s.live_mappings;
			});
		}
		// Relaxed: statistics, no ordering with anything else.
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		st.blocks_created = blocks_created_.load(kRelaxed);
		st.blocks_freed = blocks_freed_.load(kRelaxed);
		st.shootdowns = shootdowns_.load(kRelaxed);
		st.purges = purges_.load(kRelaxed);
		st.steals = steals_.load(kRelaxed);
		st.borrows = borrows_.load(kRelaxed);
		st.purge_ns = purge_ns_.load(kRelaxed);
		st.shootdown_ns = shootdown_ns_.load(kRelaxed);
		st.caller_purges = caller_purges_.load(kRelaxed);
		st.worker_purges = worker_purges_.load(kRelaxed);
		st.purge_waits = purge_waits_.load(kRelaxed);
		st.purge_wait_ns = purge_wait_ns_.load(kRelaxed);
		st.lock_contended = lock_contended_.load(kRelaxed);
		st.lock_wait_ns = lock_wait_ns_.load(kRelaxed);
		st.reserve_ns = reserve_ns_.load(kRelaxed);
		st.release_ns = release_ns_.load(kRelaxed);
		st.reclaim_sweeps = reclaim_sweeps_.load(kRelaxed);
		return st;
	}

	/// Call @fn(cpu, const VmapBlock &) for every block, with its queue's
	/// lock held (so @fn must not sleep).  For debugfs.  Context: process
	/// context.
	template <typename Fn>
	void for_each_block(Fn &&fn)
	{
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			with_queue(cpu, [&](VmapBlockQueueState &s) {
				s.for_each_block([&](VmapBlock *b) { fn(cpu, *b); });
			});
		}
	}

	/// For tests: how many blocks are on the wrong fill list (not the one
	/// VmapBlock::fill() calls for), on unclean_blocks without dirty
	/// pages or off it with some, plus one per queue whose nr_blocks,
	/// nr_empty or nr_unclean is wrong or whose unclean_blocks holds
	/// anything but its own blocks with an UncleanLink, once each.  0 when
	/// every queue is consistent, which holds whenever its lock is free.
	/// Context: process context; takes each queue's lock in turn.
	[[nodiscard]] ktl::uint64_t misfiled_blocks()
	{
		ktl::uint64_t bad = 0;
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			with_queue(cpu, [&](VmapBlockQueueState &s) {
				ktl::uint32_t blocks = 0, empties = 0, linked = 0, unclean = 0;
				s.for_each_block([&](VmapBlock *b) {
					const bool on = decltype(s.unclean_blocks)::linked(b);
					++blocks;
					empties += b->filed() == Fill::kEmpty;
					linked += on;
					bad += b->filed() != b->fill();
					bad += on != b->unclean();
				});
				s.unclean_blocks.for_each([&](VmapBlock *b) {
					++unclean;
					bad += b->owner() != cpu;
				});
				bad += blocks != s.nr_blocks || empties != s.nr_empty ||
				       unclean != s.nr_unclean;
				// Linked here or on another queue's list: not this one's.
				bad += unclean != linked;
			});
		}
		return bad;
	}

private:
	/// A queue and its lock, padded to kQueueBytes.
	struct Queue : Protected<VmapBlockQueueState, typename P::SpinLock> {
		/// The queue's nr_empty as of its last reclaim(),
		/// release_empty_blocks() or steal() there, read by steal()
		/// without the lock: a hint that may overcount (the owner
		/// allocates from its empty blocks without updating it) but,
		/// read under the lock, never undercounts (read without it, it
		/// may lag a reclaim), since blocks become empty only in a
		/// reclaim.  Written under the lock.
		ktl::atomic<ktl::uint32_t> empty_hint{0};
		/// The queue's nr_unclean and reclaimed, as of their last
		/// change: whether it has dirty slots that a completed purge may
		/// cover and nobody has reclaimed (looks_reclaimable(), for
		/// steal() and the worker's sweep).  Written under the lock,
		/// read without it.
		ktl::atomic<ktl::uint32_t> unclean_hint{0};
		ktl::atomic<ktl::uint64_t> reclaimed_hint{0};
		char pad[kQueueBytes - sizeof(Protected<VmapBlockQueueState, typename P::SpinLock>) -
			 2 * sizeof(ktl::atomic<ktl::uint32_t>) - sizeof(ktl::atomic<ktl::uint64_t>)];
	};
	static_assert(sizeof(Queue) == kQueueBytes);

	/// A slot map() found: block, first page, address.
	struct Placement {
		VmapBlock *block;
		ktl::uint32_t idx;
		VirtAddr va;
	};

	/// What a release under a queue lock tells unmap().
	struct Released {
		bool ok;			///< (va, n) was a live mapping
		ktl::uint64_t covering;		///< the purge that covers the slot
		bool purge_now;			///< lazy_max_pages reached
		bool over_cap = false;		///< kCapFactor x lazy_max_pages reached
		bool foreign = false;		///< va lies in no block of the arena
	};

	/// Why a purge runs: kThreshold and kNoRoom skip it if another
	/// thread's purge did the job while they waited for the mutex;
	/// kNoRoomNoGrow is kNoRoom after a failed grow (so room for a new
	/// block is no reason to retry); kThrottled is a map that may not grow
	/// while a purge is due (see grow_limit_), which retries whether or not
	/// that purge freed anything; kCap is an unmap that found kCapFactor x
	/// lazy_max_pages dirty because the worker has not run.
	enum class Reason { kThreshold, kNoRoom, kNoRoomNoGrow, kThrottled, kCap };

	/// How a purge treats the queue locks: kAll waits for each of them;
	/// kMaySkip waits for none (purge_locked() takes none at all, and
	/// release_empty_blocks() leaves a queue whose lock stays held).
	enum class Walk { kAll, kMaySkip };
	/// A map with no room needs every queue's dirty slots freed (it fails
	/// if the purge frees nothing).  The threshold and cap purges only keep
	/// the dirty pages down, and a throttled map retries whatever its purge
	/// freed: the queues' own CPUs reclaim what they cover.
	static Walk walk_for(Reason why)
	{
		return why == Reason::kNoRoom || why == Reason::kNoRoomNoGrow ? Walk::kAll
									       : Walk::kMaySkip;
	}
	/// Tries of a held queue lock before steal() or a Walk::kMaySkip
	/// release_empty_blocks() passes it by.
	static constexpr ktl::uint32_t kSkipTries = 64;

	/// The cap on dirty pages, in lazy_max_pages: an unmap whose report
	/// finds this many dirty (the worker has not purged in time) runs a
	/// purge itself if none is running (purge_if_idle()).  Measured under
	/// contention: when the unmap waited for the purge in flight instead,
	/// threads waited up to 0.6 of their time at P = 64 (cap 2 or 4).  At
	/// 4, with growth limited to 2 x reserve_ while a purge was due, the
	/// unmaps purged (and waited for the shootdown) 24 to 29 times per
	/// P = 64 cell where the worker did 19 to 30, and the threads waited
	/// for purges 9 to 59% of their time at P >= 8 (7.2, 4 vCPUs on
	/// 2 CPUs).  Growth (grow_limit_, max_blocks), not the cap, now bounds
	/// the dirty pages: max_blocks is the bound on VA.
	static constexpr ktl::uint32_t kCapFactor = 16;
	/// reserve_, in lazy_max_pages, with the worker: what a lagging
	/// worker lets accumulate in the common case.
	static constexpr ktl::uint32_t kReserveFactor = 4;

	/// grow_limit_: 7/8 of max_blocks, or reserve_ if that is more.
	static ktl::uint32_t grow_limit(ktl::uint32_t reserve, ktl::uint32_t max_blocks)
	{
		const ktl::uint32_t seven_eighths = max_blocks - max_blocks / 8;
		return seven_eighths > reserve ? seven_eighths : reserve;
	}

	static ktl::uint32_t report_chunk(ktl::uint32_t lazy_max_pages, ktl::uint32_t cpus)
	{
		const ktl::uint32_t c = lazy_max_pages / (4 * (cpus ? cpus : 1));
		return c < 1 ? 1 : c > CXXVM_MAX_PAGES ? CXXVM_MAX_PAGES : c;
	}

	[[nodiscard]] cxxrt::Result<void> init()
	{
		TRY_VOID(work_.init(&VmapArena::purge_work, this));
		TRY_VOID(purge_mutex_.init(LockClass::kArenaPurge));
		TRY_VOID(spares_.init(LockClass::kArenaSpares));
		TRY_VOID(index_.init(params_.max_blocks, params_.block_pages));
		queues_ = TRY(cxxrt::make_array<Queue *>(cxxrt::Gfp::kKernel, nr_queues_));
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			queues_[cpu] = TRY(cxxrt::make_on_node<Queue>(cxxrt::Gfp::kKernel, P::cpu_to_node(cpu)));
			TRY_VOID(queues_[cpu]->init(LockClass::kArenaQueue));
		}
		initialized_ = true;
		return {};
	}

	/// Free everything.  Every block's PTEs are clear and shot down.  After
	/// a failed init() no block exists and some locks may not, so only a
	/// complete arena is drained (under its locks, for the checkers' sake).
	void teardown()
	{
		work_.cancel();
		for (ktl::uint32_t cpu = 0; initialized_ && cpu < nr_queues_; ++cpu) {
			while (VmapBlock *b = with_queue(cpu, [](VmapBlockQueueState &s) {
				       VmapBlock *any = s.any_block();
				       if (any)
					       s.remove(any);
				       return any;
			       })) {
				b->unreserve<P>();
				cxxrt::destroy(b);
			}
		}
		while (VmapBlock *b = initialized_ ? spares_.with([](SpareList &l) {
			return l.pop_front();
		}) : nullptr)
			cxxrt::destroy(b);
		if (queues_) {
			for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu)
				cxxrt::destroy(queues_[cpu]);
			cxxrt::destroy_array(queues_);
		}
		cxxrt::destroy(this);
	}

	/// Take a slot for @n pages from @s's blocks: the current block first,
	/// then the first partly used block with room, then an empty one (so
	/// that empty blocks stay for steal() and the release).  Walks only
	/// the partly used blocks.  Accounts the mapping to @s.  Caller holds
	/// @s's lock.
	[[gnu::always_inline]] static ktl::optional<Placement> alloc_in(VmapBlockQueueState &s,
									 PageCount n)
	{
		VmapBlock *b = s.current;
		ktl::optional<ktl::uint32_t> idx;
		if (b)
			idx = b->alloc(n);
		if (!idx) {
			b = s.partial_blocks.find([&](VmapBlock *c) {
				if (c == s.current)
					return false;
				idx = c->alloc(n);
				return idx.has_value();
			});
			if (!b) {
				b = s.empty_blocks.front();
				if (b)
					idx = b->alloc(n);
			}
			if (!idx)
				return ktl::nullopt;
			s.current = b;
		}
		s.allocated(b);
		s.mapped_pages += Order::for_pages(n).pages();
		++s.live_mappings;
		return Placement{b, *idx, b->va_start().plus_pages(*idx)};
	}

	/// Step 1 of map(): the local CPU's queue (its lock disables preemption;
	/// if we migrated since this_cpu(), we merely use another CPU's queue),
	/// reclaimed first if purges completed since it last was (@done: the
	/// purges completed, flushed_seq()).
	[[gnu::always_inline]] ktl::optional<Placement> alloc_local(PageCount n, ktl::uint64_t done)
	{
		const ktl::uint32_t cpu = P::this_cpu();
		return with_queue(cpu, [&](VmapBlockQueueState &s) __attribute__((always_inline)) {
			reclaim_if_behind(cpu, s, done);
			return alloc_in(s, n);
		});
	}

	/// Reclaim CPU @cpu's queue @s if @done (flushed_seq()) is past its
	/// last reclaim.  Caller holds @s's lock.
	[[gnu::always_inline]] void reclaim_if_behind(ktl::uint32_t cpu, VmapBlockQueueState &s,
						      ktl::uint64_t done)
	{
		if (s.reclaimed < done) [[unlikely]]
			(void)reclaim(cpu, s, done);
	}

	/// Dirty -> free in every block of CPU @cpu's queue @s for each
	/// generation of dirty pages whose covering purge is among the @done
	/// completed ones (VmapBlock::reclaim()); each such block is refiled
	/// by its free pages and, if nothing is left dirty, taken off
	/// unclean_blocks.  Returns the pages made free.  The work a purge's
	/// last pass did over every queue before, now done by the queue's own
	/// CPU on its next map, or by whoever needs the queue's slots (steal(),
	/// borrow(), purge() and shrink(), stats(), the worker's sweep of idle
	/// queues), so that the purge itself never waits for a queue lock (see
	/// purge_locked()).  Caller holds @s's lock.
	ktl::uint64_t reclaim(ktl::uint32_t cpu, VmapBlockQueueState &s, ktl::uint64_t done)
	{
		ktl::uint64_t q = 0;
		s.unclean_blocks.for_each([&](VmapBlock *b) {
			const ktl::uint32_t r = b->reclaim(done);
			if (!r)
				return;
			q += r;
			s.refile(b);
			if (!b->unclean()) {	// else its newer generation waits
				s.unclean_blocks.remove(b);
				--s.nr_unclean;
			}
		});
		s.dirty_pages -= q;
		if (done > s.reclaimed)
			s.reclaimed = done;
		publish_empties(cpu, s);
		// Relaxed: hints, see Queue.
		queues_[cpu]->unclean_hint.store(s.nr_unclean, ktl::memory_order::relaxed);
		queues_[cpu]->reclaimed_hint.store(s.reclaimed, ktl::memory_order::relaxed);
		return q;
	}

	/// Whether CPU @cpu's queue looks, without its lock, as if it has
	/// dirty slots that one of the @done completed purges covers and that
	/// nobody has reclaimed.
	[[nodiscard]] bool looks_reclaimable(ktl::uint32_t cpu, ktl::uint64_t done) const
	{
		// Relaxed: hints, checked under the lock.
		return queues_[cpu]->unclean_hint.load(ktl::memory_order::relaxed) &&
		       queues_[cpu]->reclaimed_hint.load(ktl::memory_order::relaxed) < done;
	}

	/// Step 2 of map(): move an empty block from another CPU's queue to the
	/// local one and allocate from it.  The block has no owner in between
	/// (it is empty, so no unmap can be aimed at it).  Only queues whose
	/// empty_hint says they have one, or whose hints say a completed purge
	/// (@done: flushed_seq()) covers dirty slots there that nobody has
	/// reclaimed (then this reclaims them first), are looked at, and only
	/// if their lock comes free within kSkipTries tries: the owner holds it
	/// for most of each of its maps and unmaps, and under contention the
	/// host may deschedule the owner's vCPU with it held (measured with 4
	/// vCPUs on 2 CPUs, 7.2: the threads spent up to 0.09 of their time
	/// spinning here at P = 64).  Stealing only saves VA; a map that finds
	/// nothing here grows or borrows.
	ktl::optional<Placement> steal(PageCount n, ktl::uint64_t done)
	{
		const ktl::uint32_t self = P::this_cpu();
		for (ktl::uint32_t k = 1; k < nr_queues_; ++k) {
			const ktl::uint32_t cpu = (self + k) % nr_queues_;
			// Relaxed: a hint, checked under the lock.
			if (!queues_[cpu]->empty_hint.load(ktl::memory_order::relaxed) &&
			    !looks_reclaimable(cpu, done))
				continue;
			VmapBlock *b = nullptr;
			(void)try_for_a_while(cpu, [&](VmapBlockQueueState &s) {
				reclaim_if_behind(cpu, s, done);
				b = s.empty_blocks.front();
				if (b)
					detach(s, b);
				publish_empties(cpu, s);
			});
			if (!b)
				continue;
			// Relaxed: statistics.
			steals_.fetch_add(1, ktl::memory_order::relaxed);
			return attach_and_alloc(b, n);
		}
		return ktl::nullopt;
	}

	/// Step 4 of map(): a slot in another CPU's block, which stays there
	/// (reclaimed first if @done says it is behind).
	ktl::optional<Placement> borrow(PageCount n, ktl::uint64_t done)
	{
		const ktl::uint32_t self = P::this_cpu();
		for (ktl::uint32_t k = 1; k < nr_queues_; ++k) {
			const ktl::uint32_t cpu = (self + k) % nr_queues_;
			auto p = with_queue(cpu, [&](VmapBlockQueueState &s) {
				reclaim_if_behind(cpu, s, done);
				return alloc_in(s, n);
			});
			if (p) {
				// Relaxed: statistics.
				borrows_.fetch_add(1, ktl::memory_order::relaxed);
				return p;
			}
		}
		return ktl::nullopt;
	}

	/// Unlink @b from @s; it has no owner until attached.  Caller holds
	/// @s's lock.
	static void detach(VmapBlockQueueState &s, VmapBlock *b)
	{
		s.remove(b);
		b->set_owner(VmapBlock::kNoOwner);
	}

	/// Give the unowned block @b to the local CPU's queue, allocate @n pages
	/// from it if it has room (an empty block always has).
	ktl::optional<Placement> attach_and_alloc(VmapBlock *b, PageCount n)
	{
		const ktl::uint32_t cpu = P::this_cpu();
		auto p = with_queue(cpu, [&](VmapBlockQueueState &s) {
			s.add(b);
			b->set_owner(cpu);
			s.current = b;
			return alloc_in(s, n);
		});
		return p;
	}

	/// Step 3 of map(): add a block to the local CPU's queue and take a slot
	/// for @n pages from it in the same critical section (so that nobody
	/// steals or releases it while it is empty).  Returns nullopt if
	/// max_blocks exist.  Metadata is recycled from an earlier block if
	/// there is one, else allocated on the local NUMA node.  Creating a
	/// block costs a vmap() but no shootdown (cxxvm_plat_va_reserve()).
	/// Errors: -ENOMEM (metadata, or vmap() found no VA).
	[[nodiscard]] cxxrt::Result<ktl::optional<Placement>> grow(PageCount n)
	{
		// Reserve a place under max_blocks first, so that racing grows
		// cannot overshoot.  Relaxed: a counter with no data behind it.
		ktl::uint32_t nr = nr_blocks_.load(ktl::memory_order::relaxed);
		do {
			if (nr >= params_.max_blocks)
				return ktl::optional<Placement>();
		} while (!nr_blocks_.compare_exchange_strong(nr, nr + 1, ktl::memory_order::relaxed));

		VmapBlock *b = spares_.with([](SpareList &l) { return l.pop_front(); });
		if (!b) {
			auto r = VmapBlock::create(P::cpu_to_node(P::this_cpu()));
			if (!r.ok()) {
				nr_blocks_.fetch_sub(1, ktl::memory_order::relaxed);
				return r.errno_value();
			}
			b = r.value();
		}
		const ktl::uint64_t t0 = P::now_ns();
		const auto reserved = b->reserve<P>(params_.block_pages);
		// Relaxed: statistics.
		reserve_ns_.fetch_add(P::now_ns() - t0, ktl::memory_order::relaxed);
		if (!reserved.ok()) {
			to_spares(b);
			return reserved.errno_value();
		}
		// nr_blocks_ reserved a place, so this fails only on a bug.
		if (!index_.insert(b)) {
			cxxrt_warn("VmapArena::grow: index full");
			b->unreserve<P>();
			to_spares(b);
			return cxxrt::Errno::kNoMem;
		}
		blocks_created_.fetch_add(1, ktl::memory_order::relaxed);
		return attach_and_alloc(b, n);
	}

	/// Release (va, n) in @b, a block of CPU @cpu's queue @s.  Caller holds
	/// @s's lock.
	[[gnu::always_inline]] Released release(ktl::uint32_t cpu, VmapBlockQueueState &s,
						VmapBlock *b, VirtAddr va, PageCount n)
	{
		const auto idx = b->page_index(va);
		if (!idx || !b->is_live_slot(*idx, n))
			return {false, 0, false};
		b->template clear_ptes<P>(*idx, n.value());
		// A full fence between the PTE clears above and the read of
		// purges_started_, paired with the one in purge_locked(), which
		// may take no queue lock: if we read the number from before a
		// purge bumped it, we name that purge (old + 1), and the two
		// fences order our clears before its shootdown; if we read the
		// bumped number, we name the next purge, which is merely
		// conservative.  Acquire: pairs with the release in
		// purge_locked(), so that the shootdowns of the purges before
		// the one we read are visible here (release_to_dirty() frees an
		// older generation on the strength of it).
		ktl::atomic_thread_fence(ktl::memory_order::seq_cst);
		const ktl::uint64_t covering = purges_started_.load(ktl::memory_order::acquire) + 1;
		const VmapBlock::Released r = b->release_to_dirty(*idx, covering);
		if (r.freed) [[unlikely]] {
			s.dirty_pages -= r.freed;
			s.refile(b);
		}
		if (s.dirtied(b)) [[unlikely]]
			// Relaxed: a hint, see Queue.
			queues_[cpu]->unclean_hint.store(s.nr_unclean, ktl::memory_order::relaxed);
		s.dirty_pages += r.slot;
		s.mapped_pages -= r.slot;
		--s.live_mappings;
		s.unreported += r.slot;
		bool purge_now = false, over_cap = false;
		if (s.unreported >= report_chunk_) {
			const ktl::uint32_t report = ktl::exchange(s.unreported, 0u);
			// Relaxed: the count only decides when to purge.  Each
			// purge takes what has been reported (purge_locked()), so
			// the count is approximate: pages reported just after a
			// purge began count towards the next one though that one
			// may cover them, and pages reclaimed before their chunk is
			// reported still count once.  Neither can drift: every
			// page is reported once and taken once.
			const ktl::uint64_t total =
				dirty_reported_.fetch_add(report, ktl::memory_order::relaxed) + report;
			purge_now = total >= params_.lazy_max_pages;
			over_cap = total >= kCapFactor * ktl::uint64_t{params_.lazy_max_pages};
		}
		return {true, covering, purge_now, over_cap};
	}

	/// Find the block of @va in the index (no lock), take its owner's lock
	/// and release the slot.  The index beats asking for the CPU id and
	/// checking the local queue first: it is all inline, a platform call
	/// is not.
	[[gnu::always_inline]] Released unmap_locked(VirtAddr va, PageCount n)
	{
		for (;;) {
			const auto hit = index_.find(va);
			if (!hit)
				return {false, 0, false, false, true};
			const ktl::uint32_t owner = hit->block->owner();
			if (owner == VmapBlock::kNoOwner)
				return {false, 0, false};	// moving or released: nothing live
			bool retry = false;
			// Inlined too (a hot path; see the class comment).
			const Released r = with_queue(owner, [&](VmapBlockQueueState &s)
							      __attribute__((always_inline)) {
				if (hit->block->owner() != owner) {
					retry = true;	// moved between queues meanwhile
					return Released{false, 0, false};
				}
				if (hit->block->va_start() != hit->va_start)
					return Released{false, 0, false};	// recycled
				return release(owner, s, hit->block, va, n);
			});
			if (!retry)
				return r;
		}
	}

	/// Run a purge unless @why says it is no longer needed.  Returns true
	/// if the caller may retry an allocation: this purge freed pages, or
	/// another one completed after @seen (kNoRoom).
	///
	/// Called on a map() or unmap() caller's path, which it makes wait:
	/// every call (it takes the purge mutex, whether or not a purge is
	/// still needed then) is counted in purge_waits_ and timed in
	/// purge_wait_ns_.
	bool purge_if_needed(Reason why, ktl::uint64_t seen)
	{
		const ktl::uint64_t t0 = P::now_ns();
		bool retry = true;
		{
			Guard<typename P::Mutex> g(&purge_mutex_);
			if (purge_needed(why, seen))
				retry = purge_and_release(caller_purges_, walk_for(why));
		}
		count_wait(t0);
		return retry;
	}

	/// purge_locked(@walk), then release_surplus(); a purge that freed
	/// pages is counted in @by (caller_purges_ or worker_purges_).
	/// Returns true if it freed pages.  Caller holds purge_mutex_.
	bool purge_and_release(ktl::atomic<ktl::uint64_t> &by, Walk walk) CXXVM_REQUIRES(purge_mutex_)
	{
		const bool freed = purge_locked(walk) != 0;
		if (freed)
			// Relaxed: statistics.
			by.fetch_add(1, ktl::memory_order::relaxed);
		release_surplus();
		return freed;
	}

	/// A map() or unmap() caller waited for a purge since @t0 (ns).
	void count_wait(ktl::uint64_t t0)
	{
		// Relaxed: statistics.
		purge_waits_.fetch_add(1, ktl::memory_order::relaxed);
		purge_wait_ns_.fetch_add(P::now_ns() - t0, ktl::memory_order::relaxed);
	}

	/// A purge is due: lazy_max_pages are dirty.  Context: any.
	[[nodiscard]] bool purge_due() const
	{
		// Relaxed: a hint; purge_if_idle() checks again under the mutex.
		return dirty_reported_.load(ktl::memory_order::relaxed) >= params_.lazy_max_pages;
	}

	/// Run a purge for @why (kCap: an unmap reached the cap, see
	/// kCapFactor; kThreshold: a map found no room while one is due)
	/// unless one is running (the purge mutex is held), which the caller
	/// does not wait for: it will cover most of what is dirty.  So while a
	/// shootdown hangs, the cap does not bound the dirty pages: room in the
	/// blocks (max_blocks) does, and a map() that finds none waits for
	/// that purge.  Returns true if it freed pages.  Counted like
	/// purge_if_needed() when it purges.
	/// Context: process context; sleeps only in the purge it runs.
	bool purge_if_idle(Reason why)
	{
		if (!purge_mutex_.try_lock())
			return false;
		const ktl::uint64_t t0 = P::now_ns();
		bool freed = false;
		{
			Guard<typename P::Mutex> g(&purge_mutex_, kAdoptLock);
			if (!purge_needed(why, 0))
				return false;
			freed = purge_and_release(caller_purges_, walk_for(why));
		}
		count_wait(t0);
		return freed;
	}

	/// Whether a purge that purge_if_needed(@why, @seen) was asked for is
	/// still needed now that the caller holds purge_mutex_.
	bool purge_needed(Reason why, ktl::uint64_t seen) const CXXVM_REQUIRES(purge_mutex_)
	{
		// Relaxed: the caller holds the mutex, so no purge runs
		// concurrently, and the counts only decide whether to purge.
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		switch (why) {
		case Reason::kThreshold:
			return dirty_reported_.load(kRelaxed) >= params_.lazy_max_pages;
		case Reason::kCap:
			// The purge in flight when we asked brought it down.
			return dirty_reported_.load(kRelaxed) >=
			       kCapFactor * ktl::uint64_t{params_.lazy_max_pages};
		case Reason::kNoRoom:
			// A release (shrink) made room for a new block while we
			// waited: retry instead.
			if (nr_blocks_.load(kRelaxed) < params_.max_blocks)
				return false;
			[[fallthrough]];
		case Reason::kNoRoomNoGrow:
		case Reason::kThrottled:
			// Another purge completed while we waited (the one in
			// flight when we asked): retry instead of a second one.
			return purges_done_.load(kRelaxed) == seen;
		}
		return true;
	}

	/// The purge worker (drain_vmap_area_work() in mm/vmalloc.c): purge if
	/// the dirty pages still reach lazy_max_pages (nobody purged since it
	/// was queued), then tell the owner through params_.purged, also when
	/// another thread's purge did the job meanwhile (its pages may be
	/// waiting for somebody to notice).  If a purge is due again after its
	/// own (unmaps reported lazy_max_pages meanwhile), it queues itself
	/// again.
	/// Context: process context (the system workqueue), may sleep.
	static void purge_work(void *ctx)
	{
		auto *a = static_cast<VmapArena *>(ctx);
		{
			Guard<typename P::Mutex> g(&a->purge_mutex_);
			if (a->purge_needed(Reason::kThreshold, 0))
				a->purge_and_release(a->worker_purges_, Walk::kMaySkip);
		}
		if (a->purge_due())
			a->work_.queue();
		if (a->params_.purged)
			a->params_.purged(a->params_.purged_ctx);
	}

	/// Run @fn(VmapBlockQueueState &) under CPU @cpu's queue lock.  A lock
	/// found held is counted and the spin for it timed; the first try costs
	/// what a plain spin_lock() does.
	template <typename Fn>
	[[gnu::always_inline]] decltype(auto) with_queue(ktl::uint32_t cpu, Fn &&fn)
	{
		auto slow = [this](typename P::SpinLock &l) CXXVM_ACQUIRE(l) {
			const ktl::uint64_t t0 = P::now_ns();
			l.lock();
			// Relaxed: statistics.
			lock_contended_.fetch_add(1, ktl::memory_order::relaxed);
			lock_wait_ns_.fetch_add(P::now_ns() - t0, ktl::memory_order::relaxed);
		};
		return queues_[cpu]->with_or(static_cast<Fn &&>(fn), slow);
	}

	/// The purge itself: one shootdown that covers every slot unmapped
	/// before it began, then purges_done_.  Returns the pages it made
	/// reclaimable: with Walk::kAll those it reclaimed, else the dirty
	/// pages reported since the last purge.  Caller holds purge_mutex_.
	///
	/// Walk::kMaySkip (the worker's, and the threshold, cap and throttle
	/// purges) waits for no queue lock: it bumps purges_started_, and
	/// the fence pairs with the one in release(), so every unmap that read
	/// the old number (and named this purge) has its PTE clears visible
	/// before the shootdown.  The slots stay dirty until a queue lock
	/// holder reclaims them (reclaim(): the queue's own CPU on its next
	/// map, steal(), borrow(), stats(), or the sweep below).  Before, the
	/// purge took every queue's lock twice, to move dirty slots to purging
	/// and then purging to free: 7.2, 4 vCPUs on 2 CPUs, the threads then
	/// spun on queue locks 6 to 12% of their time at every P, at P = 1
	/// about once for each time the worker took a lock, about 0.6 ms a
	/// time: a vCPU holding a lock was descheduled by the host.  The
	/// kernel's purge never takes a CPU's vmap_block_queue lock either:
	/// it frees whole vmap areas (__purge_vmap_area_lazy()).
	///
	/// Walk::kAll (FLUSH, shrink, a map with no room) needs every dirty
	/// slot free when it returns: it takes every queue's lock to see
	/// whether any dirty slot names this purge (if none does and nothing
	/// was reported, it issues no shootdown), and again afterwards to
	/// reclaim them all.
	ktl::uint64_t purge_locked(Walk walk) CXXVM_REQUIRES(purge_mutex_)
	{
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		// Release: an unmap that reads this number (acquire) sees
		// every earlier purge's shootdown (VmapBlock::release_to_dirty()
		// relies on it).  Naming is the fences' job (see release()).
		const ktl::uint64_t seq = purges_started_.load(kRelaxed) + 1;
		purges_started_.store(seq, ktl::memory_order::release);
		// Pairs with the fence in release(): an unmap that read the old
		// number has its PTE clears visible before our shootdown.
		ktl::atomic_thread_fence(ktl::memory_order::seq_cst);

		const ktl::uint64_t t0 = P::now_ns();
		// Relaxed: the threshold count; pages reported from now on
		// count towards the next purge.
		const ktl::uint64_t reported = dirty_reported_.exchange(0, kRelaxed);
		bool needed = walk == Walk::kMaySkip || reported;
		for (ktl::uint32_t cpu = 0; !needed && cpu < nr_queues_; ++cpu) {
			with_queue(cpu, [&](VmapBlockQueueState &s) {
				s.unclean_blocks.for_each([&](VmapBlock *b) {
					needed |= b->covering() >= seq;
				});
			});
		}
		if (needed) {
			const ktl::uint64_t t1 = P::now_ns();
			P::tlb_shootdown();
			shootdown_ns_.fetch_add(P::now_ns() - t1, kRelaxed);
			shootdowns_.fetch_add(1, kRelaxed);
			purges_.fetch_add(1, kRelaxed);
		}
		// Release: pairs with the acquire in flushed_seq() and map().
		purges_done_.store(seq, ktl::memory_order::release);
		ktl::uint64_t freed = reported;
		if (walk == Walk::kAll) {
			freed = 0;
			for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu)
				with_queue(cpu, [&](VmapBlockQueueState &s) { freed += reclaim(cpu, s, seq); });
		} else {
			sweep(seq);
		}
		purge_ns_.fetch_add(P::now_ns() - t0, kRelaxed);
		return freed;
	}

	/// After purge @seq: reclaim the queues that have not reclaimed since
	/// the purge before it, as far as their hints say, if their lock is
	/// free at the first try.  A CPU that maps reclaims its own queue on
	/// its next map; this is for those that stopped mapping (idle, or
	/// offline), whose dirty slots would otherwise hold VA that steal()
	/// and release_surplus() could use.  Once unmaps stop and no purge
	/// comes, a queue's covered slots stay dirty until a steal, a borrow,
	/// stats(), FLUSH or shrink() (the vmap purge notifier, under VA
	/// pressure) reclaims them: safe, since the shim frees pages by
	/// flushed_seq(), not by reclaim.  Caller holds purge_mutex_.
	void sweep(ktl::uint64_t seq) CXXVM_REQUIRES(purge_mutex_)
	{
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			if (!looks_reclaimable(cpu, seq - 1))
				continue;
			if (queues_[cpu]->try_with([&](VmapBlockQueueState &s) { (void)reclaim(cpu, s, seq); }))
				// Relaxed: statistics.
				reclaim_sweeps_.fetch_add(1, ktl::memory_order::relaxed);
		}
	}

	/// Store CPU @cpu's queue @s's empty count in its empty_hint, for
	/// steal().  Caller holds @s's lock.
	void publish_empties(ktl::uint32_t cpu, const VmapBlockQueueState &s)
	{
		// Relaxed: a hint, see Queue::empty_hint.
		queues_[cpu]->empty_hint.store(s.nr_empty, ktl::memory_order::relaxed);
	}

	/// Run @fn under CPU @cpu's queue lock if it comes free within
	/// kSkipTries tries (a few microseconds: a running holder is done by
	/// then, a descheduled one is not).  Returns whether it ran.
	template <typename Fn>
	bool try_for_a_while(ktl::uint32_t cpu, Fn &&fn)
	{
		for (ktl::uint32_t i = 0; i < kSkipTries; ++i) {
			if (queues_[cpu]->try_with(fn))
				return true;
			P::cpu_relax();
		}
		return false;
	}

	/// After a purge: with caller_purge, return the empty blocks beyond
	/// reserve_ to vmalloc; with the worker, only those that take the
	/// arena past grow_limit_, return_empty or not.  (Maps grow the arena
	/// past grow_limit_ while a purge is in flight, its slots not yet free
	/// and no purge due; returning every block beyond reserve_ then made
	/// the contended P = 64 cell reserve and return 692 blocks.  Returning
	/// blocks at every threshold purge cost the takeover's tunables 0.3 to
	/// 0.8 of vm_map_ram's time in replays on 6.1: a vmap() per block,
	/// 120 to 170 blocks per pass; and under contention, at twice
	/// reserve_, about as many blocks reserved as returned in every run,
	/// up to 0.6 of the threads' time reserving.)  The vmap purge notifier
	/// still returns every empty block when vmalloc space runs short.
	/// Caller holds purge_mutex_.
	void release_surplus() CXXVM_REQUIRES(purge_mutex_)
	{
		// Relaxed: a count that only decides whether to walk the queues.
		const ktl::uint32_t nr = nr_blocks_.load(ktl::memory_order::relaxed);
		if (params_.caller_purge)
			release_empty_blocks(reserve_, Walk::kMaySkip);
		else if (nr > grow_limit_)
			release_empty_blocks(0, Walk::kMaySkip, nr - grow_limit_);
	}

	/// Reclaim each queue (reclaim_if_behind()), keep @keep empty blocks
	/// (those found first, queue by queue, the least recently emptied of
	/// each queue) and return the others to vmalloc, at most @most of
	/// them.  With Walk::kMaySkip (release_surplus(), after any purge of
	/// the worker or a caller: with caller_purge every time, with the
	/// worker only past grow_limit_) a queue whose lock stays held for
	/// kSkipTries tries is left alone, so more than @keep may stay.
	/// Returns how many were returned.  Caller holds purge_mutex_.
	ktl::uint32_t release_empty_blocks(ktl::uint32_t keep, Walk walk = Walk::kAll,
					   ktl::uint32_t most = ~0u) CXXVM_REQUIRES(purge_mutex_)
	{
		SpareList out;
		ktl::uint32_t kept = 0, released = 0, taken = 0;
		const ktl::uint64_t done = flushed_seq();
		for (ktl::uint32_t cpu = 0; cpu < nr_queues_; ++cpu) {
			auto take = [&](VmapBlockQueueState &s) {
				reclaim_if_behind(cpu, s, done);
				const ktl::uint32_t want = kept < keep ? keep - kept : 0;
				const ktl::uint32_t keep_here = s.nr_empty < want ? s.nr_empty : want;
				kept += keep_here;
				for (ktl::uint32_t left = s.nr_empty - keep_here; left && taken < most; --left) {
					VmapBlock *b = s.empty_blocks.front();
					detach(s, b);
					out.push_front(b);
					++taken;
				}
				publish_empties(cpu, s);
			};
			if (walk == Walk::kAll)
				with_queue(cpu, take);
			else
				(void)try_for_a_while(cpu, take);
		}
		const ktl::uint64_t t0 = out.empty() ? 0 : P::now_ns();
		while (VmapBlock *b = out.pop_front()) {
			index_.remove(b);
			b->unreserve<P>();
			to_spares(b);
			blocks_freed_.fetch_add(1, ktl::memory_order::relaxed);
			++released;
		}
		if (released)
			release_ns_.fetch_add(P::now_ns() - t0, ktl::memory_order::relaxed);
		return released;
	}

	/// Keep the metadata of @b (no VA, no owner, not indexed) for a later
	/// grow() and give back its place under max_blocks.
	void to_spares(VmapBlock *b)
	{
		spares_.with([b](SpareList &l) { l.push_front(b); });
		// Relaxed: a counter with no data behind it (see grow()).
		nr_blocks_.fetch_sub(1, ktl::memory_order::relaxed);
	}

	/// Blocks with no queue (no VA), linked through their FillLink.
	using SpareList = IntrusiveList<VmapBlock, FillLink>;

	const Params params_;
	const ktl::uint32_t nr_queues_;
	const ktl::uint32_t report_chunk_;
	/// Empty blocks kept when a purge returns some (purge() of a
	/// return_empty arena keeps keep_ instead).
	const ktl::uint32_t reserve_;
	/// While a purge is due, map() grows the arena only up to this many
	/// blocks (7/8 of max_blocks, or reserve_ if more) and then waits for
	/// the purge; not with caller_purge, whose unmaps purge.  The worker's
	/// release_surplus() returns blocks only above it, so what a burst
	/// grew serves the next burst instead of being returned and reserved
	/// again (at 2 x reserve_ with the release at max_blocks / 2, threads
	/// waited for purges 9 to 59% of their time at P >= 8 under
	/// contention; with no limit at all they reserved and returned blocks
	/// by the thousand: 2,801 and 2,689 in one P = 64 run, 0.23 of their
	/// time reserving).  Below it the blocks stay until FLUSH (purge() keeps
	/// keep_), vm_unmap_aliases() in takeover mode, or the vmap purge
	/// notifier (shrink()).
	const ktl::uint32_t grow_limit_;
	/// Empty blocks purge() keeps: reserve_, or none (return_empty).
	const ktl::uint32_t keep_;
	Queue **queues_ = nullptr;		///< one per possible CPU
	bool initialized_ = false;		///< init() completed
	VmapIndex<P> index_;
	/// Metadata of blocks returned to vmalloc, reused by grow().
	Protected<SpareList, typename P::SpinLock> spares_;
	typename P::Mutex purge_mutex_;
	/// The purge worker; queued by unmap(), runs purge_work().
	typename P::Work work_;
	ktl::atomic<ktl::uint32_t> nr_blocks_{0};	///< reserved by grow(), incl. in flight
	/// Read on every map and unmap; written once per purge.
	ktl::atomic<ktl::uint64_t> purges_started_{0};
	ktl::atomic<ktl::uint64_t> purges_done_{0};
	/// Written every report chunk by any CPU: a cache line of its own, away
	/// from the purge numbers every map and unmap reads.
	char pad0_[64];
	ktl::atomic<ktl::uint64_t> dirty_reported_{0};
	char pad1_[64];
	ktl::atomic<ktl::uint64_t> blocks_created_{0};
	ktl::atomic<ktl::uint64_t> blocks_freed_{0};
	ktl::atomic<ktl::uint64_t> shootdowns_{0};
	ktl::atomic<ktl::uint64_t> purges_{0};
	ktl::atomic<ktl::uint64_t> steals_{0};
	ktl::atomic<ktl::uint64_t> borrows_{0};
	// Where the time goes (cxxvm_arena_stats); written on slow paths only.
	ktl::atomic<ktl::uint64_t> purge_ns_{0};
	ktl::atomic<ktl::uint64_t> shootdown_ns_{0};
	ktl::atomic<ktl::uint64_t> caller_purges_{0};
	ktl::atomic<ktl::uint64_t> worker_purges_{0};
	ktl::atomic<ktl::uint64_t> purge_waits_{0};
	ktl::atomic<ktl::uint64_t> purge_wait_ns_{0};
	ktl::atomic<ktl::uint64_t> lock_contended_{0};
	ktl::atomic<ktl::uint64_t> lock_wait_ns_{0};
	ktl::atomic<ktl::uint64_t> reserve_ns_{0};
	ktl::atomic<ktl::uint64_t> release_ns_{0};
	ktl::atomic<ktl::uint64_t> reclaim_sweeps_{0};
};

} // namespace cxxvm
