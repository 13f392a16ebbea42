/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_trace.h - cxxvm's trace events (tracefs events/cxxvm/, perf trace,
 * trace-cmd).
 *
 * cxxvm_vm_map_ram and cxxvm_vm_unmap_ram are the kernel's own callers of
 * vm_map_ram() and vm_unmap_ram() as the takeover hook sees them (every
 * mode but off): what selftests/vm/trace2replay.awk turns into a replay
 * trace.
 * cxxvm_block_new, cxxvm_block_free and cxxvm_purge are the C++
 * allocator's (both arenas: the module's and the takeover's).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cxxvm

#if !defined(_CXXVM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CXXVM_TRACE_H

#include <linux/tracepoint.h>

/*
 * Who served a call: the C++ arena, the kernel's own function, the
 * kernel's after the arena could not (a map only: more than 64 pages, or
 * no VA left), or nobody (an unmap only: an address of the arena that is
 * no live mapping of that size, a caller's bug the kernel would BUG on).
 */
#define CXXVM_SERVED_KERNEL	0
#define CXXVM_SERVED_CXX	1
#define CXXVM_SERVED_FALLBACK	2
#define CXXVM_SERVED_REFUSED	3

TRACE_EVENT(cxxvm_vm_map_ram,

	TP_PROTO(unsigned long addr, unsigned int count, int node, int served, u64 ns),

	TP_ARGS(addr, count, node, served, ns),

	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned int, count)
		__field(int, node)
		__field(int, served)
		__field(u64, ns)
	),

	TP_fast_assign(
		__entry->addr = addr;
		__entry->count = count;
		__entry->node = node;
		__entry->served = served;
		__entry->ns = ns;
	),

	TP_printk("addr=0x%lx pages=%u node=%d by=%s ns=%llu",
		  __entry->addr, __entry->count, __entry->node,
		  __entry->served == CXXVM_SERVED_CXX ? "cxx" :
		  __entry->served == CXXVM_SERVED_FALLBACK ? "fallback" : "kernel",
		  __entry->ns)
);

TRACE_EVENT(cxxvm_vm_unmap_ram,

	TP_PROTO(unsigned long addr, unsigned int count, int served, u64 ns),

	TP_ARGS(addr, count, served, ns),

	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned int, count)
		__field(int, served)
		__field(u64, ns)
	),

	TP_fast_assign(
		__entry->addr = addr;
		__entry->count = count;
		__entry->served = served;
		__entry->ns = ns;
	),

	TP_printk("addr=0x%lx pages=%u by=%s ns=%llu",
		  __entry->addr, __entry->count,
		  __entry->served == CXXVM_SERVED_CXX ? "cxx" :
		  __entry->served == CXXVM_SERVED_REFUSED ? "refused" : "kernel",
		  __entry->ns)
);

/* A vmap block's VA reserved (a vmap() of placeholder pages). */
TRACE_EVENT(cxxvm_block_new,

	TP_PROTO(unsigned long va, unsigned int pages),

	TP_ARGS(va, pages),

	TP_STRUCT__entry(
		__field(unsigned long, va)
		__field(unsigned int, pages)
	),

	TP_fast_assign(
		__entry->va = va;
		__entry->pages = pages;
	),

	TP_printk("va=0x%lx pages=%u", __entry->va, __entry->pages)
);

/* A vmap block's VA given back (the vunmap() of its reservation). */
TRACE_EVENT(cxxvm_block_free,

	TP_PROTO(unsigned long va),

	TP_ARGS(va),

	TP_STRUCT__entry(
		__field(unsigned long, va)
	),

	TP_fast_assign(
		__entry->va = va;
	),

	TP_printk("va=0x%lx", __entry->va)
);

/* A purge's TLB shootdown on every CPU, and the ns it took. */
TRACE_EVENT(cxxvm_purge,

	TP_PROTO(u64 ns),

	TP_ARGS(ns),

	TP_STRUCT__entry(
		__field(u64, ns)
	),

	TP_fast_assign(
		__entry->ns = ns;
	),

	TP_printk("ns=%llu", __entry->ns)
);

#endif /* _CXXVM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE cxxvm_trace
#include <trace/define_trace.h>
