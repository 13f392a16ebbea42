// SPDX-License-Identifier: GPL-2.0
//
// cxxrt/result.h: Result<T>, a value or a negative errno, and TRY().
#pragma once

#include <cxxrt/std.h>

namespace cxxrt {

/// A kernel errno, always negative (-ENOMEM, -EINVAL, ...).  The numbers
/// are the kernel's (include/uapi/asm-generic/errno-base.h); the core only
/// names the few it returns.
enum class Errno : int {
	kNoEnt = -2,
	kNxio = -6,
	kNoMem = -12,
	kBusy = -16,
	kInval = -22,
	kNoSpc = -28,
	kRange = -34,
};

/// A value of type T or an Errno.  [[nodiscard]]: a caller that drops a
/// Result drops an error.  T must be trivially destructible (pointers,
/// integers, strong types), which keeps Result trivially destructible too.
template <typename T>
class [[nodiscard]] Result {
	static_assert(ktl::is_trivially_destructible_v<T>);

public:
	constexpr Result(T value) : value_(value), err_(0) {}
	constexpr Result(Errno e) : none_(), err_(static_cast<int>(e)) {}

	[[nodiscard]] constexpr bool ok() const { return err_ == 0; }
	/// The errno (negative), or 0 on success.
	[[nodiscard]] constexpr int error() const { return err_; }
	[[nodiscard]] constexpr Errno errno_value() const { return static_cast<Errno>(err_); }
	/// The value; only meaningful when ok().
	[[nodiscard]] constexpr T value() const { return value_; }

private:
	// A union, so that T needs no default constructor (strong types).
	union {
		char none_;
		T value_;
	};
	int err_;
};

/// Result<void>: success or an Errno.
template <>
class [[nodiscard]] Result<void> {
public:
	constexpr Result() : err_(0) {}
	constexpr Result(Errno e) : err_(static_cast<int>(e)) {}

	[[nodiscard]] constexpr bool ok() const { return err_ == 0; }
	[[nodiscard]] constexpr int error() const { return err_; }
	[[nodiscard]] constexpr Errno errno_value() const { return static_cast<Errno>(err_); }

private:
	int err_;
};

} // namespace cxxrt

/// Evaluate a Result-returning expression; on error return its Errno from
/// the enclosing function, else yield the value (GNU statement expression).
#define TRY(expr)                                                     \
	({                                                            \
		auto _cxxrt_r = (expr);                               \
		if (!_cxxrt_r.ok())                                   \
			return _cxxrt_r.errno_value();                \
		_cxxrt_r.value();                                     \
	})

/// TRY for Result<void>.
#define TRY_VOID(expr)                                                \
	do {                                                          \
		auto _cxxrt_r = (expr);                               \
		if (!_cxxrt_r.ok())                                   \
			return _cxxrt_r.errno_value();                \
	} while (0)
