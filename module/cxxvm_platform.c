// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_platform.c - the kernel services the C++ core asks for.
 *
 * Implements the cxxvm_plat_*() calls declared in cxxvm_core.h (cxxrt's
 * own are in cxxrt/cxxrt_kernel.c).  The C++ core includes no kernel
 * header: everything it needs from the kernel comes through here.
 *
 * VA blocks: a module cannot call get_vm_area() or vmap_pages_range() (not
 * exported), so a block is reserved with vmap() of one placeholder page
 * repeated, with PAGE_NONE: that allocates a vmap_area and populates every
 * page-table level, but no PTE is ever present, so no TLB can hold one and
 * the reservation needs no shootdown.  lookup_address() then gives each
 * page's PTE, which the core writes and clears itself.
 */
#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/numa.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/topology.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <asm/cpufeature.h>
#include <asm/invpcid.h>
#include <asm/pgtable.h>
#include <asm/sparsemem.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

#include "cxxvm_core.h"
#include "cxxvm_probes.h"
/* Last: CREATE_TRACE_POINTS stays defined. */
#define CREATE_TRACE_POINTS
#include "cxxvm_trace.h"
#include "cxxvm_platform.h"
#include <cxxrt/runtime.h>

static struct page *cxxvm_placeholder;
/*
 * vmap()'s pages for every block: CXXVM_BLOCK_PAGES pointers to the
 * placeholder, set by cxxvm_platform_init() and only read afterwards, so
 * that reserving a block allocates and fills no array of its own.
 */
static struct page *cxxvm_placeholders[CXXVM_BLOCK_PAGES] __ro_after_init;
struct cxxvm_pte_format cxxvm_plat_pte_format;

/*
 * The kernel TLB flush that a module may do on every kernel line.
 *
 * flush_tlb_kernel_range() and flush_tlb_all() have never been exported to
 * modules, and from 7.2 __flush_tlb_all() is exported to KVM's modules only
 * (EXPORT_SYMBOL_FOR_KVM in arch/x86/mm/tlb.c).  Where Module.symvers shows
 * it exported to everyone (6.1, 6.12), module/probes/probe.sh defines
 * CXXVM_HAVE_EXPORT___FLUSH_TLB_ALL and the kernel's own function runs.
 * Elsewhere cxxvm_flush_tlb_local() does what __flush_tlb_all() does
 * natively, with the same instructions:
 *
 *  - INVPCID: invpcid_flush_all(), every entry of every PCID, globals
 *    included (native_flush_tlb_global());
 *  - no INVPCID: toggle CR4.PGE and back with IRQs off
 *    (__native_tlb_flush_global()), which also drops every entry of every
 *    PCID.
 *
 * __flush_tlb_all() has a third branch, a CR3 reload when PGE is off.
 * x86-64 requires PGE (X86_REQUIRED_FEATURE_PGE) except in a PARAVIRT_XXL
 * kernel running as a Xen PV guest, which cxxvm_platform_init() refuses,
 * so that branch cannot be reached here and is not mirrored.
 *
 * Under PTI with PCID the kernel's vmalloc entries may sit in the TLB
 * under each of the kernel's ASIDs, and they are not global: only a flush
 * of every PCID is enough, and each of the three ways is one.
 *
 * What it does not do, and why that is safe:
 *  - paravirt: a PARAVIRT_XXL guest (Xen PV) may route flush_tlb_kernel
 *    through a hypercall; cxxvm_platform_init() refuses Xen PV, and every
 *    other x86 guest (KVM, Hyper-V, VMware, TDX, SEV) flushes the kernel
 *    natively, as here;
 *  - INVLPGB: AMD's broadcast flush is an optimisation of
 *    flush_tlb_kernel_range(); an IPI to every online CPU that each flushes
 *    locally is the path the kernel takes without it;
 *  - the CR4 shadow (cpu_tlbstate.cr4, not exported): CR4 is read from the
 *    register with IRQs off, and every CR4 writer in the kernel runs with
 *    IRQs off, so the value put back is the one in force.  Only PGE flips;
 *    a pinned bit (SMEP, SMAP, UMIP, FSGSBASE, CET) found changed after a
 *    write is restored at once, as native_write_cr4() does.
 */

