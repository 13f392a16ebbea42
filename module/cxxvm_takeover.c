// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_takeover.c - the kernel's own vm_map_ram() callers, served by the
 * C++ arena.
 *
 * An ftrace hook on vm_map_ram(), vm_unmap_ram() and vm_unmap_aliases()
 * moves the instruction pointer to a wrapper of the same prototype
 * (FTRACE_OPS_FL_IPMODIFY, the mechanism livepatch uses).  The kernel's
 * call sites stay untouched.  Modes, set with the takeover= module
 * parameter at load or in /sys/module/cxxvm/parameters/takeover at any
 * time:
 *
 *   off      nothing redirected; or, while mappings made in on or split are still
 *            live, only vm_unmap_ram() and vm_unmap_aliases(), until the
 *            last of them is unmapped;
 *   observe  every wrapper calls the kernel's own function: calls, pages
 *            and ns are counted, nothing else changes;
 *   on       vm_map_ram() of 1..CXXVM_MAX_PAGES pages maps through the
 *            takeover arena; anything the arena cannot serve (more pages,
 *            no VA left) goes to the kernel's function;
 *   split    as on for a random half of the vm_map_ram() calls, as
 *            observe for the rest: both allocators serve one run of a
 *            workload, interleaved, and the trace events' by= tells
 *            their calls apart, so that per-call costs compare in the
 *            same conditions rather than across runs.
 *
 * Every mode but off pays the same hook: a timed wrapper they share.
 *
 * takeover_warm (a measurement knob, off by default): before each call
 * it times, a wrapper maps and unmaps one page of the call, untimed,
 * through the allocator that serves the call, so that the timed call
 * finds that allocator's code and data warm (see cxxvm_warm()).
 *
 * The ftrace ops are registered the first time the mode leaves off and
 * stay registered until module exit; off makes the callback return at
 * once (vm_unmap_ram() and vm_unmap_aliases() only once nothing taken
 * over is live).  So switching never patches kernel text under running
 * callers (under qemu's TCG such live patching of vm_unmap_ram() oopsed on
 * its int3 in a KUnit case): only the first activation and exit do.  In
 * exchange, once used, the kernel's calls pay the ftrace trampoline even
 * when off, and no other IPMODIFY hook (a livepatch) can take these
 * functions until rmmod.  The module
 * holds a reference of its own while it is active (observe, on, split, or
 * off with taken-over mappings still live), so rmmod reports it in use.
 *
 * Why lazily unmapped slots are as safe as the kernel's own: a slot's PTEs
 * are cleared in vm_unmap_ram(), its VA is reused only after a shootdown
 * covers it, and vm_unmap_aliases() (what change_page_attr() calls before
 * it changes the caching or permissions of pages that may have aliases)
 * purges the takeover arena before it runs the kernel's own purge.  With
 * debug_pagealloc on, vm_unmap_ram() shoots down at once, as vb_free()
 * does.
 *
 * The wrappers recognise their own calls: a call of vm_map_ram() from this
 * module (the wrapper's call of the original, the BENCH loop's kernel
 * backend) is never redirected, so the kernel's functions stay measurable
 * beside the hook.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/ftrace.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/timekeeping.h>
#include <linux/seq_file.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"
#include "cxxvm_trace.h"

/* 6.1 names it ftrace_instruction_pointer_set(). */
#ifdef ftrace_regs_set_instruction_pointer
#define cxxvm_ftrace_set_ip(fregs, ip) ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define cxxvm_ftrace_set_ip(fregs, ip) ftrace_instruction_pointer_set(fregs, ip)
#endif

static const char * const cxxvm_takeover_names[] = {
	[CXXVM_TAKEOVER_OFF] = "off",
	[CXXVM_TAKEOVER_OBSERVE] = "observe",
	[CXXVM_TAKEOVER_ON] = "on",
	[CXXVM_TAKEOVER_SPLIT] = "split",
};

/*
 * The takeover's state.  cxxvm_takeover_mutex serialises mode changes,
 * registering the ops, activating and releasing, and module init/exit
 * against the parameter.
 * The wrappers read the mode without it.
 */
