// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_kunit_exports.c - what cxxvm.ko exports to cxxvm_kunit.ko: the C++
 * core's boundary, cxxrt, and the platform's TLB flush.  Built only for
 * KUnit kernels (make CXXVM_KUNIT=1, which selftests/vm/kunit.sh passes);
 * a normal build of cxxvm.ko exports nothing.  The shim's own test hooks
 * (the ioctl table's checks, the purge notifier, the module's arena) are
 * exported where they are defined, under the same condition.
 */
#include <linux/export.h>

#include "cxxvm_core.h"
#include "cxxvm_internal.h"
#include "cxxvm_kunit.h"
#include "cxxvm_platform.h"
#include <cxxrt/runtime.h>

CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_tlb_flush_usable);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_tlb_flush);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_tlb_flush_method);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_tlb_shootdown_with);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_tlb_shootdown);
CXXVM_EXPORT_FOR_KUNIT(cxxrt_test_fail_nth_alloc);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_create);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_destroy);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_map);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_unmap);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_purge_now);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_purged_seq);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_owns);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_get_stats);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_shrink);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_arena_for_each_block);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_create);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_destroy);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_register);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_lookup);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_get);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_put);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_kill);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_unregister);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_try_unregister);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_cookie);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_refs);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_altmap_alloc);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_altmap_free);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_tracker_altmap_get);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_lock_create);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_lock_destroy);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_lock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_unlock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_mutex_create);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_mutex_destroy);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_mutex_lock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_mutex_unlock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_irqlock_create);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_irqlock_destroy);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_irqlock_lock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_plat_irqlock_unlock);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_pages_release);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_reap_retired);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_retired_pages);
CXXVM_EXPORT_FOR_KUNIT(cxxvm_leaked_pages);
CXXVM_EXPORT_FOR_KUNIT(cxxrt_alloc);
CXXVM_EXPORT_FOR_KUNIT(cxxrt_free);
CXXVM_EXPORT_FOR_KUNIT(cxxrt_bug);
