#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py - compare cxxvm-bench JSON results across kernel lines.

Each input is the JSON that `cxxvm-bench --json` wrote in one VM boot of one
kernel line (6.1, 6.12, 7.2, ...).  The figures come from qemu TCG, so only
ratios within one file mean anything: cxx against that boot's vm_map_ram()
and vmap(), the tracker against that boot's get_dev_pagemap(), N-thread
against 1-thread.  Nanoseconds are not comparable across files.

Prints a summary per kernel line (ratios, shootdowns, scaling, lookup, the
contended section, and the targets met or missed) and writes ratio.png,
latency.png, scaling.png and lookup.png into --out.  Sections a run skipped
(empty lists) show as n/a.  --contended LABEL=FILE.json adds the contended
section of another boot of that kernel line (make bench boots one with more
vCPUs than the host has cores for it).

    bench-report.py --out DIR [--label LABEL=FILE.json ...]
                    [--contended LABEL=FILE.json ...] FILE.json...

Exit status: 0 (also when targets are missed), 1 if an input is unreadable,
2 on bad usage.  Needs Debian's python3-matplotlib (Agg backend).
"""

import argparse
import json
import math
import os
import re
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator
except ImportError:
    sys.exit("bench-report: needs matplotlib: "
             "apt-get install --no-install-recommends python3-matplotlib")

SIZES = (1, 2, 4, 8, 16, 32, 64)        # P, pages per mapping (single, threads)
SD_SIZES = (1, 8, 64)                   # P of the shootdowns section
PAGEMAPS = (1, 4, 16)                   # pagemap counts of the lookup section
NOTE = "qemu TCG: compare ratios within one kernel, not ns across kernels"
BACKEND_COLOR = {"cxx": "tab:blue", "vm_map_ram": "tab:orange", "vmap": "tab:green"}


# ---- input -------------------------------------------------------------------

def num(v):
    """@v as a float if it is a finite number, else None (n/a)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def load_json(path):
    """Parse @path; bare nan/inf (C's printf of 0/0) become null."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        fixed = re.sub(r"(?<=[:\[,])(\s*)-?(?:nan|inf)\b", r"\1null", text)
        return json.loads(fixed)


class Run:
    """The results of one cxxvm-bench JSON file: one kernel line, one boot."""

    def __init__(self, path, label, data):
        self.path = path
        self.label = label
        self.kernel = str(data.get("kernel", "?"))
        self.machine = str(data.get("machine", "?"))
        self.cpus = data.get("cpus", "?")
        self.iterations = data.get("iterations", "?")
        # Probed by the module (CXXVM_IOC_INFO); None in older JSON.
        self.tlb_flush = data.get("tlb_flush")
        self.kernel_hint = data.get("get_dev_pagemap_hint")
        self.single = self._index(data, "single", "pages", "backend")
        self.threads = self._index(data, "threads", "pages", "backend")
        self.sd = self._index(data, "shootdowns_per_million", "pages", "backend")
        self.lookup = self._index(data, "lookup", "pagemaps", "mode")
        self.user = self._index(data, "user", "pages", "backend")
        # Rows without a form are from ABI 2's tool: one ioctl, pages per map.
        self.mixed = {(r.get("form", "alloc"), r.get("backend")): r
                      for r in data.get("mixed") or [] if isinstance(r, dict)}
        self.add_contended(data)
        # 0.000 when the threads section did not run.
        ceiling = num(data.get("threads_ceiling"))
        self.ceiling = ceiling if ceiling and self.threads else None

    def add_contended(self, data):
        """Take the contended section (and its guest's facts) from @data."""
        self.contended = self._index(data, "contended", "pages", "backend")
        self.cont_threads = data.get("contended_threads")
        self.cont_purge = data.get("purge")
        self.cont_lookup = self._index(data, "contended_lookup", "backend")

    @staticmethod
    def _index(data, section, *keys):
        """{(key values): row} of a section's list of objects; {} if absent."""
        rows = data.get(section)
        if not isinstance(rows, list):
            return {}
        return {tuple(r.get(k) for k in keys): r for r in rows if isinstance(r, dict)}

    @staticmethod
    def _get(index, key, field):
        row = index.get(key)
        return num(row.get(field)) if row else None

    @staticmethod
    def _keys(index, known):
        """First key components present in @index, the usual ones first."""
        present = {k[0] for k in index if num(k[0]) is not None}
        return sorted(present, key=lambda v: (v not in known, v))

    def pages(self, index, known=SIZES):
        return self._keys(index, known)

    # single
    def mean(self, p, be):
        return self._get(self.single, (p, be), "mean_ns")

    def single_ns(self, p, be, field):
        return self._get(self.single, (p, be), field)

    def ratio_vmr(self, p, be="cxx"):
        return self._get(self.single, (p, be), "ratio_vs_vm_map_ram")

    def ratio_vmap(self, p):
        c, v = self.mean(p, "cxx"), self.mean(p, "vmap")
        return c / v if c is not None and v else None

    # threads
    def scale(self, p, be):
        return self._get(self.threads, (p, be), "scale")

    def mean_scale(self, be, pages=None):
        vals = [self.scale(p, be) for p in (pages or self.pages(self.threads))]
        vals = [v for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    def nthreads(self):
        cpus = num(self.cpus)
        return "%d-thread" % min(int(cpus), 64) if cpus else "N-thread"

    # shootdowns
    def shootdowns(self, p, be, field="ipi_based"):
        return self._get(self.sd, (p, be), field)

    # threads: p99
    def thr_p99(self, p, be, which):
        return self._get(self.threads, (p, be), "p99_%s_ns" % which)

    # contended
    def cont(self, p, be, field):
        return self._get(self.contended, (p, be), field)

    def cont_ratio(self, p, field="rate_n"):
        c, k = self.cont(p, "cxx", field), self.cont(p, "vm_map_ram", field)
        return c / k if c is not None and k else None

    # lookup
    def lookup_ratio(self, m, mode):
        return self._get(self.lookup, (m, mode), "ratio")

    def lookup_ns(self, m, mode, field):
        return self._get(self.lookup, (m, mode), field)


def default_label(data, path):
    """"6.12" from "6.12.117+deb12-amd64"; else the whole kernel string."""
    kernel = data.get("kernel")
    if not isinstance(kernel, str) or not kernel:
        return os.path.splitext(os.path.basename(path))[0]
    m = re.match(r"(\d+\.\d+)(?:\D|$)", kernel)
    return m.group(1) if m else kernel


# ---- summary -----------------------------------------------------------------

def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def grid(head, cols, rows, spec, extra=None):
    """Lines of a fixed-width table: @rows of (name, values[, extra value])."""
    out = ["    %-18s" % head + "".join("%8s" % c for c in cols) +
           ("%8s" % extra if extra else "")]
    for name, vals, *more in rows:
        line = "    %-18s" % name + "".join("%8s" % fmt(v, spec) for v in vals)
        if more:
            line += "%8s" % fmt(more[0], spec)
        out.append(line)
    return out


def summary(run):
    """The per-kernel block of the stdout report, as lines."""
    nthr = run.nthreads()
    out = ["=== %s: kernel %s, %s, %s CPUs, %s cycles per run" %
           (run.label, run.kernel, run.machine, run.cpus, run.iterations),
           "    (%s)" % run.path]
    if run.tlb_flush is not None:
        out.append("    cxx TLB flush: %s; get_dev_pagemap() hint: %s" %
                   (run.tlb_flush, "yes" if run.kernel_hint else "no"))
    out.append("")

    out.append("  single: mean ns per map+unmap cycle, cxx / other backend (< 1: cxx faster)")
    ps = run.pages(run.single)
    if ps:
        out += grid("pages", ps, [("cxx / vm_map_ram", [run.ratio_vmr(p) for p in ps]),
                                  ("cxx / vmap", [run.ratio_vmap(p) for p in ps])], ".2f")
    else:
        out.append("    n/a (not in this run)")

    out.append("")
    out.append("  shootdowns per 10^6 cycles (IPI-based; cxx own = the arena's counter)")
    ps = run.pages(run.sd, SD_SIZES)
    if ps:
        out += grid("pages", ps, [
            ("cxx", [run.shootdowns(p, "cxx") for p in ps]),
            ("vm_map_ram", [run.shootdowns(p, "vm_map_ram") for p in ps]),
            ("cxx own counter", [run.shootdowns(p, "cxx", "own_counter") for p in ps])], ".1f")
    else:
        out.append("    n/a (not in this run)")

    out.append("")
    out.append("  %s scaling (%s rate / 1-thread rate)" % (nthr, nthr))
    ps = run.pages(run.threads)
    if ps:
        out += grid("pages", ps, [
            (be, [run.scale(p, be) for p in ps], run.mean_scale(be))
            for be in ("cxx", "vm_map_ram")], ".2f", extra="mean")
        out.append("    %-18s%8s   (a userspace loop sharing nothing)" %
                   ("ceiling", fmt(run.ceiling, ".2f")))
    else:
        out.append("    n/a (not in this run)")

    out.append("")
    out.append("  contended: %s threads on as many vCPUs (more than the host's cores); cxx purge by %s" %
               (run.cont_threads or "N", run.cont_purge or "?"))
    ps = run.pages(run.contended)
    if ps:
        out += grid("pages", ps, [
            ("cxx/vm_map_ram N", [run.cont_ratio(p) for p in ps]),
            ("cxx scale", [run.cont(p, "cxx", "scale") for p in ps]),
            ("vm_map_ram scale", [run.cont(p, "vm_map_ram", "scale") for p in ps]),
            ("p99 N cxx/kernel", [run.cont_ratio(p, "p99_n_ns") for p in ps]),
            ("p99 1 cxx/kernel", [run.cont_ratio(p, "p99_1_ns") for p in ps]),
            ("cxx purge wait %", [None if run.cont(p, "cxx", "purge_wait_share") is None else
                                  100 * run.cont(p, "cxx", "purge_wait_share") for p in ps]),
            ("cxx lock spin %", [None if run.cont(p, "cxx", "lock_wait_share") is None else
                                 100 * run.cont(p, "cxx", "lock_wait_share") for p in ps]),
            ("cxx purge ms", [run.cont(p, "cxx", "purge_ms") for p in ps]),
            ("cxx shootdown ms", [run.cont(p, "cxx", "shootdown_ms") for p in ps])],
            ".2f")
        out += grid("pages", ps, [
            ("cxx blocks held", [run.cont(p, "cxx", "blocks_live") for p in ps])], ".0f")
        out += grid("sd per 10^6", ps, [
            (be, [run.cont(p, be, "shootdowns_per_million") for p in ps])
            for be in ("cxx", "vm_map_ram")], ".0f")
    else:
        out.append("    n/a (not in this run)")
    t, k = (run.cont_lookup.get((be,)) for be in ("tracker", "get_dev_pagemap"))
    if t and k:
        out.append("  contended lookup: ns per lookup, tracker / get_dev_pagemap, readers beside "
                   "a pagemap writer (%s churns)" % t.get("writer_churns", "?"))
        cols = ("ns_1", "ns_n_median", "ns_n_worst")
        out += grid("", ("1 thr", "N med", "N worst"), [
            ("tracker ns", [num(t.get(c)) for c in cols]),
            ("get_dev_pagemap ns", [num(k.get(c)) for c in cols]),
            ("tracker / kernel", [num(t.get(c)) / num(k.get(c))
                                  if num(t.get(c)) is not None and num(k.get(c)) else None
                                  for c in cols])], ".2f")

    out.append("")
    out.append("  lookup: ns per lookup, tracker / get_dev_pagemap (< 1: tracker faster)")
    ms = run.pages(run.lookup, PAGEMAPS)
    if ms:
        out += grid("pagemaps", ms, [(mode, [run.lookup_ratio(m, mode) for m in ms])
                                     for mode in ("random", "hinted")], ".2f")
    else:
        out.append("    n/a (not in this run)")
    return out


def _max(pairs):
    """(where, value) with the largest value among those not None, or None."""
    pairs = [(w, v) for w, v in pairs if v is not None]
    return max(pairs, key=lambda wv: wv[1]) if pairs else None


def targets(run):
    """[(name, status, worst figure)], status "met", "MISSED" or "n/a"."""
    res = []

    def ratio_target(name, pairs, limit, where):
        worst = _max(pairs)
        if worst is None:
            res.append((name, "n/a", "no data"))
        else:
            res.append((name, "met" if worst[1] <= limit else "MISSED",
                        "worst %.3f at %s=%s" % (worst[1], where, worst[0])))

    ps = run.pages(run.single)
    ratio_target("single: cxx <= 0.5 x vm_map_ram, every P",
                 [(p, run.ratio_vmr(p)) for p in ps], 0.5, "P")
    ratio_target("single: cxx <= 0.2 x vmap, P <= 4",
                 [(p, run.ratio_vmap(p)) for p in ps if p <= 4], 0.2, "P")

    # Shootdowns: cxx <= vm_map_ram; the worst P is the one of the largest ratio.
    name = "shootdowns: cxx <= vm_map_ram, P = 1, 8, 64"
    cells = [(p, run.shootdowns(p, "cxx"), run.shootdowns(p, "vm_map_ram"))
             for p in SD_SIZES]
    cells = [c for c in cells if c[1] is not None and c[2] is not None]
    if cells:
        worst = max(cells, key=lambda c: c[1] / c[2] if c[2] else
                    (math.inf if c[1] else 1.0))
        res.append((name, "met" if all(c <= v for _, c, v in cells) else "MISSED",
                    "worst P=%d: cxx %.1f vs vm_map_ram %.1f" % worst))
    else:
        res.append((name, "n/a", "no data"))

    # Scaling: means over the P both backends have.
    name = "scaling: mean cxx >= mean vm_map_ram"
    ps = [p for p in run.pages(run.threads)
          if run.scale(p, "cxx") is not None and run.scale(p, "vm_map_ram") is not None]
    if ps:
        c, v = run.mean_scale("cxx", ps), run.mean_scale("vm_map_ram", ps)
        res.append((name, "met" if c >= v else "MISSED",
                    "cxx %.3f vs vm_map_ram %.3f" % (c, v)))
    else:
        res.append((name, "n/a", "no data"))

    # Tail latency: p99 per cycle against the kernel's, quiet (single: one
    # thread; threads: the worst thread) and contended.
    ps = run.pages(run.single)
    quiet = [(("1thr P", p), run.single_ns(p, "cxx", "p99_ns") / k)
             for p in ps for k in [run.single_ns(p, "vm_map_ram", "p99_ns")]
             if k and run.single_ns(p, "cxx", "p99_ns") is not None]
    quiet += [(("Nthr P", p), run.thr_p99(p, "cxx", "n") / k)
              for p in run.pages(run.threads) for k in [run.thr_p99(p, "vm_map_ram", "n")]
              if k and run.thr_p99(p, "cxx", "n") is not None]
    worst = _max(quiet)
    res.append(("quiet: p99 <= vm_map_ram's, every P",
                "n/a" if worst is None else "met" if worst[1] <= 1 else "MISSED",
                "no data" if worst is None else
                "worst %.3f at %s=%s" % (worst[1], worst[0][0], worst[0][1])))

    ps = run.pages(run.contended)
    worst = _max([(p, 1 / r) for p in ps for r in [run.cont_ratio(p)] if r])
    res.append(("contended: cxx N-thr >= 1.5 x vm_map_ram",
                "n/a" if worst is None else "met" if worst[1] <= 1 / 1.5 else "MISSED",
                "no data" if worst is None else
                "worst %.3f x at P=%s" % (1 / worst[1], worst[0])))
    worst = _max([(p, v - c) for p in ps
                  for c, v in [(run.cont(p, "cxx", "scale"), run.cont(p, "vm_map_ram", "scale"))]
                  if c is not None and v is not None])
    res.append(("contended: cxx scale >= vm_map_ram's - 0.1",
                "n/a" if worst is None else "met" if worst[1] <= 0.1 else "MISSED",
                "no data" if worst is None else
                "worst: %.3f below at P=%s" % (worst[1], worst[0])))
    worst = _max([(("P", p, w), run.cont_ratio(p, "p99_%s_ns" % w)) for p in ps
                  for w in ("1", "n")])
    res.append(("contended: p99 <= vm_map_ram's, every P",
                "n/a" if worst is None else "met" if worst[1] <= 1 else "MISSED",
                "no data" if worst is None else
                "worst %.3f at P=%s (%s thr)" % (worst[1], worst[0][1], worst[0][2])))
    cells = [(p, run.cont(p, "cxx", "shootdowns_per_million"),
              run.cont(p, "vm_map_ram", "shootdowns_per_million")) for p in SD_SIZES]
    cells = [c for c in cells if c[1] is not None and c[2] is not None]
    if cells:
        worst = max(cells, key=lambda c: c[1] - c[2])
        res.append(("contended: shootdowns <= vm_map_ram, P=1,8,64",
                    "met" if all(c <= v for _, c, v in cells) else "MISSED",
                    "worst P=%d: cxx %.0f vs vm_map_ram %.0f" % worst))
    else:
        res.append(("contended: shootdowns <= vm_map_ram, P=1,8,64", "n/a", "no data"))

    # Userspace-driven mappings: buffers and SUBMIT take the page allocator
    # and the syscall out of the figure.
    ps = run.pages(run.user)
    ratio_target("user: cxx submit <= 0.5 x vm_map_ram, every P",
                 [(p, run._get(run.user, (p, "cxx"), "ratio_submit")) for p in ps], 0.5, "P")
    ratio_target("user: cxx submit <= 1.2 x in-kernel loop, P = 64",
                 [(64, run._get(run.user, (64, "cxx"), "submit_vs_in_kernel"))], 1.2, "P")
    ratio_target("mixed: cxx submit ns/op <= 0.5 x vm_map_ram",
                 [("submit", run._get(run.mixed, ("submit", "cxx"), "ratio_vs_vm_map_ram"))],
                 0.5, "form")
    va = [(f, c / k) for f in ("alloc", "buf", "submit")
          for c, k in [(run._get(run.mixed, (f, "cxx"), "peak_va_mib"),
                        run._get(run.mixed, (f, "vm_map_ram"), "peak_va_mib"))]
          if c is not None and k]
    ratio_target("mixed: cxx peak VA <= vm_map_ram's, every form", va, 1.0, "form")

    ms = run.pages(run.lookup, PAGEMAPS)
    ratio_target("lookup: random ratio <= 0.5, every count",
                 [(m, run.lookup_ratio(m, "random")) for m in ms], 0.5, "pagemaps")
    if run.kernel_hint is False:
        # No kernel hint to beat: the kernel's "hinted" figure is a lookup.
        res.append(("lookup: hinted ratio <= 1.0", "n/a", "get_dev_pagemap() takes no hint here"))
    else:
        ratio_target("lookup: hinted ratio <= 1.0",
                     [(m, run.lookup_ratio(m, "hinted")) for m in ms], 1.0, "pagemaps")
    return res


def print_report(runs):
    print("cxxvm bench report: figures are from qemu TCG (emulated CPUs, noisy);")
    print("ratios are within one guest each (one kernel, one boot): compare ratios")
    print("across kernels, never ns.  Lookup 'hinted': on kernels whose")
    print("get_dev_pagemap() takes no hint, its figure is an unhinted lookup.")
    for run in runs:
        print()
        print("\n".join(summary(run)))
        print()
        print("  targets:")
        for name, status, fig in targets(run):
            print("    %-6s  %-44s %s" % (status, name, fig))

    # The targets side by side: one column per kernel line.
    per_run = [targets(run) for run in runs]
    print()
    print("=== targets across kernel lines")
    width = max(8, *(len(r.label) + 2 for r in runs))
    print("    %-44s" % "" + "".join("%*s" % (width, r.label) for r in runs))
    for i, (name, _, _) in enumerate(per_run[0]):
        print("    %-44s" % name + "".join("%*s" % (width, t[i][1]) for t in per_run))


# ---- plots -------------------------------------------------------------------

def p_axis(ax, ticks=SIZES, label="P: pages per mapping (log2 scale)"):
    """Log2 x axis with a tick at each of @ticks."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(ticks[0] / 1.3, ticks[-1] * 1.3)
    ax.set_xlabel(label)


def log_y(ax):
    """Log y axis with plain-number labels, denser when the data spans little."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    decades = math.log10(hi / lo)
    subs = (1, 2, 3, 5, 7) if decades < 1.3 else (1, 2, 5) if decades < 3 else (1,)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    ax.yaxis.set_minor_formatter(NullFormatter())


def no_data(ax, what):
    ax.text(0.5, 0.5, "n/a: no %s section" % what, transform=ax.transAxes,
            ha="center", va="center", color="gray")
    ax.set_yticks([])


def panels(n, title):
    """A figure with one subplot per kernel line (at most 3 a row)."""
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.0 * ncols, 9.5), 3.9 * nrows + 1.3),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontweight="bold")
    return fig, list(axes.flat[:n])


