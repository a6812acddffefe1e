r"""The devices a training run uses: a :class:`jax.sharding.Mesh` with a data axis and a model axis.

A training step is one jitted program over a mesh of shape ``(data, model)``: the batch is split
along ``"data"`` (:func:`batch_sharding`), each parameter is replicated, or split along
``"model"`` when the mesh has one (:func:`parameter_shardings`), and XLA inserts the
reductions. The same code runs on one device (the ``(1, 1)`` mesh of a single-threaded CPU
worker), on every device of one host, and on the devices of several hosts joined by
:func:`jax.distributed.initialize` (:func:`join_hosts`, configured from the environment).

Where runs go: :class:`Hosts` deals an experiment's (row, seed) runs to hosts by their index,
deterministically, so a batch scheduler can start one process per host; within a host, runs go to
single-threaded workers of one device each, or one after another onto a mesh of all the host's
devices (:mod:`ropelab.checks.findings.experiment_runner`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA",
    "ENVIRONMENT",
    "Hosts",
    "MODEL",
    "batch_sharding",
    "fetch",
    "join_hosts",
    "parameter_shardings",
    "place",
    "place_batch",
    "reduction_order_bound",
    "summation_bound",
    "training_mesh",
]

DATA, MODEL = "data", "model"
"""The mesh's axis names: the batch is split along ``DATA``, parameters (when asked) along ``MODEL``."""

ENVIRONMENT = {
    "ROPELAB_COORDINATOR": "address:port of process 0's coordinator (jax.distributed.initialize's coordinator_address)",
    "ROPELAB_NUM_PROCESSES": "how many host processes take part (a positive integer)",
    "ROPELAB_PROCESS_ID": "this process's index, 0 .. ROPELAB_NUM_PROCESSES - 1",
}
"""The variables :func:`join_hosts` reads: all three, or none (one host)."""


