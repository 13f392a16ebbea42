// SPDX-License-Identifier: GPL-2.0
//
// cxxrt/std.h: the curated part of libstdc++ that is safe in kernel space,
// exported as namespace ktl (Zircon's pattern).  Kernel C++ includes this
// header, never a libstdc++ header directly.
//
// What is here neither allocates nor throws through the members we use:
// type traits, limits, concepts, <bit>, <utility>, std::array/std::span
// through operator[] and iterators, std::optional through has_value() and
// operator*.  Forbidden headers and throwing members are turned into
// compile errors by cxxrt/enforce.h.
//
// Not here: <atomic>.  In C++20 mode GCC 12's <atomic> includes
// <bits/atomic_wait.h>, which pulls glibc's pthread and stdio headers and
// std::string.  The core keeps all shared state under locks for now; when
// lock-free counters are needed they get a word-sized wrapper over the
// __atomic builtins here, with the same explicit memory orders.
//
// <optional> includes <exception> and <typeinfo> itself, so those two
// cannot be shadowed; -fno-exceptions -fno-rtti keep them inert.
#pragma once

#include <cxxrt/enforce.h>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace ktl {

using std::array;
using std::countr_zero;
using std::has_single_bit;
using std::bit_width;
using std::forward;
using std::move;
using std::numeric_limits;
using std::optional;
using std::nullopt;
using std::span;
using std::size_t;
using std::exchange;
using std::integral;
using std::unsigned_integral;
using std::is_trivially_destructible_v;
using std::is_same_v;
using std::same_as;
using std::derived_from;

using std::uint8_t;
using std::uint16_t;
using std::uint32_t;
using std::uint64_t;
using std::uintptr_t;
using std::int32_t;
using std::int64_t;

} // namespace ktl