def finish(fig, path, handles, ncol=None):
    """Legend under the plots (in @ncol columns) or, without @ncol, to their
    right in one column; the TCG note at the bottom; save."""
    w, h = fig.get_size_inches()
    if ncol:
        rows = (len(handles) + ncol - 1) // ncol
        fig.tight_layout(rect=(0, (0.35 + 0.25 * rows) / h, 1, 1))
        fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False,
                   bbox_to_anchor=(0.5, 0.28 / h))
    else:
        fig.tight_layout(rect=(0, 0.25 / h, 1 - 2.5 / w, 1))
        fig.legend(handles=handles, loc="center right", frameon=False)
    fig.text(0.5, 0.06 / h, NOTE, ha="center", va="bottom", fontsize=9,
             style="italic", color="dimgray")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def kernel_colors(runs):
    return {run.label: "C%d" % (i % 10) for i, run in enumerate(runs)}


def plot_ratio(runs, path):
    colors = kernel_colors(runs)
    fig, ax = plt.subplots(figsize=(10.5, 5.6))
    fig.suptitle("single: mean time per map+unmap cycle relative to vm_map_ram()",
                 fontweight="bold")
    handles = [Line2D([], [], color="black", ls="--", label="vm_map_ram = 1.0 (each kernel)"),
               Line2D([], [], color="gray", ls=":", label="target: cxx ≤ 0.5")]
    ax.axhline(1.0, color="black", ls="--", lw=1.2)
    ax.axhline(0.5, color="gray", ls=":", lw=1.2)
    style = {"cxx": ("-", "o"), "vmap": ("-.", "s")}
    for run in runs:
        ps = run.pages(run.single)
        for be, (ls, marker) in style.items():
            pts = [(p, run.ratio_vmr(p, be)) for p in ps]
            pts = [(p, v) for p, v in pts if v is not None]
            if pts:
                handles += ax.plot(*zip(*pts), color=colors[run.label], ls=ls,
                                   marker=marker, label="%s, %s" % (be, run.label))
    if len(handles) == 2:
        no_data(ax, "single")
    p_axis(ax)
    log_y(ax)
    ax.set_ylabel("mean ns / vm_map_ram mean ns (ratio, log scale)")
    ax.grid(True, which="major", alpha=0.4)
    finish(fig, path, handles)