def training_mesh(data: int | None = None, model: int = 1, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A ``(data, model)`` mesh over ``devices`` (default: every device of every joined host).

    ``data`` defaults to ``len(devices) // model``; ``data * model`` must equal the number of
    devices, so no device is silently left out.

    >>> mesh = training_mesh(devices=jax.devices()[:1])
    >>> dict(mesh.shape)
    {'data': 1, 'model': 1}
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    if not (isinstance(model, int) and model >= 1 and len(devices) % model == 0):
        raise ValueError(f"model must be a positive integer dividing the {len(devices)} devices, got {model!r}")
    data = len(devices) // model if data is None else data
    if not (isinstance(data, int) and data >= 1 and data * model == len(devices)):
        raise ValueError(f"data x model must equal the {len(devices)} devices, got {data!r} x {model}")
    return Mesh(np.array(devices, dtype=object).reshape(data, model), (DATA, MODEL))


def batch_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
    """The sharding of a batch of rank ``ndim``: its leading (batch) axis split along ``"data"``.

    >>> batch_sharding(training_mesh(devices=jax.devices()[:1]), 2).spec
    P('data', None)
    """
    return NamedSharding(mesh, PartitionSpec(DATA, *([None] * (ndim - 1))))


def _leaf_spec(shape: tuple[int, ...], model: int) -> PartitionSpec:
    """Replicated, or a matrix's last axis split along ``"model"`` when the model axis divides it."""
    if model > 1 and len(shape) >= 2 and shape[-1] % model == 0:
        return PartitionSpec(*([None] * (len(shape) - 1)), MODEL)
    return PartitionSpec()


def parameter_shardings(tree, mesh: Mesh):
    """A sharding for every leaf of ``tree`` (parameters or optimiser state, arrays or shape structs).

    On a mesh whose model axis has one device every leaf is replicated; otherwise each matrix
    whose last axis that axis divides is split along it (vectors and scalars stay replicated).

    >>> mesh = training_mesh(devices=jax.devices()[:1])
    >>> parameter_shardings({"w": np.zeros((4, 6))}, mesh)["w"].spec
    P()
    """
    model = mesh.shape[MODEL]
    return jax.tree_util.tree_map(lambda x: NamedSharding(mesh, _leaf_spec(tuple(np.shape(x)), model)), tree)


def place(tree, mesh: Mesh):
    """``tree`` on ``mesh`` with :func:`parameter_shardings` (a host array or an array on other devices)."""
    return jax.device_put(tree, parameter_shardings(tree, mesh))


def place_batch(batch: np.ndarray, mesh: Mesh) -> jax.Array:
    """A host batch ``(B, ...)`` as one global array split along ``"data"``.

    Every host holds the whole batch (it is drawn from ``(seed, step)``), and each device takes
    its slice of it: the same call works on one device, one host or several hosts.
    ``B`` must be a multiple of the data axis.
    """
    batch = np.asarray(batch)
    data = mesh.shape[DATA]
    if batch.shape[0] % data:
        raise ValueError(f"batch_size must be a multiple of the mesh's data axis ({data}), got {batch.shape[0]}")
    return jax.make_array_from_callback(batch.shape, batch_sharding(mesh, batch.ndim), lambda index: batch[index])


def fetch(tree):
    """Every leaf of ``tree`` as one host numpy array, gathered from whatever devices and hosts hold it."""
    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree_util.tree_map(one, tree)


def summation_bound(n: int, total: float, unit_roundoff: float = 2.0**-24) -> float:
    r"""How far two float32 sums of the same ``n`` non-negative terms can differ by their order alone.

    Any order of recursive (or pairwise, or partial-sums-then-all-reduce) summation of ``n``
    terms returns :math:`\hat s` with :math:`|\hat s - s| \le \gamma_{n-1} \sum |x_i|`,
    :math:`\gamma_k = k u / (1 - k u)` (Higham, *Accuracy and Stability of Numerical Algorithms*,
    2nd ed., eq. 4.4); two orders differ by at most twice that. ``total`` is :math:`\sum |x_i|`.

    >>> round(summation_bound(512, 512 * 5.5) / 512, 6)  # the mean of 512 NLLs near 5.5
    0.000335
    """
    if n < 1 or not math.isfinite(total) or total < 0:
        raise ValueError(f"n must be >= 1 and total finite and >= 0, got n={n}, total={total}")
    k = (n - 1) * unit_roundoff
    if k >= 1:
        raise ValueError(f"n = {n} terms is past the bound's range for unit roundoff {unit_roundoff}")
    return 2 * k / (1 - k) * total


def reduction_order_bound(n: int, k: int, mean: float, unit_roundoff: float = 2.0**-24) -> float:
    r"""How far two meshes' float32 losses at the same parameters can differ: a mean of ``n``
    per-token terms near ``mean``, each formed through reductions of at most ``k`` terms.

    Splitting the batch over devices changes two things: the order of the ``n``-term sum of the
    loss (:func:`summation_bound`), and the order inside each term's own reductions, whose
    shapes change with the per-device batch. Each term is bounded to first order as one
    ``k``-term reduction of its own magnitude, :math:`2\gamma_k |x_i|` (the assumption the tests
    check token by token), so the mean moves by at most
    :math:`2(\gamma_{n-1} + \gamma_k)\,\overline{|x|}`.

    >>> round(reduction_order_bound(256, 256, 5.5), 6)
    0.000335
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return summation_bound(n, n * mean, unit_roundoff) / n + summation_bound(k + 1, mean, unit_roundoff)


@dataclass(frozen=True)
class Hosts:
    """This process's place among the host processes of one experiment: ``index`` of ``count``.

    Runs are dealt by position: host ``i`` trains runs ``i, i + count, i + 2 count, ...`` of the
    record's order, so every host computes the same deal without talking to the others.

    >>> Hosts(1, 3).mine(list("abcdefg"))
    ['b', 'e']
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1 and isinstance(self.index, int)
                and 0 <= self.index < self.count):
            raise ValueError(f"hosts: the process index must lie in 0 .. count - 1, got {self.index} of {self.count}")

    def mine(self, jobs: Sequence) -> list:
        """The runs this host trains."""
        return list(jobs[self.index :: self.count])

    @property
    def leader(self) -> bool:
        """Host 0 assembles and writes the results once every host's runs are in."""
        return self.index == 0


def join_hosts(environ: Mapping[str, str] | None = None) -> Hosts:
    """Join the other host processes named by :data:`ENVIRONMENT`, or stay one host when none is set.

    With all three variables set, calls :func:`jax.distributed.initialize` with them (once per
    process) and returns this process's :class:`Hosts`; with some but not all set, a
    ``ValueError`` names the missing ones (a half-configured cluster never trains alone).
    """
    environ = os.environ if environ is None else environ
    given = {name: environ.get(name, "").strip() for name in ENVIRONMENT}
    if not any(given.values()):
        return Hosts()
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ValueError(f"{', '.join(missing)}: set all of {', '.join(ENVIRONMENT)} (or none, for one host)")
    for name in ("ROPELAB_NUM_PROCESSES", "ROPELAB_PROCESS_ID"):
        if not given[name].isdigit():
            raise ValueError(f"{name} must be a non-negative integer, got {given[name]!r}")
    hosts = Hosts(int(given["ROPELAB_PROCESS_ID"]), int(given["ROPELAB_NUM_PROCESSES"]))
    if hosts.count > 1 and not jax.distributed.is_initialized():
        try:
            # a mesh spanning hosts sums across processes; on CPU devices that takes gloo (accelerators
            # bring their own collectives and ignore this setting)
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            jax.distributed.initialize(coordinator_address=given["ROPELAB_COORDINATOR"], num_processes=hosts.count,
                                       process_id=hosts.index)
        except RuntimeError as err:  # JAX already computed something in this process
            raise ValueError(f"ROPELAB_COORDINATOR: could not join the hosts ({err})") from None
    return hosts
