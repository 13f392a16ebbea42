// SPDX-License-Identifier: GPL-2.0
//
// PagemapTracker: ZONE_DEVICE pagemaps by pfn, with references and a
// kill/drain lifecycle.  The role of pgmap_array, get_dev_pagemap() and
// dev_pagemap's percpu_ref in mm/memremap.c.
#pragma once

#include <cxxrt/alloc.h>
#include <cxxrt/atomic.h>
#include "altmap.h"
#include "list.h"
#include "platform.h"
#include "../cxxvm_core.h"

namespace cxxvm {

/// enum memory_type in include/linux/memremap.h, same numbers (0 is not a
/// type; the shim asserts the numbers against the kernel's).
enum class PagemapType : ktl::uint32_t {
	kPrivate = CXXVM_CORE_PGMAP_PRIVATE,
	kCoherent = CXXVM_CORE_PGMAP_COHERENT,
	kFsDax = CXXVM_CORE_PGMAP_FS_DAX,
	kGeneric = CXXVM_CORE_PGMAP_GENERIC,
	kPciP2pdma = CXXVM_CORE_PGMAP_PCI_P2PDMA,
};

/// A completion: complete() once, wait() until it was.  struct completion
/// in the kernel.  init() may allocate; reinit() makes it pending again.
template <typename C>
concept Waitable = requires(C c) {
	{ c.init() } -> ktl::same_as<cxxrt::Result<void>>;
	{ c.reinit() } -> ktl::same_as<void>;
	{ c.complete() } -> ktl::same_as<void>;
	{ c.wait() } -> ktl::same_as<void>;
};

/// What the tracker needs of a platform: a spinlock that is never preempted
/// and keeps interrupts off (raw_spin_lock_irqsave()), a mutex, a
/// completion, the first pfn past what the machine can
/// address (1 << (MAX_PHYSMEM_BITS - PAGE_SHIFT)), and cpu_relax() for a
/// reader waiting out a writer.
template <typename P>
concept PagemapPlatform = Lock<typename P::IrqLock> && Lock<typename P::Mutex> &&
	Waitable<typename P::Completion> && requires {
		{ P::max_pfn_limit() } -> ktl::same_as<ktl::uint64_t>;
		{ P::cpu_relax() } -> ktl::same_as<void>;
	};

/// [start, start + nr) in pfns.
struct PfnRange {
	Pfn start{0};
	ktl::uint64_t nr = 0;

	[[nodiscard]] ktl::uint64_t end() const { return start.value() + nr; }
	[[nodiscard]] bool contains(Pfn pfn) const
	{
		return pfn.value() >= start.value() && pfn.value() - start.value() < nr;
	}
	[[nodiscard]] bool overlaps(const PfnRange &o) const
	{
		return start.value() < o.end() && o.start.value() < end();
	}
};

/// Most ranges one pagemap may have (the kernel's is unbounded: a
/// flexible array).  Two or more are what ranges exist for.
inline constexpr ktl::uint32_t kPagemapMaxRanges = CXXVM_CORE_PGMAP_MAX_RANGES;

/// What register_pagemap() is given.  The altmap, if any, carves the
/// memmap from the first range (the kernel refuses an altmap on more than
/// one range).
struct PagemapDesc {
	PagemapType type;
	ktl::span<const PfnRange> ranges;
	bool has_altmap = false;
	ktl::uint64_t altmap_reserve = 0;	///< pages
	ktl::uint64_t altmap_free = 0;		///< pages
	ktl::uintptr_t cookie = 0;		///< the caller's, returned as is
};

/// One registered pagemap: struct dev_pagemap's tracked half.
///
/// Its references are one word: the count in the low bits, kBias above it
/// and kDying on top, the states of dev_pagemap's percpu_ref in atomic
/// mode.  Live: the registration holds one reference.  kill() sets kDying
/// (no new references from lookup()) and drops it; the put that takes the
/// count to zero completes done_ (dev_pagemap_percpu_release()).  Dead:
/// kDying, kBias and zero.
///
/// kBias is always set.  A put() with no reference held (a caller bug) is
/// a fetch_sub that it undoes at once; in between, the borrow comes out of
/// kBias, never out of kDying, so a tryget_live() racing it still sees a
/// dead pagemap dying.  (Without kBias the borrow cleared kDying for that
/// moment, the tryget succeeded on a dead, possibly reused pagemap, and
/// its put completed done_ a second time.)
///
/// Pagemap objects are type-stable: an unregistered one goes on the
/// tracker's spare list, never back to the allocator, until the tracker is
/// destroyed.  So a lookup that raced an unregister can still touch the
/// object safely; its tryget fails (dead) or, if the object was reused,
/// the ranges check after the tryget sends it round again.  This is
/// SLAB_TYPESAFE_BY_RCU's pattern without RCU.
template <PagemapPlatform P>
class Pagemap : public ListNode {
public:
	static constexpr ktl::uint64_t kDying = ktl::uint64_t{1} << 63;
	static constexpr ktl::uint64_t kBias = ktl::uint64_t{1} << 62;
	static constexpr ktl::uint64_t kCount = kBias - 1;
	static constexpr ktl::uint64_t kDead = kDying | kBias;

