// SPDX-License-Identifier: GPL-2.0
//
// The C++ half of the cxxrt suite: cxxrt's templates instantiated in the
// test module, reached from cxxvm_kunit_main.c through extern "C".
#include <cxxrt/alloc.h>

#include "cxxvm_kunit_cxx.h"

namespace {

// Counts constructor runs: a failed make<T>() must not construct.
constinit int probe_constructed = 0;

struct Probe {
	Probe() { ++probe_constructed; }
	ktl::uint64_t payload[4] = {};
};

template <ktl::size_t Align>
struct alignas(Align) Aligned {
	char c;
};

template <ktl::size_t Align>
ktl::uintptr_t make_aligned()
{
	auto r = cxxrt::make<Aligned<Align>>(cxxrt::Gfp::kKernel);
	if (!r.ok())
		return 0;
	const auto addr = reinterpret_cast<ktl::uintptr_t>(r.value());
	cxxrt::destroy(r.value());
	return addr;
}

} // namespace

extern "C" int cxxvm_kunit_make_probe(int *constructed)
{
	const int before = probe_constructed;
	auto r = cxxrt::make<Probe>(cxxrt::Gfp::kKernel);

	*constructed = probe_constructed - before;
	if (!r.ok())
		return r.error();
	cxxrt::destroy(r.value());
	return 0;
}

extern "C" int cxxvm_kunit_make_array(ktl::size_t n)
{
	auto r = cxxrt::make_array<ktl::uint64_t>(cxxrt::Gfp::kKernel, n);

	if (!r.ok())
		return r.error();
	for (ktl::size_t i = 0; i < n; ++i)
		if (r.value()[i] != 0)
			return -5;	// value-initialised means zero
	cxxrt::destroy_array(r.value());
	return 0;
}

extern "C" uintptr_t cxxvm_kunit_make_aligned(unsigned int align)
{
	switch (align) {
	case 1:
		return make_aligned<1>();
	case 2:
		return make_aligned<2>();
	case 4:
		return make_aligned<4>();
	case 8:
		return make_aligned<8>();
	}
	return 0;
}
