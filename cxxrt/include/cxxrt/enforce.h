// SPDX-License-Identifier: GPL-2.0
//
// cxxrt/enforce.h: turn the unsafe parts of libstdc++ into compile errors.
//
// GCC 12's libstdc++ reports itself hosted even under -ffreestanding, so
// nothing stops kernel C++ from reaching code that throws, aborts or
// allocates.  Three fences, from cheapest to latest:
//   1. Headers that allocate or throw by design (<vector>, <string>,
//      <functional>, <variant>, ...) are shadowed by cxxrt/include/forbidden,
//      which the build puts first on the include path: including one fails
//      with #error.
//   2. The out-of-line helpers libstdc++ calls where it would throw
//      (__throw_*), and abort(), are redeclared here with GCC's error
//      attribute: a call the optimiser cannot prove dead (array::at(), ...)
//      fails to compile with the message below.
//   3. After the build, selftests/vm/check-ko.sh lets the C++ objects
//      import only the shim's calls and what the compiler emits for the
//      kernel's flags.  That catches what 2 cannot: optional::value(),
//      whose inline helper calls __builtin_abort() (the kernel exports an
//      abort(), so modpost would accept it), and the global operator
//      new/delete, which are never defined.
#pragma once

#if defined(__EXCEPTIONS) || defined(__GXX_RTTI)
#error "cxxrt: kernel C++ is built with -fno-exceptions -fno-rtti"
#endif

// The hosted build of the core (selftests/hosted: googletest, sanitizers)
// links with libstdc++ and googletest, whose headers call abort() and the
// __throw_* helpers: there fences 1 to 3 do not apply, only the flags do.
#ifndef CXXRT_HOSTED

#include <bits/functexcept.h>

#define CXXRT_FORBIDDEN(what) \
	__attribute__((__error__("cxxrt: " what " is not allowed in kernel C++")))

extern "C" void abort(void) CXXRT_FORBIDDEN("abort() (a throwing or aborting std member)");

namespace std {
void __throw_bad_alloc(void) CXXRT_FORBIDDEN("std::bad_alloc");
void __throw_bad_array_new_length(void) CXXRT_FORBIDDEN("new[] with a bad length");
void __throw_bad_function_call(void) CXXRT_FORBIDDEN("std::function");
void __throw_out_of_range(const char *) CXXRT_FORBIDDEN(".at()");
void __throw_out_of_range_fmt(const char *, ...) CXXRT_FORBIDDEN(".at()");
void __throw_length_error(const char *) CXXRT_FORBIDDEN("a growing container");
void __throw_logic_error(const char *) CXXRT_FORBIDDEN("std::logic_error");
void __throw_invalid_argument(const char *) CXXRT_FORBIDDEN("std::invalid_argument");
void __throw_system_error(int) CXXRT_FORBIDDEN("std::system_error");
} // namespace std

#endif /* CXXRT_HOSTED */