	[[nodiscard]] PagemapType type() const { return type_; }
	[[nodiscard]] ktl::uintptr_t cookie() const { return cookie_; }

	/// Does any range hold @pfn?  Only meaningful while the caller holds a
	/// reference (the ranges of a live pagemap do not change).
	[[nodiscard, gnu::always_inline]] bool covers(Pfn pfn) const
	{
		for (ktl::uint32_t i = 0; i < nr_ranges_; ++i)
			if (ranges_[i].contains(pfn))
				return true;
		return false;
	}

	/// References held (the registration's included).
	/// For tests and statistics: stale as soon as it is read.
	[[nodiscard]] ktl::uint64_t refs() const
	{
		// Relaxed: a snapshot for reporting.
		return ref_.load(ktl::memory_order::relaxed) & kCount;
	}
	[[nodiscard]] bool dying() const { return ref_.load(ktl::memory_order::relaxed) & kDying; }

	/// Take a reference if the pagemap is live.  Mirrors
	/// percpu_ref_tryget_live().  Context: any.
	[[nodiscard, gnu::always_inline]] bool tryget_live()
	{
		// Relaxed first read; the CAS below orders.
		ktl::uint64_t v = ref_.load(ktl::memory_order::relaxed);
		do {
			if (v & kDying)
				return false;
		} while (!ref_.compare_exchange_strong(v, v + 1, ktl::memory_order::acquire));
		return true;
	}

	/// Another reference, for a caller that holds one.  Mirrors
	/// get_dev_pagemap()'s percpu_ref_get().  Context: any.
	void get()
	{
		// Relaxed: the caller's reference keeps the object as it is.
		ref_.fetch_add(1, ktl::memory_order::relaxed);
	}

	/// Drop a reference; the last one of a killed pagemap completes its
	/// drain.  Mirrors put_dev_pagemap().  A put with no reference held
	/// is a caller bug: it WARNs and changes nothing.  Context: any.
	[[gnu::always_inline]] void put()
	{
		// Acq_rel: release, so our uses of the pagemap happen before
		// the drain completes; acquire, so the last put sees everyone
		// else's (it takes the place of an acquire fence there, which
		// ThreadSanitizer cannot see; on x86 the instruction is the same
		// LOCK XADD either way).
		const ktl::uint64_t old = ref_.fetch_sub(1, ktl::memory_order::acq_rel);
		if ((old & kCount) == 0) [[unlikely]] {
			// Borrowed from kBias: kDying stayed as it was.
			ref_.fetch_add(1, ktl::memory_order::relaxed);
			cxxrt_warn("Pagemap::put: no reference held");
			return;
		}
		if (old == (kDead | 1)) [[unlikely]]
			done_.complete();
	}

private:
	template <PagemapPlatform>
	friend class PagemapTracker;