def plot_latency(runs, path):
    fig, axes = panels(len(runs), "single: ns per map+unmap cycle, p50 and p99")
    for run, ax in zip(runs, axes):
        ps = run.pages(run.single)
        for be, color in BACKEND_COLOR.items():
            for field, ls in (("p50_ns", "-"), ("p99_ns", "--")):
                pts = [(p, run.single_ns(p, be, field)) for p in ps]
                pts = [(p, v) for p, v in pts if v]
                if pts:
                    ax.plot(*zip(*pts), color=color, ls=ls, marker="o", ms=3.5)
        if not ps:
            no_data(ax, "single")
        else:
            log_y(ax)
        p_axis(ax)
        ax.set_title("%s (%s)" % (run.label, run.kernel), fontsize=10)
        ax.set_ylabel("ns per cycle (log scale)")
        ax.grid(True, which="major", alpha=0.4)
    handles = [Line2D([], [], color=c, ls=ls, marker="o", ms=3.5, label="%s %s" % (be, q))
               for be, c in BACKEND_COLOR.items() for q, ls in (("p50", "-"), ("p99", "--"))]
    finish(fig, path, handles, ncol=6)


def plot_scaling(runs, path):
    nthr = {run.nthreads() for run in runs}
    nthr = nthr.pop() if len(nthr) == 1 else "N-thread"
    fig, axes = panels(len(runs), "%s scaling of the in-kernel map+unmap loop" % nthr)
    top = max([run.ceiling or 0 for run in runs] +
              [v or 0 for run in runs for v in
               (run.scale(p, be) for p in run.pages(run.threads) for be in ("cxx", "vm_map_ram"))])
    for run, ax in zip(runs, axes):
        ps = run.pages(run.threads)
        for be in ("cxx", "vm_map_ram"):
            pts = [(p, run.scale(p, be)) for p in ps]
            pts = [(p, v) for p, v in pts if v is not None]
            if pts:
                ax.plot(*zip(*pts), color=BACKEND_COLOR[be], marker="o", ms=4)
        if run.ceiling:
            ax.axhline(run.ceiling, color="black", ls=":", lw=1.5)
        if not ps:
            no_data(ax, "threads")
        p_axis(ax)
        ax.set_ylim(0, max(top * 1.15, 1.2))
        ax.set_title("%s (%s, %s CPUs)" % (run.label, run.kernel, run.cpus), fontsize=10)
        ax.set_ylabel("%s rate / 1-thread rate (×)" % nthr)
        ax.grid(True, alpha=0.4)
    handles = [Line2D([], [], color=BACKEND_COLOR[be], marker="o", ms=4, label=be)
               for be in ("cxx", "vm_map_ram")]
    handles.append(Line2D([], [], color="black", ls=":", lw=1.5,
                          label="ceiling: userspace loop sharing nothing"))
    finish(fig, path, handles, ncol=3)