/* The CR4 bits native_write_cr4() keeps set (cr4_pinned_mask). */
#define CXXVM_CR4_PINNED_MASK	(X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_UMIP | \
				 X86_CR4_FSGSBASE | X86_CR4_CET)
static unsigned long cxxvm_cr4_pinned __ro_after_init;
static enum cxxvm_tlb_flush cxxvm_tlb_flush_how __ro_after_init;

/*
 * Mirrors native_write_cr4() (not exported): a pinned bit found changed
 * after the write is put back at once, so that a jump into this
 * instruction cannot turn SMEP or SMAP off.
 */
static inline void cxxvm_write_cr4(unsigned long val)
{
	unsigned long bits_changed = 0;

again:
	asm volatile("mov %0,%%cr4" : "+r" (val) : : "memory");
	if (unlikely((val & CXXVM_CR4_PINNED_MASK) != cxxvm_cr4_pinned)) {
		bits_changed = (val & CXXVM_CR4_PINNED_MASK) ^ cxxvm_cr4_pinned;
		val = (val & ~CXXVM_CR4_PINNED_MASK) | cxxvm_cr4_pinned;
		goto again;
	}
	WARN_ONCE(bits_changed, "cxxvm: pinned CR4 bits changed: 0x%lx\n", bits_changed);
}

/**
 * cxxvm_plat_tlb_flush_usable() - can this kernel and CPU flush that way?
 * @how: an enum cxxvm_tlb_flush
 *
 * Return: true if cxxvm_plat_tlb_shootdown_with(@how) would flush every
 * kernel TLB entry of every PCID here.  Context: any.
 */
bool cxxvm_plat_tlb_flush_usable(enum cxxvm_tlb_flush how)
{
	switch (how) {
	case CXXVM_TLB_FLUSH_KERNEL:
#ifdef CXXVM_HAVE_EXPORT___FLUSH_TLB_ALL
		return true;
#else
		return false;
#endif
	case CXXVM_TLB_FLUSH_INVPCID:
		return cpu_feature_enabled(X86_FEATURE_PGE) &&
		       cpu_feature_enabled(X86_FEATURE_INVPCID);
	case CXXVM_TLB_FLUSH_CR4_PGE:
		return cpu_feature_enabled(X86_FEATURE_PGE);
	}
	return false;
}

/* One CPU's flush of every kernel TLB entry of every PCID; IRQs off. */
static void cxxvm_flush_tlb_local(void *arg)
{
	enum cxxvm_tlb_flush how = (enum cxxvm_tlb_flush)(uintptr_t)arg;
	unsigned long flags, cr4;

	lockdep_assert_irqs_disabled();
	switch (how) {
	case CXXVM_TLB_FLUSH_KERNEL:
#ifdef CXXVM_HAVE_EXPORT___FLUSH_TLB_ALL
		__flush_tlb_all();
#endif
		break;
	case CXXVM_TLB_FLUSH_INVPCID:
		invpcid_flush_all();
		break;
	case CXXVM_TLB_FLUSH_CR4_PGE:
		/* __native_tlb_flush_global(), with CR4 read from the register. */
		raw_local_irq_save(flags);
		cr4 = native_read_cr4();
		cxxvm_write_cr4(cr4 ^ X86_CR4_PGE);
		cxxvm_write_cr4(cr4);
		raw_local_irq_restore(flags);
		break;
	}
}

/**
 * cxxvm_plat_tlb_flush() - how this build flushes kernel TLB entries.
 *
 * Chosen once at load, in __flush_tlb_all()'s order: the kernel's own
 * function where Module.symvers exports it to every module, else INVPCID,
 * else the CR4.PGE toggle.
 *
 * Return: the enum cxxvm_tlb_flush in use.  Context: any.
 */
enum cxxvm_tlb_flush cxxvm_plat_tlb_flush(void)
{
	return cxxvm_tlb_flush_how;
}

/**
 * cxxvm_plat_tlb_flush_method() - cxxvm_plat_tlb_flush() as a name.
 * @how: an enum cxxvm_tlb_flush
 *
 * Return: a static string: "__flush_tlb_all", "invpcid", "cr4.pge" or "?".
 * Context: any.
 */