	[[nodiscard]] cxxrt::Result<void> init() { return done_.init(); }

	/// Live -> dying: no new references, drop the registration's.  Returns
	/// false if it was dying already.
	bool kill()
	{
		// Acq_rel: orders the registration's use before the put.
		const ktl::uint64_t old = ref_.fetch_or(kDying, ktl::memory_order::acq_rel);
		if (old & kDying)
			return false;
		put();
		return true;
	}

	/// Dead, or not (yet) registered: kDying and no references.
	[[nodiscard]] bool dead() const { return ref_.load(ktl::memory_order::acquire) == kDead; }

	ktl::atomic<ktl::uint64_t> ref_{kDead};
	typename P::Completion done_;
	PagemapType type_ = PagemapType::kGeneric;
	ktl::uint32_t nr_ranges_ = 0;
	bool has_altmap_ = false;
	bool indexed_ = false;
	ktl::uintptr_t cookie_ = 0;
	PfnRange ranges_[kPagemapMaxRanges] = {};
	Altmap altmap_ = Altmap::create(Pfn(0), 1, 0, 0).value();
};

/// The tracker: registered pagemaps, found by pfn.
///
/// Lookup scheme: a sorted array of (first pfn, pages, pagemap) entries,
/// one per range, searched by bisection: O(log n) for n ranges.  Readers
/// take no lock and write nothing but the reference they take: the array
/// is guarded by a sequence count (seqcount_t's scheme, as VmapIndex), and
/// a reader that saw the count change searches again, or spins while it is
/// odd.  Writers (register, unregister; rare, process context) serialise on
/// mutex_ and update the array under lock_, a raw spinlock only writers
/// take, with interrupts off: a writer is never preempted with the count
/// odd (not even on PREEMPT_RT), and no lookup from an interrupt spins on
/// the CPU of the writer it interrupted.  What a reader
/// found it pins with tryget_live(), then checks the pagemap still covers
/// the pfn (objects are reused, see Pagemap).  So lookup() costs a
/// bisection, one CAS and a compare, where get_dev_pagemap() costs
/// rcu_read_lock(), an xarray walk and a percpu_ref_tryget_live().
///
/// Lifecycle, as memunmap_pages(): kill() stops new references and drops
/// the registration's; unregister() then waits until every reference is
/// put (the drain), removes the ranges and recycles the pagemap.  Between
/// kill and unregister, lookups of its pfns give none and its ranges stay
/// reserved (no new pagemap may overlap them).
///
/// Context: lookup(), put(), get() and kill() do not sleep and take no
/// lock (lookup() spins while a writer is mid-update).  The others take
/// the mutex: process context, may sleep.
template <PagemapPlatform P>
class PagemapTracker {
public:
	using Map = Pagemap<P>;

	struct Params {
		ktl::uint32_t max_ranges;	///< ranges of all pagemaps together
	};

	/// Errors: -EINVAL if max_ranges is 0; -ENOMEM.
	/// Context: process context, may sleep.
	[[nodiscard]] static cxxrt::Result<PagemapTracker *> create(Params params)
	{
		if (params.max_ranges == 0)
			return cxxrt::Errno::kInval;
		PagemapTracker *t = TRY(cxxrt::make<PagemapTracker>(cxxrt::Gfp::kKernel));
		if (auto r = t->init(params.max_ranges); !r.ok()) {
			cxxrt::destroy(t);
			return r.errno_value();
		}
		return t;
	}

	PagemapTracker() = default;
	PagemapTracker(const PagemapTracker &) = delete;
	PagemapTracker &operator=(const PagemapTracker &) = delete;

	~PagemapTracker()
	{
		while (Map *m = spares_.pop_front())
			cxxrt::destroy(m);
		cxxrt::destroy_array(entries_);
	}

