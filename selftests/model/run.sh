#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - model-check module/core/purge_model.pml with spin; TAP output.
#
# Verifies, on the model as it is:
#   safety          assertions hold, no process can deadlock (pan, no claim)
#   no_stale_reuse  ltl: no slot is handed out while a TLB may hold its old
#                   translation (pan -a)
#   no_early_free   ltl: no page is freed before the purge covering it
#                   completes (pan -a)
#   dirty_freed     ltl: every dirty slot is eventually freed (pan -a -f:
#                   weak fairness)
#   reach           the key places of the model (its "@reach" marks) are
#                   reached, so the properties are not vacuous (reported
#                   last, from the no_early_free run)
# and that spin finds the bug in each mutation (see the model's header), a
# counterexample to:
#   BUG_RECLAIM_UNCOVERED       no_stale_reuse (reclaim() frees a block's
#                               dirty slots before their purge completes)
#   BUG_COVERING_OFF_BY_ONE     no_early_free (release() names
#                               purges_started_, not purges_started_ + 1)
#   BUG_COVERING_ONLY_ON_SHIFT  no_stale_reuse (release_to_dirty() sets
#                               covering() only when it starts a new
#                               generation: a clean block's first dirty
#                               slot keeps an old, completed number)
# A mutation is searched breadth first: a safety claim's violation needs no
# acceptance cycle (-a), and BFS finds the shortest counterexample.  Its
# trail is left in build/<test>/ for spin -t.
#
# Each run keeps only the ghost state its property reads (-DNO_GHOST_TLB,
# -DNO_TRACK_PAGE; see the model's header).  A search cut short (depth,
# memory) fails.  Missing spin or cc is a failure, not a skip.
#
# Environment: CC (default cc), MODEL_JOBS (parallel pan runs, default 2),
# MODEL_MEMLIM (MB per pan, default 6144: no_early_free peaks near 3.9 GB).
set -euo pipefail