const char *cxxvm_plat_tlb_flush_method(enum cxxvm_tlb_flush how)
{
	switch (how) {
	case CXXVM_TLB_FLUSH_KERNEL:
		return "__flush_tlb_all";
	case CXXVM_TLB_FLUSH_INVPCID:
		return "invpcid";
	case CXXVM_TLB_FLUSH_CR4_PGE:
		return "cr4.pge";
	}
	return "?";
}

/* Return: 0, or -EOPNOTSUPP if this CPU offers none of the flushes. */
static int cxxvm_tlb_flush_init(void)
{
	static const enum cxxvm_tlb_flush order[] = {
		CXXVM_TLB_FLUSH_KERNEL, CXXVM_TLB_FLUSH_INVPCID,
		CXXVM_TLB_FLUSH_CR4_PGE,
	};
	unsigned int i;

	cxxvm_cr4_pinned = native_read_cr4() & CXXVM_CR4_PINNED_MASK;
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		if (cxxvm_plat_tlb_flush_usable(order[i])) {
			cxxvm_tlb_flush_how = order[i];
			return 0;
		}
	}
	pr_err("cxxvm: no PGE and no exported __flush_tlb_all(): no way to flush the kernel's TLB\n");
	return -EOPNOTSUPP;
}

/*
 * One shootdown at a time (the module's and the takeover's arenas may both
 * purge): the CPUs it sends to, how many have yet to flush, and the
 * completion the last of them signals.
 */
static DEFINE_MUTEX(cxxvm_shootdown_lock);
#define CXXVM_SHOOTDOWN_WARN_S	10	/* report a CPU that has not flushed */
static struct cpumask cxxvm_shootdown_cpus;
static atomic_t cxxvm_shootdown_pending;
static DECLARE_COMPLETION(cxxvm_shootdown_done);

/* The IPI: flush here; the last CPU to do so wakes the sender. */
static void cxxvm_flush_tlb_ack(void *arg)
{
	cxxvm_flush_tlb_local(arg);
	if (atomic_dec_and_test(&cxxvm_shootdown_pending))
		complete(&cxxvm_shootdown_done);
}

/*
 * Every online CPU flushes the way @how says; when this returns no CPU
 * holds a translation that was cleared before the call.  The IPIs are
 * sent without waiting (smp_call_function_many(), wait=false) and the
 * sender sleeps until the last CPU has flushed, where on_each_cpu(),
 * which flush_tlb_kernel_range() uses, spins: in a guest whose vCPUs
 * outnumber the host's CPUs, a vCPU the host has descheduled answers
 * only when it runs again (milliseconds), and a spinning sender takes
 * that long from the task that shares its vCPU (measured, 7.2, 4 vCPUs
 * on 2 CPUs: the purge worker's shootdowns took 5 to 16% of the bench
 * threads' time).  The CPUs are those online with preemption off, which
 * holds off their removal (stop_machine()); a CPU coming online meanwhile
 * is left out, as on_each_cpu() leaves it out (a CPU going offline runs
 * its pending IPIs in smpcfd_dying_cpu()).  No cpus_read_lock(): the vmap
 * purge notifier may purge from under a CPU's bring-up.  A CPU that has
 * not answered after CXXVM_SHOOTDOWN_WARN_S is reported, and waited for:
 * the round never ends before every CPU flushed, or a late handler would
 * count down the next one.  CSD_LOCK_WAIT_DEBUG does not watch async
 * calls.
 */
static void cxxvm_tlb_shootdown_how(enum cxxvm_tlb_flush how)
{
	void *arg = (void *)(uintptr_t)how;
	unsigned int others, i;
	int cpu;

	might_sleep();
	lockdep_assert_irqs_enabled();
	mutex_lock(&cxxvm_shootdown_lock);
	reinit_completion(&cxxvm_shootdown_done);
	cpu = get_cpu();
	cpumask_copy(&cxxvm_shootdown_cpus, cpu_online_mask);
	__cpumask_clear_cpu(cpu, &cxxvm_shootdown_cpus);
	others = cpumask_weight(&cxxvm_shootdown_cpus);
	atomic_set(&cxxvm_shootdown_pending, others);
	if (others)
		smp_call_function_many(&cxxvm_shootdown_cpus, cxxvm_flush_tlb_ack, arg, false);
	local_irq_disable();
	cxxvm_flush_tlb_local(arg);
	local_irq_enable();
	put_cpu();
	/* CPUs that are running answer within microseconds: no sleep then. */
	for (i = 0; i < 256 && atomic_read(&cxxvm_shootdown_pending); i++)
		cpu_relax();
	while (others && !wait_for_completion_timeout(&cxxvm_shootdown_done,
						      CXXVM_SHOOTDOWN_WARN_S * HZ))
		pr_warn_once("cxxvm: TLB shootdown: %d CPUs have not flushed after %d s\n",
			     atomic_read(&cxxvm_shootdown_pending), CXXVM_SHOOTDOWN_WARN_S);
	mutex_unlock(&cxxvm_shootdown_lock);
}