static DEFINE_MUTEX(cxxvm_takeover_mutex);
static int cxxvm_takeover_mode;		/* CXXVM_TAKEOVER_*, READ_ONCE() */
static int cxxvm_takeover_requested;	/* takeover= given at load */
static bool cxxvm_takeover_ready;	/* between init and exit */
static bool cxxvm_takeover_gone;	/* exit has begun */
static bool cxxvm_takeover_registered;	/* the ftrace ops, until exit */
static bool cxxvm_takeover_held;	/* active: the module reference */
/* Off, drained and purged: unmap and alias calls need no redirect. */
static bool cxxvm_takeover_inert = true;
/* Mappings made by cxx (on, split) and not yet unmapped (plus maps in flight). */
static atomic_long_t cxxvm_takeover_live = ATOMIC_LONG_INIT(0);
/* Every wrapper runs inside it: release and exit wait for them to return. */
DEFINE_STATIC_SRCU(cxxvm_takeover_srcu);

static struct dentry *cxxvm_takeover_debugfs;

/*
 * takeover_warm.  Read with READ_ONCE() by the wrappers, once per call;
 * a change applies from the next call.
 */
static bool cxxvm_takeover_warm;
module_param_named(takeover_warm, cxxvm_takeover_warm, bool, 0644);
MODULE_PARM_DESC(takeover_warm,
		 "Before each call the takeover times, map and unmap one of its pages, untimed, through the allocator that serves it (a measurement knob: per-call figures without the cost of a cold path)");

/**
 * struct cxxvm_takeover_counts - what the wrappers saw, per CPU
 * @map_calls: vm_map_ram() calls (every mode but off)
 * @map_pages: pages they asked for
 * @map_ns: ns per call: from the wrapper's entry (after takeover_warm's
 *	untimed warm-up, if on) for cxx's calls (and fallbacks, cxx's
 *	attempt included), from when the hook let the wrapper's call
 *	through for the kernel's (struct cxxvm_passthrough)
 * @map_cxx: calls the takeover arena served
 * @map_fallbacks: calls cxx was asked to serve (on; half of them in
 *	split) that went to the kernel's vm_map_ram()
 * @map_failures: calls that returned NULL
 * @unmap_calls: vm_unmap_ram() calls
 * @unmap_pages: pages they gave back
 * @unmap_ns: ns per call, timed as @map_ns
 * @unmap_cxx: calls whose mapping was the takeover arena's
 * @unmap_bad: calls on the arena's VA that were no live mapping of that
 *	size (a caller's bug: the kernel's vm_unmap_ram() would BUG)
 * @alias_calls: vm_unmap_aliases() calls
 * @alias_ns: ns in them, the arena's purge and the kernel's included
 */
struct cxxvm_takeover_counts {
	u64 map_calls;
	u64 map_pages;
	u64 map_ns;
	u64 map_cxx;
	u64 map_fallbacks;
	u64 map_failures;
	u64 unmap_calls;
	u64 unmap_pages;
	u64 unmap_ns;
	u64 unmap_cxx;
	u64 unmap_bad;
	u64 alias_calls;
	u64 alias_ns;
};

static DEFINE_PER_CPU(struct cxxvm_takeover_counts, cxxvm_takeover_counts);

#define cxxvm_count(field, n) this_cpu_add(cxxvm_takeover_counts.field, (n))

/**
 * struct cxxvm_passthrough - when the hook last let this module's call through
 * @task: the caller
 * @ns: ktime_get_mono_fast_ns() then
 *
 * A wrapper that calls the kernel's function enters the hook a second
 * time, and the hook lets that call through.  The second entry is the
 * takeover's cost, not the kernel allocator's, so the hook notes the time
 * per CPU and the wrapper times the kernel's call from there (on the way
 * back, the trampoline's return stays in the kernel's time).  The hook
 * reads ktime_get_mono_fast_ns(), which is notrace (with the TSC or
 * kvm-clock as clocksource, the read is too), and the same clock as the
 * wrappers' ktime_get_ns() but not ordered with it across an update: a
 * stamp outside the wrapper's own [t0, t1] is not used.
 */
struct cxxvm_passthrough {
	struct task_struct *task;
	u64 ns;
};

static DEFINE_PER_CPU(struct cxxvm_passthrough, cxxvm_passthrough);

static void cxxvm_takeover_release_fn(struct work_struct *work);
static DECLARE_WORK(cxxvm_takeover_release_work, cxxvm_takeover_release_fn);

/*
 * The hook needs an ftrace that saves registers and may move the
 * instruction pointer.  Without it the module still builds, and any mode
 * but off is refused with -EOPNOTSUPP.
 */
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_REGS

