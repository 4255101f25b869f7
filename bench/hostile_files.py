"""Memory and time of loading the three hostile files of issue 15 (a 1.5 GB config.json
zip bomb, an .npy header declaring 74.5 GiB over 16 bytes, a config asking Dense for
10**9 units), each in a fresh process, so a version before and after can be compared:

    python bench/hostile_files.py                       # this checkout's src/
    python bench/hostile_files.py --src /path/to/old/src --cap-gb 8

Results: bench/results/hostile-files-before.json (commit 4e5e177) and -after.json.

Peak memory: the process's maximum resident size (ru_maxrss) over its size after
importing npkeras, and tracemalloc's peak (Python and NumPy allocations) during the load. The process's address space is capped (``--cap-gb``, default 8) so
that a version that tries to allocate tens of gigabytes fails with MemoryError instead
of swapping the machine; that case reads "hit the cap".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import json, resource, sys, time, tracemalloc
import npkeras as keras
cap = int(sys.argv[2])
with open("/proc/self/statm") as f:
    size = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + cap, resource.RLIM_INFINITY))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
try:
    keras.models.load_model(sys.argv[1])
    outcome = "loaded"
except MemoryError:
    outcome = "MemoryError: hit the cap"
except Exception as err:
    outcome = f"{type(err).__name__}: {str(err)[:160]}"
seconds = time.perf_counter() - start
traced = tracemalloc.get_traced_memory()[1]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"outcome": outcome, "seconds": round(seconds, 3), "rss_peak_mb": round(peak / 1024, 1),
                  "traced_peak_mb": round(traced / 1024**2, 2)}))
"""


def make_files(folder: str) -> dict:
    sys.path.insert(0, ROOT)
    from tests.saving import hostile

    members = hostile.small_model_members(folder)
    files = {
        "config zip bomb (1.5 GB of JSON)": os.path.join(folder, "bomb.npkeras"),
        "npy header declaring 74.5 GiB": os.path.join(folder, "npy.npkeras"),
        "Dense units 10**9": os.path.join(folder, "units.npkeras"),
    }
    paths = list(files.values())
    size = hostile.config_bomb(members, paths[0], 1_500_000_000)
    print(f"config zip bomb: {size:,} bytes on disk", file=sys.stderr)
    hostile.write_model(paths[1], hostile.huge_npy_header_members(members), fix_checksums=False)
    hostile.write_model(paths[2], hostile.huge_units_members(members), fix_checksums=False)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", default=os.path.join(ROOT, "src"), help="npkeras sources to load with"
    )
    parser.add_argument("--cap-gb", type=float, default=8.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for case, path in make_files(folder).items():
            env = {**os.environ, "PYTHONPATH": args.src}
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, path, str(int(args.cap_gb * 1024**3))],
                capture_output=True,
                text=True,
                env=env,
                timeout=900,
                check=False,
            )
            results[case] = (
                json.loads(proc.stdout) if proc.returncode == 0 else {"crash": proc.stderr[-300:]}
            )
            print(f"{case}: {results[case]}", file=sys.stderr)
    print(json.dumps({"src": args.src, "cap_gb": args.cap_gb, "results": results}, indent=1))


if __name__ == "__main__":
    main()
