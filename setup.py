"""Builds the optional C kernels (npkeras._kernels); everything else is in pyproject.toml.

The extension is optional: without a C compiler npkeras installs and runs on NumPy alone.
"""

import sys

from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so the kernels equal the NumPy path bit for bit;
# -fno-math-errno: sqrt needs no error check, so the loops vectorise;
# -fno-trapping-math: comparisons and selects (the clamps of exp) may run on every lane,
# so those loops vectorise too (no result changes: floating-point flags are never read)
flags = (
    []
    if sys.platform == "win32"
    else ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
)

setup(ext_modules=[Extension("npkeras._kernels", ["src/npkeras/_kernels.c"],
                             extra_compile_args=flags, optional=True)])