/* One taken-over mapping fewer; the last one in "off" releases the takeover. */
static void cxxvm_takeover_put_live(void)
{
	if (atomic_long_dec_and_test(&cxxvm_takeover_live) &&
	    READ_ONCE(cxxvm_takeover_mode) == CXXVM_TAKEOVER_OFF)
		schedule_work(&cxxvm_takeover_release_work);
}

/*
 * The wrappers.  Each keeps the prototype of the function it stands for,
 * since the hook enters it with that function's arguments and return
 * address.  Each calls the original from this module, which the hook
 * lets through, and never as a tail call: a tail call's return address
 * would be the kernel caller's, and the hook would redirect it again.
 */

/*
 * The ns a wrapper's call took, from @t0 (ktime_get_ns() at its entry,
 * after takeover_warm's warm-up, or just before it called the kernel's
 * function) to now: for a call the
 * kernel served, from when the hook let it through (struct
 * cxxvm_passthrough), if that was this task's call and in between, else
 * from @t0 (the task moved to another CPU meanwhile).
 */
static u64 cxxvm_call_ns(u64 t0, int served)
{
	u64 t1 = ktime_get_ns();
	struct cxxvm_passthrough *p;

	if (served == CXXVM_SERVED_KERNEL) {
		p = get_cpu_ptr(&cxxvm_passthrough);
		if (p->task == current && p->ns >= t0 && p->ns <= t1)
			t0 = p->ns;
		put_cpu_ptr(&cxxvm_passthrough);
	}
	return t1 - t0;
}

/**
 * cxxvm_warm() - map a page and unmap it at once, untimed, through cxx or
 * the kernel's vm_map_ram()
 * @page: one page of the call about to be timed (the caller's own)
 * @by_cxx: through the takeover arena, else through the kernel's functions
 *
 * What takeover_warm runs before a timed call: under qemu's TCG a real
 * caller's call finds most of the allocator's code and data cold (its
 * soft TLB and jump cache hold the filesystem's), and reaching them costs
 * more than the allocator's own work.  Warming each backend the same way,
 * one page through the same functions, leaves mostly that work.  The page
 * is mapped once more and unmapped lazily like the caller's own mapping:
 * the next purge, or vm_unmap_aliases(), covers it (with debug_pagealloc,
 * a purge at once, as for the caller's).  The wrappers' counters and
 * trace events do not see it; the arena's and the kernel's own figures
 * do.  A failed map is ignored (the timed call meets it again).  Called
 * inside the wrapper's SRCU read section, so a mapping made here is gone
 * before a release reads the live count.  Not from reclaim (PF_MEMALLOC),
 * and with no I/O or filesystem reclaim (memalloc_noio_save()): the
 * kernel's vm_unmap_ram(), which an unmap wrapper warms before, never
 * allocates, and its callers may hold locks that reclaim needs.
 *
 * Context: process context, may sleep.
 */
static void cxxvm_warm(struct page *page, bool by_cxx)
{
	unsigned int noio;
	uintptr_t va;
	void *mem;
	u64 pfn, seq;
	int ret;

	might_sleep();
	if (current->flags & PF_MEMALLOC)
		return;
	noio = memalloc_noio_save();
	if (!by_cxx) {
		/* This module's call: the hook lets it through. */
		mem = vm_map_ram(&page, 1, NUMA_NO_NODE);
		if (mem)
			vm_unmap_ram(mem, 1);
	} else {
		pfn = page_to_pfn(page);
		if (!cxxvm_arena_map(cxxvm_takeover_arena, &pfn, 1, &va)) {
			/* The live mapping just made: its unmap cannot fail. */
			ret = cxxvm_arena_unmap(cxxvm_takeover_arena, va, 1, &seq);
			WARN_ON_ONCE(ret);
			if (!ret && debug_pagealloc_enabled_static())
				(void)cxxvm_arena_purge_now(cxxvm_takeover_arena);
		}
	}
	memalloc_noio_restore(noio);
}

/*
 * Whether cxx is asked to serve this map: always in on, one map in two
 * in split, chosen at random (so that both allocators serve the same
 * workload, interleaved, for a paired comparison; strict alternation
 * would give one allocator every first map of a caller that maps two
 * buffers in a row, as f2fs and erofs do, and the other every second).
 */
static bool cxxvm_map_by_cxx(int mode)
{
	return mode == CXXVM_TAKEOVER_ON ||
	       (mode == CXXVM_TAKEOVER_SPLIT && (get_random_u32() & 1));
}

