// SPDX-License-Identifier: GPL-2.0
//
// KernelPlatform: the Platform concept over the shim's cxxvm_plat_*() calls.
#pragma once

#include "platform.h"
#include "../cxxvm_core.h"

namespace cxxvm {

/// Owns one object the shim creates and destroys (a completion):
/// init() creates it (-ENOMEM if the shim cannot), destruction destroys it.
template <typename H, H *(*Create)(), void (*Destroy)(H *)>
class ShimHandle {
public:
	ShimHandle() = default;
	ShimHandle(const ShimHandle &) = delete;
	ShimHandle &operator=(const ShimHandle &) = delete;
	~ShimHandle() { Destroy(h_); }
	[[nodiscard]] cxxrt::Result<void> init()
	{
		h_ = Create();
		if (!h_)
			return cxxrt::Errno::kNoMem;
		return {};
	}

protected:
	H *h_ = nullptr;
};

/// A lock in the shim: init(LockClass) creates it in its lockdep class;
/// lock() and unlock() are direct calls to @Acquire and @Release
/// (template arguments, so no indirection at run time).
template <typename H, H *(*Create)(ktl::uint32_t), void (*Destroy)(H *), void (*Acquire)(H *),
	  void (*Release)(H *)>
class CXXVM_CAPABILITY("mutex") ShimLock {
public:
	ShimLock() = default;
	ShimLock(const ShimLock &) = delete;
	ShimLock &operator=(const ShimLock &) = delete;
	~ShimLock() { Destroy(h_); }
	/// May sleep.  Errors: -ENOMEM.
	[[nodiscard]] cxxrt::Result<void> init(LockClass c)
	{
		h_ = Create(static_cast<ktl::uint32_t>(c));
		if (!h_)
			return cxxrt::Errno::kNoMem;
		return {};
	}
	void lock() CXXVM_ACQUIRE() { Acquire(h_); }
	void unlock() CXXVM_RELEASE() { Release(h_); }

protected:
	H *h_ = nullptr;
};

struct KernelPlatform {
	/// spinlock_t of the shim's, kept here (CXXVM_PLAT_LOCK_BYTES): a
	/// queue's lock then lies in the queue's page, and a map or unmap on
	/// a cold TLB touches one page fewer.  Process context only (never
	/// from IRQ).
	class CXXVM_CAPABILITY("mutex") SpinLock {
	public:
		SpinLock() = default;
		SpinLock(const SpinLock &) = delete;
		SpinLock &operator=(const SpinLock &) = delete;
		/// Never fails (a Result for the Lock concept).  Any context.
		[[nodiscard]] cxxrt::Result<void> init(LockClass c)
		{
			cxxvm_plat_lock_init(handle(), static_cast<ktl::uint32_t>(c));
			return {};
		}
		void lock() CXXVM_ACQUIRE() { cxxvm_plat_lock(handle()); }
		void unlock() CXXVM_RELEASE() { cxxvm_plat_unlock(handle()); }
		[[nodiscard]] bool try_lock() CXXVM_TRY_ACQUIRE(true)
		{
			return cxxvm_plat_trylock(handle());
		}

	private:
		struct cxxvm_plat_lock *handle()
		{
			return reinterpret_cast<struct cxxvm_plat_lock *>(storage_);
		}

		alignas(8) unsigned char storage_[CXXVM_PLAT_LOCK_BYTES];
	};

	/// struct work_struct on the system workqueue, in the shim.
	class Work {
	public:
		Work() = default;
		Work(const Work &) = delete;
		Work &operator=(const Work &) = delete;
		~Work() { cancel(); }
		/// May sleep.  Errors: -ENOMEM.
		[[nodiscard]] cxxrt::Result<void> init(void (*fn)(void *), void *ctx)
		{
			w_ = cxxvm_plat_work_create(fn, ctx);
			if (!w_)
				return cxxrt::Errno::kNoMem;
			return {};
		}
		/// schedule_work(): any context.
		void queue() { cxxvm_plat_work_queue(w_); }
		/// cancel_work_sync(), then free: may sleep.
		void cancel()
		{
			cxxvm_plat_work_destroy(w_);
			w_ = nullptr;
		}

