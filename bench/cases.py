"""The benchmark cases. Each returns a dict of rows {peer: {min, median, max, ratio}}."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time

import numpy as np


def environment(threads, peers, skipped) -> dict:
    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "threads": threads,
        "numpy": np.__version__,
        "peers": {p.name: _version(p) for p in peers},
        "skipped": skipped,
        "forced_blas_variables_removed": True,
    }
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [
            {
                k: info.get(k)
                for k in ("internal_api", "version", "architecture", "num_threads", "filepath")
            }
            for info in threadpool_info()
        ]
    except ImportError:
        env["blas"] = "threadpoolctl not installed"
    return env


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _version(peer):
    if peer.name == "torch":
        return peer.torch.__version__
    if peer.name == "keras-jax":
        import jax

        return f"keras {peer.keras.__version__}, jax {jax.__version__}"
    if peer.name == "npkeras":
        import npkeras

        return npkeras.__version__
    return f"numpy {np.__version__}"


def format_environment(env) -> str:
    blas = env["blas"]
    blas_text = (
        "; ".join(
            f"{b['internal_api']} {b['version']} kernel={b['architecture']} "
            f"threads={b['num_threads']}"
            for b in blas
        )
        if isinstance(blas, list)
        else blas
    )
    lines = [
        f"python {env['python']} on {env['processor']} ({env['machine']}), {env['threads']} "
        f"threads",
        f"numpy {env['numpy']}; BLAS: {blas_text}",
        "peers: " + ", ".join(f"{k} ({v})" for k, v in env["peers"].items()),
    ]
    if env["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k}: {v}" for k, v in env["skipped"].items()))
    return "\n".join(lines)


def _stats(samples, reference=None):
    med = statistics.median(samples)
    row = {"min": min(samples), "median": med, "max": max(samples), "samples": samples}
    if reference:
        row["ratio_to_npkeras"] = med / reference
    return row


PAUSE_SECONDS = 0.3


def interleaved(peers, run, repeats, warmup=1, clock=time.perf_counter):
    """Time ``run(peer)`` for every peer, A B C, B C A, C A B, ... after ``warmup`` rounds.

    The order rotates every repeat and each run starts after a short pause, because
    thread pools (OpenMP, Eigen, OpenBLAS) keep spinning for a while after a library's
    last operation and would otherwise slow whichever library runs next; then a full
    garbage collection, so that no library pays for another's garbage (the timed run
    starts on a busy CPU rather than one just woken from the pause, which on this
    shared machine made short runs up to twice as slow at random). ``clock``:
    ``time.process_time`` measures CPU time, less moved by other work on a shared machine.
    """
    for _ in range(warmup):
        for peer in peers:
            run(peer)
    times = {peer.name: [] for peer in peers}
    for r in range(repeats):
        for peer in peers[r % len(peers) :] + peers[: r % len(peers)]:
            time.sleep(PAUSE_SECONDS)
            gc.collect()
            start = clock()
            run(peer)
            times[peer.name].append(clock() - start)
    ref = statistics.median(times["npkeras"]) if "npkeras" in times else None
    return {name: _stats(samples, ref) for name, samples in times.items()}


def format_case(outcome) -> str:
    lines = [f"\n== case {outcome['case']}: {outcome['title']} ({outcome['unit']})"]
    for group, rows in outcome["groups"].items():
        if group:
            lines.append(f"-- {group}")
        lines.append(f"   {'library':<14}{'median':>11}{'min':>11}{'max':>11}{'x npkeras':>11}")
        for name, row in rows.items():
            if not isinstance(row, dict) or "median" not in row:
                continue
            ratio = row.get("ratio_to_npkeras")
            lines.append(
                f"   {name:<14}{_fmt(row['median']):>11}{_fmt(row['min']):>11}{_fmt(row['max']):>11}"
                f"{'' if ratio is None else f'{ratio:.2f}':>11}"
            )
    for note in outcome.get("notes", []):
        lines.append(f"   {note}")
    return "\n".join(lines)


def _fmt(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.2f}"
    if value >= 1e-3:
        return f"{value * 1e3:.1f}m"
    return f"{value * 1e6:.1f}u"


def _tiny_data(n):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 100, (n, 3)).astype(np.float32)
    return x, (x @ np.array([1, 2, 3], dtype=np.float32))[:, None]


def case_tiny(peers, quick, repeats):
    """Case 1: the tutorial's 3 -> 4 relu -> 1 regression, SGD, batch 32, one epoch."""
    n = 900 if quick else 9000
    x, y = _tiny_data(n)
    steps = -(-n // 32)
    for peer in peers:
        peer.build([3, 4, 1], "relu", "linear", "sgd", 1e-7, seed=0)
    # an epoch takes ~10 ms, short enough for a busy neighbour to double it: three
    # times the repeats keep the median steady
    rows = interleaved(peers, lambda p: p.train_epoch(x, y, 32), 3 * repeats)
    for row in rows.values():
        row["us_per_step"] = row["median"] / steps * 1e6
        row["steps_per_second"] = steps / row["median"]
    notes = [
        f"{name}: {row['us_per_step']:.1f} us/step, {row['steps_per_second']:.0f} steps/s"
        for name, row in rows.items()
    ]
    return {
        "case": 1,
        "title": f"tiny model 3-4-1, {n} rows, batch 32, one epoch",
        "unit": "seconds per epoch",
        "groups": {"": rows},
        "notes": notes,
    }


def _mnist_like(n):
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def case_mlp(peers, quick, repeats):
    """Case 2 (and 3, the floor): 784-256-128-10 MLP, Adam, sparse CE, seconds per epoch."""
    n = 3000 if quick else 60000
    x, y = _mnist_like(n)
    groups, notes = {}, []
    for batch in (32, 128, 1024):
        for peer in peers:
            peer.build([784, 256, 128, 10], "relu", "softmax", "adam", 1e-3, seed=0)
        rows = interleaved(peers, lambda p, batch=batch: p.train_epoch(x, y, batch), repeats)
        groups[f"batch {batch}"] = rows
        np_med = rows["npkeras"]["median"]
        notes.append(
            f"batch {batch}: npkeras / numpy-floor = {np_med / rows['numpy-floor']['median']:.2f}, "
            f"npkeras / matmul-floor = {np_med / rows['matmul-floor']['median']:.2f}"
        )
    return {
        "case": "2+3",
        "title": f"MLP 784-256-128-10 on {n} x 784, Adam",
        "unit": "seconds per epoch",
        "groups": groups,
        "notes": notes,
    }


def case_inference(peers, quick, repeats):
    """Case 4: predict on 60,000 rows at batch 1024, and one-row latency."""
    n = 4096 if quick else 60000
    x, _ = _mnist_like(n)
    row = x[:1]
    for peer in peers:
        peer.build([784, 256, 128, 10], "relu", "softmax", "adam", 1e-3, seed=0)
    throughput = interleaved(peers, lambda p: p.predict(x, 1024), repeats)
    calls = 50 if quick else 1000

    def one_row(peer):
        for _ in range(calls):
            peer.predict_one(row)

    # short runs (~25 ms for npkeras): three times the repeats, as in case 1
    latency = interleaved([p for p in peers if p.name != "matmul-floor"], one_row, 3 * repeats)
    for stats in latency.values():
        for key in ("min", "median", "max"):
            stats[key] /= calls
    notes = [
        f"npkeras predict / numpy forward = "
        f"{throughput['npkeras']['median'] / throughput['numpy-floor']['median']:.2f}",
        f"npkeras model(x) on one row: {latency['npkeras']['median'] * 1e6:.1f} us",
    ]
    return {
        "case": 4,
        "title": f"inference: predict {n} rows at batch 1024; model(x) on one row",
        "unit": "seconds (latency: per call)",
        "groups": {"predict": throughput, "one row": latency},
        "notes": notes,
    }


_MEMORY_SCRIPT = textwrap.dedent("""
    import sys, json

    def peak_kb():
        # VmHWM: this process's own peak RSS (ru_maxrss would include the forking parent's)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))

    import numpy as np
    n = int(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    import npkeras as keras
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = peak_kb()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    peak = peak_kb()
    print(json.dumps({"data_bytes": x.nbytes + y.nbytes, "rss_before_fit_kb": before, "peak_rss_kb": peak}))
""")


def case_memory(peers, quick, repeats):
    """Case 5: peak resident memory of one epoch of case 2, against the data set bytes."""
    n = 4000 if quick else 60000
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(n)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    m = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    growth_mb = (m["peak_rss_kb"] - m["rss_before_fit_kb"]) / 1024
    peak_mb = m["peak_rss_kb"] / 1024
    data_mb = m["data_bytes"] / 2**20
    notes = [
        f"data set {data_mb:.0f} MB; peak RSS {peak_mb:.0f} MB (interpreter and libraries "
        f"included); "
        f"fit added {growth_mb:.0f} MB over the loaded data; target peak <= data + 150 MB: "
        f"{'met' if peak_mb <= data_mb + 150 else 'NOT met'}"
    ]
    return {
        "case": 5,
        "title": f"memory of fit on {n} x 784, batch 128",
        "unit": "MB",
        "groups": {},
        "notes": notes,
        "measurements": m,
    }


def case_digits(peers, quick, repeats):
    """Case 6: scikit-learn's digits, 64-64-10, Adam, 50 epochs, batch 32: time and accuracy."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return {
            "case": 6,
            "title": "digits (skipped: scikit-learn not installed)",
            "unit": "",
            "groups": {},
        }
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    epochs = 5 if quick else 50
    peers = [p for p in peers if p.name != "matmul-floor"]
    accuracy = {}

    def train(peer):
        peer.build([64, 64, 10], "relu", "softmax", "adam", 1e-3, seed=0)
        for _ in range(epochs):
            peer.train_epoch(x[:cut], y[:cut], 32)
        accuracy[peer.name] = float(np.mean(peer.predict(x[cut:], 256).argmax(axis=1) == y[cut:]))

    rows = interleaved(
        peers, train, max(3, repeats // 2) if not quick else 1, warmup=0 if quick else 1
    )
    for name, row in rows.items():
        row["test_accuracy"] = accuracy[name]
    best = max(accuracy.values())
    notes = [
        f"{name}: test accuracy "
        f"{acc:.4f}{'' if best - acc <= 0.01 else ' (more than 1 point below the best)'}"
        for name, acc in accuracy.items()
    ]
    return {
        "case": 6,
        "title": f"digits 64-64-10, Adam, {epochs} epochs, batch 32",
        "unit": "seconds per run",
        "groups": {"": rows},
        "notes": notes,
    }


def case_cnn(peers, quick, repeats):
    """Case 7: a small CNN on 28x28x1 images (see cnn.py), Adam, batch 64, one epoch."""
    from cnn import cnn_peers

    n = 256 if quick else 12000
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    twins = cnn_peers(peers)
    for twin in twins:
        twin.build(seed=0)
    rows = interleaved(twins, lambda t: t.train_epoch(x, y, 64), repeats)
    ours = rows["npkeras"]["median"]
    notes = [
        f"npkeras / {name} = {ours / row['median']:.2f}"
        for name, row in rows.items()
        if name != "npkeras"
    ]
    peaks = {} if quick else peak_memory("cnn", peers, n)
    notes += _memory_notes(peaks)
    return {
        "case": 7,
        "peak_memory": peaks,
        "title": f"CNN conv32-pool-conv64-pool-dense10 on {n} x 28x28x1, Adam, batch 64",
        "unit": "seconds per epoch",
        "groups": {"": rows},
        "notes": notes,
    }


_PEAK_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, os.path.dirname(sys.argv[1]))
    import numpy as np
    model, library, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    if model == "cnn":
        import cnn as family
        rng = np.random.default_rng(0)
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
        twins = {"torch": lambda m: family.TorchCNN(m), "npkeras": lambda m: family.KerasApiCNN(library, m)}
    else:
        import text as family
        x, y = family.text_data(n)
        twins = {"torch": lambda m: family.TorchText(m), "npkeras": lambda m: family.KerasApiText(library, m)}
    if library == "torch":
        import torch
        twin = twins["torch"](torch)
    else:
        import importlib
        twin = twins["npkeras"](importlib.import_module("npkeras" if library == "npkeras" else "keras"))
    twin.build(0)
    twin.train_epoch(x, y, 64)
    with open("/proc/self/status") as f:  # this process's own peak RSS
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    print(json.dumps({"peak_rss_kb": peak, "data_bytes": x.nbytes + y.nbytes}))
""")


