/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CXXVM_PLATFORM_H
#define CXXVM_PLATFORM_H

int cxxvm_platform_init(void);
void cxxvm_platform_exit(void);

#endif /* CXXVM_PLATFORM_H */
