// SPDX-License-Identifier: GPL-2.0
//
// cxxrt/atomic.h: ktl::atomic<T>, the subset of std::atomic the core uses,
// over the compiler's __atomic builtins.
//
// GCC 12's <atomic> cannot be included freestanding in C++20 mode (it pulls
// <bits/atomic_wait.h>, pthread and stdio; see std.h), so this header
// gives the same names and semantics for word-sized integers and pointers.
// Every operation takes an explicit memory order, and every caller says in
// a comment why that order suffices.  On x86-64 these compile to plain
// loads and stores and LOCK-prefixed read-modify-writes: no library calls.
#pragma once

#include <cxxrt/std.h>

namespace ktl {

/// std::memory_order, with the builtins' values.
enum class memory_order : int {
	relaxed = __ATOMIC_RELAXED,
	acquire = __ATOMIC_ACQUIRE,
	release = __ATOMIC_RELEASE,
	acq_rel = __ATOMIC_ACQ_REL,
	seq_cst = __ATOMIC_SEQ_CST,
};

/// std::atomic<T> for integers and pointers of at most 8 bytes.
template <typename T>
class atomic {
	static_assert(std::is_integral_v<T> || std::is_pointer_v<T>);
	static_assert(sizeof(T) <= 8 && __atomic_always_lock_free(sizeof(T), 0));

public:
	/// Trivial, as std::atomic was before C++20: value-initialise (or use
	/// the explicit constructor) to start from zero.
	atomic() = default;
	constexpr explicit atomic(T v) : v_(v) {}
	atomic(const atomic &) = delete;
	atomic &operator=(const atomic &) = delete;

	[[nodiscard]] T load(memory_order o) const { return __atomic_load_n(&v_, static_cast<int>(o)); }
	void store(T v, memory_order o) { __atomic_store_n(&v_, v, static_cast<int>(o)); }

	T fetch_add(T d, memory_order o)
		requires std::is_integral_v<T>
	{
		return __atomic_fetch_add(&v_, d, static_cast<int>(o));
	}
	T fetch_sub(T d, memory_order o)
		requires std::is_integral_v<T>
	{
		return __atomic_fetch_sub(&v_, d, static_cast<int>(o));
	}
	T fetch_or(T d, memory_order o)
		requires std::is_integral_v<T>
	{
		return __atomic_fetch_or(&v_, d, static_cast<int>(o));
	}
	/// std::atomic::exchange: store @v, return the value it replaced.
	T exchange(T v, memory_order o) { return __atomic_exchange_n(&v_, v, static_cast<int>(o)); }
	/// Strong CAS; on failure @expected gets the current value (read with
	/// memory_order::relaxed).
	bool compare_exchange_strong(T &expected, T desired, memory_order o)
	{
		return __atomic_compare_exchange_n(&v_, &expected, desired, false, static_cast<int>(o),
						   __ATOMIC_RELAXED);
	}

private:
	T v_;
};

/// std::atomic_thread_fence.
inline void atomic_thread_fence(memory_order o)
{
	__atomic_thread_fence(static_cast<int>(o));
}

} // namespace ktl
