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

static_assert(CXXVM_PGMAP_MAX_RANGES == cxxvm::kPagemapMaxRanges);

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

extern "C" int cxxvm_tracker_register(cxxvm_tracker *t, const cxxvm_pgmap_desc *d, cxxvm_pgmap **out)
{
	if (d->nr_ranges == 0 || d->nr_ranges > CXXVM_PGMAP_MAX_RANGES || d->has_altmap > 1 || d->pad)
		return static_cast<int>(cxxrt::Errno::kInval);
	cxxvm::PfnRange ranges[CXXVM_PGMAP_MAX_RANGES];
	for (uint32_t i = 0; i < d->nr_ranges; ++i)
		ranges[i] = {cxxvm::Pfn(d->ranges[i].start_pfn), d->ranges[i].nr_pages};
	const auto r = tracker_of(t)->register_pagemap({
		.type = static_cast<cxxvm::PagemapType>(d->type),
		.ranges = {ranges, d->nr_ranges},
		.has_altmap = d->has_altmap != 0,
		.altmap_reserve = d->altmap_reserve,
		.altmap_free = d->altmap_free,
		.cookie = d->cookie,
	});
	if (!r.ok())
		return r.error();
	*out = handle_of(r.value());
	return 0;
}

extern "C" cxxvm_pgmap *cxxvm_tracker_lookup(cxxvm_tracker *t, uint64_t pfn, cxxvm_pgmap *hint)
{
	return handle_of(tracker_of(t)->lookup(cxxvm::Pfn(pfn), map_of(hint)));
}

extern "C" void cxxvm_tracker_get(cxxvm_pgmap *m)
{
	map_of(m)->get();
}

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

extern "C" int cxxvm_tracker_try_unregister(cxxvm_tracker *t, cxxvm_pgmap *m)
{
	return tracker_of(t)->try_unregister(map_of(m)).error();
}

extern "C" uintptr_t cxxvm_tracker_cookie(const cxxvm_pgmap *m)
{
	return map_of(m)->cookie();
}

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
