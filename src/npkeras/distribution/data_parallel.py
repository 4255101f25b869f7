"""Data parallelism over MPI: every process holds the whole model and trains on its own
rows of each global batch; one allreduce per step averages the gradients.

This is the recipe Horovod made standard: the chief broadcasts the weights and optimizer
state when ``fit`` starts, each process computes the gradient of its shard, one in-place
``Allreduce`` on the flat gradient buffer sums them (no per-layer messages), and every
process applies the same update, so the replicas stay identical. Only the chief writes
files and prints.
"""

from __future__ import annotations

import contextlib
import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.distribution import mpi
from npkeras.training import distribution as seam


class DeviceMesh:
    """The devices training together, arranged along named axes (here: processes).

    Args:
        shape: the mesh shape, e.g. ``(4,)`` for four processes.
        axis_names: one name per axis, e.g. ``["batch"]``.
        devices: device names (default: :func:`list_devices`).

    >>> DeviceMesh((1,), ["batch"], ["cpu:0"]).shape
    (1,)
    """

    def __init__(self, shape, axis_names, devices=None):
        shape = tuple(int(s) for s in shape)
        axis_names = list(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(
                f"DeviceMesh needs one axis name per dimension of its shape; received "
                f"shape={shape} and axis_names={axis_names}."
            )
        devices = list_devices() if devices is None else list(devices)
        if math.prod(shape) != len(devices):
            raise ValueError(
                f"DeviceMesh of shape {shape} needs {math.prod(shape)} devices; received "
                f"{len(devices)}: {devices}."
            )
        self.shape, self.axis_names, self.devices = shape, axis_names, devices

    def __repr__(self):
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices training can use: one ``"cpu:i"`` per MPI process (one process when
    the script was not started by ``mpiexec`` or ``srun``).

    >>> list_devices()
    ['cpu:0']
    """
    if device_type is not None and device_type.lower() != "cpu":
        return []
    return [f"cpu:{i}" for i in range(mpi.world().size)]


def initialize(job_addresses=None, num_processes=None, process_id=None) -> None:
    """Start the multi-process world (MPI, when a launcher started this process) and check
    it is the one the caller expects. ``job_addresses`` is accepted for Keras scripts: the
    MPI launcher already connects the processes.
    """
    world = mpi.world()
    if num_processes is not None and int(num_processes) != world.size:
        raise ValueError(
            f"initialize() expected num_processes={num_processes}, but {world.size} "
            f"process(es) were started. Launch with `mpiexec -n {num_processes} python ...`."
        )
    if process_id is not None and int(process_id) != world.rank:
        raise ValueError(
            f"initialize() expected process_id={process_id}, but this is process {world.rank}; "
            "the MPI launcher numbers the processes."
        )


def _block(total: int, rank: int, size: int) -> tuple[int, int]:
    """Process ``rank``'s contiguous block of ``total`` rows (sizes differ by at most one)."""
    return rank * total // size, (rank + 1) * total // size


class DataParallel(seam.Distribution):
    """Replicate the model on every process and split each global batch among them.

    Launch the unchanged training script once per process, e.g.
    ``mpiexec -n 4 python train.py`` (or ``srun -n 4 python train.py`` under Slurm). The
    ``batch_size`` given to ``fit`` is the global batch: each process computes the
    gradient of about ``batch_size / 4`` of its rows; the gradients are averaged by rows,
    so training gives the same weights as one process with the same batch (to rounding).
    Every process must load the same data (the same arrays, or a generator yielding the
    same batches). ``evaluate`` shards the same way and sums the metric states;
    ``predict`` splits the rows and returns the full array on every process. Only the
    chief (process 0) prints and runs callbacks that write files (ModelCheckpoint,
    CSVLogger, BackupAndRestore, TensorBoard). Dropout masks differ between processes but
    a seeded run is reproducible. BatchNormalization statistics stay per process (per
    replica), as in Keras's data parallelism; the moving averages are the chief's when
    ``fit`` starts. A model that overrides ``train_step`` cannot be trained this way.
    Without a launcher this is one process and training is exactly as without it.

    Args:
        device_mesh: a 1-D :class:`DeviceMesh` (its first axis is the batch axis).
        devices: device names, one per process (default: :func:`list_devices`).
        auto_shard_dataset: False when each process already passes its own part of the
            data: then every process uses all its rows (still averaging gradients).

    >>> import npkeras as keras
    >>> distribution = keras.distribution.DataParallel()
    >>> distribution.num_processes, distribution.is_chief
    (1, True)
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset: bool = True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel takes `device_mesh` or `devices`, not both.")
        self._world = mpi.world()
        self.world_size, self.rank = self._world.size, self._world.rank
        if device_mesh is None:
            devices = list_devices() if devices is None else list(devices)
            if len(devices) != self.world_size:
                raise ValueError(
                    f"DataParallel runs one device per MPI process, so it needs "
                    f"{self.world_size} device(s); received {len(devices)}: {devices}. "
                    f"Launch with `mpiexec -n {len(devices)} python ...` or leave `devices` out."
                )
            device_mesh = DeviceMesh((len(devices),), ["batch"], devices)
        self.device_mesh = device_mesh
        self.batch_dim_name = device_mesh.axis_names[0]
        self.auto_shard_dataset = bool(auto_shard_dataset)
        if self.world_size > 1:
            mpi.install_excepthook(self._world)

    # -- Keras's attributes ----------------------------------------------------------------
    @property
    def num_processes(self) -> int:
        return self.world_size

    @property
    def data_shard_id(self) -> int:
        return self.rank

    @property
    def num_model_replicas(self) -> int:
        return self.world_size

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def scope(self):
        """Train with this distribution inside the ``with`` block."""
        previous = seam.get_distribution()
        seam.set_distribution(self)
        try:
            yield self
        finally:
            seam.set_distribution(previous)

    def __repr__(self):
        return (
            f"<DataParallel processes={self.world_size} rank={self.rank} "
            f"auto_shard_dataset={self.auto_shard_dataset}>"
        )

    # -- the seam --------------------------------------------------------------------------
    def _splits(self) -> bool:
        return self.world_size > 1 and self.auto_shard_dataset

    def shard(self, index):
        if not self._splits():
            return index
        if isinstance(index, slice):
            lo, hi = _block(index.stop - index.start, self.rank, self.world_size)
            return slice(index.start + lo, index.start + hi)
        lo, hi = _block(len(index), self.rank, self.world_size)
        return index[lo:hi]

    def check_batch_size(self, batch_size: int, rows: int) -> None:
        if self._splits() and min(batch_size, rows) < self.world_size:
            raise ValueError(
                f"Data-parallel training on {self.world_size} processes splits every global "
                f"batch among them, so it needs batch_size and the number of samples to be "
                f"at least {self.world_size}; received batch_size={batch_size} with {rows} "
                "samples."
            )

    def reduce_gradients(self, buffer, rows: int, loss: float) -> float:
        if self.world_size == 1:
            return loss
        # each process's gradient is the mean over its rows: weighting it by its rows and
        # dividing the sum by all rows gives the mean over the global batch, also when the
        # last batch splits unevenly. The loss and row count ride in the same message.
        exchange, grads = buffer.exchange, buffer.grads
        if rows:
            grads *= rows
        exchange[-2] = loss * rows if rows else 0.0
        exchange[-1] = rows
        self._allreduce(exchange)
        total_rows = exchange[-1]
        grads /= total_rows
        return float(exchange[-2]) / float(total_rows)

    def _allreduce(self, array) -> None:
        """Sum ``array`` over the processes, in place (the one message of a step)."""
        self._world.comm.Allreduce(self._world.MPI.IN_PLACE, array, op=self._world.MPI.SUM)

    def reduce_metric_states(self, values: list) -> list:
        if self.world_size == 1:
            return values
        arrays = [xp.asarray(value, dtype="float64") for value in values]
        flat = xp.concatenate([a.reshape(-1) for a in arrays])
        self._world.comm.Allreduce(self._world.MPI.IN_PLACE, flat, op=self._world.MPI.SUM)
        reduced, start = [], 0
        for a in arrays:
            reduced.append(flat[start : start + a.size].reshape(a.shape))
            start += a.size
        return reduced

    def broadcast(self, array):
        if self.world_size > 1:
            self._world.comm.Bcast(array, root=0)
        return array

    def gather_rows(self, array, total_rows: int):
        if not self._splits():
            return array
        row = math.prod(array.shape[1:])
        counts = [
            row * (hi - lo)
            for lo, hi in (_block(total_rows, r, self.world_size) for r in range(self.world_size))
        ]
        out = xp.empty((total_rows,) + array.shape[1:], dtype=array.dtype)
        self._world.comm.Allgatherv(xp.ascontiguousarray(array), [out, counts])
        return out

    def synchronize(self, model) -> None:
        if self.world_size == 1:
            return
        comm = self._world.comm
        buffer = model._prepare_parameters()
        comm.Bcast(buffer.params, root=0)
        state = None
        if self.is_chief:
            state = {
                "optimizer": model._training_step().get_state(),
                "non_trainable": [backend.to_numpy(v.value) for v in model.non_trainable_weights],
                "resume_epoch": model._resume_epoch,
            }
        state = comm.bcast(state, root=0)
        if self.is_chief:
            return
        model._training_step().set_state(state["optimizer"])
        for variable, value in zip(model.non_trainable_weights, state["non_trainable"]):
            variable.assign(value)
        model._resume_epoch = state["resume_epoch"]
        # dropout masks differ between processes, yet a seeded run is reproducible: each
        # process derives its stream from its own (seeded) generator and its rank; the
        # chief keeps the user's stream, so it draws exactly what one process would
        generator = backend.rng()
        seed = int(generator.integers(2**63))
        generator.bit_generator.state = xp.random.default_rng([seed, self.rank]).bit_generator.state

    def guard(self):
        if self.world_size == 1:
            return contextlib.nullcontext()
        return _abort_on_error(self._world)


@contextlib.contextmanager
def _abort_on_error(world):
    try:
        yield
    except BaseException as error:
        mpi.abort(world, error)
        raise
