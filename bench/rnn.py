"""Recurrent training speed: npkeras's LSTM and GRU against torch.nn.LSTM and GRU.

The task: LSTM(64) (or GRU(64), ``--cell gru``; Keras's ``reset_after=True`` is torch's
GRU formula) over sequences of 50 steps with 32 features, then Dense(1), mean squared
error, Adam, batch 64, N samples (8000 by default). Both libraries train the same number
of epochs in one process, interleaved, after a warm-up epoch, with the same thread
count; the best and median seconds per epoch are printed, and their ratio. Run without
the machine's forced OpenBLAS kernel, as bench/run.py does:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/rnn.py [--cell gru]
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/rnn.py --profile

``--clock cpu`` times with ``time.process_time`` instead of the wall clock (on a shared
machine, with ``--threads 1``, the figure least moved by other work). ``--memory`` runs
one epoch of each library in a fresh process and prints its peak resident memory
(VmHWM). ``--profile`` times the phases of one layer's forward and backward pass (the
input product, the steps and their recurrent products, the weight gradients).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import timeit

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _limit_threads(threads):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def npkeras_epoch(args, x, y):
    import npkeras as keras

    keras.utils.set_random_seed(0)
    recurrent = keras.layers.GRU if args.cell == "gru" else keras.layers.LSTM
    model = keras.Sequential(
        [
            keras.Input((args.steps, args.features)),
            recurrent(args.units),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")

    def epoch():
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)

    return epoch


def torch_epoch(args, x, y):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    recurrent = torch.nn.GRU if args.cell == "gru" else torch.nn.LSTM

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = recurrent(args.features, args.units, batch_first=True)
            self.dense = torch.nn.Linear(args.units, 1)

        def forward(self, inputs):
            return self.dense(self.recurrent(inputs)[0][:, -1])

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def epoch():
        for start in range(0, len(xt), args.batch):
            optimizer.zero_grad()
            out = net(xt[start : start + args.batch])
            loss = ((out - yt[start : start + args.batch]) ** 2).mean()
            loss.backward()
            optimizer.step()

    return epoch


RUNNERS = {"npkeras": npkeras_epoch, "torch": torch_epoch}


def peak_memory(args, argv):
    """Each library's peak resident memory (VmHWM, MB) over one epoch, in a fresh process."""
    peaks = {}
    for name in RUNNERS:
        out = subprocess.run(
            [sys.executable, __file__, *argv, "--peak-of", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        peaks[name] = float(out.split()[-1])
    print(
        f"{args.cell.upper()}({args.units}), N={args.samples}: peak memory of one epoch "
        "(VmHWM of a fresh process, data included)"
    )
    for name, mb in peaks.items():
        print(f"  {name:8s} {mb:.0f} MB")
    print(f"  npkeras / torch: {peaks['npkeras'] / peaks['torch']:.2f}x")


def _vm_hwm_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def profile(args, x, y):
    """Milliseconds per batch of each phase of one LSTM layer's forward and backward."""
    import numpy as np

    from npkeras.layers import LSTM
    from npkeras.layers.recurrent import _run_forward
    from npkeras.layers.rnn_base import dot_rows

    layer = LSTM(args.units)
    batch = np.ascontiguousarray(x[: args.batch].transpose(1, 0, 2))
    layer(x[: args.batch])
    cell, kernel = layer.cell, layer.cell.params["recurrent_kernel"]
    zeros = [np.zeros((args.batch, args.units), "float32")] * 2
    seq = _run_forward(cell, batch, zeros, None, False)

    def backward_loop():
        cell.begin_backward(seq)
        dstates = [
            np.ones((args.batch, args.units), "float32"),
            np.zeros((args.batch, args.units), "float32"),
        ]
        for t in range(seq.steps - 1, -1, -1):
            dstates = cell.step_backward(seq, t, dstates)

    def forward_loop():
        for t in range(seq.steps):
            cell.step(seq, t)

    def forward_gemms():
        for t in range(seq.steps):
            dot_rows(seq.states[0][t], kernel, seq.saved["gates"][t])

    def backward_gemms():
        kernel_t, dh = seq.saved["recurrent_kernel_t"], np.empty_like(zeros[0])
        for t in range(seq.steps):
            dot_rows(seq.dxw[t], kernel_t, dh)

    phases = [  # the indented phases are parts of the phase above them
        ("input product (begin)", lambda: cell.begin(batch, zeros)),
        ("forward steps", forward_loop),
        ("  their recurrent products", forward_gemms),
        ("backward steps", backward_loop),
        ("  their recurrent products", backward_gemms),
        ("weight and input gradients (end_backward)", lambda: cell.end_backward(seq)),
    ]
    backward_loop()
    print(f"LSTM({args.units}), batch {args.batch}, {args.steps} steps: ms per batch (best of 7)")
    with np.errstate(over="ignore"):
        for name, run in phases:
            best = min(timeit.repeat(run, number=3, repeat=7, timer=time.process_time)) / 3
            print(f"  {name:44s} {best * 1e3:7.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--peak-of", choices=tuple(RUNNERS), help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    _limit_threads(args.threads)
    if args.memory:
        peak_memory(args, [a for a in argv if a != "--memory"])
        return
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, args.steps, args.features)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True) * 0.1
    if args.peak_of:
        RUNNERS[args.peak_of](args, x, y)()
        print(f"{_vm_hwm_mb():.1f}")
        return
    if args.profile:
        profile(args, x, y)
        return
    runners = {name: make(args, x, y) for name, make in RUNNERS.items()}
    times = {name: [] for name in runners}
    for run in runners.values():  # warm-up
        run()
    names = list(runners)
    clock = CLOCKS[args.clock]
    for repeat in range(args.repeats):
        for name in names[repeat % 2 :] + names[: repeat % 2]:
            time.sleep(0.3)
            gc.collect()
            start = clock()
            runners[name]()
            times[name].append(clock() - start)
    print(
        f"{args.cell.upper()}({args.units}), {args.steps} steps x {args.features} features, "
        f"N={args.samples}, batch {args.batch}, Adam, {args.threads} threads: "
        f"s/epoch ({args.clock} time)"
    )
    for name, ts in times.items():
        print(f"  {name:8s} best {min(ts):.3f}  median {statistics.median(ts):.3f}")
    best = min(times["npkeras"]) / min(times["torch"])
    median = statistics.median(times["npkeras"]) / statistics.median(times["torch"])
    print(f"  npkeras / torch: best {best:.2f}x  median {median:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