	/// Unregister every pagemap (waiting for each drain, see unregister())
	/// and free the tracker.  Returns how many were still registered.
	/// Context: process context, may sleep.
	static ktl::uint32_t destroy(PagemapTracker *t)
	{
		ktl::uint32_t left = 0;
		while (Map *m = t->any_registered()) {
			t->unregister(m);
			++left;
		}
		cxxrt::destroy(t);
		return left;
	}

	/// Register a pagemap: live, with the registration's reference.
	/// Errors:
	///  -EINVAL: a type that is not a PagemapType, no ranges or more than
	///           kPagemapMaxRanges, an empty range, ranges that overlap
	///           each other, an altmap with more than one range or that
	///           does not fit its range (Altmap::create());
	///  -ERANGE: a range past max_pfn_limit() (past the end of physical
	///           address space);
	///  -EBUSY:  a range overlaps a registered pagemap's, dying ones
	///           included (memremap_pages()'s conflict: -ENOMEM and a WARN);
	///  -ENOSPC: max_ranges ranges are registered;
	///  -ENOMEM.
	/// Context: process context, may sleep.
	[[nodiscard]] cxxrt::Result<Map *> register_pagemap(const PagemapDesc &d)
	{
		TRY_VOID(check_desc(d));
		Guard<typename P::Mutex> g(&mutex_);
		for (const PfnRange &r : d.ranges)
			if (overlaps_registered(r))
				return cxxrt::Errno::kBusy;
		if (nr_entries() + d.ranges.size() > capacity_)
			return cxxrt::Errno::kNoSpc;
		Map *m = spares_.pop_front();
		if (!m) {
			m = TRY(cxxrt::make<Map>(cxxrt::Gfp::kKernel));
			if (auto r = m->init(); !r.ok()) {
				cxxrt::destroy(m);
				return r.errno_value();
			}
		}
		// The object is dead (kDead: no references) here, so no reader
		// that still holds a stale pointer can pin it while we rewrite it.
		m->type_ = d.type;
		m->nr_ranges_ = static_cast<ktl::uint32_t>(d.ranges.size());
		for (ktl::uint32_t i = 0; i < m->nr_ranges_; ++i)
			m->ranges_[i] = d.ranges[i];
		m->has_altmap_ = d.has_altmap;
		if (d.has_altmap)
			m->altmap_ = Altmap::create(d.ranges[0].start, d.ranges[0].nr, d.altmap_reserve,
						    d.altmap_free).value();
		m->cookie_ = d.cookie;
		m->done_.reinit();
		index_insert(m);
		registered_.push_front(m);
		// Release: a reader whose tryget sees the pagemap live sees the
		// ranges written above.  Inserted first, so a live pagemap is
		// always in the index.  kDead -> kBias | 1 by subtraction, not a
		// store: a stray put() mid-borrow on this spare still ends there.
		m->ref_.fetch_sub(Map::kDying - 1, ktl::memory_order::release);
		return m;
	}

	/// The live pagemap holding @pfn, with a new reference, or nullptr.  A
	/// non-null @hint is a pagemap the caller holds a reference on: if it
	/// covers @pfn it is returned as is (the caller's reference carries
	/// over, as in get_dev_pagemap(), even if it is dying); otherwise that
	/// reference is dropped and the pfn looked up.  Mirrors
	/// get_dev_pagemap(pfn, pgmap) in mm/memremap.c (6.18 and later lost
	/// the hint), except that every range of the hint counts (6.1 checks
	/// only the first, and for the others drops and retakes a reference
	/// on the same pagemap: the same answer, slower).  Context: any but NMI; takes no lock (spins while a writer
	/// is mid-update).
	[[nodiscard, gnu::always_inline]] Map *lookup(Pfn pfn, Map *hint)
	{
		if (hint && hint->covers(pfn)) [[likely]]
			return hint;
		return lookup_slow(pfn, hint);
	}

	/// Start the end of @m: lookups give none from now on and the
	/// registration's reference is dropped.  Returns false if @m was
	/// killed already.  Mirrors percpu_ref_kill() in memunmap_pages().
	/// Context: any.
	bool kill(Map *m) { return m->kill(); }

