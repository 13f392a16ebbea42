// SPDX-License-Identifier: GPL-2.0
/* Up to 6.17: get_dev_pagemap(pfn, pgmap), pgmap a hint or NULL. */
#include <linux/memremap.h>

struct dev_pagemap *cxxvm_probe(unsigned long pfn);
struct dev_pagemap *cxxvm_probe(unsigned long pfn)
{
	return get_dev_pagemap(pfn, NULL);
}