/*
 * vm_map_ram() as the hook runs it.  Mirrors vm_map_ram() in
 * mm/vmalloc.c: 1..VMAP_MAX_ALLOC pages from a per-CPU block, the rest
 * from the kernel.  The node is honoured as the kernel's is: vb_alloc()
 * ignores it for block-sized requests, and every larger one goes to the
 * kernel's function.  May sleep.
 */
static void *cxxvm_vm_map_ram(struct page **pages, unsigned int count, int node)
{
	int idx = srcu_read_lock(&cxxvm_takeover_srcu);
	/* Acquire: pairs with cxxvm_activate(); see there.  Not timed. */
	bool by_cxx = cxxvm_map_by_cxx(smp_load_acquire(&cxxvm_takeover_mode));
	void *mem = NULL;
	int served;
	u64 t0, ns;

	if (READ_ONCE(cxxvm_takeover_warm) && count)
		cxxvm_warm(pages[0], by_cxx && !cxxvm_arena_check_pages(count));
	t0 = ktime_get_ns();
	if (by_cxx) {
		if (!cxxvm_arena_check_pages(count)) {
			u64 pfns[CXXVM_MAX_PAGES];
			uintptr_t va;
			unsigned int i;

			for (i = 0; i < count; i++)
				pfns[i] = page_to_pfn(pages[i]);
			/* Counted before it exists: release reads it after SRCU. */
			atomic_long_inc(&cxxvm_takeover_live);
			if (!cxxvm_arena_map(cxxvm_takeover_arena, pfns, count, &va))
				mem = (void *)va;
			else
				cxxvm_takeover_put_live();
		}
		if (mem)
			cxxvm_count(map_cxx, 1);
		else
			cxxvm_count(map_fallbacks, 1);
	}
	served = mem ? CXXVM_SERVED_CXX : by_cxx ? CXXVM_SERVED_FALLBACK : CXXVM_SERVED_KERNEL;
	if (!mem)
		mem = vm_map_ram(pages, count, node);
	if (!mem)
		cxxvm_count(map_failures, 1);
	ns = cxxvm_call_ns(t0, served);
	cxxvm_count(map_calls, 1);
	cxxvm_count(map_pages, count);
	cxxvm_count(map_ns, ns);
	trace_cxxvm_vm_map_ram((unsigned long)mem, count, node, served, ns);
	srcu_read_unlock(&cxxvm_takeover_srcu, idx);
	return mem;
}

/*
 * vm_unmap_ram() as the hook runs it.  Mirrors vm_unmap_ram() and
 * vb_free(): the PTEs are cleared now and the shootdown deferred, unless
 * debug_pagealloc wants it at once.  May sleep.
 *
 * An address in no block of the arena (-ENOENT) goes to the kernel's
 * function, which is timed alone (struct cxxvm_passthrough): finding that
 * the address is not the arena's is the takeover's cost, not the kernel
 * allocator's, and timing it would flatter cxx in the per-call comparison.
 */
static void cxxvm_vm_unmap_ram(const void *mem, unsigned int count)
{
	int idx = srcu_read_lock(&cxxvm_takeover_srcu);
	unsigned long addr = (unsigned long)mem;
	int served = CXXVM_SERVED_KERNEL;
	struct page *page;
	u64 t0, ns;
	u64 seq;
	int ret;

	might_sleep();
	if (READ_ONCE(cxxvm_takeover_warm) && count) {
		page = vmalloc_to_page(mem);
		if (page)
			cxxvm_warm(page, cxxvm_arena_owns(cxxvm_takeover_arena, addr));
	}
	t0 = ktime_get_ns();
	ret = cxxvm_arena_unmap(cxxvm_takeover_arena, addr, count, &seq);
	if (!ret) {
		served = CXXVM_SERVED_CXX;
		debug_check_no_locks_freed(mem, (unsigned long)count << PAGE_SHIFT);
		if (debug_pagealloc_enabled_static())
			(void)cxxvm_arena_purge_now(cxxvm_takeover_arena);
		cxxvm_count(unmap_cxx, 1);
		cxxvm_takeover_put_live();
	} else if (ret != -ENOENT && cxxvm_arena_owns(cxxvm_takeover_arena, addr)) {
		/* Never the kernel's VA: handing it over would BUG in vb_free(). */
		WARN_ONCE(1, "vm_unmap_ram(%p, %u): no live mapping of that size\n",
			  mem, count);
		served = CXXVM_SERVED_REFUSED;
		cxxvm_count(unmap_bad, 1);
	} else {
		/*
		 * -EINVAL with no block any more: the block was released
		 * meanwhile, and the address may be the kernel's again.
		 */
		t0 = ktime_get_ns();
		vm_unmap_ram(mem, count);
	}
	ns = cxxvm_call_ns(t0, served);
	cxxvm_count(unmap_calls, 1);
	cxxvm_count(unmap_pages, count);
	cxxvm_count(unmap_ns, ns);
	trace_cxxvm_vm_unmap_ram(addr, count, served, ns);
	srcu_read_unlock(&cxxvm_takeover_srcu, idx);
}

