"""The MPI world this process belongs to, loaded only when a launcher started it.

``mpiexec -n 4 python train.py`` (Open MPI, MPICH) and ``srun`` (Slurm) start the same
script several times and tell each copy, through environment variables, how many copies
there are. Without such a launcher the world is this one process and ``mpi4py`` is never
imported, so single-process training needs neither MPI nor the ``dist`` extra.
"""

from __future__ import annotations

import os
import sys
import traceback

# set by the launchers that start MPI jobs: Open MPI's mpiexec, PMIx (Open MPI 5, Slurm's
# --mpi=pmix), PMI (MPICH's hydra, Slurm's --mpi=pmi2)
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK")


class World:
    """The processes training together: ``size`` of them, this one is ``rank``.

    ``comm`` is mpi4py's ``COMM_WORLD`` and ``MPI`` the ``mpi4py.MPI`` module (both None
    in a one-process world).
    """

    def __init__(self, comm=None, mpi_module=None):
        self.comm = comm
        self.MPI = mpi_module
        self.size = 1 if comm is None else comm.Get_size()
        self.rank = 0 if comm is None else comm.Get_rank()


_world: list = []


def launched_by_mpi(environ=None) -> bool:
    """Whether an MPI launcher (mpiexec, mpirun, srun) started this process."""
    environ = os.environ if environ is None else environ
    return any(name in environ for name in _LAUNCHER_VARIABLES)


def world() -> World:
    """This process's world (created once: MPI starts on the first call under a launcher)."""
    if not _world:
        _world.append(_start())
    return _world[0]


def _start() -> World:
    if not launched_by_mpi():
        return World()
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            "This process was started by an MPI launcher, but mpi4py is not installed, so "
            "the processes cannot train together. Install it with "
            "`pip install 'npkeras[dist]'` (mpi4py and Open MPI)."
        ) from None
    return World(MPI.COMM_WORLD, MPI)


def abort(world_: World, error: BaseException) -> None:
    """Print ``error`` with this process's rank on stderr, then end every process of the
    job (a failed process would otherwise leave the others waiting for it forever)."""
    message = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    sys.stderr.write(
        f"npkeras: process {world_.rank} of {world_.size} failed; ending all "
        f"{world_.size} processes.\n{message}"
    )
    sys.stderr.flush()
    sys.stdout.flush()
    world_.comm.Abort(1)


def install_excepthook(world_: World) -> None:
    """Make an exception that reaches the top of any process end the whole job."""
    if getattr(sys.excepthook, "_npkeras_abort", False):
        return

    def hook(kind, error, tb):
        abort(world_, error.with_traceback(tb))

    hook._npkeras_abort = True
    sys.excepthook = hook