/**
 * cxxvm_plat_tlb_shootdown_with() - cxxvm_plat_tlb_shootdown(), one way.
 * @how: the enum cxxvm_tlb_flush every CPU is to use
 *
 * For KUnit, which checks each way this CPU supports (CXXVM_KUNIT builds
 * only export it).
 * Context: process context with IRQs enabled; may sleep.
 * Return: 0, or -EOPNOTSUPP when this kernel or CPU cannot flush that way.
 */
int cxxvm_plat_tlb_shootdown_with(enum cxxvm_tlb_flush how)
{
	if (!cxxvm_plat_tlb_flush_usable(how))
		return -EOPNOTSUPP;
	cxxvm_tlb_shootdown_how(how);
	return 0;
}

void cxxvm_plat_tlb_shootdown(void)
{
	u64 t0;

	if (!trace_cxxvm_purge_enabled()) {
		cxxvm_tlb_shootdown_how(cxxvm_tlb_flush_how);
		return;
	}
	t0 = ktime_get_ns();
	cxxvm_tlb_shootdown_how(cxxvm_tlb_flush_how);
	trace_cxxvm_purge(ktime_get_ns() - t0);
}

/**
 * cxxvm_platform_init() - allocate the placeholder page blocks are made of,
 * and the array of pointers to it that vmap() maps for every block.
 *
 * Context: process context, may sleep.
 * Return: 0, -ENOMEM, or -EOPNOTSUPP in a Xen PV guest or on a CPU
 * without PGE (only Xen PV has one on x86-64).
 */
int cxxvm_platform_init(void)
{
	unsigned int i;
	int ret;

	if (cpu_feature_enabled(X86_FEATURE_XENPV)) {
		pr_err("cxxvm: Xen PV page tables need hypercalls; not supported\n");
		return -EOPNOTSUPP;
	}
	ret = cxxvm_tlb_flush_init();
	if (ret)
		return ret;
	cxxvm_plat_pte_format.pfn_mask = PTE_PFN_MASK;
	cxxvm_plat_pte_format.prot = pte_val(pfn_pte(0, PAGE_KERNEL));
	cxxvm_placeholder = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!cxxvm_placeholder)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(cxxvm_placeholders); i++)
		cxxvm_placeholders[i] = cxxvm_placeholder;
	return 0;
}

/**
 * cxxvm_platform_exit() - free the placeholder page.
 *
 * Every block must have been released.  Context: process context.
 */
void cxxvm_platform_exit(void)
{
	__free_page(cxxvm_placeholder);
	cxxvm_placeholder = NULL;
}

/*
 * PTEs are written with native stores, without a paravirt call per PTE
 * (cxxvm_platform_init() refuses Xen PV, the one x86 guest type whose page
 * tables need hypercalls); the core does the same (struct
 * cxxvm_pte_format).  native_pte_clear() ignores its mm and address
 * (init_mm is not exported).
 */
static inline void cxxvm_pte_clear(pte_t *ptep)
{
	native_pte_clear(NULL, 0, ptep);
}

/* The PTE of page @i of a block whose PTEs are @runs. */
static pte_t *cxxvm_run_pte(const struct cxxvm_pte_runs *runs, u32 i)
{
	if (i < runs->split)
		return (pte_t *)runs->first[0] + i;
	return (pte_t *)runs->first[1] + (i - runs->split);
}

/* The PTE of @a, a 4 KiB page of a fresh vmap(), or NULL (with a WARN). */
static pte_t *cxxvm_lookup_pte(unsigned long a)
{
	unsigned int level;
	pte_t *ptep = lookup_address(a, &level);

	/* vmap() of VM_MAP pages never maps huge: a kernel we do not know. */
	if (WARN_ON_ONCE(!ptep || level != PG_LEVEL_4K))
		return NULL;
	return ptep;
}

