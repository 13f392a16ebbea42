// SPDX-License-Identifier: GPL-2.0
//
// The platform seam: everything the core asks of the kernel.  The kernel
// build instantiates the core with KernelPlatform (kernel_platform.h); a
// hosted build instantiates it with a userspace platform for unit tests.
#pragma once

#include <cxxrt/result.h>
#include "types.h"

namespace cxxvm {

/// A lock with lock()/unlock() and a fallible init() (the kernel object
/// lives in the shim).  Destruction releases it.
template <typename L>
concept Lock = requires(L l) {
	{ l.init() } -> ktl::same_as<cxxrt::Result<void>>;
	{ l.lock() } -> ktl::same_as<void>;
	{ l.unlock() } -> ktl::same_as<void>;
};

/// What the vmap allocator needs: VA blocks with PTE pointers, PTE writes,
/// a TLB shootdown, a spinlock, a sleeping mutex, and CPU ids.  See
/// cxxvm_core.h for the contexts of each call.
///
/// this_cpu() is raw_smp_processor_id(): the CPU the caller ran on a moment
/// ago, below nr_cpu_ids(), and only a hint (the caller may migrate); the
/// core uses it to pick a queue whose lock it then takes, as vb_alloc()
/// uses raw_cpu_ptr().  cpu_to_node() is a NUMA node hint (-1: none).
template <typename P>
concept Platform = Lock<typename P::SpinLock> && Lock<typename P::Mutex> &&
	requires(ktl::uint32_t n, ktl::uintptr_t *va, ktl::uintptr_t *ptes,
		 const ktl::uintptr_t *cptes, const Pfn *pfns) {
		{ P::va_reserve(n, va, ptes) } -> ktl::same_as<cxxrt::Result<void>>;
		{ P::va_release(VirtAddr(0)) } -> ktl::same_as<void>;
		{ P::ptes_set(cptes, pfns, n) } -> ktl::same_as<void>;
		{ P::ptes_clear(cptes, n) } -> ktl::same_as<void>;
		{ P::tlb_shootdown() } -> ktl::same_as<void>;
		{ P::this_cpu() } -> ktl::same_as<ktl::uint32_t>;
		{ P::nr_cpu_ids() } -> ktl::same_as<ktl::uint32_t>;
		{ P::cpu_to_node(n) } -> ktl::same_as<int>;
	};

/// RAII guard for any Lock.
template <Lock L>
class Guard {
public:
	explicit Guard(L *l) : l_(l) { l_->lock(); }
	~Guard() { l_->unlock(); }
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
	[[nodiscard]] cxxrt::Result<void> init() { return lock_.init(); }

	/// Run @fn(T&) with the lock held and return what it returns.
	template <typename Fn>
	[[gnu::always_inline]] decltype(auto) with(Fn &&fn)
	{
		Guard<L> g(&lock_);
		return fn(data_);
	}

private:
	L lock_;
	T data_{};
};

} // namespace cxxvm
