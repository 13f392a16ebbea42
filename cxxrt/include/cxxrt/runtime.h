/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxrt/runtime.h - what cxxrt needs from the kernel, implemented by the C
 * shim.  Shared by C and C++: plain C declarations only.
 */
#ifndef CXXRT_RUNTIME_H
#define CXXRT_RUNTIME_H

#ifdef __cplusplus
#include <cstddef>
extern "C" {
#else
#include <linux/types.h>
#endif

/* GFP contexts for cxxrt_alloc(); the shim maps them to GFP_*. */
#define CXXRT_GFP_KERNEL	0	/* may sleep and reclaim */
#define CXXRT_GFP_NOWAIT	1	/* never sleeps, fails early */
#define CXXRT_GFP_ATOMIC	2	/* never sleeps, may use reserves */

/**
 * cxxrt_alloc() - kmalloc() for kernel C++.
 * @size: bytes
 * @gfp: CXXRT_GFP_*
 *
 * Context: may sleep for CXXRT_GFP_KERNEL; any context otherwise.
 * Return: 8-byte aligned memory, or NULL.
 */
void *cxxrt_alloc(size_t size, unsigned int gfp);

/* No NUMA node preference for cxxrt_alloc_node(): NUMA_NO_NODE. */
#define CXXRT_NO_NODE		(-1)

/**
 * cxxrt_alloc_node() - kmalloc_node() for kernel C++.
 * @size: bytes
 * @gfp: CXXRT_GFP_*
 * @node: preferred NUMA node, or CXXRT_NO_NODE
 *
 * The node is a hint: memory may come from another node.
 * Context: may sleep for CXXRT_GFP_KERNEL; any context otherwise.
 * Return: 8-byte aligned memory, or NULL.
 */
void *cxxrt_alloc_node(size_t size, unsigned int gfp, int node);

/**
 * cxxrt_free() - kfree(); NULL is ignored.
 * @ptr: from cxxrt_alloc()
 *
 * Context: any.
 */
void cxxrt_free(const void *ptr);

/**
 * cxxrt_bug() - report a C++ core bug and BUG().
 * @why: message
 *
 * Not [[noreturn]] on the C++ side: objtool does not know user-defined
 * noreturn functions, so only the C side traps.  Context: any.
 */
void cxxrt_bug(const char *why);

/**
 * cxxrt_warn() - report a broken invariant the caller recovers from: WARN().
 * @why: message
 *
 * Returns, so objtool sees an ordinary call.  Context: any.
 */
void cxxrt_warn(const char *why);

#ifdef __cplusplus
}
#endif

#endif /* CXXRT_RUNTIME_H */
