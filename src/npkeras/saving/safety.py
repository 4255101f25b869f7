"""Reading a model file without trusting it: bounded sizes, safe member names,
checksums, bounded JSON nesting and pickle-free arrays."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from npkeras import backend


class ModelFileError(ValueError):
    """The file is not a valid npkeras model file."""


class UnsafeModelFileError(ModelFileError):
    """The file holds something a model file never holds (code, odd paths, huge members)."""


class ChecksumMismatchError(ModelFileError):
    """A member's bytes differ from the SHA-256 recorded when it was saved."""


class UnsupportedFormatVersionError(ModelFileError):
    """The file was written by a newer npkeras with a format this one cannot read."""


MAX_MEMBER_BYTES = 2 * 1024**3
MAX_JSON_BYTES = 64 * 1024**2
MAX_JSON_DEPTH = 100


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_member_names(zf: zipfile.ZipFile, allowed, path) -> None:
    for info in zf.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
            raise UnsafeModelFileError(
                f"'{path}' holds a member with an unsafe path {name!r} (absolute or with '..'); "
                "refusing to read it."
            )
        if name not in allowed:
            raise UnsafeModelFileError(
                f"'{path}' holds an unexpected member {name!r}; a model file holds only "
                f"{', '.join(sorted(allowed))}."
            )


def read_member(zf: zipfile.ZipFile, name: str, path, limit: int | None = None) -> bytes:
    """A member's bytes, refusing members that declare more than ``limit`` bytes
    (default :data:`MAX_MEMBER_BYTES`). zipfile never inflates past the declared size:
    a member that lies about it fails its CRC check instead."""
    limit = MAX_MEMBER_BYTES if limit is None else limit
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise UnsafeModelFileError(
            f"Member {name!r} of '{path}' declares {info.file_size:,} bytes uncompressed, over the "
            f"limit of {limit:,}; refusing to inflate it."
        )
    return zf.read(info)


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(data: bytes, what: str):
    """JSON from untrusted bytes: bounded size and nesting depth."""
    if len(data) > MAX_JSON_BYTES:
        raise UnsafeModelFileError(f"{what} is {len(data):,} bytes, over the {MAX_JSON_BYTES:,} limit.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{what} is not UTF-8 text.") from None
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise UnsafeModelFileError(f"{what} nests {depth} levels deep, over the limit of {MAX_JSON_DEPTH}.")
    try:
        return json.loads(text)
    except ValueError as err:
        raise ModelFileError(f"{what} is not valid JSON: {err}") from None


def load_arrays(data: bytes, what: str) -> dict:
    """Arrays from .npz bytes without pickle and with bounded inner members."""
    buffer = io.BytesIO(data)
    try:
        with zipfile.ZipFile(buffer) as inner:
            for info in inner.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise UnsafeModelFileError(f"{what} holds an array declaring {info.file_size:,} bytes.")
        buffer.seek(0)
        with backend.host_xp.load(buffer, allow_pickle=False) as npz:
            arrays = {}
            for key in npz.files:
                arr = npz[key]
                if arr.dtype.kind not in "biuf":
                    raise UnsafeModelFileError(f"{what} holds array {key!r} of dtype {arr.dtype}; "
                                               "only numeric arrays are allowed.")
                arrays[key] = arr
            return arrays
    except UnsafeModelFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise UnsafeModelFileError(f"{what} could not be read as plain numeric arrays: {err}") from None
