"""Atomic file writes: a temporary file in the target's folder, fsynced, then renamed.

The temporary file is ``.<name>.<pid>.<random>.tmp``; a process killed mid-save (SIGKILL,
power loss) leaves it behind, and the next save to the same path removes the ones whose
process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time


def check_writable_target(path) -> str:
    """The absolute target path; a clear OSError when it cannot be written."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to '{path}': it is a directory. Give a file path.")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to '{path}': the folder '{folder}' does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot save to '{path}': the folder '{folder}' is not writable.")
    return path


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), where the system says."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rpartition(")")[2].split()[19])  # field 22: starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _owner_gone(pid: int, file_mtime: float) -> bool:
    """True when the process that made a temporary file can no longer be writing it:
    it has exited, or its pid now belongs to a process started after the file."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):  # alive but another user's; bad pid
        return False
    started = _process_start_time(pid)
    return started is not None and started > file_mtime + 1.0


def remove_stale_temp_files(path: str) -> list:
    """Remove ``.<name>.<pid>.*.tmp`` files next to ``path`` left by saves whose process
    is gone; returns the removed paths."""
    folder, name = os.path.split(path)
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = pattern.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                if _owner_gone(int(match.group(1)), entry.stat(follow_symlinks=False).st_mtime):
                    os.unlink(entry.path)
                    removed.append(entry.path)
    return removed


def _naming_path(err: OSError, path: str, tmp: str) -> OSError:
    """``err`` again, its message naming the target (disk full, permission denied...)."""
    if path in str(err):
        return err
    return type(err)(
        err.errno, f"{err.strerror or err} while saving '{path}' (temporary file '{tmp}')"
    )


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Yield a file object; on success it replaces ``path`` in one rename, on error
    ``path`` is left as it was and the temporary file is removed."""
    path = check_writable_target(path)
    folder = os.path.dirname(path)
    remove_stale_temp_files(path)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp"
        )
    except OSError as err:
        raise _naming_path(err, path, folder) from err
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno is not None:
            raise _naming_path(err, path, tmp) from err
        raise
    with contextlib.suppress(OSError):  # persist the rename itself; not possible everywhere
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