int cxxvm_plat_va_reserve(u32 nr_pages, uintptr_t *va_start,
			  struct cxxvm_pte_runs *runs)
{
	unsigned long va;
	void *addr;
	u32 i;

	might_sleep();
	/* Two runs cover it only if it spans at most one PMD boundary. */
	static_assert(CXXVM_BLOCK_PAGES <= PTRS_PER_PTE);
	static_assert(sizeof(pte_t) == sizeof(u64));
	if (WARN_ON_ONCE(!nr_pages || nr_pages > CXXVM_BLOCK_PAGES))
		return -EINVAL;
	/*
	 * VM_MAP without VM_MAP_PUT_PAGES: vmap() keeps no pointer to the
	 * array, only reads it.  PAGE_NONE: the PTEs are not present (x86
	 * caches no translation whose P bit is clear), and the vmap_area is
	 * fresh (vmalloc reuses lazily freed VA only after its flush), so
	 * nothing of this VA can be in a TLB.
	 */
	addr = vmap(cxxvm_placeholders, nr_pages, VM_MAP, PAGE_NONE);
	if (!addr)
		return -ENOMEM;

	va = (unsigned long)addr;
	/*
	 * One page-table page covers a PMD: the PTEs run on in address
	 * order up to the next PMD boundary, and start again in another
	 * page there.
	 */
	runs->split = min_t(u32, nr_pages, (PMD_SIZE - (va & ~PMD_MASK)) >> PAGE_SHIFT);
	runs->first[0] = (uintptr_t)cxxvm_lookup_pte(va);
	runs->first[1] = 0;
	if (runs->split < nr_pages)
		runs->first[1] = (uintptr_t)cxxvm_lookup_pte(va + runs->split * PAGE_SIZE);
	if (!runs->first[0] || (runs->split < nr_pages && !runs->first[1])) {
		vunmap(addr);
		return -ENOMEM;
	}
	/* Each run's last PTE where the page tables say: the runs hold. */
	if (WARN_ON_ONCE(cxxvm_lookup_pte(va + (runs->split - 1) * PAGE_SIZE) !=
			 cxxvm_run_pte(runs, runs->split - 1) ||
			 cxxvm_lookup_pte(va + (nr_pages - 1) * PAGE_SIZE) !=
			 cxxvm_run_pte(runs, nr_pages - 1))) {
		vunmap(addr);
		return -ENOMEM;
	}
	for (i = 0; i < nr_pages; i++) {
		pte_t *ptep = cxxvm_run_pte(runs, i);

		/*
		 * The P bit clear: vmap() wrote PAGE_NONE (which pte_present()
		 * calls present, for PROT_NONE user pages), and nothing since.
		 */
		if (WARN_ON_ONCE(pte_flags(*ptep) & _PAGE_PRESENT)) {
			vunmap(addr);
			/* A TLB may hold the placeholder: flush before it is freed. */
			vm_unmap_aliases();
			return -ENOMEM;
		}
		cxxvm_pte_clear(ptep);
	}
	*va_start = va;
	trace_cxxvm_block_new(va, nr_pages);
	return 0;
}

void cxxvm_plat_va_release(uintptr_t va_start)
{
	might_sleep();
	trace_cxxvm_block_free(va_start);
	vunmap((void *)va_start);
}

u32 cxxvm_plat_this_cpu(void)
{
	return raw_smp_processor_id();
}

u32 cxxvm_plat_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

int cxxvm_plat_cpu_to_node(u32 cpu)
{
	return cpu < nr_cpu_ids && cpu_possible(cpu) ? cpu_to_node(cpu) : NUMA_NO_NODE;
}

/*
 * A queue's slots, the index or the spares.  The core keeps each one in
 * the object it protects (CXXVM_PLAT_LOCK_BYTES); in KUnit builds
 * cxxvm_plat_lock_create() allocates one for the lock tests.
 */
struct cxxvm_plat_lock {
	spinlock_t lock;
};

static_assert(sizeof(struct cxxvm_plat_lock) <= CXXVM_PLAT_LOCK_BYTES);
static_assert(__alignof__(struct cxxvm_plat_lock) <= 8);