	private:
		struct cxxvm_plat_work *w_ = nullptr;
	};

	/// struct mutex in the shim.  lock() may sleep; try_lock() does not.
	class Mutex : public ShimLock<struct cxxvm_plat_mutex, cxxvm_plat_mutex_create,
				      cxxvm_plat_mutex_destroy, cxxvm_plat_mutex_lock,
				      cxxvm_plat_mutex_unlock> {
	public:
		[[nodiscard]] bool try_lock() CXXVM_TRY_ACQUIRE(true)
		{
			return cxxvm_plat_mutex_trylock(this->h_);
		}
	};

	/// raw_spinlock_t with IRQs off in the shim: a writer lock that is
	/// never preempted and that no interrupt on its CPU waits behind.
	using IrqLock = ShimLock<struct cxxvm_plat_irqlock, cxxvm_plat_irqlock_create,
				 cxxvm_plat_irqlock_destroy, cxxvm_plat_irqlock_lock,
				 cxxvm_plat_irqlock_unlock>;

	/// struct completion in the shim (a pagemap's drain).
	class Completion : public ShimHandle<struct cxxvm_plat_completion,
					     cxxvm_plat_completion_create,
					     cxxvm_plat_completion_destroy> {
	public:
		void reinit() { cxxvm_plat_completion_reinit(h_); }
		void complete() { cxxvm_plat_completion_complete(h_); }
		/// May sleep.
		void wait() { cxxvm_plat_completion_wait(h_); }
	};

	static ktl::uint64_t max_pfn_limit() { return cxxvm_plat_max_pfn_limit(); }
	/// cpu_relax(): PAUSE on x86, inline (a spin-wait hint).
	static void cpu_relax() { __builtin_ia32_pause(); }

	[[nodiscard]] static cxxrt::Result<void> va_reserve(ktl::uint32_t n, ktl::uintptr_t *va,
							     cxxvm_pte_runs *runs)
	{
		const int rc = cxxvm_plat_va_reserve(n, va, runs);
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
	static void ptes_set(ktl::uintptr_t first, const Pfn *pfns, ktl::uint32_t n)
	{
		const ktl::uint64_t mask = cxxvm_plat_pte_format.pfn_mask;
		const ktl::uint64_t prot = cxxvm_plat_pte_format.prot;
		auto *ptes = reinterpret_cast<ktl::uint64_t *>(first);
		for (ktl::uint32_t i = 0; i < n; ++i) {
			const ktl::uint64_t pte = ((pfns[i].value() << kPageShift) & mask) | prot;
			__atomic_store_n(&ptes[i], pte, __ATOMIC_RELAXED);
		}
	}
	static void ptes_clear(ktl::uintptr_t first, ktl::uint32_t n)
	{
		auto *ptes = reinterpret_cast<ktl::uint64_t *>(first);
		for (ktl::uint32_t i = 0; i < n; ++i)
			__atomic_store_n(&ptes[i], ktl::uint64_t{0}, __ATOMIC_RELAXED);
	}
	static void tlb_shootdown() { cxxvm_plat_tlb_shootdown(); }
	static ktl::uint32_t this_cpu() { return cxxvm_plat_this_cpu(); }
	static ktl::uint32_t nr_cpu_ids() { return cxxvm_plat_nr_cpu_ids(); }
	static int cpu_to_node(ktl::uint32_t cpu) { return cxxvm_plat_cpu_to_node(cpu); }
	static ktl::uint64_t now_ns() { return cxxvm_plat_now_ns(); }
};

static_assert(Platform<KernelPlatform>);

} // namespace cxxvm