/*
 * vm_unmap_aliases() as the hook runs it: every lazily unmapped slot of
 * the takeover arena is shot down before the kernel flushes its own, so
 * a caller that changes a page's attributes next finds no alias of it in
 * any TLB.  May sleep.
 */
static void cxxvm_vm_unmap_aliases(void)
{
	int idx = srcu_read_lock(&cxxvm_takeover_srcu);
	u64 t0 = ktime_get_ns();

	might_sleep();
	(void)cxxvm_arena_purge_now(cxxvm_takeover_arena);
	vm_unmap_aliases();
	cxxvm_count(alias_calls, 1);
	cxxvm_count(alias_ns, ktime_get_ns() - t0);
	srcu_read_unlock(&cxxvm_takeover_srcu, idx);
}

/**
 * struct cxxvm_hook - one hooked kernel function
 * @ops: its ftrace ops (IPMODIFY), filtered on @target alone
 * @target: the kernel function's address
 * @wrapper: where the hook sends its callers
 * @map: vm_map_ram(), redirected unless the mode is off; the others are
 *	redirected unless the takeover is inert (off, drained, purged)
 */
struct cxxvm_hook {
	struct ftrace_ops ops;
	unsigned long target;
	unsigned long wrapper;
	bool map;
};

/*
 * The ftrace callback: send the kernel's callers to the wrapper, and let
 * this module's own calls through (the wrapper's call of the original
 * would otherwise recurse until the stack overflows).  No
 * FTRACE_OPS_FL_RECURSION: with it, ftrace's assist function skips the
 * callback when it finds itself recursing, and a skipped redirect of
 * vm_unmap_ram() would hand an arena address to vb_free().  So the
 * callback calls nothing traceable.  Must not sleep.
 */
static void notrace cxxvm_hook_fn(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct cxxvm_hook *h = container_of(op, struct cxxvm_hook, ops);
	struct cxxvm_passthrough *p;

	if (within_module(parent_ip, THIS_MODULE)) {
		preempt_disable_notrace();
		p = this_cpu_ptr(&cxxvm_passthrough);
		p->task = current;
		p->ns = ktime_get_mono_fast_ns();
		preempt_enable_notrace();
		return;
	}
	if (h->map ? READ_ONCE(cxxvm_takeover_mode) == CXXVM_TAKEOVER_OFF :
		     READ_ONCE(cxxvm_takeover_inert))
		return;
	cxxvm_ftrace_set_ip(fregs, h->wrapper);
}

#define CXXVM_HOOK_FLAGS (FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY)
#define CXXVM_NR_HOOKS ARRAY_SIZE(cxxvm_hooks)

static struct cxxvm_hook cxxvm_hooks[] = {
	{
		.ops = { .func = cxxvm_hook_fn, .flags = CXXVM_HOOK_FLAGS },
		.target = (unsigned long)vm_map_ram,
		.wrapper = (unsigned long)cxxvm_vm_map_ram,
		.map = true,
	},
	{
		.ops = { .func = cxxvm_hook_fn, .flags = CXXVM_HOOK_FLAGS },
		.target = (unsigned long)vm_unmap_ram,
		.wrapper = (unsigned long)cxxvm_vm_unmap_ram,
	},
	{
		.ops = { .func = cxxvm_hook_fn, .flags = CXXVM_HOOK_FLAGS },
		.target = (unsigned long)vm_unmap_aliases,
		.wrapper = (unsigned long)cxxvm_vm_unmap_aliases,
	},
};

