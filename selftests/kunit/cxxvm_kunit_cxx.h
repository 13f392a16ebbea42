/* SPDX-License-Identifier: GPL-2.0 */
/* C entry points of cxxvm_kunit_cxx.cpp (cxxrt under test). */
#ifndef CXXVM_KUNIT_CXX_H
#define CXXVM_KUNIT_CXX_H

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
extern "C" {
#endif

/* cxxrt::make<Probe>(): 0 or -ENOMEM; *constructed: constructor runs. */
int cxxvm_kunit_make_probe(int *constructed);
/* cxxrt::make_array<u64>(n): 0, -ENOMEM, or -EIO if not zeroed. */
int cxxvm_kunit_make_array(size_t n);
/* Address of a fresh make<T>() of a type aligned to @align, 0 on failure. */
uintptr_t cxxvm_kunit_make_aligned(unsigned int align);

#ifdef __cplusplus
}
#endif

#endif /* CXXVM_KUNIT_CXX_H */
