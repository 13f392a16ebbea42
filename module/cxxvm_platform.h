/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CXXVM_PLATFORM_H
#define CXXVM_PLATFORM_H

#include <linux/cxxvm.h>

int cxxvm_platform_init(void);
void cxxvm_platform_exit(void);
enum cxxvm_tlb_flush cxxvm_plat_tlb_flush(void);
const char *cxxvm_plat_tlb_flush_method(enum cxxvm_tlb_flush how);
int cxxvm_plat_tlb_shootdown_with(enum cxxvm_tlb_flush how);
bool cxxvm_plat_tlb_flush_usable(enum cxxvm_tlb_flush how);

#endif /* CXXVM_PLATFORM_H */