/* Unregister the first @n ops and wait until no callback or wrapper runs. */
static void cxxvm_unhook(unsigned int n)
{
	unsigned int i;

	lockdep_assert_held(&cxxvm_takeover_mutex);
	for (i = 0; i < n; i++) {
		WARN_ON(unregister_ftrace_function(&cxxvm_hooks[i].ops));
		ftrace_free_filter(&cxxvm_hooks[i].ops);
	}
	/* Callers between the trampoline and a wrapper's srcu_read_lock()... */
	synchronize_rcu_tasks();
	/* ...and callers inside a wrapper, which may sleep there... */
	synchronize_srcu(&cxxvm_takeover_srcu);
	/* ...and those past srcu_read_unlock(), still in a wrapper's text. */
	synchronize_rcu_tasks();
}

/*
 * Register every ops (once: they stay until module exit).  Fails with the
 * first registration's -errno (-EBUSY: another IPMODIFY hook, such as a
 * livepatch of vm_map_ram(), owns the function).
 */
static int cxxvm_hook(void)
{
	unsigned int i;
	int ret;

	lockdep_assert_held(&cxxvm_takeover_mutex);
	if (cxxvm_takeover_registered)
		return 0;
	for (i = 0; i < ARRAY_SIZE(cxxvm_hooks); i++) {
		struct cxxvm_hook *h = &cxxvm_hooks[i];

		ret = ftrace_set_filter_ip(&h->ops, h->target, 0, 0);
		if (!ret)
			ret = register_ftrace_function(&h->ops);
		if (ret) {
			ftrace_free_filter(&h->ops);
			cxxvm_unhook(i);
			pr_err("takeover: cannot hook %ps: %d\n", (void *)h->target, ret);
			return ret;
		}
	}
	WRITE_ONCE(cxxvm_takeover_registered, true);
	return 0;
}

#else /* !CONFIG_DYNAMIC_FTRACE_WITH_REGS */

static void cxxvm_unhook(unsigned int n)
{
}

static int cxxvm_hook(void)
{
	pr_err("takeover: needs CONFIG_DYNAMIC_FTRACE_WITH_REGS, which this kernel lacks\n");
	return -EOPNOTSUPP;
}

#define CXXVM_NR_HOOKS 0
#endif /* CONFIG_DYNAMIC_FTRACE_WITH_REGS */

/*
 * Leave off for @mode: take the module reference, register the ops if
 * they never were, and make the unmap and alias redirects live before the
 * map redirect, so that an unmap of a taken-over mapping is never missed.
 */
static int cxxvm_activate(int mode)
{
	int ret;

	lockdep_assert_held(&cxxvm_takeover_mutex);
	if (!cxxvm_takeover_held) {
		/* Not once rmmod has begun: the reference would not stop it. */
		if (!try_module_get(THIS_MODULE))
			return -ENODEV;
		ret = cxxvm_hook();
		if (ret) {
			module_put(THIS_MODULE);
			return ret;
		}
		WRITE_ONCE(cxxvm_takeover_held, true);
	}
	WRITE_ONCE(cxxvm_takeover_inert, false);
	/*
	 * Release: a map wrapper that reads on or split (acquire) made its mapping
	 * after inert was cleared, so the unmap that follows it, on any CPU,
	 * sees inert clear and is redirected.
	 */
	smp_store_release(&cxxvm_takeover_mode, mode);
	return 0;
}

/*
 * The mode is off: go inert and give the module reference back, unless a
 * mapping cxx made (on, split) is still live, whose vm_unmap_ram() must
 * still reach the arena.  The last one's unmap queues
 * cxxvm_takeover_release_work to come back here.
 */
static void cxxvm_release_if_drained(void)
{
	long live;

	lockdep_assert_held(&cxxvm_takeover_mutex);
	might_sleep();
	/*
	 * Wait for the map wrappers that read the old mode: each re-reads it
	 * inside SRCU, so one that enters after this grace period began sees
	 * off and maps through the kernel.  (Only exit, which unregisters
	 * the ops, also waits for RCU-tasks.)
	 */
	synchronize_srcu(&cxxvm_takeover_srcu);
	live = atomic_long_read(&cxxvm_takeover_live);
	if (live) {
		pr_info("takeover: off; %ld mappings still live keep the unmap redirect (and the module) until they are unmapped\n",
			live);
		return;
	}
	/*
	 * Nothing is live and nothing new can be mapped: shoot down the
	 * dirty slots now, while vm_unmap_aliases() still reaches them, since
	 * once inert it no longer purges the arena.
	 */
	(void)cxxvm_arena_purge_now(cxxvm_takeover_arena);
	WRITE_ONCE(cxxvm_takeover_inert, true);
	WRITE_ONCE(cxxvm_takeover_held, false);
	/* module_exit() waits for this work item, which may be running. */
	module_put(THIS_MODULE);
}

