/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cxxvm: ioctl ABI of /dev/cxxvm.  This header is the reference for every
 * command; the rules below hold for all of them (one table in
 * module/cxxvm_dev.c applies them, so no command has its own variant).
 *
 * Commands.  _IOC_NR() names the command.  A number the module does not
 * know, another ioctl type, or a direction (_IOR/_IOW/_IOWR) other than the
 * one defined here is -ENOTTY.
 *
 * Sizes: structs only ever grow at their end, and the struct's size is the
 * one encoded in the command (_IOC_SIZE()).  As openat2(), clone3() and
 * sched_setattr() do (copy_struct_from_user()):
 *  - a struct smaller than the module's is zero-extended: a field a tool
 *    does not know reads as zero, which always means "as before";
 *  - a struct larger than the module's must be zero past the module's size,
 *    -E2BIG otherwise (a newer tool asking for something this module lacks);
 *  - a struct smaller than the command's first version is -EINVAL;
 *  - outputs are written back up to the smaller of the two sizes.
 *
 * Fields are "in", "out" or reserved.  Reserved fields must be zero
 * (-EINVAL), as must flag bits a command does not define.  Out fields are
 * ignored on input.  Bad user pointers are -EFAULT.
 *
 * Outputs are written back when the command succeeded, and also on the
 * errors where a command says so (VERIFY's -EIO, say).  If that write-back
 * faults, the ioctl returns -EFAULT and a command that created something
 * undoes it (MAP's mapping, BUF_CREATE's buffer, PGMAP_CREATE's pagemap,
 * PGMAP_GET's reference), so that nothing is left that the caller cannot
 * name.  Until the ioctl returns, what such a command created is found by
 * no other command of the file (another thread's UNMAP of a
 * guessed handle gets -ENOENT).  SUBMIT is the exception: see struct
 * cxxvm_submit.
 *
 * Handles and buffer ids are small integers that belong to the file
 * descriptor that created them, never kernel addresses.  Closing the
 * descriptor unmaps and frees everything it owns.
 *
 * Permissions: every command except INFO and STATS needs CAP_SYS_ADMIN
 * (-EPERM otherwise).
 *
 * Context: every command may sleep.  BENCH and REPLAY reschedule and stop
 * on a fatal signal, SUBMIT reschedules and stops on any signal; a file's
 * commands may run concurrently from several threads.
 */
#ifndef _UAPI_LINUX_CXXVM_H
#define _UAPI_LINUX_CXXVM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CXXVM_ABI_VERSION	6
#define CXXVM_DEVICE_PATH	"/dev/cxxvm"

/**
 * enum cxxvm_backend - who provides the kernel virtual addresses
 * @CXXVM_BACKEND_CXX: cxxvm's C++ vmap block allocator
 * @CXXVM_BACKEND_VM_MAP_RAM: the kernel's vm_map_ram()/vm_unmap_ram()
 * @CXXVM_BACKEND_VMAP: the kernel's vmap()/vunmap() (one vmap_area each)
 * @CXXVM_NR_BACKENDS: number of backends
 */
enum cxxvm_backend {
	CXXVM_BACKEND_CXX = 0,
	CXXVM_BACKEND_VM_MAP_RAM = 1,
	CXXVM_BACKEND_VMAP = 2,
	CXXVM_NR_BACKENDS
};

/**
 * struct cxxvm_info - CXXVM_IOC_INFO: what this module supports
 * @abi_version: out: CXXVM_ABI_VERSION of the module
 * @nr_backends: out: number of backends (enum cxxvm_backend)
 * @max_pages: out: largest nr_pages a mapping may have
 * @page_size: out: bytes per page
 * @block_pages: out: pages of kernel VA per C++ vmap block
 * @lazy_max_pages: out: dirty pages that trigger a batched shootdown
 * @max_bench_iterations: out: largest cxxvm_bench.iterations
 * @max_blocks: out: most vmap blocks the C++ allocator may hold
 * @features: out: CXXVM_FEAT_* of the running kernel and CPU, probed when
 *	the module was built (kernel APIs) or loaded (CPU features)
 * @tlb_flush: out: enum cxxvm_tlb_flush, how the C++ allocator's shootdown
 *	flushes each CPU
 * @purge: out: enum cxxvm_purge, who runs the C++ allocator's batched
 *	purge (the caller_purge module parameter)
 * @max_buf_pages: out: largest cxxvm_buf_create.nr_pages (ABI 3)
 * @max_submit_ops: out: largest cxxvm_submit.nr_ops (ABI 3)
 * @reserved: zero on output
 * @reserved_mem_start: out: physical address of the memory the module was
 *	given with its reserved_mem= parameter (ABI 3, 80-byte struct)
 * @reserved_mem_size: out: its size in bytes; 0 without the parameter,
 *	and then CXXVM_IOC_MEMREMAP and CXXVM_PGMAP_REAL may touch no memory
 *
 * Who may call it: anyone.  @features, @tlb_flush, @purge, @max_buf_pages
 * and @max_submit_ops were reserved (zero) before; a tool that does not
 * know them may ignore them.  The struct was 64 bytes before the
 * reserved_mem fields: a module that knows only those fills only them, so
 * a tool that zeroes its struct reads 0 (no memory) there.  Errors: only
 * the common ones (top of file).
 */
struct cxxvm_info {
	__u32 abi_version;
	__u32 nr_backends;
	__u32 max_pages;
	__u32 page_size;
	__u32 block_pages;
	__u32 lazy_max_pages;
	__u32 max_bench_iterations;
	__u32 max_blocks;
	__u32 features;
	__u32 tlb_flush;
	__u32 purge;
	__u32 max_buf_pages;
	__u32 max_submit_ops;
	__u32 reserved[3];
	__u64 reserved_mem_start;
	__u64 reserved_mem_size;
};

/**
 * enum cxxvm_purge - who runs the C++ allocator's batched purge
 * @CXXVM_PURGE_WORKER: a work item, queued by the unmap that takes the
 *	dirty pages to lazy_max_pages, which returns at once (the kernel's
 *	drain_vmap_work model; the default)
 * @CXXVM_PURGE_CALLER: that unmap itself, waiting for the shootdown (module
 *	parameter caller_purge=1; kept for comparison)
 */
enum cxxvm_purge {
	CXXVM_PURGE_WORKER = 1,
	CXXVM_PURGE_CALLER,
};

/*
 * CXXVM_FEAT_GET_DEV_PAGEMAP_HINT: the kernel's get_dev_pagemap() takes a
 *	hint (up to 6.17).  Without it, the "hinted" kernel figures of
 *	PGMAP_BENCH are plain lookups.
 * CXXVM_FEAT_INVLPGB: the kernel uses AMD's INVLPGB on this CPU (6.15 and
 *	later), so it may flush kernel ranges by broadcast without IPIs: the
 *	function-call IPIs of /proc/interrupts then undercount the kernel's
 *	shootdowns.
 */
#define CXXVM_FEAT_GET_DEV_PAGEMAP_HINT	(1u << 0)
#define CXXVM_FEAT_INVLPGB		(1u << 1)

/**
 * enum cxxvm_tlb_flush - how the C++ allocator flushes a CPU's TLB
 * @CXXVM_TLB_FLUSH_KERNEL: the kernel's __flush_tlb_all(), exported to
 *	modules (up to 7.1)
 * @CXXVM_TLB_FLUSH_INVPCID: INVPCID, all contexts including globals
 * @CXXVM_TLB_FLUSH_CR4_PGE: CR4.PGE toggled off and on
 */
enum cxxvm_tlb_flush {
	CXXVM_TLB_FLUSH_KERNEL = 1,
	CXXVM_TLB_FLUSH_INVPCID,
	CXXVM_TLB_FLUSH_CR4_PGE,
};

/*
 * CXXVM_IOC_MAP flags.
 * BUF: map pages [@buf_offset, @buf_offset + @nr_pages) of buffer @buf
 * (CXXVM_IOC_BUF_CREATE) instead of allocating pages for this mapping.
 */
#define CXXVM_MAP_BUF		(1u << 0)
#define CXXVM_MAP_FLAGS		CXXVM_MAP_BUF

/**
 * struct cxxvm_map - CXXVM_IOC_MAP: map pages in kernel VA
 * @backend: in: enum cxxvm_backend
 * @nr_pages: in: 1..max_pages
 * @flags: in: CXXVM_MAP_*
 * @buf_offset: in: with CXXVM_MAP_BUF, the first page of @buf; else zero
 * @handle: out: id of the mapping, for UNMAP and VERIFY
 * @buf: in: with CXXVM_MAP_BUF, a buffer id of this file; else zero
 * @reserved: must be zero
 *
 * Maps @nr_pages order-0 pages contiguously in kernel VA through
 * @backend.  With CXXVM_MAP_BUF they are pages of a buffer, which stays
 * busy (BUF_DESTROY says -EBUSY) while the mapping lives; several mappings
 * may alias the same pages, as vm_map_ram() allows.  Without it the module
 * allocates @nr_pages pages for this mapping alone, freed by its UNMAP
 * (after the purge that covers it, for the C++ backend).
 *
 * Errors: -EINVAL for a bad backend, count or flag, a non-zero @buf or
 * @buf_offset without CXXVM_MAP_BUF, or a page range outside the buffer;
 * -ENOENT for an unknown @buf; -ENOMEM when pages or VA run out; -ENOSPC
 * when the file holds 65536 mappings.
 * Before ABI 3, @buf_offset and @buf were reserved (zero), which asks for
 * the same as before.
 */
struct cxxvm_map {
	__u32 backend;
	__u32 nr_pages;
	__u32 flags;
	__u32 buf_offset;
	__u64 handle;
	__u64 buf;
	__u64 reserved[1];
};

/**
 * struct cxxvm_unmap - CXXVM_IOC_UNMAP: unmap a mapping
 * @handle: in: id from CXXVM_IOC_MAP (-ENOENT if this fd has no such id)
 * @flags: in: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * Unmaps through the mapping's backend.  Pages MAP allocated are freed: at
 * once for the kernel's backends, after the purge that covers the unmap
 * for the C++ one (until then another CPU's TLB may still reach them).
 * A buffer's pages stay with the buffer.
 */
struct cxxvm_unmap {
	__u64 handle;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct cxxvm_verify - CXXVM_IOC_VERIFY: check a mapping's PTEs by content
 * @handle: in: id from CXXVM_IOC_MAP (-ENOENT if this fd has no such id)
 * @seed: in: seed of the pattern written and read back
 * @flags: in: must be zero
 * @pages_checked: out: pages whose content matched both ways
 * @bad_page: out: index of the first page that did not match, or ~0
 * @reserved: must be zero
 *
 * Writes a pattern through the mapping and reads it back through each
 * page's direct-map address, then the reverse.  A mismatch returns -EIO
 * with @bad_page set: a wrong PTE or a stale TLB entry shows up here.
 */
struct cxxvm_verify {
	__u64 handle;
	__u32 seed;
	__u32 flags;
	__u32 pages_checked;
	__u32 bad_page;
	__u64 reserved[2];
};

/*
 * CXXVM_IOC_FLUSH flags.
 * RELEASE_BLOCKS: also return every empty C++ vmap block to vmalloc (as the
 * vmap purge notifier does), so the arena holds only blocks with live slots.
 * KERNEL_ALIASES: also call the kernel's vm_unmap_aliases(), which purges its
 * lazily freed vmap areas and vmap blocks (a clean start for VA figures),
 * after purging the takeover's arena (the module parameter takeover=), as
 * vm_unmap_aliases() does for the kernel's callers while it is active.
 */
#define CXXVM_FLUSH_RELEASE_BLOCKS	(1u << 0)
#define CXXVM_FLUSH_KERNEL_ALIASES	(1u << 1)
#define CXXVM_FLUSH_FLAGS		(CXXVM_FLUSH_RELEASE_BLOCKS | \
					 CXXVM_FLUSH_KERNEL_ALIASES)

/**
 * struct cxxvm_flush - CXXVM_IOC_FLUSH: shoot down all lazily freed VA now
 * @flags: in: CXXVM_FLUSH_* (-EINVAL for other bits)
 * @reserved0: must be zero
 * @pages_flushed: out: dirty pages made reusable by this flush
 * @blocks_released: out: C++ vmap blocks returned to vmalloc by this flush
 *	(with CXXVM_FLUSH_RELEASE_BLOCKS; without it, empty blocks beyond the
 *	arena's reserve)
 * @reserved: must be zero
 * The equivalent of vm_unmap_aliases() for cxxvm's arena.
 */
struct cxxvm_flush {
	__u32 flags;
	__u32 reserved0;
	__u64 pages_flushed;
	__u64 blocks_released;
	__u64 reserved[1];
};

/**
 * struct cxxvm_stats - CXXVM_IOC_STATS: module-wide counters
 * @live_mappings: mappings owned by all open descriptors
 * @live_pages: pages those mappings map (a page mapped twice counts twice)
 * @blocks_created: C++ vmap blocks reserved since load
 * @blocks_live: C++ vmap blocks held now
 * @shootdowns: TLB shootdowns issued by the C++ allocator since load
 * @dirty_pages: C++ slots freed but not yet covered by a shootdown
 * @mapped_pages: C++ slot pages in use now (slots are 2^order pages)
 * @retired_pages: pages unmapped from the C++ allocator and not yet freed:
 *	they are freed once a shootdown covers their slot
 * @blocks_freed: C++ vmap blocks returned to vmalloc since load
 * @purges: C++ purges that shot down at least one dirty page
 * @steals: empty C++ blocks a CPU took over from another CPU's queue
 * @borrows: C++ slots a CPU allocated in another CPU's block
 * @purge_ns: ns the C++ allocator spent in purges, whoever ran them
 * @shootdown_ns: ns of that in the shootdowns (the IPIs and their wait)
 * @caller_purges: C++ purges run on a map or unmap caller's path
 * @worker_purges: C++ purges run by the purge worker
 * @purge_waits: C++ maps and unmaps that waited for a purge
 * @purge_wait_ns: ns they spent waiting (including a purge they ran)
 * @lock_contended: C++ per-CPU queue locks found held when taken
 * @lock_wait_ns: ns spent spinning for them
 * @reserve_ns: ns C++ maps spent reserving new blocks (a vmap() each)
 * @release_ns: ns C++ purges spent returning blocks to vmalloc
 * @leaked_pages: pages never freed because the C++ unmap of a mapping of
 *	them failed (a bug, reported in the kernel log: a PTE may still map
 *	them); 0 always, unless something is wrong (184-byte struct)
 *
 * Times are ktime_get_ns() deltas summed over every CPU since load.
 * @shootdowns counts every flush the C++ allocator issued: batched purges,
 * and CXXVM_IOC_FLUSH (reserving a block needs none).  @dirty_pages counts
 * pages not yet covered by a completed shootdown.
 */
struct cxxvm_stats {
	__u64 live_mappings;
	__u64 live_pages;
	__u64 blocks_created;
	__u64 blocks_live;
	__u64 shootdowns;
	__u64 dirty_pages;
	__u64 mapped_pages;
	__u64 retired_pages;
	__u64 blocks_freed;
	__u64 purges;
	__u64 steals;
	__u64 borrows;
	__u64 purge_ns;
	__u64 shootdown_ns;
	__u64 caller_purges;
	__u64 worker_purges;
	__u64 purge_waits;
	__u64 purge_wait_ns;
	__u64 lock_contended;
	__u64 lock_wait_ns;
	__u64 reserve_ns;
	__u64 release_ns;
	__u64 leaked_pages;
};

#define CXXVM_BENCH_NOT_COUNTED	(~(__u64)0)

/*
 * struct cxxvm_bench flags (ABI 6).  CXXVM_BENCH_UNTIMED: run pass 1 only
 * (@min_ns, @p50_ns, @p99_ns and @max_ns come back 0), so that the whole
 * call is map+unmap cycles: what a rate over several threads' calls needs.
 */
#define CXXVM_BENCH_UNTIMED	(1u << 0)
#define CXXVM_BENCH_FLAGS	CXXVM_BENCH_UNTIMED

/**
 * struct cxxvm_bench - CXXVM_IOC_BENCH: in-kernel map+unmap loop
 * @backend: in: enum cxxvm_backend
 * @nr_pages: in: pages per mapping, 1..max_pages
 * @iterations: in: map+unmap cycles, 1..max_bench_iterations
 * @flags: in: CXXVM_BENCH_*
 * @elapsed_ns: out: wall time of pass 1 (ktime_get_ns() at both ends)
 * @min_ns: out: fastest map+unmap cycle of pass 2 (0 with
 *	CXXVM_BENCH_UNTIMED, as the next three)
 * @p50_ns: out: median cycle of pass 2
 * @p99_ns: out: 99th percentile cycle of pass 2
 * @max_ns: out: slowest cycle of pass 2
 * @shootdowns: out: shootdowns the backend issued during pass 1, or
 *	CXXVM_BENCH_NOT_COUNTED for the kernel's backends
 * @blocks_created: out: vmap blocks the backend created during pass 1,
 *	or CXXVM_BENCH_NOT_COUNTED
 * @reserved: must be zero
 *
 * The same @nr_pages pages are mapped and unmapped @iterations times in
 * each of two passes (pass 1 only with CXXVM_BENCH_UNTIMED).  Pass 1
 * reads the clock only at its ends, so @elapsed_ns / @iterations is the
 * mean cost of a cycle without timer overhead; pass 2 times each cycle
 * on its own for the percentiles (which include one clock read).
 * cond_resched() and a fatal-signal check run every 64 cycles.  Errors:
 * -EINVAL for bad fields, -ENOMEM, -EINTR on a fatal signal, a backend's
 * map error (the loop stops at it), -EIO if a
 * C++ unmap failed (a bug: its pages are leaked, STATS.leaked_pages).
 */
struct cxxvm_bench {
	__u32 backend;
	__u32 nr_pages;
	__u32 iterations;
	__u32 flags;
	__u64 elapsed_ns;
	__u64 min_ns;
	__u64 p50_ns;
	__u64 p99_ns;
	__u64 max_ns;
	__u64 shootdowns;
	__u64 blocks_created;
	__u64 reserved[4];
};

/**
 * struct cxxvm_buf_create - CXXVM_IOC_BUF_CREATE: allocate a page buffer
 * @nr_pages: in: 1..max_buf_pages
 * @flags: in: must be zero
 * @id: out: the buffer's id, for CXXVM_MAP_BUF, SUBMIT and BUF_DESTROY
 * @reserved: must be zero
 *
 * Allocates @nr_pages order-0 pages (GFP_KERNEL_ACCOUNT: charged to the
 * caller's memory cgroup) owned by the file, so that mappings can be made
 * and undone without allocating and freeing pages each time: what MAP and
 * UNMAP then measure is the mapping.  Errors: -EINVAL, -ENOMEM, -ENOSPC
 * when the file holds 1024 buffers, -EINTR on a fatal signal while
 * allocating.
 */
struct cxxvm_buf_create {
	__u32 nr_pages;
	__u32 flags;
	__u64 id;
	__u64 reserved[2];
};

/**
 * struct cxxvm_buf_destroy - CXXVM_IOC_BUF_DESTROY: free a page buffer
 * @id: in: from CXXVM_IOC_BUF_CREATE
 * @flags: in: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * -EBUSY while a mapping of the buffer lives (unmap it first); -ENOENT
 * for an unknown id.  When the last C++ unmap of the buffer is not yet
 * covered by a completed purge, the id is gone at once but the pages are
 * held (STATS retired_pages counts them) and freed when that purge
 * completes: until then another CPU's TLB may still reach them.
 */
struct cxxvm_buf_destroy {
	__u64 id;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * enum cxxvm_op_code - what one operation of CXXVM_IOC_SUBMIT does
 * @CXXVM_OP_MAP: map pages of a buffer (CXXVM_IOC_MAP with CXXVM_MAP_BUF):
 *	@backend, @nr_pages, @buf, @buf_offset in; @handle out
 * @CXXVM_OP_UNMAP: CXXVM_IOC_UNMAP of @handle
 * @CXXVM_OP_VERIFY: CXXVM_IOC_VERIFY of @handle with @seed (pages that
 *	matched are not reported; a mismatch is -EIO)
 * @CXXVM_OP_FLUSH: CXXVM_IOC_FLUSH without flags
 */
enum cxxvm_op_code {
	CXXVM_OP_MAP = 1,
	CXXVM_OP_UNMAP,
	CXXVM_OP_VERIFY,
	CXXVM_OP_FLUSH,
};

/*
 * cxxvm_op flags.
 * REF: @handle is not a handle but the index in this batch of an earlier
 * CXXVM_OP_MAP whose handle this operation uses (so a batch can map and
 * unmap, as a trace of a real caller does, without a round trip).
 */
#define CXXVM_OP_REF		(1u << 0)
#define CXXVM_OP_FLAGS		CXXVM_OP_REF

/**
 * struct cxxvm_op - one operation of CXXVM_IOC_SUBMIT
 * @op: in: enum cxxvm_op_code
 * @flags: in: CXXVM_OP_*
 * @backend: in (MAP): enum cxxvm_backend
 * @nr_pages: in (MAP): 1..max_pages
 * @buf: in (MAP): buffer id
 * @buf_offset: in (MAP): first page in the buffer
 * @seed: in (VERIFY): seed of the pattern
 * @handle: out (MAP: 0 if it failed); in (UNMAP, VERIFY): a handle of this
 *	file, or with CXXVM_OP_REF the index of an earlier MAP of this batch
 *	(-EINVAL if not earlier; -ENOENT if that op is not a MAP, failed, or
 *	its mapping is gone, even if a later mapping got the same handle)
 * @result: out: 0 or the -errno the single command would have returned
 * @reserved0: must be zero
 * @ns: out: with CXXVM_SUBMIT_TIMES, the operation's ktime_get_ns() time
 * @reserved: must be zero
 *
 * Fields an operation does not use must be zero (-EINVAL in @result).
 */
struct cxxvm_op {
	__u32 op;
	__u32 flags;
	__u32 backend;
	__u32 nr_pages;
	__u64 buf;
	__u32 buf_offset;
	__u32 seed;
	__u64 handle;
	__s32 result;
	__u32 reserved0;
	__u64 ns;
	__u64 reserved;
};

/*
 * CXXVM_IOC_SUBMIT flags.
 * TIMES: time each operation (two clock reads each, which under emulation
 * cost about as much as a small map: leave it off when measuring rates).
 * CONTINUE: run the operations after a failed one too.
 */
#define CXXVM_SUBMIT_TIMES	(1u << 0)
#define CXXVM_SUBMIT_CONTINUE	(1u << 1)
#define CXXVM_SUBMIT_FLAGS	(CXXVM_SUBMIT_TIMES | CXXVM_SUBMIT_CONTINUE)

/**
 * struct cxxvm_submit - CXXVM_IOC_SUBMIT: run a batch of operations
 * @ops: in: user pointer to @nr_ops struct cxxvm_op, read and written back
 * @nr_ops: in: 1..max_submit_ops
 * @op_size: in: sizeof(struct cxxvm_op), so that the op can grow later
 * @flags: in: CXXVM_SUBMIT_*
 * @nr_done: out: operations that ran (the failed one included)
 * @reserved: must be zero
 *
 * Runs the operations in order, each exactly as its single command would
 * (same checks, same errnos, in its @result), in one ioctl: what the
 * batch costs per operation, against MAP and UNMAP one ioctl each, is the
 * syscall's share.  It stops after the first failed operation unless
 * CXXVM_SUBMIT_CONTINUE, between operations on a pending signal, and
 * before the first operation that cannot be read whole; it reschedules as
 * it goes.  Returns 0 once any operation ran: read @nr_done and each
 * @result.  Errors of the batch itself: -EINVAL for a bad flag, @nr_ops
 * or @op_size; -EINTR when a signal came before the first operation (the
 * call restarts instead if the handler is SA_RESTART); -EFAULT if the
 * first operation cannot be read, or if writing results back faults (the
 * operations that ran stay done: close the file to drop what they made);
 * -ENOMEM.  What a MAP operation creates is the file's at once (other
 * threads may find it).
 */
struct cxxvm_submit {
	__u64 ops;
	__u32 nr_ops;
	__u32 op_size;
	__u32 flags;
	__u32 nr_done;
	__u64 reserved[2];
};

/*
 * Replay (ABI 4): a recorded trace of vm_map_ram() and vm_unmap_ram()
 * calls, run in the kernel through one backend.  A trace comes from the
 * takeover's trace events (cxxvm:cxxvm_vm_map_ram, cxxvm:cxxvm_vm_unmap_ram)
 * through selftests/vm/trace2replay.awk; its text format is in
 * selftests/fixtures/README.
 */
#define CXXVM_REPLAY_MAP	1
#define CXXVM_REPLAY_UNMAP	2
/*
 * struct cxxvm_replay flags (ABI 5).  CXXVM_REPLAY_COLD: before each
 * operation of pass 2, outside its time, this CPU's TLB is flushed by
 * rewriting CR3: on hardware that drops the current PCID's non-global
 * translations; under qemu's TCG, which keeps no global ones, every
 * translation, as every context switch and (with PTI) every kernel entry
 * does there.  So each call starts with no translation cached, as a real
 * caller's may after the filesystem and the scheduler ran in between: an
 * upper bound, since real calls often follow each other.  x86 only
 * (-EOPNOTSUPP elsewhere).
 */
#define CXXVM_REPLAY_COLD	(1u << 0)
#define CXXVM_REPLAY_FLAGS	CXXVM_REPLAY_COLD
#define CXXVM_MAX_REPLAY_OPS	(1u << 20)
#define CXXVM_MAX_REPLAY_IDS	(1u << 16)
#define CXXVM_MAX_REPLAY_PAGES	1024
#define CXXVM_MAX_REPLAY_LOOPS	1024
#define CXXVM_MAX_REPLAY_LIVE	(1u << 16)	/* pages mapped at once */

/**
 * struct cxxvm_replay_op - one call of a replay trace
 * @op: CXXVM_REPLAY_MAP or CXXVM_REPLAY_UNMAP
 * @nr_pages: 1..CXXVM_MAX_REPLAY_PAGES; an UNMAP's is its MAP's
 * @id: 0..nr_ids-1, the mapping: a MAP's must not be live, an UNMAP's must
 * @reserved: must be zero
 */
struct cxxvm_replay_op {
	__u32 op;
	__u32 nr_pages;
	__u32 id;
	__u32 reserved;
};

/**
 * struct cxxvm_replay - CXXVM_IOC_REPLAY: run a trace through a backend
 * @ops: in: user pointer to @nr_ops struct cxxvm_replay_op
 * @nr_ops: in: 1..CXXVM_MAX_REPLAY_OPS
 * @nr_ids: in: 1..CXXVM_MAX_REPLAY_IDS, one more than the largest id
 * @backend: in: enum cxxvm_backend
 * @flags: in: CXXVM_REPLAY_* (-EINVAL for other bits)
 * @loops: in: 1..CXXVM_MAX_REPLAY_LOOPS, how many times pass 1 runs the
 *	trace back to back (enough for several purges: a short trace's one
 *	purge would otherwise decide the comparison by where it falls)
 * @reserved0: must be zero
 * @elapsed_ns: out: wall time of pass 1, @loops runs of the trace, untimed
 *	inside
 * @map_ns: out: pass 2, the sum of every map's time
 * @unmap_ns: out: pass 2, the sum of every unmap's time
 * @maps: out: MAP operations in the trace (pass 1 runs them @loops
 *	times, pass 2 once)
 * @fallbacks: out: pass 1, maps the C++ backend sent to the kernel's
 *	vm_map_ram(), as the takeover does: more than max_pages pages, or
 *	no VA left in the arena; 0 for the kernel's backends.  The C++
 *	backend maps through an arena of its own, made for the run with the
 *	takeover's tunables and gone after it, so its figures below are the
 *	run's alone
 * @shootdowns: out: pass 1, the C++ backend's shootdowns, or
 *	CXXVM_BENCH_NOT_COUNTED for the kernel's backends
 * @blocks_created: out: pass 1, the C++ backend's new vmap blocks, or
 *	CXXVM_BENCH_NOT_COUNTED
 * @peak_pages: out: most pages the trace holds mapped at once
 * @peak_va_pages: out: pass 2, most pages of VA the C++ arena held (its
 *	vmap blocks, whether their slots are live, dirty or free) after any
 *	map; CXXVM_BENCH_NOT_COUNTED for the kernel's backends, whose vmap
 *	blocks and lazily freed areas a module cannot see
 * @reserve_ns: out: pass 1, the C++ backend's time creating vmap blocks
 *	(STATS reserve_ns), or CXXVM_BENCH_NOT_COUNTED
 * @shootdown_ns: out: pass 1, the C++ backend's time in shootdowns
 *	(STATS shootdown_ns, any thread's), or CXXVM_BENCH_NOT_COUNTED
 * @reserved: must be zero
 *
 * The trace is read and checked first: nothing runs unless every
 * operation is well formed.  Then it runs, keeping its sizes, order and
 * overlapping lifetimes: untimed runs of it until it has mapped
 * lazy_max_pages pages first (every backend's steady state: blocks exist,
 * a purge came; the C++ backend's arena starts empty), then pass 1
 * (@loops times) reads the clock at its ends only, pass 2 (once) around
 * each operation (a clock read under emulation costs about a small map,
 * so pass 1 gives the rate and pass 2 the split).  Mappings the trace leaves live are unmapped after each run of
 * it (in pass 1's time).  All mappings
 * alias one set of pages, which are never touched.  cond_resched() and a
 * fatal-signal check run every 64 operations.  Errors: -EINVAL for a bad
 * field or operation (a MAP of a live id, an UNMAP of an id not live or
 * with another page count, more than CXXVM_MAX_REPLAY_LIVE pages mapped
 * at once); -EOPNOTSUPP for CXXVM_REPLAY_COLD off x86; -EFAULT; -ENOMEM
 * (also when the kernel's backend finds no VA); -EINTR on a fatal signal;
 * -EIO if a C++ unmap failed (a bug: the pages are leaked).
 */
struct cxxvm_replay {
	__u64 ops;
	__u32 nr_ops;
	__u32 nr_ids;
	__u32 backend;
	__u32 flags;
	__u32 loops;
	__u32 reserved0;
	__u64 elapsed_ns;
	__u64 map_ns;
	__u64 unmap_ns;
	__u64 maps;
	__u64 fallbacks;
	__u64 shootdowns;
	__u64 blocks_created;
	__u64 peak_pages;
	__u64 peak_va_pages;
	__u64 reserve_ns;
	__u64 shootdown_ns;
	__u64 reserved[2];
};

/*
 * Pagemaps: ZONE_DEVICE ranges tracked by cxxvm's C++ pagemap tracker and,
 * with CXXVM_PGMAP_REAL, also created in the kernel with memremap_pages().
 * Types are enum memory_type of include/linux/memremap.h.
 */
#define CXXVM_PGMAP_PRIVATE	1
#define CXXVM_PGMAP_COHERENT	2
#define CXXVM_PGMAP_FS_DAX	3
#define CXXVM_PGMAP_GENERIC	4
#define CXXVM_PGMAP_PCI_P2PDMA	5

#define CXXVM_PGMAP_MAX_RANGES	8

/*
 * CXXVM_IOC_PGMAP_CREATE flags.
 * REAL: also memremap_pages() the ranges in the kernel (type GENERIC only;
 * the ranges must lie in the memory the administrator gave the module with
 * reserved_mem=SIZE@START, RAM the kernel was told to leave alone with
 * memmap=SIZE$START).  Without it the pagemap exists only in the tracker.
 * ALTMAP: carve the memmap (struct pages) from the start of the one range,
 * as a vmem_altmap: altmap_reserve pages left alone, then altmap_free pages
 * that may hold the memmap.
 */
#define CXXVM_PGMAP_REAL	(1u << 0)
#define CXXVM_PGMAP_ALTMAP	(1u << 1)
#define CXXVM_PGMAP_FLAGS	(CXXVM_PGMAP_REAL | CXXVM_PGMAP_ALTMAP)

/**
 * struct cxxvm_pfn_range - pages [start_pfn, start_pfn + nr_pages)
 * @start_pfn: first page frame number
 * @nr_pages: pages (not bytes)
 */
struct cxxvm_pfn_range {
	__u64 start_pfn;
	__u64 nr_pages;
};

/**
 * struct cxxvm_pgmap_create - CXXVM_IOC_PGMAP_CREATE: register a pagemap
 * @type: in: CXXVM_PGMAP_PRIVATE .. CXXVM_PGMAP_PCI_P2PDMA
 * @flags: in: CXXVM_PGMAP_*
 * @nr_ranges: in: 1..CXXVM_PGMAP_MAX_RANGES
 * @reserved0: must be zero
 * @ranges: in: @nr_ranges disjoint ranges; the rest must be zero
 * @altmap_reserve: in: with CXXVM_PGMAP_ALTMAP, else zero
 * @altmap_free: in: with CXXVM_PGMAP_ALTMAP, else zero
 * @handle: out: id for the other PGMAP commands
 * @first_data_pfn: out: the first pfn past the altmap's reserve + free
 *	(vmem_altmap_offset()), or the first range's start without one
 * @reserved: must be zero
 *
 * Errors: -EINVAL for a bad type, flag, range count, an empty range,
 * ranges that overlap each other, an altmap on more than one range or
 * larger than its range, and with REAL: a type other than GENERIC, ranges
 * that are not whole 2 MiB subsections (start and size multiples of 512
 * pages), an altmap too small for the memmap; -ERANGE for a range past the
 * end of physical address space; -ENXIO for a range that intersects System
 * RAM or, with REAL, memory outside the module's reserved_mem= (all memory
 * when it was loaded without it); -EBUSY for a range that
 * overlaps a pagemap already registered (by anyone, dying ones included),
 * or with REAL one of the kernel's or a region someone has claimed;
 * -ENOSPC when the tracker has no room for that many more ranges or the
 * file holds 64 pagemaps; with REAL, memremap_pages()'s own errors
 * (-ENOMEM, say).  With several faults, the first group that finds one
 * decides: the fields (flags, reserved, unused ranges, altmap fields, REAL
 * with a type other than GENERIC), then the pagemap (type, count, each
 * range in order: empty, past the end, overlapping an earlier one; then
 * the altmap), then what REAL needs (subsections, the memmap), then
 * kernel state (-ENXIO, -EBUSY, -ENOSPC).
 */
struct cxxvm_pgmap_create {
	__u32 type;
	__u32 flags;
	__u32 nr_ranges;
	__u32 reserved0;
	struct cxxvm_pfn_range ranges[CXXVM_PGMAP_MAX_RANGES];
	__u64 altmap_reserve;
	__u64 altmap_free;
	__u64 handle;
	__u64 first_data_pfn;
	__u64 reserved[2];
};

/**
 * struct cxxvm_pgmap_destroy - CXXVM_IOC_PGMAP_DESTROY: kill and forget
 * @handle: in: id from CXXVM_IOC_PGMAP_CREATE
 * @flags: in: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * Kills the pagemap in the tracker (its lookups find none from now on).
 * -EBUSY if this file still holds references from CXXVM_IOC_PGMAP_GET: the
 * pagemap stays dying and its ranges reserved until they are put and
 * DESTROY is called again; a REAL pagemap's kernel side stays live until
 * then (so CXXVM_IOC_PGMAP_CHECK reports its pfns as mismatches).  -ENOENT
 * for an unknown handle.  Closing the file puts its references and
 * destroys its pagemaps.
 */
struct cxxvm_pgmap_destroy {
	__u64 handle;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct cxxvm_pgmap_ref - CXXVM_IOC_PGMAP_GET / CXXVM_IOC_PGMAP_PUT
 * @pfn: in (GET): the pfn to look up
 * @handle: out (GET): the pagemap found, now with one more reference held
 *	by this file; in (PUT): the pagemap to drop one of them from
 * @flags: in: must be zero
 * @reserved0: must be zero
 * @refs: out: references this file holds on the pagemap now
 * @reserved: must be zero
 *
 * GET: -ENOENT if no live pagemap of this file holds @pfn.  PUT: -ENOENT
 * for an unknown handle, -EINVAL if this file holds no reference on it.
 */
struct cxxvm_pgmap_ref {
	__u64 pfn;
	__u64 handle;
	__u32 flags;
	__u32 reserved0;
	__u64 refs;
	__u64 reserved[2];
};

/**
 * struct cxxvm_pgmap_check - CXXVM_IOC_PGMAP_CHECK: tracker vs kernel
 * @handle: in: a CXXVM_PGMAP_REAL pagemap, or 0 for all of this file's
 * @flags: in: must be zero
 * @reserved0: must be zero
 * @pfns_checked: out: pfns compared: every pfn of every range, and the
 *	pfns just before and just after each range
 * @mismatches: out: pfns where the tracker's lookup and the kernel's
 *	get_dev_pagemap() found different pagemaps (one may find none)
 * @first_mismatch_pfn: out: the first of them, or ~0
 * @reserved: must be zero
 *
 * -ENOENT for an unknown handle, -EINVAL for one that is not REAL.
 */
struct cxxvm_pgmap_check {
	__u64 handle;
	__u32 flags;
	__u32 reserved0;
	__u64 pfns_checked;
	__u64 mismatches;
	__u64 first_mismatch_pfn;
	__u64 reserved[2];
};

/*
 * CXXVM_IOC_MEMREMAP flags: memremap()'s, tried in this order when several
 * are given (WB, then WT, then WC), as memremap() documents.
 */
#define CXXVM_MEMREMAP_WB	(1u << 0)
#define CXXVM_MEMREMAP_WT	(1u << 1)
#define CXXVM_MEMREMAP_WC	(1u << 2)
#define CXXVM_MEMREMAP_FLAGS	(CXXVM_MEMREMAP_WB | CXXVM_MEMREMAP_WT | \
				 CXXVM_MEMREMAP_WC)

/**
 * struct cxxvm_memremap - CXXVM_IOC_MEMREMAP: memremap(), pattern, memunmap()
 * @phys_addr: in: page-aligned physical address
 * @size: in: bytes, a multiple of the page size, at most 64 MiB
 * @flags: in: CXXVM_MEMREMAP_* (at least one)
 * @seed: in: seed of the pattern
 * @bytes_checked: out: bytes written and read back through the mapping
 * @reserved: must be zero
 *
 * Only for the memory given to the module with reserved_mem=SIZE@START
 * (see CXXVM_IOC_INFO), outside every pagemap (memremap_pages() fixed its
 * memory type to WB, which a WT or WC mapping would conflict with).
 * Errors: -EINVAL for bad flags, a size that is 0, not whole pages or over
 * 64 MiB, or an unaligned address; -ENXIO for memory outside reserved_mem=
 * (all memory when the module was loaded without it); -EBUSY if a pagemap
 * (the tracker's or the kernel's) covers part of it or someone has claimed
 * it; -ENOMEM if memremap() fails; -EIO on a mismatch.
 */
struct cxxvm_memremap {
	__u64 phys_addr;
	__u64 size;
	__u32 flags;
	__u32 seed;
	__u64 bytes_checked;
	__u64 reserved[2];
};

/**
 * struct cxxvm_pgmap_vmap - CXXVM_IOC_PGMAP_VMAP: both halves together
 * @handle: in: a CXXVM_PGMAP_REAL pagemap of type GENERIC
 * @offset: in: first page, counted from first_data_pfn
 * @nr_pages: in: 1..max_pages
 * @seed: in: seed of the pattern
 * @pages_checked: out: pages that matched both ways
 * @reserved: must be zero
 *
 * Maps the ZONE_DEVICE pages with the C++ vmap allocator and the same
 * range with memremap(MEMREMAP_WB); writes a pattern through each mapping
 * and reads it back through the other.  -EIO on a mismatch, -EINVAL for a
 * range outside the pagemap's data pages.
 */
struct cxxvm_pgmap_vmap {
	__u64 handle;
	__u64 offset;
	__u32 nr_pages;
	__u32 seed;
	__u64 pages_checked;
	__u64 reserved[2];
};

/* CXXVM_IOC_PGMAP_BENCH backends and modes. */
#define CXXVM_LOOKUP_TRACKER	0	/* cxxvm's tracker: lookup + put */
#define CXXVM_LOOKUP_KERNEL	1	/* get_dev_pagemap() + put_dev_pagemap() */
#define CXXVM_LOOKUP_RANDOM	0	/* random pfns, no hint */
#define CXXVM_LOOKUP_HINTED	1	/* sequential pfns, the last result as hint */

/**
 * struct cxxvm_pgmap_bench - CXXVM_IOC_PGMAP_BENCH: in-kernel lookup loop
 * @backend: in: CXXVM_LOOKUP_TRACKER or CXXVM_LOOKUP_KERNEL
 * @mode: in: CXXVM_LOOKUP_RANDOM or CXXVM_LOOKUP_HINTED
 * @iterations: in: lookups, 1..max_bench_iterations
 * @flags: in: must be zero
 * @seed: in: seed of the random pfns
 * @reserved0: must be zero
 * @elapsed_ns: out: wall time of the loop
 * @hits: out: lookups that found a pagemap
 * @pagemaps: out: this file's REAL pagemaps the pfns were drawn from
 * @reserved: must be zero
 *
 * pfns are drawn from every range of this file's CXXVM_PGMAP_REAL
 * pagemaps (so both backends know them all), computed before the clock
 * starts.  RANDOM: lookup(pfn, none) then put, each time.  HINTED: the
 * ranges walked in order, each lookup given the previous result as its
 * hint (get_dev_pagemap()'s pattern in a pfn walk), one put at the end.
 * -ENOENT if this file has no REAL pagemap.
 */
struct cxxvm_pgmap_bench {
	__u32 backend;
	__u32 mode;
	__u32 iterations;
	__u32 flags;
	__u32 seed;
	__u32 reserved0;
	__u64 elapsed_ns;
	__u64 hits;
	__u64 pagemaps;
	__u64 reserved[2];
};

#define CXXVM_IOC_MAGIC		0xCE

#define CXXVM_IOC_INFO		_IOR(CXXVM_IOC_MAGIC, 0x00, struct cxxvm_info)
#define CXXVM_IOC_MAP		_IOWR(CXXVM_IOC_MAGIC, 0x01, struct cxxvm_map)
#define CXXVM_IOC_UNMAP		_IOW(CXXVM_IOC_MAGIC, 0x02, struct cxxvm_unmap)
#define CXXVM_IOC_VERIFY	_IOWR(CXXVM_IOC_MAGIC, 0x03, struct cxxvm_verify)
#define CXXVM_IOC_FLUSH		_IOWR(CXXVM_IOC_MAGIC, 0x04, struct cxxvm_flush)
#define CXXVM_IOC_STATS		_IOR(CXXVM_IOC_MAGIC, 0x05, struct cxxvm_stats)
#define CXXVM_IOC_BENCH		_IOWR(CXXVM_IOC_MAGIC, 0x06, struct cxxvm_bench)
#define CXXVM_IOC_BUF_CREATE	_IOWR(CXXVM_IOC_MAGIC, 0x07, struct cxxvm_buf_create)
#define CXXVM_IOC_BUF_DESTROY	_IOW(CXXVM_IOC_MAGIC, 0x08, struct cxxvm_buf_destroy)
#define CXXVM_IOC_SUBMIT	_IOWR(CXXVM_IOC_MAGIC, 0x09, struct cxxvm_submit)
#define CXXVM_IOC_REPLAY	_IOWR(CXXVM_IOC_MAGIC, 0x0a, struct cxxvm_replay)
#define CXXVM_IOC_PGMAP_CREATE	_IOWR(CXXVM_IOC_MAGIC, 0x10, struct cxxvm_pgmap_create)
#define CXXVM_IOC_PGMAP_DESTROY	_IOW(CXXVM_IOC_MAGIC, 0x11, struct cxxvm_pgmap_destroy)
#define CXXVM_IOC_PGMAP_GET	_IOWR(CXXVM_IOC_MAGIC, 0x12, struct cxxvm_pgmap_ref)
#define CXXVM_IOC_PGMAP_PUT	_IOWR(CXXVM_IOC_MAGIC, 0x13, struct cxxvm_pgmap_ref)
#define CXXVM_IOC_PGMAP_CHECK	_IOWR(CXXVM_IOC_MAGIC, 0x14, struct cxxvm_pgmap_check)
#define CXXVM_IOC_MEMREMAP	_IOWR(CXXVM_IOC_MAGIC, 0x15, struct cxxvm_memremap)
#define CXXVM_IOC_PGMAP_VMAP	_IOWR(CXXVM_IOC_MAGIC, 0x16, struct cxxvm_pgmap_vmap)
#define CXXVM_IOC_PGMAP_BENCH	_IOWR(CXXVM_IOC_MAGIC, 0x17, struct cxxvm_pgmap_bench)

#endif /* _UAPI_LINUX_CXXVM_H */