/*
 * One lockdep class per CXXVM_LOCK_* role and lock kind: every lock is
 * initialised here, at one call site, which without these keys would put
 * all locks of a kind in one class (a legal nesting reported as recursion,
 * and the order between roles unchecked).  A key per kind as well, so that
 * a role given to a lock of another kind (CXXVM_LOCK_TEST is given to all
 * three) never puts a spinlock and a mutex in one class.
 */
static struct lock_class_key cxxvm_lock_keys[CXXVM_LOCK_NR_CLASSES];
static struct lock_class_key cxxvm_mutex_keys[CXXVM_LOCK_NR_CLASSES];
static struct lock_class_key cxxvm_irqlock_keys[CXXVM_LOCK_NR_CLASSES];
static const char *const cxxvm_lock_names[CXXVM_LOCK_NR_CLASSES] = {
	[CXXVM_LOCK_ARENA_PURGE] = "cxxvm_arena.purge_mutex",
	[CXXVM_LOCK_ARENA_QUEUE] = "cxxvm_arena.queue_lock",
	[CXXVM_LOCK_ARENA_INDEX] = "cxxvm_arena.index_lock",
	[CXXVM_LOCK_ARENA_SPARES] = "cxxvm_arena.spares_lock",
	[CXXVM_LOCK_TRACKER_MUTEX] = "cxxvm_tracker.mutex",
	[CXXVM_LOCK_TRACKER_WRITER] = "cxxvm_tracker.writer_lock",
	[CXXVM_LOCK_TEST] = "cxxvm_test.lock",
};

/* A role out of range, or one without a name here, gets CXXVM_LOCK_TEST's. */
static u32 cxxvm_lock_class(u32 lock_class)
{
	if (WARN_ON_ONCE(lock_class >= CXXVM_LOCK_NR_CLASSES ||
			 !cxxvm_lock_names[lock_class]))
		return CXXVM_LOCK_TEST;
	return lock_class;
}

void cxxvm_plat_lock_init(struct cxxvm_plat_lock *l, u32 lock_class)
{
	u32 c = cxxvm_lock_class(lock_class);

	spin_lock_init(&l->lock);
	lockdep_set_class_and_name(&l->lock, &cxxvm_lock_keys[c], cxxvm_lock_names[c]);
}

#ifdef CXXVM_KUNIT
/*
 * For KUnit's lock tests only: the core keeps its spinlocks inline
 * (cxxvm_plat_lock_init()).  From cxxrt_alloc() too, so KUnit can fail
 * each allocation.
 */
struct cxxvm_plat_lock *cxxvm_plat_lock_create(u32 lock_class)
{
	struct cxxvm_plat_lock *l;

	might_sleep();
	l = cxxrt_alloc(sizeof(*l), CXXRT_GFP_KERNEL);
	if (l)
		cxxvm_plat_lock_init(l, lock_class);
	return l;
}

void cxxvm_plat_lock_destroy(struct cxxvm_plat_lock *l)
{
	kfree(l);
}
#endif

void cxxvm_plat_lock(struct cxxvm_plat_lock *l)
{
	spin_lock(&l->lock);
}

void cxxvm_plat_unlock(struct cxxvm_plat_lock *l)
{
	spin_unlock(&l->lock);
}

bool cxxvm_plat_trylock(struct cxxvm_plat_lock *l)
{
	return spin_trylock(&l->lock);
}

u64 cxxvm_plat_now_ns(void)
{
	return ktime_get_ns();
}

/*
 * The C++ arena's purge worker: a work item on the system workqueue, as
 * drain_vmap_work is in mm/vmalloc.c.
 */
struct cxxvm_plat_work {
	struct work_struct work;
	void (*fn)(void *ctx);
	void *ctx;
};

static void cxxvm_plat_work_fn(struct work_struct *work)
{
	struct cxxvm_plat_work *w = container_of(work, struct cxxvm_plat_work, work);

	w->fn(w->ctx);
}

struct cxxvm_plat_work *cxxvm_plat_work_create(void (*fn)(void *ctx), void *ctx)
{
	struct cxxvm_plat_work *w;

	might_sleep();
	w = cxxrt_alloc(sizeof(*w), CXXRT_GFP_KERNEL);
	if (w) {
		INIT_WORK(&w->work, cxxvm_plat_work_fn);
		w->fn = fn;
		w->ctx = ctx;
	}
	return w;
}

