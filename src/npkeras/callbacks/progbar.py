"""Keras-style progress output: a live bar on a terminal, one line per epoch elsewhere."""

from __future__ import annotations

import sys
import time

from npkeras.callbacks.base import Callback

_BAR_WIDTH = 20
_REDRAW_SECONDS = 0.05


def format_logs(logs: dict) -> str:
    """' - loss: 0.1234 - mae: 0.2000' from a dict of numbers."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, (int, float)):
            parts.append(
                f"{key}: {value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{key}: {value:.4e}"
            )
    return "".join(f" - {p}" for p in parts)


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_step_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """A progress bar for ``target`` steps (None when unknown) written to ``stream``.

    On a terminal it redraws one line with carriage returns, at most every 50 ms; on
    anything else (a log file, a pipe) it writes only the final line, so logs never
    fill with carriage returns.
    """

    def __init__(self, target, stream=None, interactive=None):
        self.target = target
        self.stream = stream or sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_width = 0

    def _line(self, current, logs, final):
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(current, 1)
        if self.target:
            done = int(_BAR_WIDTH * min(current, self.target) / self.target)
            width = len(str(self.target))
            bar = f"{current:>{width}}/{self.target} " + "━" * done + "─" * (_BAR_WIDTH - done)
        else:
            bar = f"{current}/Unknown"
        if final or not self.target:
            timing = f" {format_duration(elapsed)} {format_step_time(per_step)}"
        else:
            timing = f" ETA {format_duration(per_step * (self.target - current))}"
        return bar + timing + format_logs(logs)

    def update(self, current, logs=None, final=False):
        if not self.interactive and not final:
            return
        now = time.perf_counter()
        if not final and now - self._last_draw < _REDRAW_SECONDS:
            return
        self._last_draw = now
        line = self._line(current, logs or {}, final)
        if self.interactive:
            pad = " " * max(self._last_width - len(line), 0)
            self.stream.write("\r" + line + pad + ("\n" if final else ""))
            self._last_width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class ProgbarLogger(Callback):
    """Prints training progress: ``verbose=1`` a bar per epoch, ``verbose=2`` one line per epoch."""

    def __init__(self, verbose: int = 1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self._bar = None
        self._seen = 0

    def _out(self):
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs")
        if self.verbose == 1:
            self._out().write(f"Epoch {epoch + 1}/{epochs}\n")
        interactive = None if self.verbose == 1 else False
        self._bar = Progbar(self.params.get("steps"), stream=self._out(), interactive=interactive)
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.verbose == 1 and self._bar is not None and self._bar.interactive:
            self._bar.update(self._seen, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is None:
            return
        if self.verbose == 2:
            self._out().write(f"Epoch {epoch + 1}/{self.params.get('epochs')}\n")
        self._bar.update(self._seen, logs, final=True)
