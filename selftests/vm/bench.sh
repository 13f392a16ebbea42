#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: install what is missing, build cxxvm.ko and cxxvm-bench, and
# for each kernel line boot its stock kernel under TCG with vng and run the
# benchmark in it (one guest per line: every ratio is within one guest),
# then boot it once more with more vCPUs than the host has cores and run
# the contended section there.
# Each line's table is printed and its JSON saved under results/RUN/; then
# bench-report.py prints the cross-kernel summary and writes the PNG plots
# beside the JSON.
#
#   CXXVM_KERNELS="7.2"            lines to run (default "6.1 6.12 7.2")
#   CXXVM_KERNEL=IMAGE CXXVM_KDIR=TREE
#                                  (make bench KERNEL=... KDIR=...) instead a
#                                  kernel of the user's own
#   CXXVM_BENCH_ARGS="-n 50000"    extra cxxvm-bench arguments
#   CXXVM_BENCH_CPUS=2             vCPUs per guest (default 2; 0: only the
#                                  contended guests)
#   CXXVM_CONTENDED_CPUS=4         vCPUs of the contended guest (default
#                                  twice the host's cores; 0: skip it)
#   CXXVM_CONTENDED_ARGS="-n 40000" cxxvm-bench arguments there (default
#                                  "-n 40000 -r 3")
#   CXXVM_MODULE_ARGS="caller_purge=1"  insmod parameters (both guests)
#   CXXVM_REAL_SPLIT=0             no split run of each real workload
#   CXXVM_REAL_WARM=0              no warm split run of each real workload
set -uo pipefail
. "$(dirname "$0")/lib.sh"

t0=$(date +%s)
log "host set-up: installing whatever is missing (apt; virtme-ng from trixie)"
"$CXXVM_TOP/selftests/vm/host-setup.sh" >/dev/null || die "host set-up failed"
kernels=$(guest_kernels) || die "no guest kernels"
nk=$(wc -l <<<"$kernels")

if [ "${CXXVM_BENCH_REAL:-1}" = 1 ]; then
	log "the real section's files: sources, checksums, an LZ4 erofs image (once, in build/real)"
	real=$(real_data)
fi

log "building cxxvm-bench"
make -s -C "$CXXVM_TOP/selftests" cxxvm-bench >&2 || die "cxxvm-bench does not build"

run=$CXXVM_TOP/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
jsons=() reals=() i=0 spent=0
host_cpus=$(nproc)
ccpus=${CXXVM_CONTENDED_CPUS:-$((2 * host_cpus))}
log "host: $host_cpus CPUs; contended guests get $ccpus vCPUs${CXXVM_MODULE_ARGS:+; insmod cxxvm $CXXVM_MODULE_ARGS}"

