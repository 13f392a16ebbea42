/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_kunit.h - what cxxvm.ko offers its KUnit companion module.
 *
 * Exported (CXXVM_EXPORT_FOR_KUNIT), and the fault-injection knob and the
 * core's test-only entry points compiled in, only when the build asks for
 * it (make CXXVM_KUNIT=1, which selftests/vm/kunit.sh passes for its test
 * kernel) and, where the kernel has EXPORT_SYMBOL_IF_KUNIT(), only on a
 * kernel with CONFIG_KUNIT.  A normal build of cxxvm.ko exports nothing.
 */
#ifndef CXXVM_KUNIT_H
#define CXXVM_KUNIT_H

#include <linux/cxxvm.h>

/*
 * The kernel's EXPORT_SYMBOL_IF_KUNIT(): exported into the
 * EXPORTED_FOR_KUNIT_TESTING namespace, which cxxvm_kunit.ko imports, and
 * only if the kernel has CONFIG_KUNIT.  Like the kernel's own uses, that is
 * EXPORT_SYMBOL_NS(), not _GPL: the namespace, not the licence, is what
 * keeps other modules out.  A kernel without <kunit/visibility.h>
 * (upstream before 6.2; Debian's 6.1 has it) gets a plain GPL export.
 */
#ifdef CXXVM_KUNIT
#if __has_include("kunit/visibility.h")
#include <kunit/visibility.h>
#define CXXVM_EXPORT_FOR_KUNIT(sym) EXPORT_SYMBOL_IF_KUNIT(sym)
#else
#define CXXVM_EXPORT_FOR_KUNIT(sym) EXPORT_SYMBOL_GPL(sym)
#endif
#else
#define CXXVM_EXPORT_FOR_KUNIT(sym)
#endif

/**
 * cxxvm_ioctl_check() - the argument check of @cmd's ioctl table row
 * @cmd: a CXXVM_IOC_* command
 * @kdata: its struct, at the module's size
 *
 * Context: any.
 * Return: 0, -EINVAL (bad field, non-zero reserved field, unknown flag),
 * -ENOENT (a handle that cannot exist), -ERANGE (a pfn range past the end
 * of physical address space), or -ENOTTY for an unknown command.
 */
int cxxvm_ioctl_check(unsigned int cmd, const void *kdata);

/**
 * cxxrt_test_fail_nth_alloc() - make the @n-th next cxxrt_alloc() fail.
 * @n: 1 for the next allocation, 0 to disarm
 *
 * Fault injection for KUnit (CXXVM_KUNIT builds only).  Context: any.
 */
void cxxrt_test_fail_nth_alloc(unsigned int n);

struct notifier_block;
struct cxxvm_arena;

/* The module's vmap purge notifier block (CXXVM_KUNIT builds only). */
struct notifier_block *cxxvm_purge_notifier_for_test(void);
/* The module's own arena, behind /dev/cxxvm (CXXVM_KUNIT builds only). */
struct cxxvm_arena *cxxvm_module_arena_for_test(void);

/*
 * The takeover of vm_map_ram() (cxxvm_takeover.c; CXXVM_KUNIT builds
 * only): the switch (CXXVM_TAKEOVER_OFF, _OBSERVE, _ON, _SPLIT; may sleep), the
 * arena that serves the kernel's callers, and whether the takeover is
 * active (holds the module) with how many taken-over mappings are live;
 * and takeover_warm's switch.
 */
int cxxvm_takeover_set(int mode);
struct cxxvm_arena *cxxvm_takeover_arena_for_test(void);
bool cxxvm_takeover_held_for_test(long *live);
void cxxvm_takeover_warm_for_test(bool on);

#endif /* CXXVM_KUNIT_H */
