// SPDX-License-Identifier: GPL-2.0
//
// cxxrt/alloc.h: fallible allocation that carries the GFP context.
//
// There is no global throwing operator new in kernel C++ (a use is an
// undefined symbol at modpost).  Objects are created with
//     auto r = cxxrt::make<T>(cxxrt::Gfp::kKernel, args...);
// which returns Result<T*> (-ENOMEM on failure) and constructs with
// placement new; cxxrt::destroy(p) runs the destructor and frees.
#pragma once

#include <cxxrt/result.h>
#include <cxxrt/runtime.h>

namespace cxxrt {

/// The GFP context an allocation runs in, mapped by the shim to GFP_*.
enum class Gfp : unsigned int {
	kKernel = CXXRT_GFP_KERNEL,	///< GFP_KERNEL: may sleep and reclaim
	kNoWait = CXXRT_GFP_NOWAIT,	///< GFP_NOWAIT: never sleeps, fails early
	kAtomic = CXXRT_GFP_ATOMIC,	///< GFP_ATOMIC: never sleeps, may use reserves
};

/// kmalloc guarantees ARCH_KMALLOC_MINALIGN (8 bytes on x86-64) only.
inline constexpr ktl::size_t kMinAlign = 8;

/// Allocate and construct a T.  Returns -ENOMEM when the allocator fails.
/// Context: as @gfp.
template <typename T, typename... Args>
[[nodiscard]] Result<T *> make(Gfp gfp, Args &&...args)
{
	static_assert(alignof(T) <= kMinAlign, "over-aligned type: kmalloc gives 8 bytes");
	void *mem = cxxrt_alloc(sizeof(T), static_cast<unsigned int>(gfp));
	if (!mem)
		return Errno::kNoMem;
	return new (mem) T(ktl::forward<Args>(args)...);
}

/// make(), with the memory preferably on NUMA node @node (CXXRT_NO_NODE
/// for none).  Context: as @gfp.
template <typename T, typename... Args>
[[nodiscard]] Result<T *> make_on_node(Gfp gfp, int node, Args &&...args)
{
	static_assert(alignof(T) <= kMinAlign, "over-aligned type: kmalloc gives 8 bytes");
	void *mem = cxxrt_alloc_node(sizeof(T), static_cast<unsigned int>(gfp), node);
	if (!mem)
		return Errno::kNoMem;
	return new (mem) T(ktl::forward<Args>(args)...);
}

/// Allocate an array of @n value-initialised Ts (trivial types only).
/// Returns -ENOMEM on failure or on size overflow.  Context: as @gfp.
template <typename T>
[[nodiscard]] Result<T *> make_array(Gfp gfp, ktl::size_t n)
{
	static_assert(alignof(T) <= kMinAlign, "over-aligned type: kmalloc gives 8 bytes");
	static_assert(std::is_trivially_default_constructible_v<T>);
	if (n == 0 || n > ktl::numeric_limits<ktl::size_t>::max() / sizeof(T))
		return Errno::kNoMem;
	void *mem = cxxrt_alloc(n * sizeof(T), static_cast<unsigned int>(gfp));
	if (!mem)
		return Errno::kNoMem;
	return new (mem) T[n]();
}

/// Destroy and free an object from make().  nullptr is ignored.  Context: any.
template <typename T>
void destroy(T *p)
{
	if (!p)
		return;
	p->~T();
	cxxrt_free(p);
}

/// Free an array from make_array().  nullptr is ignored.  Context: any.
template <typename T>
void destroy_array(T *p)
{
	static_assert(ktl::is_trivially_destructible_v<T>);
	cxxrt_free(p);
}

} // namespace cxxrt
