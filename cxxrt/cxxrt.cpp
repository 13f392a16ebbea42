// SPDX-License-Identifier: GPL-2.0
//
// cxxrt.cpp: the few symbols g++ may ask for that the kernel does not have.
#include <cxxrt/runtime.h>
#include <cxxrt/std.h>

extern "C" {
void __cxa_pure_virtual(void);


/// __cxa_pure_virtual() - a pure virtual function was called: a core bug.
void __cxa_pure_virtual(void)
{
	cxxrt_bug("cxxrt: pure virtual function called");
}
}
