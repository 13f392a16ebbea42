// SPDX-License-Identifier: GPL-2.0
/* 6.18 and later: get_dev_pagemap(pfn), the hint parameter gone. */
#include <linux/memremap.h>

struct dev_pagemap *cxxvm_probe(unsigned long pfn);
struct dev_pagemap *cxxvm_probe(unsigned long pfn)
{
	return get_dev_pagemap(pfn);
}
