// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer harness: random sequences of register, lookup (with and without
// a hint), get, put, kill, try_unregister and unregister on a
// PagemapTracker<HostedPlatform>, against a reference model.  Checked after
// every step: each lookup finds exactly the live pagemap the model says
// holds the pfn (or none); register refuses exactly the overlaps; every
// pagemap's reference count equals the references the model holds plus the
// registration's, so a reference never goes missing or negative; nothing
// WARNs; the tracker ends empty.
#include "core/pagemap_tracker.h"
#include "hosted_platform.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace cxxvm;
using namespace cxxvm::hosted;
using Tracker = PagemapTracker<HostedPlatform>;
using Map = Tracker::Map;

namespace {

constexpr ktl::uint64_t kBase = ktl::uint64_t{1} << 30;
constexpr int kSlots = 4;

struct Slot {
	Map *m = nullptr;
	PfnRange r;
	bool live = false;
	ktl::uint64_t held = 0;	// references the harness holds
};

[[noreturn]] void fail(const char *what, ktl::uint64_t a = 0, ktl::uint64_t b = 0)
{
	std::fprintf(stderr, "fuzz_tracker: %s (%llu, %llu)\n", what, (unsigned long long)a,
		     (unsigned long long)b);
	std::abort();
}

/// The slot whose live pagemap holds @pfn, or -1.
int model_lookup(const Slot *s, ktl::uint64_t pfn)
{
	for (int k = 0; k < kSlots; ++k)
		if (s[k].m && s[k].live && s[k].r.contains(Pfn(pfn)))
			return k;
	return -1;
}

int slot_of(const Slot *s, const Map *m)
{
	for (int k = 0; k < kSlots; ++k)
		if (m && s[k].m == m)
			return k;
	return -1;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ktl::uint64_t warned = warnings();
	auto r = Tracker::create({.max_ranges = kSlots});
	if (!r.ok())
		fail("create");
	Tracker *t = r.value();
	Slot s[kSlots];

	for (size_t i = 0; i + 1 < size; i += 2) {
		const uint8_t op = data[i], arg = data[i + 1];
		const int k = (op >> 3) % kSlots;
		Slot &x = s[k];
		const ktl::uint64_t pfn = kBase + arg;
		switch (op & 7) {
		case 0: {	// register [base + (arg & 0xf0), + 1..16)
			if (x.m)
				break;
			const PfnRange range{Pfn(kBase + (arg & 0xf0)), 1u + (arg & 0x0f)};
			bool overlap = false;
			for (const Slot &o : s)
				overlap |= o.m && o.r.overlaps(range);
			auto reg = t->register_pagemap({.type = PagemapType::kGeneric,
							.ranges = {&range, 1}, .cookie = ktl::uintptr_t(k)});
			if (overlap != !reg.ok() || (overlap && reg.error() != -16))
				fail("register: overlap and result disagree", overlap, reg.error());
			if (reg.ok())
				x = {reg.value(), range, true, 0};
			break;
		}
		case 1: {	// lookup without a hint
			Map *m = t->lookup(Pfn(pfn), nullptr);
			const int want = model_lookup(s, pfn);
			if (slot_of(s, m) != want)
				fail("lookup disagrees with the model", arg, want);
			if (m)
				s[want].held++;
			break;
		}
		case 2: {	// lookup with slot k's pagemap as the hint
			if (!x.held)
				break;
			Map *m = t->lookup(Pfn(pfn), x.m);
			if (x.r.contains(Pfn(pfn))) {
				if (m != x.m)
					fail("a covering hint did not come back as is", arg);
				break;	// its reference carried over
			}
			x.held--;	// the hint's reference was put
			const int want = model_lookup(s, pfn);
			if (slot_of(s, m) != want)
				fail("hinted lookup disagrees with the model", arg, want);
			if (m)
				s[want].held++;
			break;
		}
		case 3:		// put
			if (x.held) {
				x.m->put();
				x.held--;
			}
			break;
		case 4:		// get
			if (x.held) {
				x.m->get();
				x.held++;
			}
			break;
		case 5:		// kill
			if (x.m) {
				if (t->kill(x.m) != x.live)
					fail("kill: first or not disagrees", k);
				x.live = false;
			}
			break;
		case 6:		// try_unregister
			if (x.m) {
				const auto res = t->try_unregister(x.m);
				x.live = false;
				if (x.held ? res.error() != -16 : !res.ok())
					fail("try_unregister disagrees with the references held", x.held);
				if (res.ok())
					x = {};
			}
			break;
		case 7:		// unregister (would wait forever with references held)
			if (x.m && !x.held) {
				t->unregister(x.m);
				x = {};
			}
			break;
		}
		for (const Slot &o : s) {
			if (!o.m)
				continue;
			if (o.m->refs() != o.held + (o.live ? 1 : 0))
				fail("references: tracker and model disagree", o.m->refs(), o.held);
			if (o.m->dying() == o.live)
				fail("dying: tracker and model disagree");
		}
	}
	for (Slot &x : s) {
		while (x.held--)
			x.m->put();
		if (x.m)
			t->unregister(x.m);
	}
	if (Tracker::destroy(t) != 0)
		fail("destroy found pagemaps left");
	if (warnings() != warned)
		fail("a WARN");
	return 0;
}
