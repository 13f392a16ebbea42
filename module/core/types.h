// SPDX-License-Identifier: GPL-2.0
//
// Strong types for what the kernel keeps in unsigned long.
#pragma once

#include <cxxrt/std.h>

namespace cxxvm {

inline constexpr ktl::uint32_t kPageShift = 12;
inline constexpr ktl::uint64_t kPageSize = 1ull << kPageShift;

/// A page frame number (physical address >> PAGE_SHIFT).
class Pfn {
public:
	constexpr explicit Pfn(ktl::uint64_t v) : v_(v) {}
	[[nodiscard]] constexpr ktl::uint64_t value() const { return v_; }
	constexpr bool operator==(const Pfn &) const = default;

private:
	ktl::uint64_t v_;
};
static_assert(sizeof(Pfn) == sizeof(ktl::uint64_t), "Pfn is passed as u64 across the boundary");

/// A number of pages (not bytes).
class PageCount {
public:
	constexpr explicit PageCount(ktl::uint32_t v) : v_(v) {}
	[[nodiscard]] constexpr ktl::uint32_t value() const { return v_; }
	[[nodiscard]] constexpr ktl::uint64_t bytes() const { return ktl::uint64_t{v_} << kPageShift; }
	constexpr auto operator<=>(const PageCount &) const = default;

private:
	ktl::uint32_t v_;
};

/// A kernel virtual address.
class VirtAddr {
public:
	constexpr explicit VirtAddr(ktl::uintptr_t v) : v_(v) {}
	[[nodiscard]] constexpr ktl::uintptr_t value() const { return v_; }
	[[nodiscard]] constexpr VirtAddr plus_pages(ktl::uint32_t pages) const
	{
		return VirtAddr(v_ + (ktl::uintptr_t{pages} << kPageShift));
	}
	[[nodiscard]] constexpr bool page_aligned() const { return (v_ & (kPageSize - 1)) == 0; }
	constexpr auto operator<=>(const VirtAddr &) const = default;

private:
	ktl::uintptr_t v_;
};

/// A slot order: a slot of order k spans 2^k pages, aligned to 2^k pages
/// within its block.
class Order {
public:
	constexpr explicit Order(ktl::uint32_t k) : k_(static_cast<ktl::uint8_t>(k)) {}
	/// The smallest order whose slot holds @n pages (n >= 1).
	[[nodiscard]] static constexpr Order for_pages(PageCount n)
	{
		return Order(n.value() <= 1 ? 0 : ktl::bit_width(n.value() - 1));
	}
	[[nodiscard]] constexpr ktl::uint32_t value() const { return k_; }
	[[nodiscard]] constexpr ktl::uint32_t pages() const { return 1u << k_; }
	constexpr bool operator==(const Order &) const = default;

private:
	ktl::uint8_t k_;
};

static_assert(Order::for_pages(PageCount(1)).value() == 0);
static_assert(Order::for_pages(PageCount(2)).value() == 1);
static_assert(Order::for_pages(PageCount(3)).value() == 2);
static_assert(Order::for_pages(PageCount(64)).value() == 6);
static_assert(Order::for_pages(PageCount(65)).value() == 7);

} // namespace cxxvm
