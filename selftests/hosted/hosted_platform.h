// SPDX-License-Identifier: GPL-2.0
//
// HostedPlatform: the core's Platform (module/core/platform.h) in a normal
// process, standing in for the shim, so that the unchanged core runs under
// googletest, ASan, UBSan and TSan.  Threads stand in for CPUs.
//
// It simulates an MMU closely enough to catch the bugs that matter:
//  - page tables: a block is an array of PTEs (pfn << 12 | present), one per
//    page of made-up kernel VA; ptes_set() over a present PTE is a wrong
//    mapping and is counted as a violation;
//  - TLBs: each thread has one, filled by translate() and emptied only by a
//    tlb_shootdown() (lazily, by generation).  A slot reused before the
//    shootdown that covers its old mapping therefore translates to the old
//    pfn on a thread that touched it, which the tests check for.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/pagemap_tracker.h"
#include "core/platform.h"

namespace cxxvm::hosted {

class HostedPlatform {
public:
	/// A lock of the kinds the core asks for (spinlock, mutex, raw IRQ
	/// lock): all std::mutex here, which TSan understands.
	class CXXVM_CAPABILITY("mutex") Lock {
	public:
		[[nodiscard]] cxxrt::Result<void> init(LockClass)
		{
			return fail_init() ? cxxrt::Errno::kNoMem : cxxrt::Result<void>();
		}
		void lock() CXXVM_ACQUIRE() { m_.lock(); }
		void unlock() CXXVM_RELEASE() { m_.unlock(); }
		[[nodiscard]] bool try_lock() CXXVM_TRY_ACQUIRE(true) { return m_.try_lock(); }

	private:
		std::mutex m_;
	};
	using SpinLock = Lock;
	using Mutex = Lock;
	using IrqLock = Lock;

	/// struct completion.
	class Completion {
	public:
		[[nodiscard]] cxxrt::Result<void> init() { return fail_init() ? cxxrt::Errno::kNoMem : cxxrt::Result<void>(); }
		void reinit()
		{
			std::lock_guard<std::mutex> g(m_);
			done_ = false;
		}
		void complete()
		{
			std::lock_guard<std::mutex> g(m_);
			done_ = true;
			cv_.notify_all();
		}
		void wait()
		{
			std::unique_lock<std::mutex> g(m_);
			cv_.wait(g, [this] { return done_; });
		}

	private:
		std::mutex m_;
		std::condition_variable cv_;
		bool done_ = false;
	};

	/// A work item: a thread of its own that runs fn(ctx) once per batch of
	/// queue() calls, as schedule_work() does (a queue() while queued adds
	/// nothing; one while running queues another run).  pause_work() holds
	/// every work item back, to model a worker the scheduler has not run.
	class Work {
	public:
		Work() = default;
		Work(const Work &) = delete;
		Work &operator=(const Work &) = delete;
		~Work() { cancel(); }
		[[nodiscard]] cxxrt::Result<void> init(void (*fn)(void *), void *ctx)
		{
			if (fail_init())
				return cxxrt::Errno::kNoMem;
			fn_ = fn;
			ctx_ = ctx;
			thread_ = std::thread([this] { run(); });
			return {};
		}
		void queue()
		{
			std::lock_guard<std::mutex> g(m_);
			pending_ = true;
			cv_.notify_all();
		}
		void cancel()
		{
			{
				std::lock_guard<std::mutex> g(m_);
				stop_ = true;
				cv_.notify_all();
			}
			if (thread_.joinable())
				thread_.join();
		}

	private:
		void run()
		{
			std::unique_lock<std::mutex> g(m_);
			for (;;) {
				cv_.wait_for(g, std::chrono::milliseconds(1), [this] {
					return stop_ || (pending_ && !work_paused_.load());
				});
				if (stop_)
					return;
				if (!pending_ || work_paused_.load())
					continue;
				pending_ = false;
				g.unlock();
				fn_(ctx_);
				work_runs_.fetch_add(1);
				g.lock();
			}
		}

		void (*fn_)(void *) = nullptr;
		void *ctx_ = nullptr;
		std::mutex m_;
		std::condition_variable cv_;
		bool pending_ = false;
		bool stop_ = false;
		std::thread thread_;
	};

