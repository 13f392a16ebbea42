// SPDX-License-Identifier: GPL-2.0
/*
 * cxxvm-bench - time map+unmap of P pages on each backend of /dev/cxxvm.
 *
 * For every P, each backend runs CXXVM_IOC_BENCH: an in-kernel loop of
 * N map+unmap cycles of the same P pages, each cycle timed on its own.
 * The table gives the mean (elapsed / N, from a pass without per-cycle
 * clock reads) and the p50/p99 per cycle (from a second, timed pass), in
 * ns, and the ratio of each backend's mean to vm_map_ram's from the same
 * run.  Each cell is preceded by an untimed warm-up, by default
 * lazy_max_pages cycles: enough for the kernel's vmap blocks and cxx's
 * arena to go through a purge and reach their steady state.
 *
 *   cxxvm-bench [-n ITERATIONS] [-w WARMUP] [--json FILE]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/cxxvm.h>

static const unsigned int sizes[] = { 1, 2, 4, 8, 16, 32, 64 };
#define NR_SIZES 7
_Static_assert(sizeof(sizes) == NR_SIZES * sizeof(sizes[0]), "NR_SIZES");

static const char *const backend_names[CXXVM_NR_BACKENDS] = {
	[CXXVM_BACKEND_CXX] = "cxx",
	[CXXVM_BACKEND_VM_MAP_RAM] = "vm_map_ram",
	[CXXVM_BACKEND_VMAP] = "vmap",
};

static struct cxxvm_bench results[NR_SIZES][CXXVM_NR_BACKENDS];

static int run_bench(int fd, __u32 backend, __u32 pages, __u32 iterations,
		     struct cxxvm_bench *out)
{
	memset(out, 0, sizeof(*out));
	out->backend = backend;
	out->nr_pages = pages;
	out->iterations = iterations;
	if (ioctl(fd, CXXVM_IOC_BENCH, out)) {
		fprintf(stderr, "cxxvm-bench: BENCH %s P=%u: %s\n",
			backend_names[backend], pages, strerror(errno));
		return -1;
	}
	return 0;
}

static double mean_ns(const struct cxxvm_bench *b)
{
	return (double)b->elapsed_ns / b->iterations;
}

static void print_counter(FILE *f, __u64 v)
{
	if (v == CXXVM_BENCH_NOT_COUNTED)
		fprintf(f, "null");
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

static int write_json(const char *path, const struct utsname *u, __u32 iterations,
		      unsigned long warmup)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "cxxvm-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"kernel\": \"%s\",\n  \"machine\": \"%s\",\n", u->release, u->machine);
	fprintf(f, "  \"iterations\": %u,\n  \"warmup\": %lu,\n", iterations, warmup);
	fprintf(f, "  \"unit\": \"ns per map+unmap cycle\",\n");
	fprintf(f, "  \"results\": [\n");
	for (unsigned int s = 0; s < NR_SIZES; s++) {
		const double base = mean_ns(&results[s][CXXVM_BACKEND_VM_MAP_RAM]);

		for (unsigned int be = 0; be < CXXVM_NR_BACKENDS; be++) {
			const struct cxxvm_bench *b = &results[s][be];

			fprintf(f, "    {\"pages\": %u, \"backend\": \"%s\", \"mean_ns\": %.1f, \"min_ns\": %llu, \"p50_ns\": %llu, \"p99_ns\": %llu, \"max_ns\": %llu, \"elapsed_ns\": %llu, \"ratio_vs_vm_map_ram\": %.3f, \"shootdowns\": ",
				sizes[s], backend_names[be], mean_ns(b),
				(unsigned long long)b->min_ns, (unsigned long long)b->p50_ns,
				(unsigned long long)b->p99_ns, (unsigned long long)b->max_ns,
				(unsigned long long)b->elapsed_ns, mean_ns(b) / base);
			print_counter(f, b->shootdowns);
			fprintf(f, ", \"blocks_created\": ");
			print_counter(f, b->blocks_created);
			fprintf(f, "}%s\n",
				s == NR_SIZES - 1 && be == CXXVM_NR_BACKENDS - 1 ? "" : ",");
		}
	}
	fprintf(f, "  ]\n}\n");
	return fclose(f) ? -1 : 0;
}

static void print_help(void)
{
	fprintf(stderr,
		"usage: cxxvm-bench [-n ITERATIONS] [-w WARMUP] [--json FILE]\n"
		"  -n, --iterations N  map+unmap cycles per backend and size (default 20000)\n"
		"  -w, --warmup N      untimed cycles before each run (default: lazy_max_pages)\n"
		"  -j, --json FILE     also write the results as JSON\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long iterations = 20000, warmup = ~0ul;
	const char *json = NULL;
	struct cxxvm_info info = { 0 };
	struct cxxvm_bench scratch;
	struct utsname u;
	int fd, c;

	while ((c = getopt_long(argc, argv, "n:w:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			iterations = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			warmup = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = optarg;
			break;
		default:
			print_help();
			return c == 'h' ? 0 : 2;
		}
	}

	fd = open(CXXVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cxxvm-bench: %s: %s (is cxxvm.ko loaded?)\n",
			CXXVM_DEVICE_PATH, strerror(errno));
		return 1;
	}
	if (ioctl(fd, CXXVM_IOC_INFO, &info) || info.abi_version != CXXVM_ABI_VERSION) {
		fprintf(stderr, "cxxvm-bench: module ABI %u, tool ABI %u\n",
			info.abi_version, CXXVM_ABI_VERSION);
		return 1;
	}
	if (warmup == ~0ul)
		warmup = info.lazy_max_pages;
	if (iterations == 0 || iterations > info.max_bench_iterations ||
	    warmup > info.max_bench_iterations) {
		fprintf(stderr, "cxxvm-bench: iterations must be 1..%u\n",
			info.max_bench_iterations);
		return 2;
	}
	uname(&u);

	/* Sizes outer, backends inner: drift in the guest hits all three alike. */
	for (unsigned int s = 0; s < NR_SIZES; s++) {
		for (__u32 be = 0; be < CXXVM_NR_BACKENDS; be++) {
			if (warmup && run_bench(fd, be, sizes[s], warmup, &scratch))
				return 1;
			if (run_bench(fd, be, sizes[s], iterations, &results[s][be]))
				return 1;
		}
	}

	printf("cxxvm-bench: kernel %s, %lu map+unmap cycles per cell after %lu untimed, lazy_max_pages=%u\n",
	       u.release, iterations, warmup, info.lazy_max_pages);
	printf("ns per map+unmap cycle: mean = elapsed / cycles (untimed pass), p50/p99 per cycle (timed pass)\n"
	       "x = mean / vm_map_ram mean; shootdowns and blocks created by cxx in the untimed pass\n\n");
	printf("%5s | %-25s | %-25s | %-25s | %7s %7s | %10s %6s\n", "",
	       "cxx", "vm_map_ram", "vmap", "cxx", "vmap", "cxx", "cxx");
	printf("%5s | %7s %8s %8s | %7s %8s %8s | %7s %8s %8s | %7s %7s | %10s %6s\n",
	       "pages", "mean", "p50", "p99", "mean", "p50", "p99", "mean", "p50", "p99",
	       "x", "x", "shootdowns", "blocks");
	for (unsigned int s = 0; s < NR_SIZES; s++) {
		const struct cxxvm_bench *r = results[s];
		const double base = mean_ns(&r[CXXVM_BACKEND_VM_MAP_RAM]);

		printf("%5u |", sizes[s]);
		for (unsigned int be = 0; be < CXXVM_NR_BACKENDS; be++)
			printf(" %7.0f %8llu %8llu |", mean_ns(&r[be]),
			       (unsigned long long)r[be].p50_ns,
			       (unsigned long long)r[be].p99_ns);
		printf(" %7.2f %7.2f | %10llu %6llu\n",
		       mean_ns(&r[CXXVM_BACKEND_CXX]) / base,
		       mean_ns(&r[CXXVM_BACKEND_VMAP]) / base,
		       (unsigned long long)r[CXXVM_BACKEND_CXX].shootdowns,
		       (unsigned long long)r[CXXVM_BACKEND_CXX].blocks_created);
	}
	close(fd);

	if (json && write_json(json, &u, iterations, warmup))
		return 1;
	return 0;
}
