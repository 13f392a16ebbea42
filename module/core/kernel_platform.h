// SPDX-License-Identifier: GPL-2.0
//
// KernelPlatform: the Platform concept over the shim's cxxvm_plat_*() calls.
#pragma once

#include "platform.h"
#include "../cxxvm_core.h"

namespace cxxvm {

struct KernelPlatform {
	/// spinlock_t in the shim.  Process context only (never from IRQ).
	class SpinLock {
	public:
		SpinLock() = default;
		SpinLock(const SpinLock &) = delete;
		SpinLock &operator=(const SpinLock &) = delete;
		~SpinLock() { cxxvm_plat_lock_destroy(l_); }
		[[nodiscard]] cxxrt::Result<void> init()
		{
			l_ = cxxvm_plat_lock_create();
			if (!l_)
				return cxxrt::Errno::kNoMem;
			return {};
		}
		void lock() { cxxvm_plat_lock(l_); }
		void unlock() { cxxvm_plat_unlock(l_); }

	private:
		struct cxxvm_plat_lock *l_ = nullptr;
	};

	/// struct mutex in the shim.  May sleep.
	class Mutex {
	public:
		Mutex() = default;
		Mutex(const Mutex &) = delete;
		Mutex &operator=(const Mutex &) = delete;
		~Mutex() { cxxvm_plat_mutex_destroy(m_); }
		[[nodiscard]] cxxrt::Result<void> init()
		{
			m_ = cxxvm_plat_mutex_create();
			if (!m_)
				return cxxrt::Errno::kNoMem;
			return {};
		}
		void lock() { cxxvm_plat_mutex_lock(m_); }
		void unlock() { cxxvm_plat_mutex_unlock(m_); }

	private:
		struct cxxvm_plat_mutex *m_ = nullptr;
	};

	[[nodiscard]] static cxxrt::Result<void> va_reserve(ktl::uint32_t n, ktl::uintptr_t *va,
							     ktl::uintptr_t *ptes)
	{
		const int rc = cxxvm_plat_va_reserve(n, va, ptes);
		if (rc)
			return static_cast<cxxrt::Errno>(rc);
		return {};
	}
	static void va_release(VirtAddr va) { cxxvm_plat_va_release(va.value()); }
	static void ptes_set(const ktl::uintptr_t *ptes, const Pfn *pfns, ktl::uint32_t n)
	{
		// Pfn is a u64 with no padding (static_assert in types.h).
		cxxvm_plat_ptes_set(ptes, reinterpret_cast<const ktl::uint64_t *>(pfns), n);
	}
	static void ptes_clear(const ktl::uintptr_t *ptes, ktl::uint32_t n)
	{
		cxxvm_plat_ptes_clear(ptes, n);
	}
	static void tlb_shootdown() { cxxvm_plat_tlb_shootdown(); }
	static ktl::uint32_t cpu_get() { return cxxvm_plat_cpu_get(); }
	static void cpu_put() { cxxvm_plat_cpu_put(); }
	static ktl::uint32_t nr_cpu_ids() { return cxxvm_plat_nr_cpu_ids(); }
	static int cpu_to_node(ktl::uint32_t cpu) { return cxxvm_plat_cpu_to_node(cpu); }
};

static_assert(Platform<KernelPlatform>);

} // namespace cxxvm