def peak_memory(model, peers, n):
    """Peak resident memory (VmHWM, MB) of one epoch of ``model`` ('cnn' or 'text') at
    batch 64, each library in a fresh process (interpreter and libraries included)."""
    peaks = {}
    for peer in peers:
        if peer.name not in ("npkeras", "torch", "keras-jax"):
            continue
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT, __file__, model, peer.name, str(n)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        if proc.returncode == 0:
            peaks[peer.name] = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    return peaks


def _memory_notes(peaks):
    notes = [f"peak RSS {name}: {m['peak_rss_kb'] / 1024:.0f} MB" for name, m in peaks.items()]
    if "npkeras" in peaks and "torch" in peaks:
        ratio = peaks["npkeras"]["peak_rss_kb"] / peaks["torch"]["peak_rss_kb"]
        notes.append(f"peak RSS npkeras / torch = {ratio:.2f} (target <= 1.5)")
    return notes


def case_text(peers, quick, repeats):
    """Case 8: Embedding(20000, 32) + GlobalAveragePooling1D + Dense(1, sigmoid), binary
    cross-entropy, Adam, 20,000 sequences of 200 ids, batch 64, one epoch (see text.py)."""
    from text import text_data, text_peers

    n = 640 if quick else 20000
    x, y = text_data(n)
    twins = text_peers(peers)
    for twin in twins:
        twin.build(seed=0)
    rows = interleaved(twins, lambda t: t.train_epoch(x, y, 64), repeats)
    ours = rows["npkeras"]["median"]
    notes = [
        f"npkeras / {name} = {ours / row['median']:.2f}"
        for name, row in rows.items()
        if name != "npkeras"
    ]
    peaks = {} if quick else peak_memory("text", peers, n)
    return {
        "case": 8,
        "title": f"text: Embedding 20000x32, mean over 200 steps, Dense(1, sigmoid) on {n} rows, "
        "binary CE, Adam, batch 64",
        "unit": "seconds per epoch",
        "groups": {"": rows},
        "notes": notes + _memory_notes(peaks),
        "peak_memory": peaks,
    }


# case 3 (the floor) is measured inside case 2, next to the libraries, so "3" means "2"
CASES = {
    "1": case_tiny,
    "2": case_mlp,
    "4": case_inference,
    "5": case_memory,
    "6": case_digits,
    "7": case_cnn,
    "8": case_text,
}
ALIASES = {"3": "2"}