void cxxvm_plat_work_queue(struct cxxvm_plat_work *w)
{
	/* A queue after cancel (destroy) is a bug in the core. */
	if (WARN_ON_ONCE(!w))
		return;
	schedule_work(&w->work);
}

void cxxvm_plat_work_destroy(struct cxxvm_plat_work *w)
{
	might_sleep();
	if (w)
		cancel_work_sync(&w->work);
	kfree(w);
}

struct cxxvm_plat_mutex {
	struct mutex mutex;	/* the arena's purges, the tracker's updates */
};

struct cxxvm_plat_mutex *cxxvm_plat_mutex_create(u32 lock_class)
{
	struct cxxvm_plat_mutex *m;
	u32 c = cxxvm_lock_class(lock_class);

	might_sleep();
	m = cxxrt_alloc(sizeof(*m), CXXRT_GFP_KERNEL);
	if (m) {
		mutex_init(&m->mutex);
		lockdep_set_class_and_name(&m->mutex, &cxxvm_mutex_keys[c], cxxvm_lock_names[c]);
	}
	return m;
}

void cxxvm_plat_mutex_destroy(struct cxxvm_plat_mutex *m)
{
	if (m)
		mutex_destroy(&m->mutex);
	kfree(m);
}

void cxxvm_plat_mutex_lock(struct cxxvm_plat_mutex *m)
{
	mutex_lock(&m->mutex);
}

void cxxvm_plat_mutex_unlock(struct cxxvm_plat_mutex *m)
{
	mutex_unlock(&m->mutex);
}

bool cxxvm_plat_mutex_trylock(struct cxxvm_plat_mutex *m)
{
	return mutex_trylock(&m->mutex);
}

/*
 * A raw spinlock taken with interrupts off: the pagemap tracker's writer
 * lock.  Raw, so that a writer is never preempted (not even on PREEMPT_RT)
 * while readers spin on its sequence count; IRQs off, so that a lookup from
 * an interrupt cannot spin on the CPU whose writer it interrupted.
 */
struct cxxvm_plat_irqlock {
	raw_spinlock_t lock;	/* the tracker's range array */
	unsigned long flags;	/* saved by the holder */
};

struct cxxvm_plat_irqlock *cxxvm_plat_irqlock_create(u32 lock_class)
{
	struct cxxvm_plat_irqlock *l;
	u32 c = cxxvm_lock_class(lock_class);

	might_sleep();
	l = cxxrt_alloc(sizeof(*l), CXXRT_GFP_KERNEL);
	if (l) {
		raw_spin_lock_init(&l->lock);
		lockdep_set_class_and_name(&l->lock, &cxxvm_irqlock_keys[c], cxxvm_lock_names[c]);
	}
	return l;
}

void cxxvm_plat_irqlock_destroy(struct cxxvm_plat_irqlock *l)
{
	kfree(l);
}

void cxxvm_plat_irqlock_lock(struct cxxvm_plat_irqlock *l)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&l->lock, flags);
	l->flags = flags;
}

void cxxvm_plat_irqlock_unlock(struct cxxvm_plat_irqlock *l)
{
	raw_spin_unlock_irqrestore(&l->lock, l->flags);
}

struct cxxvm_plat_completion {
	struct completion done;	/* a C++ pagemap's drain */
};

struct cxxvm_plat_completion *cxxvm_plat_completion_create(void)
{
	struct cxxvm_plat_completion *c;

	might_sleep();
	c = cxxrt_alloc(sizeof(*c), CXXRT_GFP_KERNEL);
	if (c)
		init_completion(&c->done);
	return c;
}

void cxxvm_plat_completion_destroy(struct cxxvm_plat_completion *c)
{
	kfree(c);
}

void cxxvm_plat_completion_reinit(struct cxxvm_plat_completion *c)
{
	reinit_completion(&c->done);
}

void cxxvm_plat_completion_complete(struct cxxvm_plat_completion *c)
{
	complete_all(&c->done);
}

void cxxvm_plat_completion_wait(struct cxxvm_plat_completion *c)
{
	might_sleep();
	wait_for_completion(&c->done);
}

uint64_t cxxvm_plat_max_pfn_limit(void)
{
	return 1ULL << (MAX_PHYSMEM_BITS - PAGE_SHIFT);
}