	/// Kill @m if it is not yet, wait until every reference is put, then
	/// remove its ranges and recycle it; @m must not be used afterwards.
	/// Sleeps as long as someone holds a reference: mirrors
	/// memunmap_pages(), which waits on pgmap->done.  Context: process
	/// context, may sleep; the caller must hold no reference on @m.
	void unregister(Map *m)
	{
		m->kill();
		m->done_.wait();
		Guard<typename P::Mutex> g(&mutex_);
		retire(m);
	}

	/// unregister() that does not wait for references: kills @m and, if
	/// references are still held, returns -EBUSY and leaves it dying (its
	/// ranges still reserved); a later call (or unregister()) finishes once
	/// they are put.  One caller at a time per pagemap.  Context: process
	/// context, may sleep (the mutex, and the last put's complete() if it
	/// is under way).
	[[nodiscard]] cxxrt::Result<void> try_unregister(Map *m)
	{
		m->kill();
		if (!m->dead())
			return cxxrt::Errno::kBusy;
		// Dead, but the last put may not have called complete() yet:
		// wait for it (it is under way), or a reuse of @m could have
		// its reinit() undone by that late complete().
		m->done_.wait();
		Guard<typename P::Mutex> g(&mutex_);
		retire(m);
		return {};
	}

	/// Altmap of @m: take @nr_pfns pages for memmap (Altmap::alloc()).
	/// Errors: -EINVAL if @m has no altmap or @nr_pfns is 0; -ENOSPC.
	/// Context: process context, may sleep (the mutex).
	[[nodiscard]] cxxrt::Result<Pfn> altmap_alloc(Map *m, ktl::uint64_t nr_pfns)
	{
		Guard<typename P::Mutex> g(&mutex_);
		if (!m->has_altmap_)
			return cxxrt::Errno::kInval;
		return m->altmap_.alloc(nr_pfns);
	}

	/// Altmap of @m: give back @nr_pfns pages (Altmap::free()).
	/// Errors: -EINVAL if @m has no altmap or @nr_pfns > allocated.
	/// Context: process context, may sleep (the mutex).
	[[nodiscard]] cxxrt::Result<void> altmap_free(Map *m, ktl::uint64_t nr_pfns)
	{
		Guard<typename P::Mutex> g(&mutex_);
		if (!m->has_altmap_)
			return cxxrt::Errno::kInval;
		return m->altmap_.free(nr_pfns);
	}

	/// Would register_pagemap() accept @d on an empty tracker?  The one
	/// validator of a pagemap's type, ranges, and altmap fitting its range
	/// (cxxvm_tracker_check_desc() exposes it to the shim's ioctl checks).
	/// Errors: -EINVAL, -ERANGE, as register_pagemap() says.
	/// Context: any; reads no tracker state.
	[[nodiscard]] static cxxrt::Result<void> check_desc(const PagemapDesc &d)
	{
		const auto t = static_cast<ktl::uint32_t>(d.type);
		if (t < static_cast<ktl::uint32_t>(PagemapType::kPrivate) ||
		    t > static_cast<ktl::uint32_t>(PagemapType::kPciP2pdma))
			return cxxrt::Errno::kInval;
		if (d.ranges.empty() || d.ranges.size() > kPagemapMaxRanges)
			return cxxrt::Errno::kInval;
		for (ktl::size_t i = 0; i < d.ranges.size(); ++i) {
			const PfnRange &r = d.ranges[i];
			if (r.nr == 0)
				return cxxrt::Errno::kInval;
			if (r.start.value() >= P::max_pfn_limit() ||
			    r.nr > P::max_pfn_limit() - r.start.value())
				return cxxrt::Errno::kRange;
			for (ktl::size_t j = 0; j < i; ++j)
				if (r.overlaps(d.ranges[j]))
					return cxxrt::Errno::kInval;
		}
		if (d.has_altmap) {
			if (d.ranges.size() != 1)
				return cxxrt::Errno::kInval;
			TRY_VOID(Altmap::create(d.ranges[0].start, d.ranges[0].nr, d.altmap_reserve,
						d.altmap_free));
		}
		return {};
	}

