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


def _median(results, case, group, name):
    try:
        return results["cases"][case]["groups"][group][name]["median"]
    except KeyError:
        return None


def targets(results) -> list:
    """(target, measured, met) for each performance target found in the results."""
    rows = []

    def check(text, value, ok, unit=""):
        if value is not None:
            rows.append((text, f"{value:.2f}{unit}", "met" if ok(value) else "NOT met"))

    def ratio(case, group, a, b):
        x, y = _median(results, case, group, a), _median(results, case, group, b)
        return None if x is None or y is None else x / y

    if "1" in results["cases"]:
        tiny = results["cases"]["1"]["groups"][""]
        check(
            "case 1: npkeras us/step <= 30",
            tiny["npkeras"]["us_per_step"],
            lambda v: v <= 30,
            " us",
        )
        for peer in ("torch", "keras-jax"):
            check(
                f"case 1: {peer} time / npkeras >= 3.5",
                ratio("1", "", peer, "npkeras"),
                lambda v: v >= 3.5,
            )
    if "2" in results["cases"]:
        for batch, limit in ((32, 1.2), (128, 1.0), (1024, 1.0)):
            g = f"batch {batch}"
            check(
                f"case 2, {g}: npkeras / keras-jax <= {limit}",
                ratio("2", g, "npkeras", "keras-jax"),
                lambda v, limit=limit: v <= limit,
            )
            check(
                f"case 2, {g}: npkeras / torch < 1",
                ratio("2", g, "npkeras", "torch"),
                lambda v: v < 1,
            )
        check(
            "case 3, batch 1024: npkeras / matmul floor <= 1.3",
            ratio("2", "batch 1024", "npkeras", "matmul-floor"),
            lambda v: v <= 1.3,
        )
    if "4" in results["cases"]:
        one = _median(results, "4", "one row", "npkeras")
        check(
            "case 4: model(x) on one row < 30 us",
            None if one is None else one * 1e6,
            lambda v: v < 30,
            " us",
        )
        check(
            "case 4: predict / NumPy forward <= 1.1",
            ratio("4", "predict", "npkeras", "numpy-floor"),
            lambda v: v <= 1.1,
        )
    if "5" in results["cases"]:
        m = results["cases"]["5"]["measurements"]
        over = m["peak_rss_kb"] / 1024 - m["data_bytes"] / 2**20
        check("case 5: peak RSS - data bytes <= 150 MB", over, lambda v: v <= 150, " MB")
    if "6" in results["cases"]:
        check(
            "case 6: npkeras / hand-written NumPy <= 2",
            ratio("6", "", "npkeras", "numpy-floor"),
            lambda v: v <= 2,
        )
        accs = {k: v["test_accuracy"] for k, v in results["cases"]["6"]["groups"][""].items()}
        check(
            "case 6: npkeras accuracy within 1 point of the best",
            max(accs.values()) - accs["npkeras"],
            lambda v: v <= 0.01,
        )
    return rows


def render_targets(results) -> str:
    out = ["| target | measured | status |", "| --- | ---: | --- |"]
    out += [f"| {t} | {v} | {s} |" for t, v, s in targets(results)]
    return "\n".join(out)


def render(results) -> str:
    env = results["environment"]
    blas = (
        ", ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in env["blas"]
            if b.get("internal_api") == "openblas"
        )
        if isinstance(env["blas"], list)
        else env["blas"]
    )
    out = [
        f"Machine: {env['processor']}, {env['threads']} threads for every library; Python "
        f"{env['python']}, "
        f"NumPy {env['numpy']}; BLAS: {blas}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed.",
        "Peers: "
        + ", ".join(
            f"{k} {v}" for k, v in env["peers"].items() if k not in ("numpy-floor", "matmul-floor")
        )
        + "."
        + (
            " Skipped: " + ", ".join(f"{k} ({v})" for k, v in env["skipped"].items())
            if env["skipped"]
            else ""
        ),
        f"Medians of {results['repeats']} interleaved repeats after a warm-up "
        f"({3 * results['repeats']} for "
        f"case 1 and the one-row latency, {max(3, results['repeats'] // 2)} for case 6); ratio "
        f"= library / npkeras (above 1: slower than npkeras).",
        "",
    ]
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
                out.append(
                    f"| {name}{extra} | {show(row['median'])} | {show(row['min'])} | "
                    f"{show(row['max'])} | "
                    f"{row.get('ratio_to_npkeras', float('nan')):.2f} |"
                )
            out.append("")
        for note in case.get("notes", []):
            out.append(f"- {note}")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        loaded = json.load(f)
    print(render_targets(loaded))
    print()
    print(render(loaded))
