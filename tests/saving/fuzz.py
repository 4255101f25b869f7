"""A mutation fuzzer for model files: every load of a mutated file must either succeed or
raise ModelFileError, within a memory and a time limit.

Mutations of a small saved model: byte flips and truncations of the archive; byte flips,
truncations and header rewrites inside one member or one array (re-zipped with correct
CRCs); member swaps, drops, duplicates and renames; JSON field mutations of config.json
and metadata.json. Every mutation but the raw archive ones re-computes the SHA-256s in
metadata.json (they are a damage check, not a signature), so the mutation reaches the
parsers behind them.

    python -m tests.saving.fuzz --count 20000 --seed 1      # `make fuzz` runs this
    python -m tests.saving.fuzz --atheris -atheris_runs=20000  # coverage-guided, if installed

The process runs under ``RLIMIT_AS`` = its size after warm-up + ``--memory-mb`` (256), so
a load that tries to allocate more fails with MemoryError, which counts as a failure.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import resource
import sys
import tempfile
import time
import zipfile

import npkeras as keras
from npkeras.saving import ModelFileError
from tests.saving import hostile

JSON_VALUES = (
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    3,
    10**9,
    2**63,
    -(2**31),
    1.5,
    -0.0,
    1e308,
    float("nan"),
    float("inf"),
    "",
    "x",
    "relu",
    "Dense",
    "Sequential",
    "float64",
    "zeros",
    [],
    [1],
    [None, 3],
    [-1, 0],
    {},
    {"class_name": "Dense"},
    {"class_name": "Sequential", "config": {}},
    "a" * 1000,
)
DTYPES = ("<f4", "<f8", ">f4", "<i8", "|u1", "|b1", "<f2", "<c8", "|O", "<U3", "|V4", "<M8[s]")
SHAPES = (
    (),
    (0,),
    (1,),
    (3,),
    (4,),
    (3, 4),
    (4, 3),
    (4, 1),
    (10**6,),
    (10**9, 10**9),
    (-1,),
    (2**62, 4),
    (1, 1, 1, 1),
)


class Stats:
    def __init__(self):
        self.outcomes = {"loaded": 0, "refused": 0}
        self.kinds: dict = {}
        self.failures: list = []
        self.slowest = (0.0, "")

    def as_dict(self) -> dict:
        return {
            "outcomes": self.outcomes,
            "kinds": self.kinds,
            "failures": self.failures[:20],
            "failure_count": len(self.failures),
            "slowest_s": round(self.slowest[0], 4),
            "slowest_kind": self.slowest[1],
        }


# -- mutations ------------------------------------------------------------------------------


def _flip(rng, data: bytes, flips: int | None = None) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(flips or rng.randrange(1, 9)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _mutate_bytes(rng, data: bytes) -> bytes:
    """Flip bits, overwrite a run, truncate, or insert bytes."""
    choice = rng.randrange(4)
    if choice == 0 or not data:
        return _flip(rng, data)
    at = rng.randrange(len(data))
    if choice == 1:
        return (
            data[:at]
            + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
            + data[at + 16 :]
        )
    if choice == 2:
        return data[:at]
    return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) + data[at:]


def _npz_items(data: bytes) -> list:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(n, zf.read(n)) for n in zf.namelist()]


def _npy_header(rng) -> str:
    shape = rng.choice(SHAPES)
    return (
        f"{{'descr': '{rng.choice(DTYPES)}', 'fortran_order': {rng.choice(['False', 'True'])}, "
        f"'shape': {shape}, }}"
    )


def _mutate_array(rng, data: bytes) -> bytes:
    """One array of an .npz: its bytes mutated, its header rewritten, or arrays swapped,
    dropped, duplicated or renamed; re-zipped so the inner CRCs are right."""
    items = _npz_items(data)
    if not items:
        return data
    i = rng.randrange(len(items))
    name, npy = items[i]
    choice = rng.randrange(6)
    if choice == 0:
        items[i] = (name, _mutate_bytes(rng, npy))
    elif choice == 1:
        header_end = npy.index(b"\n") + 1 if b"\n" in npy else len(npy)
        body = npy[header_end:]
        if rng.random() < 0.5:
            body = body[: rng.randrange(len(body) + 1)]
        items[i] = (name, hostile.npy_bytes(_npy_header(rng), body))
    elif choice == 2:
        header_end = npy.index(b"\n") + 1 if b"\n" in npy else len(npy)
        items[i] = (name, _flip(rng, npy[:header_end]) + npy[header_end:])
    elif choice == 3:
        j = rng.randrange(len(items))
        items[i], items[j] = (name, items[j][1]), (items[j][0], npy)
    elif choice == 4:
        items.append(items[i] if rng.random() < 0.5 else (name + rng.choice(["x", ""]), npy))
    else:
        items.pop(i)
    return hostile.zip_bytes(items, zipfile.ZIP_STORED)


def _json_nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_nodes(item, (*path, index))


def _mutate_json(rng, data: bytes) -> bytes:
    """Replace, delete or add one field somewhere in the document."""
    doc = json.loads(data)
    nodes = list(_json_nodes(doc))
    path, node = rng.choice(nodes)
    choice = rng.randrange(4)
    if not path:
        return json.dumps(rng.choice(JSON_VALUES)).encode()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if choice == 0:
        parent[path[-1]] = copy.deepcopy(rng.choice(JSON_VALUES))
    elif choice == 1:  # a value from elsewhere in the document
        parent[path[-1]] = copy.deepcopy(rng.choice(nodes)[1])
    elif choice == 2:
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    elif isinstance(node, dict):
        node[rng.choice(["name", "units", "x", "config", "class_name"])] = copy.deepcopy(
            rng.choice(JSON_VALUES)
        )
    elif isinstance(node, list):
        node.append(copy.deepcopy(rng.choice(JSON_VALUES)))
    elif isinstance(node, int) and not isinstance(node, bool):
        parent[path[-1]] = node * rng.choice([-1, 0, 2, 10**6, 10**12])
    return json.dumps(doc).encode()


def _mutate_members(rng, members: dict) -> dict:
    """Swap, drop, duplicate-rename members."""
    members = dict(members)
    names = sorted(members)
    a, b = rng.choice(names), rng.choice(names)
    choice = rng.randrange(3)
    if choice == 0:
        members[a], members[b] = members[b], members[a]
    elif choice == 1 and a != "metadata.json":
        del members[a]
    else:
        members[rng.choice(["extra.bin", "../x", "config.json/", "CONFIG.json"])] = members[a]
    return members


def mutate(rng, members: dict, archive: bytes) -> tuple[str, bytes]:
    """(kind of mutation, bytes of the mutated model file)."""
    choice = rng.randrange(10)
    if choice == 0:
        return "archive bytes", _mutate_bytes(rng, archive)
    if choice == 1:
        return "archive truncated", archive[: rng.randrange(len(archive))]
    members = dict(members)
    if choice in (2, 3):
        name = rng.choice(sorted(members))
        members[name] = _mutate_bytes(rng, members[name])
        kind = f"{name} bytes"
    elif choice in (4, 5):
        name = rng.choice(["weights.npz", "optimizer.npz"])
        members[name] = _mutate_array(rng, members[name])
        kind = f"{name} array"
    elif choice in (6, 7, 8):
        name = "config.json" if choice < 8 else "metadata.json"
        members[name] = _mutate_json(rng, members[name])
        kind = f"{name} field"
    else:
        members = _mutate_members(rng, members)
        kind = "members"
    if "metadata.json" in members and rng.random() < 0.95:
        try:
            members = hostile.with_checksums(members)
        except (ValueError, TypeError, AttributeError):  # metadata itself was mutated to non-dict
            pass
    return kind, hostile.zip_bytes(members)


# -- running -----------------------------------------------------------------------------------


def load_once(
    path: str,
    data: bytes,
    kind: str,
    stats: Stats,
    time_limit: float,
    keep_failures: str | None = None,
) -> None:
    with open(path, "wb") as f:
        f.write(data)
    start = time.perf_counter()
    try:
        keras.models.load_model(path)
        outcome = "loaded"
    except ModelFileError:
        outcome = "refused"
    except Exception as err:  # noqa: BLE001 - any other exception is the failure we look for
        outcome = f"{type(err).__name__}: {str(err)[:200]}"
    seconds = time.perf_counter() - start
    stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
    if seconds > stats.slowest[0]:
        stats.slowest = (seconds, kind)
    failure = None
    if outcome in stats.outcomes:
        stats.outcomes[outcome] += 1
    else:
        failure = outcome
    if seconds > time_limit:
        failure = f"{outcome}; took {seconds:.2f} s"
    if failure:
        case = sum(stats.kinds.values()) - 1
        stats.failures.append({"case": case, "kind": kind, "error": failure})
        if keep_failures:
            os.makedirs(keep_failures, exist_ok=True)
            with open(os.path.join(keep_failures, f"case-{case}.npkeras"), "wb") as f:
                f.write(data)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def limit_memory(extra_mb: int) -> int:
    """Cap the address space at its current size + ``extra_mb``; returns the cap."""
    cap = _vm_bytes() + extra_mb * 1024**2
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return cap


def setup(folder: str) -> tuple[dict, bytes]:
    members = hostile.small_model_members(folder)
    archive = hostile.zip_bytes(members)
    path = os.path.join(folder, "warm.npkeras")
    with open(path, "wb") as f:
        f.write(archive)
    for _ in range(3):  # warm up imports and caches before the memory cap is measured
        keras.models.load_model(path)
    return members, archive


# A memory-backed folder where there is one: the file is rewritten for every mutation.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run(
    seed: int, count: int, memory_mb: int, time_limit: float, keep_failures: str | None = None
) -> dict:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
        members, archive = setup(folder)
        rss_before = _rss_mb()
        limit_memory(memory_mb)
        rng = random.Random(seed)
        stats = Stats()
        path = os.path.join(folder, "fuzzed.npkeras")
        start = time.perf_counter()
        for _ in range(count):
            kind, data = mutate(rng, members, archive)
            load_once(path, data, kind, stats, time_limit, keep_failures)
        result = stats.as_dict()
        result.update(
            seed=seed,
            count=count,
            seconds=round(time.perf_counter() - start, 2),
            memory_limit_mb=memory_mb,
            max_rss_growth_mb=round(_rss_mb() - rss_before, 1),
        )
        return result


class _ProviderRandom:
    """The few ``random.Random`` methods the mutator uses, drawn from atheris's
    FuzzedDataProvider so that the coverage-guided engine steers the mutations."""

    def __init__(self, provider):
        self.provider = provider

    def randrange(self, start, stop=None):
        low, high = (0, start) if stop is None else (start, stop)
        return self.provider.ConsumeIntInRange(low, high - 1)

    def choice(self, seq):
        return seq[self.randrange(len(seq))]

    def random(self):
        return self.provider.ConsumeProbability()


def run_atheris(argv, memory_mb: int, time_limit: float):
    import atheris

    folder = tempfile.mkdtemp(dir=SCRATCH)
    members, archive = setup(folder)
    limit_memory(memory_mb)
    path = os.path.join(folder, "fuzzed.npkeras")
    stats = Stats()

    def one_input(data: bytes):
        rng = _ProviderRandom(atheris.FuzzedDataProvider(data))
        kind, mutated = mutate(rng, members, archive)
        load_once(path, mutated, kind, stats, time_limit, os.path.join(folder, "failures"))
        if stats.failures:
            raise AssertionError(json.dumps(stats.failures[-1]))
        done = sum(stats.kinds.values())
        if done % 1000 == 0:
            print(f"npkeras fuzz: {done} inputs, {stats.outcomes}", file=sys.stderr, flush=True)

    atheris.instrument_all()
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--keep-failures", metavar="DIR", help="write failing files here")
    parser.add_argument(
        "--atheris",
        action="store_true",
        help="coverage-guided with atheris; other arguments go to libFuzzer",
    )
    args, rest = parser.parse_known_args(argv)
    if args.atheris:
        run_atheris([sys.argv[0], *rest], args.memory_mb, args.time_limit)
        return 0
    result = run(args.seed, args.count, args.memory_mb, args.time_limit, args.keep_failures)
    print(json.dumps(result, indent=1))
    return 1 if result["failure_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
