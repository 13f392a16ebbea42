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

#ifdef __cplusplus
}
#endif

#endif /* CXXRT_RUNTIME_H */