def plot_lookup(runs, path):
    fig, axes = panels(len(runs), "lookup: pfn → dev_pagemap, ns per lookup")
    methods = (("tracker_ns", "cxxvm tracker", "tab:blue"),
               ("get_dev_pagemap_ns", "get_dev_pagemap()", "tab:red"))
    modes = (("random", "-", "o"), ("hinted", "--", "s"))
    for run, ax in zip(runs, axes):
        ms = run.pages(run.lookup, PAGEMAPS)
        for field, _, color in methods:
            for mode, ls, marker in modes:
                pts = [(m, run.lookup_ns(m, mode, field)) for m in ms]
                pts = [(m, v) for m, v in pts if v]
                if pts:
                    ax.plot(*zip(*pts), color=color, ls=ls, marker=marker, ms=4)
        if not ms:
            no_data(ax, "lookup")
        else:
            log_y(ax)
        p_axis(ax, ms if ms else PAGEMAPS, "number of pagemaps (log2 scale)")
        title = "%s (%s)" % (run.label, run.kernel)
        if run.kernel_hint is False:
            # get_dev_pagemap(pfn): its "hinted" walk is a plain lookup.
            title += "\nget_dev_pagemap() has no hint: its hinted line is a lookup"
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("ns per lookup (log scale)")
        ax.grid(True, which="major", alpha=0.4)
    handles = [Line2D([], [], color=color, ls=ls, marker=marker, ms=4,
                      label="%s, %s" % (name, mode))
               for _, name, color in methods for mode, ls, marker in modes]
    finish(fig, path, handles, ncol=4)


