"""keras.distribution: train one model on several processes or machines.

Keras 3's spelling, over MPI (``pip install 'npkeras[dist]'``)::

    import npkeras as keras
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    model.fit(x, y, batch_size=256, epochs=10)    # 256 rows per step, over all processes

then ``mpiexec -n 4 python train.py`` (or ``srun -n 4 python train.py`` under Slurm).
Started without a launcher, the script runs as one process, exactly as without
``set_distribution``.

>>> import npkeras as keras
>>> keras.distribution.distribution() is None
True
>>> keras.distribution.list_devices()
['cpu:0']
"""

from __future__ import annotations

from npkeras.distribution.data_parallel import DataParallel, DeviceMesh, initialize, list_devices
from npkeras.training import distribution as _seam

__all__ = [
    "DataParallel",
    "DeviceMesh",
    "distribution",
    "initialize",
    "list_devices",
    "set_distribution",
]


def distribution():
    """The distribution set with :func:`set_distribution` (None: one process)."""
    current = _seam.get_distribution()
    return None if type(current) is _seam.Distribution else current


def set_distribution(value) -> None:
    """Train every model with ``value`` (a :class:`DataParallel`) from now on; None goes
    back to one process."""
    if value is not None and not isinstance(value, _seam.Distribution):
        raise TypeError(
            "set_distribution() expects a keras.distribution.DataParallel (or None); "
            f"received {value!r}."
        )
    _seam.set_distribution(value)
