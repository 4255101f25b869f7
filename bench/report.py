"""Render a results JSON from run.py as the Markdown tables of bench/README.md.

    python bench/report.py bench/results/full.json
"""

from __future__ import annotations

import json
import sys


def _ms(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _us(seconds):
    return f"{seconds * 1e6:.1f} us"


def render(results) -> str:
    env = results["environment"]
    blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
                     for b in env["blas"] if b.get("internal_api") == "openblas") if isinstance(env["blas"], list) else env["blas"]
    out = [f"Machine: {env['processor']}, {env['threads']} threads for every library; Python {env['python']}, "
           f"NumPy {env['numpy']}; BLAS: {blas}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed.",
           "Peers: " + ", ".join(f"{k} {v}" for k, v in env["peers"].items() if k not in ("numpy-floor", "matmul-floor"))
           + "." + (" Skipped: " + ", ".join(f"{k} ({v})" for k, v in env["skipped"].items()) if env["skipped"] else ""),
           f"Medians of {results['repeats']} interleaved repeats after a warm-up; ratio = library / npkeras "
           "(above 1: slower than npkeras).", ""]
    for case in results["cases"].values():
        out.append(f"### Case {case['case']}: {case['title']}")
        out.append("")
        for group, rows in case["groups"].items():
            rows = {k: v for k, v in rows.items() if isinstance(v, dict) and "median" in v}
            if not rows:
                continue
            unit = "per call" if group == "one row" else case["unit"]
            out.append(f"| {group or 'library'} ({unit}) | median | min | max | ratio |")
            out.append("| --- | ---: | ---: | ---: | ---: |")
            show = _us if group == "one row" else _ms
            for name, row in rows.items():
                extra = f" (acc {row['test_accuracy']:.4f})" if "test_accuracy" in row else ""
                out.append(f"| {name}{extra} | {show(row['median'])} | {show(row['min'])} | {show(row['max'])} | "
                           f"{row.get('ratio_to_npkeras', float('nan')):.2f} |")
            out.append("")
        for note in case.get("notes", []):
            out.append(f"- {note}")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(render(json.load(f)))
