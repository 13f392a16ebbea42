// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm_pattern.c - the content check of VERIFY, MEMREMAP and PGMAP_VMAP:
 * a pattern written through one mapping and read back through another, so
 * that a wrong PTE or a stale TLB entry in either shows as a mismatch.
 */
#include <linux/compiler.h>
#include <linux/types.h>

#include "cxxvm_internal.h"

/* A pattern word that differs per seed, page, word and direction. */
static u64 cxxvm_pattern(u32 seed, u32 page, u32 word, u32 dir)
{
	u64 x = ((u64)seed << 32) ^ ((u64)page << 16) ^ word ^ ((u64)dir << 63);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/**
 * cxxvm_check_pattern() - write a pattern through one mapping, read it back
 * through another.
 * @dst: where to write
 * @src: where to read back (another mapping of the same memory, or @dst)
 * @bytes: length, a multiple of 8 bytes, below 32 GiB
 * @seed: seed of the pattern
 * @page: mixed into the pattern (the page index, for VERIFY)
 * @dir: mixed into the pattern (which way round: 0 or 1)
 *
 * Context: any; touches every byte once each way.
 * Return: true if every word read back as written.
 */
bool cxxvm_check_pattern(u64 *dst, const u64 *src, size_t bytes, u32 seed, u32 page, u32 dir)
{
	u32 w, words = bytes / sizeof(u64);

	for (w = 0; w < words; w++)
		WRITE_ONCE(dst[w], cxxvm_pattern(seed, page, w, dir));
	for (w = 0; w < words; w++)
		if (READ_ONCE(src[w]) != cxxvm_pattern(seed, page, w, dir))
			return false;
	return true;
}