# bench_guest LABEL NAME CPUS ARGS...: boot LABEL's kernel with CPUS vCPUs,
# run cxxvm-bench ARGS, print its tables and save its JSON as NAME.json.
bench_guest() {
	local label=$1 name=$2 cpus=$3 out rc json
	shift 3
	out=$run/$name.out
	# The TSC, not the HPET: under TCG an HPET read is an emulated MMIO
	# access costing more than a one-page map+unmap (and vng_run's
	# tsc=reliable: no watchdog).  memmap= reserves 256 MiB of guest RAM for
	# the lookup section's real pagemaps: memory no driver owns, for
	# memremap_pages().  Up to two retries, only for a guest that died
	# before cxxvm.ko was loaded: stock 7.2 guests with 4 vCPUs under TCG
	# oops at boot about once in ten (int3 while the kernel patches its
	# own text).  A failed attempt's console is kept as -bootN.log.
	local attempt console=$run/$name-console.log kroot=() renv=()
	# The real section runs in the 2-vCPU guest only (REAL=1).
	if [ "${REAL:-0}" = 1 ]; then
		mapfile -t kroot < <(real_kroot_opt "$image")
		read -ra renv < <(real_env "$image" "$real")
		# ...each workload observed and taken over twice, in the order
		# observe, on, on, observe (guest-real.sh says why), then in
		# split, then in split with each backend's path warmed.
		local modes="off observe on on observe"
		[ "${CXXVM_REAL_SPLIT:-1}" = 1 ] && modes="$modes split"
		[ "${CXXVM_REAL_WARM:-1}" = 1 ] && modes="$modes warm"
		renv+=("CXXVM_REAL_MODES='$modes'")
	fi
	for attempt in 1 2 3; do
		CXXVM_VM_CPUS=$cpus vng_run "$image" "$console" \
			--append "clocksource=tsc memmap=256M\$0x30000000" \
			"${kroot[@]}" -- "${renv[@]}" \
			"CXXVM_MODULE_ARGS='${CXXVM_MODULE_ARGS:-}'" \
			"$CXXVM_TOP/selftests/vm/guest-bench.sh" "$ko" \
			"$CXXVM_TOP/selftests/cxxvm-bench" "$@" </dev/null >"$out"
		rc=$?
		if [ "$rc" -eq 0 ] || [ "$attempt" -eq 3 ] || cxxvm_touched "$console"; then
			break
		fi
		cp "$console" "$run/$name-console-boot$attempt.log"
		log "[$label] that guest died before cxxvm.ko was loaded (a boot failure, not cxxvm's): once more"
	done
	echo "==== [$label] $image, $cpus vCPUs"
	sed '/^---- cxxvm-bench json begin ----$/,$d' "$out"
	[ "$rc" -eq 0 ] || die "[$label] benchmark run failed (exit $rc; $out)"
	json=$run/$name.json
	sed -n '/^---- cxxvm-bench json begin ----$/,/^---- cxxvm-bench json end ----$/p' "$out" |
		sed '1d;$d' >"$json"
	[ -s "$json" ] || die "[$label] the guest printed no JSON"
	log "[$label] JSON saved as $json"
}

while read -r label image kdir; do
	i=$((i + 1))
	log "[$label] building cxxvm.ko against $kdir"
	ko=$(build_ko "$label" "$kdir") || die "build for $label failed"
	if [ "$i" -gt 1 ]; then
		left="about $(( spent / (i - 1) * (nk - i + 1) )) s left"
	else
		left="about 3 min per kernel"
	fi
	log "[$label] kernel $i of $nk: booting $image under TCG and running the benchmark ($left)"
	k0=$(date +%s)
	if [ "${CXXVM_BENCH_CPUS:-2}" -gt 0 ]; then
		# shellcheck disable=SC2086 # CXXVM_BENCH_ARGS is a list of arguments
		REAL=${CXXVM_BENCH_REAL:-1} bench_guest "$label" "bench-$label" \
			"${CXXVM_BENCH_CPUS:-2}" ${CXXVM_BENCH_ARGS:-}
		[ "${CXXVM_BENCH_REAL:-1}" != 1 ] || reals+=("$label=$run/bench-$label.out")
		jsons+=(--label "$label=$run/bench-$label.json")
	fi
	if [ "$ccpus" -gt 0 ]; then
		log "[$label] booting it again with $ccpus vCPUs on $host_cpus host CPUs: the contended section"
		# shellcheck disable=SC2086 # a list of arguments
		bench_guest "$label" "bench-$label-contended" "$ccpus" -s contended \
			${CXXVM_CONTENDED_ARGS:--n 40000 -r 3}
		jsons+=(--contended "$label=$run/bench-$label-contended.json")
	fi
	spent=$((spent + $(date +%s) - k0))
done <<<"$kernels"

if [ "${#reals[@]}" -gt 0 ]; then
	echo
	echo "==== real: the kernel's vm_map_ram() callers, observed (kernel) and taken over (cxx)"
	real_table "${reals[@]}" | tee "$run/real.txt"
fi

echo
echo "==== cross-kernel summary"
/usr/bin/python3 "$CXXVM_TOP/selftests/vm/bench-report.py" --out "$run" "${jsons[@]}" ||
	die "bench-report.py failed"
log "results, JSON and plots in $run"
log "make bench took $(($(date +%s) - t0)) s; figures are from qemu TCG: compare ratios, not ns"
