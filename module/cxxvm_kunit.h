/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_kunit.h - what cxxvm.ko offers its KUnit companion module.
 *
 * Exported, and the fault-injection knob compiled in, only when the build
 * asks for it (make CXXVM_KUNIT=1, which selftests/vm/kunit.sh passes for
 * its test kernel).  Whether the target kernel has CONFIG_KUNIT does not
 * matter: a normal build of cxxvm.ko exports nothing.
 */
#ifndef CXXVM_KUNIT_H
#define CXXVM_KUNIT_H

#include <linux/cxxvm.h>

#ifdef CXXVM_KUNIT
#define CXXVM_EXPORT_FOR_KUNIT(sym) EXPORT_SYMBOL_GPL(sym)
#else
#define CXXVM_EXPORT_FOR_KUNIT(sym)
#endif

/*
 * Argument checks of the ioctls, after copy_from_user().
 * Return: 0, -EINVAL (bad field, non-zero reserved field, unknown flag) or
 * -ENOENT (a handle that cannot exist).  Context: any.
 */
int cxxvm_check_map(const struct cxxvm_map *arg);
int cxxvm_check_unmap(const struct cxxvm_unmap *arg);
int cxxvm_check_verify(const struct cxxvm_verify *arg);
int cxxvm_check_flush(const struct cxxvm_flush *arg);
int cxxvm_check_bench(const struct cxxvm_bench *arg);
/* Also -ERANGE: a range past the end of physical address space. */
int cxxvm_check_pgmap_create(const struct cxxvm_pgmap_create *arg);

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

#endif /* CXXVM_KUNIT_H */