case $0 in
*/*) here=${0%/*} ;;
*) here=. ;;
esac
here=$(cd "$here" && pwd)
model=$here/../../module/core/purge_model.pml
build=$here/build
cc=${CC:-cc}
jobs=${MODEL_JOBS:-2}
memlim=${MODEL_MEMLIM:-6144}

bail() {
	echo "TAP version 13"
	echo "Bail out! $*"
	echo "run.sh: $*" >&2
	exit 1
}

command -v spin >/dev/null 2>&1 || bail "spin not found (apt-get install spin)"
command -v "$cc" >/dev/null 2>&1 || bail "C compiler '$cc' not found"
[ -r "$model" ] || bail "no model at $model"

# name | spin -D flags | pan cc flags | pan run flags | expect
tests=(
	"safety|-DNO_GHOST_TLB -DNO_TRACK_PAGE|-O0 -DNOCLAIM|-m8000000|pass"
	"no_stale_reuse|-DNO_TRACK_PAGE|-O0|-a -N no_stale_reuse -m10000000|pass"
	"no_early_free|-DNO_GHOST_TLB -DWITNESS|-O2|-a -N no_early_free -m35000000|pass"
	"dirty_freed|-DNO_GHOST_TLB -DNO_TRACK_PAGE|-O2|-a -f -N dirty_freed -m10000000|pass"
	"BUG_RECLAIM_UNCOVERED|-DBUG_RECLAIM_UNCOVERED -DNO_TRACK_PAGE|-O0 -DBFS|-N no_stale_reuse|fail"
	"BUG_COVERING_OFF_BY_ONE|-DBUG_COVERING_OFF_BY_ONE -DNO_GHOST_TLB|-O0 -DBFS|-N no_early_free|fail"
	"BUG_COVERING_ONLY_ON_SHIFT|-DBUG_COVERING_ONLY_ON_SHIFT -DNO_TRACK_PAGE|-O0 -DBFS|-N no_stale_reuse|fail"
)

# Build pan for one test in build/<name>/ and run it: pan's output goes to
# pan.out; build.time and search.time hold "wall-clock CPU" seconds.
run_one() {
	local name=$1 defs=$2 ccflags=$3 panflags=$4
	local dir=$build/$name
	local TIMEFORMAT='%R %U'

	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$model" "$dir/"
	cd "$dir"
	# shellcheck disable=SC2086
	if ! { time { spin $defs -a purge_model.pml >spin.out 2>&1 &&
		      "$cc" $ccflags -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c \
			      >cc.out 2>&1; } 2>&3; } 3>&2 2>build.time; then
		echo "building pan failed" >pan.out
		return
	fi
	# pan exits non-zero when it finds an error; pan.out says what.
	# shellcheck disable=SC2086
	{ time ./pan $panflags -w24 >pan.out 2>&1; } 2>search.time || true
}

start=$(date +%s)
mkdir -p "$build"
running=0
for t in "${tests[@]}"; do
	IFS='|' read -r name defs ccflags panflags _ <<<"$t"
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	(run_one "$name" "$defs" "$ccflags" "$panflags") &
	running=$((running + 1))
done
wait

echo "TAP version 13"
echo "1..$((${#tests[@]} + 1))"
n=0
failed=0

diag() {
	sed 's/^/# /'
}

# Summary of a pan run: states, depth, times.
summary() {
	local dir=$1 states depth breal buser sreal suser
	states=$(awk '/states, stored/ { print $1; exit }' "$dir/pan.out")
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$dir/pan.out" | head -n1)
	read -r breal buser <"$dir/build.time"
	read -r sreal suser <"$dir/search.time"
	echo "${states:-?} states, depth ${depth:-?};" \
	     "build ${breal} s (${buser} s CPU), search ${sreal} s (${suser} s CPU)"
}

report() {
	local ok=$1 what=$2
	n=$((n + 1))
	if [ "$ok" = 1 ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		failed=$((failed + 1))
	fi
}

# What a violation of each claim names in pan's "assertion violated" line
# (the claim's ghost state), so that a mutation tripping some other
# assertion of the model is not taken for the property failing.
declare -A names=([no_stale_reuse]='stale\[' [no_early_free]='trk\[' [dirty_freed]='.')

for t in "${tests[@]}"; do
	IFS='|' read -r name defs _ panflags expect <<<"$t"
	dir=$build/$name
	out=$dir/pan.out
	ok=0
	# The claim pan checked must be the one asked for (-N is ignored, with
	# a warning, when the build has a single claim).
	claim=$(sed -n 's/.*-N \([a-z_]*\).*/\1/p' <<<"$panflags")
	claim_ok=1
	if [ -n "$claim" ] && ! grep -qE "never claim[[:space:]]+\+ \($claim\)" "$out"; then
		claim_ok=0
	fi
	if [ ! -f "$dir/search.time" ]; then
		report 0 "$name: $(cat "$out" 2>/dev/null || echo 'not run')"
		cat "$dir"/spin.out "$dir"/cc.out 2>/dev/null | tail -n 20 | diag
		continue
	fi
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -n1)
	# A search stopped by its first error says "Search not completed".
	cut_short=0
	if grep -qE 'max search depth too small|reached -DMEMLIM|out of memory' "$out" ||
	   { [ "${errors:-x}" = 0 ] && grep -q 'Search not completed' "$out"; }; then
		cut_short=1
	fi
	if [ "$expect" = pass ]; then
		[ "$cut_short" = 0 ] && [ "${errors:-x}" = 0 ] && [ "$claim_ok" = 1 ] && ok=1
		report "$ok" "$name"
		summary "$dir" | diag
		if [ "$ok" = 0 ]; then
			[ "$cut_short" = 1 ] && echo "search cut short" | diag
			grep -E 'violated|error|invalid end state|acceptance cycle' "$out" | head -n 5 | diag
		fi
	else
		trail=$dir/purge_model.pml.trail
		[ "${errors:-0}" != 0 ] && [ -f "$trail" ] && [ "$claim_ok" = 1 ] &&
			grep -E 'assertion violated' "$out" | grep -qE "${names[$claim]:-^$}" && ok=1
		report "$ok" "$name: spin finds the bug"
		summary "$dir" | diag
		if [ "$ok" = 1 ]; then
			grep -m1 -E 'violated' "$out" | sed 's/(at depth \([0-9]*\))/\n  counterexample of \1 steps/' | diag
			echo "replay: cd $dir && spin -t -p -g $defs purge_model.pml" | diag
		else
			echo "no counterexample" | diag
		fi
	fi
done

# The key places of the model are reached (printed by the WITNESS build
# of the no_early_free run, a full search of the model with page T).
out=$build/no_early_free/pan.out
missing=()
total=0
while read -r id mark; do
	total=$((total + 1))
	grep -qx "reached $id" "$out" 2>/dev/null || missing+=("$mark")
done < <(sed -n 's/.*REACHED(\([0-9]*\)).*@reach \([a-z_]*\).*/\1 \2/p' "$model")
if [ "$total" -gt 0 ] && [ "${#missing[@]}" = 0 ]; then
	report 1 "reach: all $total key places of the model are reached"
else
	report 0 "reach: $total key places, unreached: ${missing[*]:-(no marks found)}"
fi

echo "total $(($(date +%s) - start)) s" | diag
[ "$failed" = 0 ]