static void cxxvm_takeover_release_fn(struct work_struct *work)
{
	mutex_lock(&cxxvm_takeover_mutex);
	if (cxxvm_takeover_held &&
	    READ_ONCE(cxxvm_takeover_mode) == CXXVM_TAKEOVER_OFF)
		cxxvm_release_if_drained();
	mutex_unlock(&cxxvm_takeover_mutex);
}

/* cxxvm_takeover_set() with the mutex held; also module init's. */
static int cxxvm_takeover_set_locked(int mode)
{
	lockdep_assert_held(&cxxvm_takeover_mutex);
	if (cxxvm_takeover_gone)
		return -ENODEV;
	if (!cxxvm_takeover_ready) {
		/* takeover= at load: module init applies it. */
		cxxvm_takeover_requested = mode;
		return 0;
	}
	if (mode != CXXVM_TAKEOVER_OFF)
		return cxxvm_activate(mode);
	WRITE_ONCE(cxxvm_takeover_mode, mode);
	if (cxxvm_takeover_held)
		cxxvm_release_if_drained();
	return 0;
}

/**
 * cxxvm_takeover_set() - switch the takeover of vm_map_ram() off, to
 * observe, on or split
 * @mode: CXXVM_TAKEOVER_*
 *
 * Switching off stops new redirects at once; mappings already made stay
 * valid until their owners unmap them, and their unmaps stay redirected
 * (and a reference to the module held) until then.
 *
 * Context: process context, may sleep (waits for RCU-tasks and SRCU grace
 * periods); takes cxxvm_takeover_mutex.
 * Return: 0; -EINVAL for an unknown @mode; -ENODEV once the module is
 * going; the -errno of registering the hook (-EBUSY: another IPMODIFY
 * hook, such as a livepatch, owns one of the functions).
 */
int cxxvm_takeover_set(int mode)
{
	int ret;

	if (mode < CXXVM_TAKEOVER_OFF || mode > CXXVM_TAKEOVER_SPLIT)
		return -EINVAL;
	might_sleep();
	mutex_lock(&cxxvm_takeover_mutex);
	ret = cxxvm_takeover_set_locked(mode);
	mutex_unlock(&cxxvm_takeover_mutex);
	return ret;
}

static int cxxvm_takeover_param_set(const char *val, const struct kernel_param *kp)
{
	int mode = sysfs_match_string(cxxvm_takeover_names, val);

	return mode < 0 ? -EINVAL : cxxvm_takeover_set(mode);
}

static int cxxvm_takeover_param_get(char *buf, const struct kernel_param *kp)
{
	int mode;

	mutex_lock(&cxxvm_takeover_mutex);
	mode = cxxvm_takeover_ready ? cxxvm_takeover_mode : cxxvm_takeover_requested;
	mutex_unlock(&cxxvm_takeover_mutex);
	return sysfs_emit(buf, "%s\n", cxxvm_takeover_names[mode]);
}

static const struct kernel_param_ops cxxvm_takeover_param_ops = {
	.set = cxxvm_takeover_param_set,
	.get = cxxvm_takeover_param_get,
};
module_param_cb(takeover, &cxxvm_takeover_param_ops, NULL, 0644);
MODULE_PARM_DESC(takeover,
		 "Serve the kernel's vm_map_ram() callers: off (default), observe (hook and count only), on (map through the C++ arena), split (a random half of the maps through the arena, the rest through the kernel's)");

#ifdef CXXVM_KUNIT
CXXVM_EXPORT_FOR_KUNIT(cxxvm_takeover_set);

/* The takeover arena, for the KUnit suite. */
struct cxxvm_arena *cxxvm_takeover_arena_for_test(void)
{
	return cxxvm_takeover_arena;
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_takeover_arena_for_test);

/* takeover_warm, for the KUnit suite. */
void cxxvm_takeover_warm_for_test(bool on)
{
	WRITE_ONCE(cxxvm_takeover_warm, on);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_takeover_warm_for_test);

/* Whether the takeover is active (holds the module), and the live mappings. */
bool cxxvm_takeover_held_for_test(long *live)
{
	*live = atomic_long_read(&cxxvm_takeover_live);
	return READ_ONCE(cxxvm_takeover_held);
}
CXXVM_EXPORT_FOR_KUNIT(cxxvm_takeover_held_for_test);
#endif

