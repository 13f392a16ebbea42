/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CXXVM_PLATFORM_H
#define CXXVM_PLATFORM_H

#include <linux/cxxvm.h>

int cxxvm_platform_init(void);
void cxxvm_platform_exit(void);
enum cxxvm_tlb_flush cxxvm_plat_tlb_flush(void);
const char *cxxvm_plat_tlb_flush_method(void);

#endif /* CXXVM_PLATFORM_H */