	/// A copy of @m's altmap, taken under the mutex, or nullopt.
	/// Context: process context, may sleep.
	[[nodiscard]] ktl::optional<Altmap> altmap(Map *m)
	{
		Guard<typename P::Mutex> g(&mutex_);
		if (!m->has_altmap_)
			return ktl::nullopt;
		return m->altmap_;
	}

private:
	/// Each field atomic, so that a reader racing a writer reads torn-free
	/// words (and then discards them); see find().
	struct Entry {
		ktl::atomic<ktl::uint64_t> start;
		ktl::atomic<ktl::uint64_t> nr;
		ktl::atomic<Map *> map;
	};

	[[nodiscard]] cxxrt::Result<void> init(ktl::uint32_t capacity)
	{
		TRY_VOID(lock_.init(LockClass::kTrackerWriter));
		TRY_VOID(mutex_.init(LockClass::kTrackerMutex));
		entries_ = TRY(cxxrt::make_array<Entry>(cxxrt::Gfp::kKernel, capacity));
		capacity_ = capacity;
		return {};
	}

	[[nodiscard]] ktl::uint32_t nr_entries() const
	{
		return nr_.load(ktl::memory_order::relaxed);
	}

	/// Caller holds mutex_.
	[[nodiscard]] bool overlaps_registered(const PfnRange &r) const CXXVM_REQUIRES(mutex_)
	{
		for (ktl::uint32_t i = 0; i < nr_entries(); ++i) {
			const PfnRange e{Pfn(entries_[i].start.load(ktl::memory_order::relaxed)),
					 entries_[i].nr.load(ktl::memory_order::relaxed)};
			if (e.overlaps(r))
				return true;
		}
		return false;
	}

	/// Any registered pagemap, or nullptr.  Context: may sleep.
	Map *any_registered()
	{
		Guard<typename P::Mutex> g(&mutex_);
		return registered_.find([](Map *) { return true; });
	}

	/// Remove dead @m from the index and keep it for reuse.  Caller holds
	/// mutex_.
	void retire(Map *m) CXXVM_REQUIRES(mutex_)
	{
		if (!m->indexed_)
			return;	// a concurrent try_unregister() did it
		index_remove(m);
		registered_.remove(m);
		spares_.push_front(m);
	}

	/// lookup() past the hint: put @hint (if any), search.  Out of line,
	/// so that the hinted path is a compare and a return with no register
	/// saved for the search.
	[[nodiscard, gnu::noinline]] Map *lookup_slow(Pfn pfn, Map *hint)
	{
		if (hint)
			hint->put();
		for (;;) {
			Map *m = find(pfn);
			if (!m || !m->tryget_live())
				return nullptr;
			if (m->covers(pfn)) [[likely]]
				return m;
			m->put();	// reused for other ranges meanwhile: again
		}
	}

	/// Seqcount reader: the pagemap whose range holds @pfn, or nullptr.
	[[nodiscard, gnu::always_inline]] Map *find(Pfn pfn) const
	{
		for (;;) {
			// Acquire: the entries read next are at least this new.
			const ktl::uint32_t seq = seq_.load(ktl::memory_order::acquire);
			if (seq & 1) {
				// A writer is mid-update, with preemption and
				// IRQs off (it holds lock_): spin, as
				// read_seqcount_begin() does.
				P::cpu_relax();
				continue;
			}
			Map *m = search(pfn);
			// Acquire fence: the loads above happen before the re-read.
			ktl::atomic_thread_fence(ktl::memory_order::acquire);
			if (seq_.load(ktl::memory_order::relaxed) == seq)
				return m;
		}
	}

