// SPDX-License-Identifier: GPL-2.0
/* Up to 6.18: dev_pagemap_ops.page_free. */
#include <linux/memremap.h>

void cxxvm_probe_free(struct page *page);
void cxxvm_probe_free(struct page *page)
{
}

const struct dev_pagemap_ops cxxvm_probe_ops = {
	.page_free = cxxvm_probe_free,
};
