// SPDX-License-Identifier: GPL-2.0
//
// Clang's thread-safety annotations, behind macros: the locking rules the
// comments state ("caller holds purge_mutex_"), in a form the compiler
// checks.  They expand to attributes only in the hosted build's
// thread-safety check (clang++ -Wthread-safety -DCXXVM_THREAD_SAFETY,
// `make -C selftests/hosted thread-safety`, run by make check); in the
// kernel build, and with GCC, to nothing.  The names follow clang's
// documentation (clang.llvm.org/docs/ThreadSafetyAnalysis.html).
//
// In the kernel, lockdep checks the order between locks at run time, with
// one class per lock role and kind (LockClass in platform.h); "caller
// holds" is checked only here.
#pragma once

#if defined(__clang__) && defined(CXXVM_THREAD_SAFETY)
#define CXXVM_TSA(x) __attribute__((x))
#else
#define CXXVM_TSA(x)
#endif

/// A lock type: a class whose objects are capabilities.
#define CXXVM_CAPABILITY(name) CXXVM_TSA(capability(name))
/// An RAII class that holds a capability for its lifetime (Guard).
#define CXXVM_SCOPED_CAPABILITY CXXVM_TSA(scoped_lockable)
/// A member read or written only with @x held.
#define CXXVM_GUARDED_BY(x) CXXVM_TSA(guarded_by(x))
/// A pointer whose target is read or written only with @x held.
#define CXXVM_PT_GUARDED_BY(x) CXXVM_TSA(pt_guarded_by(x))
/// A function called with these held, which it does not release.
#define CXXVM_REQUIRES(...) CXXVM_TSA(requires_capability(__VA_ARGS__))
/// A function that takes these and returns holding them.
#define CXXVM_ACQUIRE(...) CXXVM_TSA(acquire_capability(__VA_ARGS__))
/// A function that releases these (held on entry).
#define CXXVM_RELEASE(...) CXXVM_TSA(release_capability(__VA_ARGS__))
/// A function that takes these only when it returns @ret.
#define CXXVM_TRY_ACQUIRE(...) CXXVM_TSA(try_acquire_capability(__VA_ARGS__))
/// A function that must not be called with these held.
#define CXXVM_EXCLUDES(...) CXXVM_TSA(locks_excluded(__VA_ARGS__))
/// A function the analysis cannot follow (a lock taken in a callback and
/// returned held); its comment says why.
#define CXXVM_NO_THREAD_SAFETY_ANALYSIS CXXVM_TSA(no_thread_safety_analysis)
