r"""The state of a training run, and its checkpoint file: written atomically, verified on reading.

A checkpoint is one file written atomically (:func:`ropelab.checks.atomic.write_atomically`): a
magic line, a JSON header with the SHA-256 and length of the payload, and the payload (an
``.npz`` of every weight and optimiser-state leaf plus the run's curves).
:func:`load_checkpoint` recomputes the checksum and raises :class:`CheckpointError` on any
mismatch, so a truncated or bit-flipped file is detected instead of silently resumed; it also
refuses a checkpoint of a different run (another configuration, seed or corpus).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ropelab.checks.atomic import write_atomically
from ropelab.checks.findings.models.mesh import fetch

__all__ = ["CHECKPOINT_MAGIC", "CheckpointError", "TrainState", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_MAGIC = b"ROPELAB-CHECKPOINT 1\n"


@dataclass
class TrainState:
    """Where a run stands: weights, optimiser state, steps done and the curves so far.

    ``train_loss[s]`` is the mean next-byte NLL (nats) of the batch of step ``s + 1``;
    ``validation`` lists ``(step, nll)`` at the training length; ``train_seconds`` and
    ``trained_tokens`` exclude the first (compiling) step of each call that trains.
    """

    params: dict
    opt_state: optax.OptState
    step: int = 0
    train_loss: list[float] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    trained_tokens: int = 0

    def tokens_per_second(self) -> float:
        return self.trained_tokens / self.train_seconds if self.train_seconds > 0 else math.nan


class CheckpointError(ValueError):
    """A checkpoint file is damaged (bad magic, header, length or checksum) or of another run."""


def _tree_leaves(state: TrainState) -> tuple[list, object]:
    return jax.tree_util.tree_flatten((state.params, state.opt_state))


def save_checkpoint(path: str | Path, state: TrainState, fingerprint: str) -> Path:
    """Write ``state`` to ``path`` atomically with a SHA-256 of its payload.

    Every leaf is gathered from the devices (and hosts) that hold it, so the file does not
    depend on the mesh that trained the run; where the run's mesh spans several hosts, every
    host gathers and host 0 alone writes.
    """
    leaves, _ = _tree_leaves(state)
    spans_hosts = any(isinstance(leaf, jax.Array) and not leaf.is_fully_addressable for leaf in leaves)
    leaves = fetch(leaves)
    if spans_hosts:  # host 0 writes; every host waits until the file is in place, so any may read it next
        from jax.experimental import multihost_utils

        if jax.process_index() == 0:
            _write(path, state, fingerprint, leaves)
        multihost_utils.sync_global_devices(f"checkpoint {fingerprint} {state.step}")
        return Path(path)
    return _write(path, state, fingerprint, leaves)


def _write(path: str | Path, state: TrainState, fingerprint: str, leaves: list) -> Path:
    meta = {
        "fingerprint": fingerprint,
        "step": state.step,
        "train_loss": state.train_loss,
        "validation": state.validation,
        "train_seconds": state.train_seconds,
        "trained_tokens": state.trained_tokens,
    }
    arrays = {f"leaf_{i:04d}": leaf for i, leaf in enumerate(leaves)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    payload = buffer.getvalue()
    header = json.dumps({"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}).encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(CHECKPOINT_MAGIC + header + b"\n" + payload)

    return write_atomically(path, write)


def load_checkpoint(path: str | Path, template: TrainState, fingerprint: str) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying it first.

    ``template`` supplies the tree structure, shapes and dtypes (a fresh state of the same
    run). Raises :class:`CheckpointError` if the file is damaged or belongs to another run.
    """
    path = Path(path)
    blob = path.read_bytes()
    if not blob.startswith(CHECKPOINT_MAGIC):
        raise CheckpointError(f"{path}: not a ropelab checkpoint (bad magic line)")
    rest = blob[len(CHECKPOINT_MAGIC) :]
    header_line, _, payload = rest.partition(b"\n")
    try:
        header = json.loads(header_line)
        expected_sha, expected_len = str(header["sha256"]), int(header["bytes"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: corrupted checkpoint header ({err})") from None
    if len(payload) != expected_len:
        raise CheckpointError(f"{path}: corrupted checkpoint: {len(payload)} payload bytes, header says {expected_len}")
    if hashlib.sha256(payload).hexdigest() != expected_sha:
        raise CheckpointError(f"{path}: corrupted checkpoint: SHA-256 of the payload does not match its header")
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes())
        if meta["fingerprint"] != fingerprint:
            raise CheckpointError(
                f"{path}: checkpoint of another run (configuration, seed or corpus differ); "
                "use another output folder or delete it"
            )
        leaves, treedef = _tree_leaves(template)
        stored = [data[f"leaf_{i:04d}"] for i in range(len(leaves))]
    for i, (old, new) in enumerate(zip(leaves, stored, strict=True)):
        if np.shape(old) != new.shape or np.asarray(old).dtype != new.dtype:
            raise CheckpointError(f"{path}: leaf {i} has shape/dtype {new.shape}/{new.dtype}, expected "
                                  f"{np.shape(old)}/{np.asarray(old).dtype}")
    params, opt_state = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in stored])
    return TrainState(
        params=params,
        opt_state=opt_state,
        step=int(meta["step"]),
        train_loss=[float(x) for x in meta["train_loss"]],
        validation=[(int(s), float(v)) for s, v in meta["validation"]],
        train_seconds=float(meta["train_seconds"]),
        trained_tokens=int(meta["trained_tokens"]),
    )
