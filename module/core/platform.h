// SPDX-License-Identifier: GPL-2.0
//
// The platform seam: everything the core asks of the kernel.  The kernel
// build instantiates the core with KernelPlatform (kernel_platform.h); a
// hosted build instantiates it with a userspace platform for unit tests.
#pragma once

#include <cxxrt/result.h>
#include "thread_safety.h"
#include "types.h"
#include "../cxxvm_core.h"

namespace cxxvm {

/// The role a lock plays, which with the lock's kind is its lockdep class
/// in the kernel (cxxvm_core.h's CXXVM_LOCK_*): lockdep then checks the
/// order between roles, purge mutex -> queue -> index, tracker mutex ->
/// writer lock.
enum class LockClass : ktl::uint32_t {
	kArenaPurge = CXXVM_LOCK_ARENA_PURGE,
	kArenaQueue = CXXVM_LOCK_ARENA_QUEUE,
	kArenaIndex = CXXVM_LOCK_ARENA_INDEX,
	kArenaSpares = CXXVM_LOCK_ARENA_SPARES,
	kTrackerMutex = CXXVM_LOCK_TRACKER_MUTEX,
	kTrackerWriter = CXXVM_LOCK_TRACKER_WRITER,
	kTest = CXXVM_LOCK_TEST,
};

/// A lock with lock()/unlock() and a fallible init(LockClass) (the kernel
/// object lives in the shim).  Destruction releases it.
template <typename L>
concept Lock = requires(L l) {
	{ l.init(LockClass::kTest) } -> ktl::same_as<cxxrt::Result<void>>;
	{ l.lock() } -> ktl::same_as<void>;
	{ l.unlock() } -> ktl::same_as<void>;
};

/// A spinlock that can also be tried: try_lock() takes it only if free.
template <typename L>
concept TryLock = Lock<L> && requires(L l) {
	{ l.try_lock() } -> ktl::same_as<bool>;
};

/// A work item (struct work_struct on the system workqueue): init() binds
/// it to fn(ctx); queue() runs it once more in process context soon, and
/// does nothing if it is already queued and not yet running; cancel()
/// dequeues it and waits for a running fn, after which queue() must not be
/// called.  Destruction cancels.
template <typename W>
concept WorkItem = requires(W w, void (*fn)(void *), void *ctx) {
	{ w.init(fn, ctx) } -> ktl::same_as<cxxrt::Result<void>>;
	{ w.queue() } -> ktl::same_as<void>;
	{ w.cancel() } -> ktl::same_as<void>;
};

/// What the vmap allocator needs: VA blocks and where their PTEs are
/// (struct cxxvm_pte_runs), writes of @n PTEs that follow each other
/// from the address of the first (8 bytes each),
/// a TLB shootdown, a spinlock, a sleeping mutex, a work item for the
/// purge worker, a monotonic clock in ns (now_ns(), for counters on slow
/// paths), and CPU ids.  See
/// cxxvm_core.h for the contexts of each call.
///
/// this_cpu() is raw_smp_processor_id(): the CPU the caller ran on a moment
/// ago, below nr_cpu_ids(), and only a hint (the caller may migrate); the
/// core uses it to pick a queue whose lock it then takes, as vb_alloc()
/// uses raw_cpu_ptr().  cpu_to_node() is a NUMA node hint (-1: none).
template <typename P>
concept Platform = TryLock<typename P::SpinLock> && TryLock<typename P::Mutex> &&
	WorkItem<typename P::Work> &&
	requires(ktl::uint32_t n, ktl::uintptr_t *va, cxxvm_pte_runs *runs,
		 ktl::uintptr_t pte, const Pfn *pfns) {
		{ P::va_reserve(n, va, runs) } -> ktl::same_as<cxxrt::Result<void>>;
		{ P::va_release(VirtAddr(0)) } -> ktl::same_as<void>;
		{ P::ptes_set(pte, pfns, n) } -> ktl::same_as<void>;
		{ P::ptes_clear(pte, n) } -> ktl::same_as<void>;
		{ P::tlb_shootdown() } -> ktl::same_as<void>;
		{ P::this_cpu() } -> ktl::same_as<ktl::uint32_t>;
		{ P::nr_cpu_ids() } -> ktl::same_as<ktl::uint32_t>;
		{ P::cpu_to_node(n) } -> ktl::same_as<int>;
		{ P::now_ns() } -> ktl::same_as<ktl::uint64_t>;
	};

/// Tag: Guard takes over a lock its caller already holds.
struct AdoptLock {};
inline constexpr AdoptLock kAdoptLock{};

/// RAII guard for any Lock.
template <Lock L>
class CXXVM_SCOPED_CAPABILITY Guard {
public:
	explicit Guard(L *l) CXXVM_ACQUIRE(l) : l_(l) { l_->lock(); }
	Guard(L *l, AdoptLock) CXXVM_REQUIRES(l) : l_(l) {}
	~Guard() CXXVM_RELEASE() { l_->unlock(); }
	Guard(const Guard &) = delete;
	Guard &operator=(const Guard &) = delete;

private:
	L *l_;
};

/// Data that a lock protects, handed out only while the lock is held
/// (SerenityOS's SpinlockProtected<T>).
template <typename T, Lock L>
class Protected {
public:
	[[nodiscard]] cxxrt::Result<void> init(LockClass c) { return lock_.init(c); }

	/// Run @fn(T&) with the lock held and return what it returns.
	template <typename Fn>
	[[gnu::always_inline]] decltype(auto) with(Fn &&fn)
	{
		Guard<L> g(&lock_);
		return fn(data_);
	}

	/// As with(), but when a first try finds the lock held, @slow(L &)
	/// takes it (and must return holding it): to count and time the wait.
	/// Not analysed: clang ties @slow's CXXVM_ACQUIRE(l) to the lambda
	/// object, not to the lock it is handed, so it cannot see the lock
	/// taken on that path (the lambda itself is checked).
	template <typename Fn, typename Slow>
	[[gnu::always_inline]] CXXVM_NO_THREAD_SAFETY_ANALYSIS decltype(auto)
	with_or(Fn &&fn, Slow &&slow)
		requires TryLock<L>
	{
		if (!lock_.try_lock()) [[unlikely]]
			slow(lock_);
		Guard<L> g(&lock_, kAdoptLock);
		return fn(data_);
	}

	/// Run @fn(T&) only if the lock is free at the first try.  Returns
	/// whether it ran.  Never spins.
	template <typename Fn>
	[[nodiscard]] bool try_with(Fn &&fn)
		requires TryLock<L>
	{
		if (!lock_.try_lock())
			return false;
		Guard<L> g(&lock_, kAdoptLock);
		fn(data_);
		return true;
	}

private:
	// The data first: a lock bigger than its word (KernelPlatform's
	// keeps room for a debug spinlock_t) then leaves the lock word in
	// the line after the data's first, not three lines away.
	T data_ CXXVM_GUARDED_BY(lock_){};
	L lock_;
};

} // namespace cxxvm