/*
 * debugfs cxxvm/takeover: the mode, the hook, the live mappings, then the
 * wrappers' counters summed over CPUs (key=value), then the takeover
 * arena's, then its block size (pages).
 */
static int cxxvm_takeover_show(struct seq_file *m, void *unused)
{
	struct cxxvm_takeover_counts sum = {};
	struct cxxvm_arena_stats st;
	int cpu;

	/* Every field is a u64 counter: sum them as an array. */
	static_assert(sizeof(sum) % sizeof(u64) == 0);
	for_each_possible_cpu(cpu) {
		const u64 *c = (const u64 *)per_cpu_ptr(&cxxvm_takeover_counts, cpu);
		u64 *t = (u64 *)&sum;
		unsigned int i;

		for (i = 0; i < sizeof(sum) / sizeof(u64); i++)
			t[i] += c[i];
	}
	cxxvm_arena_get_stats(cxxvm_takeover_arena, &st);
	seq_printf(m, "mode=%s registered=%d held=%d live=%ld\n",
		   cxxvm_takeover_names[READ_ONCE(cxxvm_takeover_mode)],
		   READ_ONCE(cxxvm_takeover_registered), READ_ONCE(cxxvm_takeover_held),
		   atomic_long_read(&cxxvm_takeover_live));
	seq_printf(m, "map calls=%llu pages=%llu ns=%llu cxx=%llu fallbacks=%llu failures=%llu\n",
		   sum.map_calls, sum.map_pages, sum.map_ns, sum.map_cxx,
		   sum.map_fallbacks, sum.map_failures);
	seq_printf(m, "unmap calls=%llu pages=%llu ns=%llu cxx=%llu bad=%llu\n",
		   sum.unmap_calls, sum.unmap_pages, sum.unmap_ns, sum.unmap_cxx,
		   sum.unmap_bad);
	seq_printf(m, "aliases calls=%llu ns=%llu\n", sum.alias_calls, sum.alias_ns);
	seq_printf(m, "arena blocks_live=%llu blocks_created=%llu mapped_pages=%llu dirty_pages=%llu shootdowns=%llu purges=%llu reserve_ns=%llu\n",
		   st.blocks_live, st.blocks_created, st.mapped_pages,
		   st.dirty_pages, st.shootdowns, st.purges, st.reserve_ns);
	seq_printf(m, "blocks pages=%u\n", cxxvm_arena_takeover_block_pages());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cxxvm_takeover);

/**
 * cxxvm_takeover_init() - apply takeover= and add debugfs cxxvm/takeover
 * @parent: the module's debugfs directory (may be an error pointer)
 *
 * The takeover arena exists already (cxxvm_arena_init()).  On failure
 * nothing is hooked, and no later write of the parameter can hook.
 * Context: module init, may sleep.
 * Return: 0, or cxxvm_takeover_set()'s -errno for takeover=.
 */
int cxxvm_takeover_init(struct dentry *parent)
{
	int ret;

	mutex_lock(&cxxvm_takeover_mutex);
	cxxvm_takeover_ready = true;
	ret = cxxvm_takeover_set_locked(cxxvm_takeover_requested);
	if (ret)
		cxxvm_takeover_gone = true;
	mutex_unlock(&cxxvm_takeover_mutex);
	if (ret)
		return ret;
	cxxvm_takeover_debugfs = debugfs_create_file("takeover", 0400, parent, NULL,
						     &cxxvm_takeover_fops);
	return 0;
}

/**
 * cxxvm_takeover_exit() - undo cxxvm_takeover_init()
 *
 * An active takeover holds a module reference, so it is off and inert by
 * now and no taken-over mapping is live; this unregisters the ftrace ops
 * (the one text patching after the first switch); the takeover arena goes
 * with the module's (cxxvm_arena_exit()), after the purge notifier.
 * Context: module exit, may sleep.
 */
void cxxvm_takeover_exit(void)
{
	debugfs_remove(cxxvm_takeover_debugfs);
	mutex_lock(&cxxvm_takeover_mutex);
	cxxvm_takeover_gone = true;
	/* Cannot be: an active takeover holds the module. */
	WARN_ON(cxxvm_takeover_held);
	if (cxxvm_takeover_registered) {
		cxxvm_unhook(CXXVM_NR_HOOKS);
		WRITE_ONCE(cxxvm_takeover_registered, false);
	}
	mutex_unlock(&cxxvm_takeover_mutex);
	/* It may still be returning from its module_put(). */
	cancel_work_sync(&cxxvm_takeover_release_work);
}