	/// Made-up kernel VA for a block of @n pages, with @n PTEs in two
	/// runs where the block crosses a made-up PMD boundary (every 512
	/// pages of VA), as the kernel's page tables have them; between the
	/// runs lie PTEs of no page, which a write to is a violation.
	/// Errors: -ENOMEM when fault injection says so.
	[[nodiscard]] static cxxrt::Result<void> va_reserve(ktl::uint32_t n, ktl::uintptr_t *va,
							     cxxvm_pte_runs *runs);
	static void va_release(VirtAddr va);
	static void ptes_set(ktl::uintptr_t first, const Pfn *pfns, ktl::uint32_t n);
	static void ptes_clear(ktl::uintptr_t first, ktl::uint32_t n);
	static void tlb_shootdown();
	static ktl::uint32_t this_cpu() { return cpu_; }
	static ktl::uint32_t nr_cpu_ids() { return nr_cpus_; }
	static int cpu_to_node(ktl::uint32_t) { return -1; }
	static ktl::uint64_t max_pfn_limit() { return ktl::uint64_t{1} << 34; }
	static void cpu_relax() {}
	static ktl::uint64_t now_ns()
	{
		return static_cast<ktl::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
			std::chrono::steady_clock::now().time_since_epoch()).count());
	}

	// ---- for the tests ------------------------------------------------

	/// Make the calling thread "CPU" @cpu (below nr_cpu_ids()).
	static void set_cpu(ktl::uint32_t cpu) { cpu_ = cpu; }
	/// CPUs the next arena is created for.
	static void set_nr_cpus(ktl::uint32_t n) { nr_cpus_ = n; }

	/// What an access to @va on this thread reaches: its TLB entry if it
	/// has one (possibly stale), else the PTE (then cached).  nullopt for a
	/// page fault.
	static ktl::optional<Pfn> translate(VirtAddr va);
	/// The PTE's pfn for @va, bypassing the TLB; nullopt if clear.
	static ktl::optional<Pfn> walk(VirtAddr va);

	static ktl::uint64_t shootdowns() { return shootdowns_.load(); }
	/// Hold every Work back (true) or let it run (false).
	static void pause_work(bool paused) { work_paused_ = paused; }
	/// Make every tlb_shootdown() wait (true) until released (false).
	static void hold_shootdowns(bool held);
	/// tlb_shootdown() calls waiting in hold_shootdowns() now.
	static int shootdowns_held() { return shootdowns_waiting_.load(); }
	/// Runs of any Work's fn so far.
	static ktl::uint64_t work_runs() { return work_runs_.load(); }
	/// ptes_set() over a present PTE, ptes_clear() of a clear one, a
	/// release of a block with a present PTE, a PTE outside any block.
	static ktl::uint64_t violations() { return violations_.load(); }
	static ktl::uint64_t blocks_reserved() { return blocks_.load(); }
	/// Fail the @n-th next va_reserve() or lock/completion init (1 = next).
	static void fail_nth_init(int n) { fail_countdown_ = n; }
	static void reset_counters()
	{
		violations_ = 0;
		shootdowns_ = 0;
	}

private:
	static bool fail_init() { return fail_countdown_ > 0 && --fail_countdown_ == 0; }

	static thread_local ktl::uint32_t cpu_;
	static inline ktl::uint32_t nr_cpus_ = 4;
	static inline std::atomic<ktl::uint64_t> shootdowns_{0};
	static inline std::atomic<ktl::uint64_t> violations_{0};
	static inline std::atomic<ktl::uint64_t> blocks_{0};
	static inline std::atomic<int> fail_countdown_{0};
	static inline std::atomic<bool> work_paused_{false};
	static inline std::atomic<int> shootdowns_waiting_{0};
	static inline std::atomic<ktl::uint64_t> work_runs_{0};
};

static_assert(Platform<HostedPlatform>);
static_assert(PagemapPlatform<HostedPlatform>);

/// cxxrt_alloc() fault injection of the hosted runtime (hosted_runtime.cpp):
/// fail the @n-th next allocation (1 = next, 0 = off).
void fail_nth_alloc(int n);
/// cxxrt_warn() calls so far (each also printed to stderr, unless quiet).
ktl::uint64_t warnings();
/// Count cxxrt_warn() calls without printing them (a test that makes
/// thousands on purpose).
void quiet_warnings(bool quiet);

} // namespace cxxvm::hosted
