// SPDX-License-Identifier: GPL-2.0
//
// The C entry points of the pagemap tracker (cxxvm_core.h), instantiated
// with KernelPlatform.  struct cxxvm_tracker and struct cxxvm_pgmap are
// never defined: handles are PagemapTracker / Pagemap pointers in disguise.
#include "kernel_platform.h"
#include "pagemap_tracker.h"

using Tracker = cxxvm::PagemapTracker<cxxvm::KernelPlatform>;
using Map = Tracker::Map;

namespace {

Tracker *tracker_of(cxxvm_tracker *t)
{
	return reinterpret_cast<Tracker *>(t);
}

Map *map_of(cxxvm_pgmap *m)
{
	return reinterpret_cast<Map *>(m);
}

const Map *map_of(const cxxvm_pgmap *m)
{
	return reinterpret_cast<const Map *>(m);
}

cxxvm_pgmap *handle_of(Map *m)
{
	return reinterpret_cast<cxxvm_pgmap *>(m);
}

} // namespace

extern "C" int cxxvm_tracker_create(uint32_t max_ranges, cxxvm_tracker **out)
{
	const auto r = Tracker::create({.max_ranges = max_ranges});
	if (!r.ok())
		return r.error();
	*out = reinterpret_cast<cxxvm_tracker *>(r.value());
	return 0;
}

extern "C" uint32_t cxxvm_tracker_destroy(cxxvm_tracker *t)
{
	return t ? Tracker::destroy(tracker_of(t)) : 0;
}

namespace {

/// The boundary's description as a PagemapDesc over @ranges (room for
/// kPagemapMaxRanges).  Checked here: what the conversion needs (the range
/// count fits @ranges) and the boundary struct's own fields (has_altmap is
/// 0 or 1, pad is zero); check_desc() checks the pagemap.
int desc_of(const cxxvm_pgmap_desc *d, cxxvm::PfnRange *ranges, cxxvm::PagemapDesc *out)
{
	if (d->nr_ranges > cxxvm::kPagemapMaxRanges || d->has_altmap > 1 || d->pad)
		return static_cast<int>(cxxrt::Errno::kInval);
	for (uint32_t i = 0; i < d->nr_ranges; ++i)
		ranges[i] = {cxxvm::Pfn(d->ranges[i].start_pfn), d->ranges[i].nr_pages};
	*out = {
		.type = static_cast<cxxvm::PagemapType>(d->type),
		.ranges = {ranges, d->nr_ranges},
		.has_altmap = d->has_altmap != 0,
		.altmap_reserve = d->altmap_reserve,
		.altmap_free = d->altmap_free,
		.cookie = d->cookie,
	};
	return 0;
}

} // namespace

extern "C" int cxxvm_tracker_check_desc(const cxxvm_pgmap_desc *d)
{
	cxxvm::PfnRange ranges[cxxvm::kPagemapMaxRanges];
	cxxvm::PagemapDesc desc{};
	if (const int err = desc_of(d, ranges, &desc))
		return err;
	const auto r = Tracker::check_desc(desc);
	return r.ok() ? 0 : r.error();
}

extern "C" int cxxvm_tracker_register(cxxvm_tracker *t, const cxxvm_pgmap_desc *d, cxxvm_pgmap **out)
{
	cxxvm::PfnRange ranges[cxxvm::kPagemapMaxRanges];
	cxxvm::PagemapDesc desc{};
	if (const int err = desc_of(d, ranges, &desc))
		return err;
	const auto r = tracker_of(t)->register_pagemap(desc);
	if (!r.ok())
		return r.error();
	*out = handle_of(r.value());
	return 0;
}

extern "C" cxxvm_pgmap *cxxvm_tracker_lookup(cxxvm_tracker *t, uint64_t pfn, cxxvm_pgmap *hint)
{
	return handle_of(tracker_of(t)->lookup(cxxvm::Pfn(pfn), map_of(hint)));
}

#ifdef CXXVM_KUNIT
extern "C" void cxxvm_tracker_get(cxxvm_pgmap *m)
{
	map_of(m)->get();
}
#endif

extern "C" void cxxvm_tracker_put(cxxvm_pgmap *m)
{
	if (m)
		map_of(m)->put();
}

extern "C" bool cxxvm_tracker_kill(cxxvm_tracker *t, cxxvm_pgmap *m)
{
	return tracker_of(t)->kill(map_of(m));
}

extern "C" void cxxvm_tracker_unregister(cxxvm_tracker *t, cxxvm_pgmap *m)
{
	tracker_of(t)->unregister(map_of(m));
}

#ifdef CXXVM_KUNIT
extern "C" int cxxvm_tracker_try_unregister(cxxvm_tracker *t, cxxvm_pgmap *m)
{
	return tracker_of(t)->try_unregister(map_of(m)).error();
}
#endif

extern "C" uintptr_t cxxvm_tracker_cookie(const cxxvm_pgmap *m)
{
	return map_of(m)->cookie();
}

// The rest only the KUnit suites call (make CXXVM_KUNIT=1).
#ifdef CXXVM_KUNIT
extern "C" uint64_t cxxvm_tracker_refs(const cxxvm_pgmap *m)
{
	return map_of(m)->refs();
}

extern "C" int cxxvm_tracker_altmap_alloc(cxxvm_tracker *t, cxxvm_pgmap *m, uint64_t nr_pfns,
					uint64_t *pfn)
{
	const auto r = tracker_of(t)->altmap_alloc(map_of(m), nr_pfns);
	if (!r.ok())
		return r.error();
	*pfn = r.value().value();
	return 0;
}

extern "C" int cxxvm_tracker_altmap_free(cxxvm_tracker *t, cxxvm_pgmap *m, uint64_t nr_pfns)
{
	return tracker_of(t)->altmap_free(map_of(m), nr_pfns).error();
}

extern "C" int cxxvm_tracker_altmap_get(cxxvm_tracker *t, cxxvm_pgmap *m, cxxvm_altmap_info *info)
{
	const auto a = tracker_of(t)->altmap(map_of(m));
	if (!a)
		return static_cast<int>(cxxrt::Errno::kInval);
	*info = {
		.base_pfn = a->base_pfn().value(),
		.end_pfn = a->end_pfn().value(),
		.reserve = a->reserve(),
		.free = a->free_pages(),
		.align = a->align(),
		.alloc = a->allocated(),
		.offset = a->offset(),
	};
	return 0;
}
#endif
