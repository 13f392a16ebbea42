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

	/// raw_spinlock_t with IRQs off in the shim: a writer lock that is
	/// never preempted and that no interrupt on its CPU waits behind.
	class IrqLock {
	public:
		IrqLock() = default;
		IrqLock(const IrqLock &) = delete;
		IrqLock &operator=(const IrqLock &) = delete;
		~IrqLock() { cxxvm_plat_irqlock_destroy(l_); }
		[[nodiscard]] cxxrt::Result<void> init()
		{
			l_ = cxxvm_plat_irqlock_create();
			if (!l_)
				return cxxrt::Errno::kNoMem;
			return {};
		}
		void lock() { cxxvm_plat_irqlock_lock(l_); }
		void unlock() { cxxvm_plat_irqlock_unlock(l_); }

	private:
		struct cxxvm_plat_irqlock *l_ = nullptr;
	};

	/// struct completion in the shim (a pagemap's drain).
	class Completion {
	public:
		Completion() = default;
		Completion(const Completion &) = delete;
		Completion &operator=(const Completion &) = delete;
		~Completion() { cxxvm_plat_completion_destroy(c_); }
		[[nodiscard]] cxxrt::Result<void> init()
		{
			c_ = cxxvm_plat_completion_create();
			if (!c_)
				return cxxrt::Errno::kNoMem;
			return {};
		}
		void reinit() { cxxvm_plat_completion_reinit(c_); }
		void complete() { cxxvm_plat_completion_complete(c_); }
		/// May sleep.
		void wait() { cxxvm_plat_completion_wait(c_); }

	private:
		struct cxxvm_plat_completion *c_ = nullptr;
	};

	static ktl::uint64_t max_pfn_limit() { return cxxvm_plat_max_pfn_limit(); }
	/// cpu_relax(): PAUSE on x86, inline (a spin-wait hint).
	static void cpu_relax() { __builtin_ia32_pause(); }

	[[nodiscard]] static cxxrt::Result<void> va_reserve(ktl::uint32_t n, ktl::uintptr_t *va,
							     ktl::uintptr_t *ptes)
	{
		const int rc = cxxvm_plat_va_reserve(n, va, ptes);
		if (rc)
			return static_cast<cxxrt::Errno>(rc);
		return {};
	}
	static void va_release(VirtAddr va) { cxxvm_plat_va_release(va.value()); }
	/// PTE writes, inline, in the format the shim read off the kernel
	/// (struct cxxvm_pte_format): one relaxed 8-byte store per PTE, which is
	/// WRITE_ONCE() in native_set_pte().  Relaxed suffices: the stores are
	/// published by the lock release or return that follows, and the MMU
	/// reads them only after the access that needs them.
	static void ptes_set(const ktl::uintptr_t *ptes, const Pfn *pfns, ktl::uint32_t n)
	{
		const ktl::uint64_t mask = cxxvm_plat_pte_format.pfn_mask;
		const ktl::uint64_t prot = cxxvm_plat_pte_format.prot;
		for (ktl::uint32_t i = 0; i < n; ++i) {
			const ktl::uint64_t pte = ((pfns[i].value() << kPageShift) & mask) | prot;
			__atomic_store_n(reinterpret_cast<ktl::uint64_t *>(ptes[i]), pte, __ATOMIC_RELAXED);
		}
	}
	static void ptes_clear(const ktl::uintptr_t *ptes, ktl::uint32_t n)
	{
		for (ktl::uint32_t i = 0; i < n; ++i)
			__atomic_store_n(reinterpret_cast<ktl::uint64_t *>(ptes[i]), ktl::uint64_t{0},
					 __ATOMIC_RELAXED);
	}
	static void tlb_shootdown() { cxxvm_plat_tlb_shootdown(); }
	static ktl::uint32_t this_cpu() { return cxxvm_plat_this_cpu(); }
	static ktl::uint32_t nr_cpu_ids() { return cxxvm_plat_nr_cpu_ids(); }
	static int cpu_to_node(ktl::uint32_t cpu) { return cxxvm_plat_cpu_to_node(cpu); }
};

static_assert(Platform<KernelPlatform>);

} // namespace cxxvm