	/// Bisection over a snapshot that may be torn; find() validates it.
	/// Branch-free: the loop's trip count depends only on the number of
	/// entries and the step is a conditional move, so a lookup costs no
	/// mispredicted branch (and, under emulation, no jump between
	/// translated blocks) per level.
	[[nodiscard, gnu::always_inline]] Map *search(Pfn pfn) const
	{
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		ktl::uint32_t n = nr_.load(kRelaxed);
		if (n == 0 || n > capacity_)
			return nullptr;	// empty, or torn: find() retries
		// The last entry whose start is <= pfn (or the first entry).
		const Entry *base = entries_;
		while (n > 1) {
			const ktl::uint32_t half = n / 2;
			base = base[half].start.load(kRelaxed) <= pfn.value() ? base + half : base;
			n -= half;
		}
		const ktl::uint64_t off = pfn.value() - base->start.load(kRelaxed);
		if (pfn.value() < base->start.load(kRelaxed) || off >= base->nr.load(kRelaxed))
			return nullptr;
		return base->map.load(kRelaxed);
	}

	/// Insert every range of @m.  Caller holds mutex_; room was checked.
	void index_insert(Map *m) CXXVM_REQUIRES(mutex_)
	{
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		Guard<typename P::IrqLock> g(&lock_);
		write_begin();
		for (ktl::uint32_t k = 0; k < m->nr_ranges_; ++k) {
			const PfnRange &r = m->ranges_[k];
			ktl::uint32_t i = nr_entries();
			for (; i > 0 && entries_[i - 1].start.load(kRelaxed) > r.start.value(); --i)
				copy_entry(i, i - 1);
			entries_[i].start.store(r.start.value(), kRelaxed);
			entries_[i].nr.store(r.nr, kRelaxed);
			entries_[i].map.store(m, kRelaxed);
			nr_.store(nr_entries() + 1, kRelaxed);
		}
		m->indexed_ = true;
		write_end();
	}

	/// Remove every range of @m.  Caller holds mutex_.
	void index_remove(Map *m) CXXVM_REQUIRES(mutex_)
	{
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		Guard<typename P::IrqLock> g(&lock_);
		write_begin();
		ktl::uint32_t out = 0;
		for (ktl::uint32_t i = 0; i < nr_entries(); ++i)
			if (entries_[i].map.load(kRelaxed) != m)
				copy_entry(out++, i);
		nr_.store(out, kRelaxed);
		m->indexed_ = false;
		write_end();
	}

	void copy_entry(ktl::uint32_t to, ktl::uint32_t from) CXXVM_REQUIRES(lock_)
	{
		constexpr auto kRelaxed = ktl::memory_order::relaxed;
		if (to == from)
			return;
		entries_[to].start.store(entries_[from].start.load(kRelaxed), kRelaxed);
		entries_[to].nr.store(entries_[from].nr.load(kRelaxed), kRelaxed);
		entries_[to].map.store(entries_[from].map.load(kRelaxed), kRelaxed);
	}

	/// Seqcount write side, as VmapIndex.
	void write_begin() CXXVM_REQUIRES(lock_)
	{
		seq_.store(seq_.load(ktl::memory_order::relaxed) + 1, ktl::memory_order::relaxed);
		ktl::atomic_thread_fence(ktl::memory_order::release);
	}
	void write_end() CXXVM_REQUIRES(lock_)
	{
		seq_.store(seq_.load(ktl::memory_order::relaxed) + 1, ktl::memory_order::release);
	}

	typename P::IrqLock lock_;	///< writers only, inside mutex_
	typename P::Mutex mutex_;
	Entry *entries_ = nullptr;
	ktl::uint32_t capacity_ = 0;
	ktl::atomic<ktl::uint32_t> nr_{0};
	ktl::atomic<ktl::uint32_t> seq_{0};
	IntrusiveList<Map> registered_ CXXVM_GUARDED_BY(mutex_);
	IntrusiveList<Map> spares_ CXXVM_GUARDED_BY(mutex_);
};

} // namespace cxxvm
