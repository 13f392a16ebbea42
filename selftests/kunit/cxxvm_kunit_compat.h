/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cxxvm_kunit_compat.h - KUnit names that changed between kernel lines.
 * Macros, so a plain #ifndef tells which a kernel has.
 */
#ifndef CXXVM_KUNIT_COMPAT_H
#define CXXVM_KUNIT_COMPAT_H

#include <kunit/test.h>

/* KUNIT_FAIL_AND_ABORT() in later kernels (7.2 has only that name). */
#ifndef KUNIT_ASSERT_FAILURE
#define KUNIT_ASSERT_FAILURE KUNIT_FAIL_AND_ABORT
#endif

#endif /* CXXVM_KUNIT_COMPAT_H */
