"""Train Table 2's smoke row on several meshes in one process and write what the mesh test compares.

Run as a script, in a fresh process (the device count is fixed when JAX starts):

    python tests/helpers/mesh_runs.py train OUT     # with XLA_FLAGS=--xla_force_host_platform_device_count=8
    python tests/helpers/mesh_runs.py resume OUT    # one device: resume OUT/at12.ckpt to the last step
    python tests/helpers/mesh_runs.py hosts OUT     # in each of several processes joined by ROPELAB_*: one global mesh

``train`` writes ``OUT/train.json`` (each mesh's free-running losses; at every step of the
8-device run, the loss and the per-token NLLs at its parameters on 1 device and on the mesh; the
sharding of a matrix on the 4 x 2 mesh; a planted fault's loss) and ``OUT/at12.ckpt``, the
8-device run's checkpoint at step 12, with ``OUT/at12.npz`` (its parameters). ``resume``
writes ``OUT/resume.json``. ``hosts`` trains the same row on one mesh of every process's devices
(checkpointing at step 12 and at the end) and writes ``OUT/hosts_I.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

import numpy as np  # noqa: E402

from ropelab.checks.findings import table2  # noqa: E402
from ropelab.checks.findings.models import mesh as M  # noqa: E402
from ropelab.checks.findings.models import training  # noqa: E402
from ropelab.checks.findings.models.batches import sample_batch  # noqa: E402

PRESET = table2.PRESETS["smoke"]
VARIANT = next(v for v in PRESET.variants() if v.id == table2.REFERENCE)
TOKENS = np.random.default_rng(0).integers(0, 256, 20_000).astype(np.uint8)
VALIDATION = TOKENS[: 4 * (PRESET.train.seq_len + 1)].reshape(4, -1).astype(np.int32)
RUN = training.RunSpec(PRESET.model, VARIANT.encoding, PRESET.train, seed=0)
RESUME_AT = 12


def _losses(mesh) -> list[float]:
    engine = training.trainer(PRESET.model, VARIANT.encoding, PRESET.train, mesh)
    state = engine.init(0)
    params, opt_state, out = state.params, state.opt_state, []
    for step in range(PRESET.train.steps):
        params, opt_state, loss = engine.step(params, opt_state, _batch(step))
        out.append(float(loss))
    return out


def _batch(step: int) -> np.ndarray:
    return sample_batch(TOKENS, 0, step, PRESET.train.batch_size, PRESET.train.seq_len)


def train(out: Path) -> None:
    devices = jax.devices()
    assert len(devices) == 8, f"expected 8 forced CPU devices, got {len(devices)}"
    meshes = {"1": M.training_mesh(devices=devices[:1]), "8": M.training_mesh(devices=devices),
              "4x2": M.training_mesh(model=2, devices=devices)}
    report: dict = {"free_running": {name: _losses(mesh) for name, mesh in meshes.items()}}
    # teacher forced: at every step's parameters of each multi-device run, the loss on that mesh
    # and on one device, and the largest per-token difference relative to the token's NLL
    one = training.trainer(PRESET.model, VARIANT.encoding, PRESET.train, meshes["1"])
    for name in ("8", "4x2"):
        engine = training.trainer(PRESET.model, VARIANT.encoding, PRESET.train, meshes[name])
        state = engine.init(0)
        params, opt_state, rows = state.params, state.opt_state, []
        for step in range(PRESET.train.steps):
            host = M.fetch(params)
            nll_mesh = np.asarray(M.fetch(engine.batch_nll(params, _batch(step))), dtype=np.float64)
            nll_one = np.asarray(M.fetch(one.batch_nll(M.place(host, meshes["1"]), _batch(step))), dtype=np.float64)
            params, opt_state, loss = engine.step(params, opt_state, _batch(step))
            _, _, loss_one = one.step(M.place(host, meshes["1"]), M.place(M.fetch(opt_state), meshes["1"]), _batch(step))
            rows.append({"loss_mesh": float(loss), "loss_one": float(loss_one), "mean_nll": float(nll_one.mean()),
                         "token_relative": float(np.max(np.abs(nll_mesh - nll_one) / np.abs(nll_one)))})
        report[f"teacher_forced_{name}"] = rows
        report[f"sharding_{name}"] = {"/".join(str(k) for k in path): str(leaf.sharding.spec) for path, leaf
                                      in jax.tree_util.tree_leaves_with_path(params) if leaf.ndim == 2}
    engine = training.trainer(PRESET.model, VARIANT.encoding, PRESET.train, meshes["8"])
    # a planted fault: every device takes the first slice of the batch (a mis-sharded batch)
    batch = _batch(0)
    wrong = jax.make_array_from_callback(batch.shape, M.batch_sharding(meshes["8"], 2),
                                         lambda index: batch[: batch.shape[0] // 8])
    fresh = engine.init(0)
    report["planted_missharded_loss"] = float(engine._step(fresh.params, fresh.opt_state, wrong, engine.tables(
        PRESET.train.seq_len))[2])
    # a checkpoint written by the 8-device run at step 12, then the run continued to the end
    ckpt = out / "run.ckpt"
    training.train(RUN, TOKENS, VALIDATION, "synthetic", checkpoint=ckpt, until_step=RESUME_AT, mesh=meshes["8"])
    shutil.copy(ckpt, out / "at12.ckpt")
    at12 = training.load_checkpoint(ckpt, engine.init(0), RUN.fingerprint("synthetic"))
    np.savez(out / "at12.npz", *jax.tree_util.tree_leaves(M.fetch(at12.params)))
    end = training.train(RUN, TOKENS, VALIDATION, "synthetic", checkpoint=ckpt, mesh=meshes["8"])
    report["continued_8"] = end.train_loss
    (out / "train.json").write_text(json.dumps(report))


def resume(out: Path) -> None:
    assert len(jax.devices()) == 1, f"expected one device, got {len(jax.devices())}"
    engine = training.trainer(PRESET.model, VARIANT.encoding, PRESET.train)
    loaded = training.load_checkpoint(out / "at12.ckpt", engine.init(0), RUN.fingerprint("synthetic"))
    with np.load(out / "at12.npz") as stored:
        written = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    same = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(M.fetch(loaded.params)), written,
                                                      strict=True))
    end = training.train(RUN, TOKENS, VALIDATION, "synthetic", checkpoint=out / "at12.ckpt")
    (out / "resume.json").write_text(json.dumps({"step_loaded": loaded.step, "params_equal": same,
                                                 "devices": len(jax.devices()), "train_loss": end.train_loss}))


def hosts(out: Path) -> None:
    joined = M.join_hosts()
    mesh = M.training_mesh()
    ckpt = out / "global.ckpt"
    training.train(RUN, TOKENS, VALIDATION, "synthetic", checkpoint=ckpt, until_step=RESUME_AT, mesh=mesh)
    end = training.train(RUN, TOKENS, VALIDATION, "synthetic", checkpoint=ckpt, mesh=mesh)
    (out / f"hosts_{joined.index}.json").write_text(json.dumps({
        "hosts": joined.count, "devices": len(jax.devices()), "mesh": dict(mesh.shape), "train_loss": end.train_loss,
        "validation": end.validation}))


if __name__ == "__main__":
    {"train": train, "resume": resume, "hosts": hosts}[sys.argv[1]](Path(sys.argv[2]))
