// SPDX-License-Identifier: GPL-2.0
/* 6.19 and later: dev_pagemap_ops.folio_free replaces .page_free. */
#include <linux/memremap.h>

void cxxvm_probe_free(struct folio *folio);
void cxxvm_probe_free(struct folio *folio)
{
}

const struct dev_pagemap_ops cxxvm_probe_ops = {
	.folio_free = cxxvm_probe_free,
};
