"""Atomic saves: stale temporary files of killed saves are cleaned up, and write errors
name the path."""

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import npkeras as keras
from npkeras.saving import atomic


def _model():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _temp_files(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path):
    target = tmp_path / "m.npkeras"
    script = textwrap.dedent(f"""
        import time
        from npkeras.saving.atomic import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"half a model")
            print("writing", flush=True)
            time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    left = _temp_files(tmp_path)
    assert left == [name for name in left if name.startswith(f".m.npkeras.{proc.pid}.")]
    assert len(left) == 1 and not target.exists()

    _model().save(target)
    assert _temp_files(tmp_path) == []
    keras.models.load_model(target)


def test_temp_files_of_live_processes_and_other_targets_are_kept(tmp_path):
    mine = tmp_path / f".m.npkeras.{os.getpid()}.abc123.tmp"  # this process: may be writing
    parent = tmp_path / f".m.npkeras.{os.getppid()}.abc123.tmp"  # a live process
    other = tmp_path / f".other.npkeras.{2**22 + 7}.abc123.tmp"  # another target
    for path in (mine, parent, other):
        path.write_bytes(b"x")
    assert atomic.remove_stale_temp_files(str(tmp_path / "m.npkeras")) == []
    assert mine.exists() and parent.exists() and other.exists()


def test_a_full_disk_names_the_path_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.npkeras"
    _model().save(target)
    before = target.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(
        OSError,
        match=rf"No space left on device while saving '{target}' "
        r"\(temporary file '.*\.tmp'\)",
    ) as info:
        _model().save(target)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == before and _temp_files(tmp_path) == []


def test_a_permission_error_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "w.weights.npz"

    def denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(PermissionError, match=rf"Permission denied while saving '{target}'"):
        _model().save_weights(target)
    assert _temp_files(tmp_path) == []


def test_an_unreadable_model_file_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "m.npkeras"
    _model().save(target)
    real_open = open

    def denied(path, *args, **kwargs):
        if os.fspath(path) == str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(PermissionError, match=f"Permission denied: '{target}'"):
        keras.models.load_model(target)
