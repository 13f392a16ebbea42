// SPDX-License-Identifier: GPL-2.0
//
// Altmap: the accounting of struct vmem_altmap (include/linux/memremap.h).
#pragma once

#include <cxxrt/result.h>
#include "types.h"

namespace cxxvm {

/// Pages of device memory that hold the memmap (the struct pages) of the
/// range they belong to, as struct vmem_altmap does for memremap_pages().
/// Every figure is in pages (pfns), never bytes:
///
///   base_pfn                                         end_pfn (inclusive)
///   | reserve | align, alloc (the memmap) ... | free left | data pages |
///             <---------------- free ---------------->
///
/// - base_pfn: the first pfn of the range (the pagemap's first range);
/// - end_pfn: the last pfn of the range, inclusive, as the kernel's drivers
///   set it (PHYS_PFN(res->end));
/// - reserve: pages at the start left alone (a device label, say);
/// - free: pages after the reserve that may hold the memmap;
/// - alloc: pages handed out; align: pages skipped to align them.
///
/// Not thread-safe: the owner serialises (the kernel runs it under the
/// memory hotplug lock; PagemapTracker under its mutex).
class Altmap {
public:
	/// Check and build an altmap for a range of @range_pages pages at
	/// @base.  Mirrors what memremap_pages() callers set up.
	/// Errors: -EINVAL if @range_pages is 0 or reserve + free exceeds it
	/// (the altmap would not fit in its own range).  Context: any.
	[[nodiscard]] static cxxrt::Result<Altmap> create(Pfn base, ktl::uint64_t range_pages,
							   ktl::uint64_t reserve, ktl::uint64_t free)
	{
		if (range_pages == 0 || reserve > range_pages || free > range_pages - reserve)
			return cxxrt::Errno::kInval;
		return Altmap(base, Pfn(base.value() + range_pages - 1), reserve, free);
	}

	/// Pages from base_pfn before the first pfn whose struct page is
	/// valid: the first data page.  Mirrors vmem_altmap_offset() in
	/// mm/memremap.c.
	[[nodiscard]] ktl::uint64_t offset() const { return reserve_ + free_; }

	/// Pages of free left: mirrors vmem_altmap_nr_free() in
	/// mm/sparse-vmemmap.c.
	[[nodiscard]] ktl::uint64_t nr_free() const
	{
		const ktl::uint64_t used = alloc_ + align_;
		return free_ > used ? free_ - used : 0;
	}

	/// Take @nr_pfns pages for the memmap, aligned to the largest power of
	/// two that divides @nr_pfns (a 512-page PMD block lands on a 512-page
	/// boundary).  Returns the first pfn.  Mirrors altmap_alloc_block_buf()
	/// in mm/sparse-vmemmap.c, including the alignment it skips being
	/// counted in align.  Errors: -EINVAL for 0 pages; -ENOSPC when free
	/// cannot hold them (the kernel's NULL).  Context: any.
	[[nodiscard]] cxxrt::Result<Pfn> alloc(ktl::uint64_t nr_pfns)
	{
		if (nr_pfns == 0)
			return cxxrt::Errno::kInval;
		const ktl::uint64_t next = base_pfn_.value() + reserve_ + alloc_ + align_;
		const ktl::uint64_t align = ktl::uint64_t{1} << ktl::countr_zero(nr_pfns);
		const ktl::uint64_t skip = ((next + align - 1) & ~(align - 1)) - next;
		if (nr_pfns + skip > nr_free())
			return cxxrt::Errno::kNoSpc;
		alloc_ += nr_pfns;
		align_ += skip;
		return Pfn(next + skip);
	}

	/// Give back @nr_pfns pages.  Mirrors vmem_altmap_free() in
	/// mm/memremap.c, which only lowers alloc (space is not reused; the
	/// memmap is freed as a whole when the range goes).  Errors: -EINVAL
	/// if more than alloc would be given back (the kernel would wrap).
	/// Context: any.
	[[nodiscard]] cxxrt::Result<void> free(ktl::uint64_t nr_pfns)
	{
		if (nr_pfns > alloc_)
			return cxxrt::Errno::kInval;
		alloc_ -= nr_pfns;
		return {};
	}

	[[nodiscard]] Pfn base_pfn() const { return base_pfn_; }
	[[nodiscard]] Pfn end_pfn() const { return end_pfn_; }
	[[nodiscard]] ktl::uint64_t reserve() const { return reserve_; }
	[[nodiscard]] ktl::uint64_t free_pages() const { return free_; }
	[[nodiscard]] ktl::uint64_t align() const { return align_; }
	[[nodiscard]] ktl::uint64_t allocated() const { return alloc_; }

private:
	Altmap(Pfn base, Pfn end, ktl::uint64_t reserve, ktl::uint64_t free)
		: base_pfn_(base), end_pfn_(end), reserve_(reserve), free_(free)
	{
	}

	Pfn base_pfn_;
	Pfn end_pfn_;
	ktl::uint64_t reserve_;
	ktl::uint64_t free_;
	ktl::uint64_t align_ = 0;
	ktl::uint64_t alloc_ = 0;
};

} // namespace cxxvm
