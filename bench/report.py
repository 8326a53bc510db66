#!/usr/bin/env python3
"""Turns a hvbios-bench JSON file into the table and plot of
docs/performance.md.

    bench/report.py RESULTS.json [PLOT.png]

Prints a Markdown table of the medians (time per operation and ratio to
the raw-exit floor measured in the same run) and, given PLOT.png, draws
the ratios with gnuplot (Debian: gnuplot-nox). Standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile


def medians(results):
    """{name: benchmark entry} of the median aggregates."""
    out = {}
    for b in results["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b
    return out


def pretty(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def to_ns(entry):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[entry["time_unit"]]
    return entry["real_time"] * scale


def short_label(name, entry):
    """A label that fits under a bar: "hypercall null", "ring 4K b32"."""
    if name.startswith("BM_BlockRead/"):
        fields = dict(part.split(":") for part in name.split("/")[1:4])
        size = f"{int(fields['sectors']) * 512 // 1024}K"
        if fields["ring"] == "0":
            return f"sync {size}"
        path = "lean" if fields["ring"] == "2" else "ring"
        return f"{path} {size} b{fields['batch']}"
    if name.startswith("BM_Hypercall/"):
        return f"hypercall {entry.get('label', '')}"
    return {"BM_ClockPageRead": "clock page",
            "BM_ClockCoarseRead": "clock page, coarse word",
            "BM_RawSameCodeFloor": "same-code floor",
            "BM_RawVmBoot": "raw VM boot+destroy",
            "BM_VmCreateBootToFirstHypercallDestroy": "VM boot+destroy",
            "BM_VcpuCreate": "vCPU create",
            "BM_EventToGuestHandler": "event to busy guest"}.get(
                name.split("/")[0], name.split("/")[0].replace("BM_", ""))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    results = json.load(open(sys.argv[1]))
    rows = medians(results)
    print("| case | time per operation | × exit floor | × same-code floor "
          "| host CPU |")
    print("|---|---|---|---|---|")
    plot_rows = []
    for name, entry in rows.items():
        label = name.replace("BM_", "").replace("/real_time", "").replace(
            "/manual_time", "")
        for cut in ("/iterations:2000", "/iterations:20"):
            label = label.replace(cut, "")
        if "label" in entry and entry["label"]:
            label += f" ({entry['label']})"
        ratio = entry.get("floor_ratio")
        cpu_scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[entry["time_unit"]]
        short = short_label(name, entry)
        if "ns_per_request" in entry:  # a round of requests: show one
            label += (f", {entry['items_per_second']:.0f} IOPS, "
                      f"{entry['bytes_per_second'] / 2**20:.0f} MiB/s")
            entry = dict(entry, real_time=entry["ns_per_request"],
                         time_unit="ns", cpu_time=0)
        host = entry.get("host_ratio")
        if name.startswith("BM_RawPioExitFloor"):
            ratio = 1.0
        if name.startswith("BM_RawSameCodeFloor"):
            host = 1.0
        print(f"| {label} | {pretty(to_ns(entry))} | "
              f"{f'{ratio:.2f}' if ratio else '–'} | "
              f"{f'{host:.3f}' if host else '–'} | "
              f"{pretty(entry['cpu_time'] * cpu_scale)} |")
        if ratio:
            plot_rows.append((short, ratio))
    if len(sys.argv) > 2 and plot_rows:
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
            for i, (label, ratio) in enumerate(plot_rows):
                f.write(f'{i} "{label}" {ratio}\n')
            data = f.name
        script = f"""
set terminal pngcairo size 1100,560 font ",10"
set output "{sys.argv[2]}"
set title "hvbios on this machine: cost per operation / raw KVM exit (same run)"
set logscale y
set ylabel "× raw PIO exit round trip"
set style fill solid 0.8
set boxwidth 0.6
set xtics rotate by -40 left
set grid ytics
set key off
plot "{data}" using 1:3:xtic(2) with boxes lc rgb "#3b6ea5", \\
     "" using 1:3:(sprintf("%.2f", $3)) with labels offset 0,0.7
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        os.unlink(data)


if __name__ == "__main__":
    main()