PLOTS = (("ratio.png", plot_ratio), ("latency.png", plot_latency),
         ("scaling.png", plot_scaling), ("lookup.png", plot_lookup))


# ---- main --------------------------------------------------------------------

def label_arg(s):
    label, sep, path = s.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError("expected LABEL=FILE.json, got %r" % s)
    return label, path


def main():
    ap = argparse.ArgumentParser(
        description="Summarise and plot cxxvm-bench JSON files, one per kernel line.",
        epilog="Files are reported in the order given; a --label file not also "
               "given as FILE is appended.")
    ap.add_argument("--out", required=True, metavar="DIR", help="directory for the PNGs")
    ap.add_argument("--label", action="append", type=label_arg, default=[],
                    metavar="LABEL=FILE.json",
                    help="name a file's kernel line (default: the kernel's x.y)")
    ap.add_argument("--contended", action="append", type=label_arg, default=[],
                    metavar="LABEL=FILE.json",
                    help="the contended section for kernel line LABEL, from another boot")
    ap.add_argument("files", nargs="*", metavar="FILE.json")
    args = ap.parse_args()

    labels = {os.path.realpath(p): label for label, p in args.label}
    files = list(args.files)
    for _, p in args.label:
        if os.path.realpath(p) not in map(os.path.realpath, files):
            files.append(p)
    if not files and not args.contended:
        ap.error("no FILE.json given")

    runs, bad, seen = [], False, {}
    for path in files:
        try:
            data = load_json(path)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:      # JSONDecodeError is a ValueError
            print("bench-report: %s: %s" % (path, e), file=sys.stderr)
            bad = True
            continue
        label = labels.get(os.path.realpath(path)) or default_label(data, path)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:                     # two runs of one kernel line
            label = "%s #%d" % (label, seen[label])
        runs.append(Run(path, label, data))
    for label, path in args.contended:
        try:
            data = load_json(path)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            print("bench-report: %s: %s" % (path, e), file=sys.stderr)
            bad = True
            continue
        run = next((r for r in runs if r.label == label), None)
        if run is None:
            runs.append(Run(path, label, data))
        else:
            run.add_contended(data)
    if bad:
        return 1

    print_report(runs)

    os.makedirs(args.out, exist_ok=True)
    print()
    for name, plot in PLOTS:
        path = os.path.join(args.out, name)
        plot(runs, path)
        print("plot: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
