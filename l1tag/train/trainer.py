"""Training: the float tagger first, then quantization-aware fine-tuning from its weights.

Adam with a cosine (or plateau, or constant) learning-rate schedule.  A cosine schedule runs to its end and
keeps its last epoch (stopped early, its learning rate never anneals); the other two stop early on the validation
loss with the best weights restored.  Seeds fixed by ``tf.keras.utils.set_random_seed`` and
deterministic TensorFlow ops, so that the same config gives the same weights.  With ``train.augment`` each
epoch shows the training jets turned and mirrored anew, drawn from the seed (l1tag/data/augment.py).  A
training split streamed from disk (``data.in_memory_jets``, l1tag/data/preprocess.py) is read STREAM_BLOCK_JETS
consecutive jets at a time: each epoch visits the blocks in a new order and each block's jets in a new order.
Everything lands in ``<build>/model/`` (written in a temporary folder, renamed when complete):

  float.h5, qat.h5      the float twin and the quantized (deployed) model
  weights_*.h5          their weights as plain HDF5 without timestamps: same training, same bytes
  history.json          loss and accuracy per epoch of both phases
  metrics.json          test-split quality of both models and the deployed model's cost
  predictions.npz       test-split class probabilities of both models (the report's plots reuse them)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from l1tag.config import HETEROGENEOUS, TERNARY
from l1tag.data.preprocess import StreamedSplit
from l1tag.errors import L1tagError
from l1tag.files import atomic_path
from l1tag.models.low_rank import learned_ranks, nuclear_callback
from l1tag.models.low_rank import transfer as low_rank_transfer
from l1tag.models.ternary import parq_callback, ternary_scales
from l1tag.train.hetero import bits_optimizer, controller, transfer_weights

log = logging.getLogger("l1tag")


def _schedule(tf, schedule: str, lr: float, steps: int):
    """The learning rate, or its schedule, of ``train.lr_schedule`` ('plateau' is a callback, see _fit)."""
    if schedule == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(steps, 1), alpha=0.05)
    return lr


def _augmented(tf, data, train_cfg, seed: int):
    """The training split as a Keras Sequence that shows each jet transformed by ``train.augment``'s
    symmetries (l1tag/data/augment.py), drawn anew every epoch from (seed, epoch), in a new order."""
    from l1tag.data.augment import transform

    class AugmentedJets(tf.keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.x, self.y, self.batch = data.x["train"], data.y["train"], train_cfg.batch_size
            self.epoch = 0
            self.on_epoch_end()

        def on_epoch_end(self):
            rng = np.random.default_rng([seed, self.epoch])
            self.order = rng.permutation(len(self.y))
            self.xt = transform(self.x[self.order], data.features, data.center, data.scale, train_cfg.augment, rng)
            self.epoch += 1

        def __len__(self):
            return int(np.ceil(len(self.y) / self.batch))

        def __getitem__(self, i):
            sl = slice(i * self.batch, (i + 1) * self.batch)
            return self.xt[sl], self.y[self.order[sl]]

    return AugmentedJets()


STREAM_BLOCK_JETS = 16384  # jets of a streamed training split in memory at a time (32 MB at n = 32, F = 16)


def _streamed(tf, data, train_cfg, seed: int):
    """The streamed training split (``preprocess.StreamedSplit``) as a Keras Sequence read in order, one block
    of STREAM_BLOCK_JETS jets in memory at a time: each epoch, drawn from (seed, epoch), orders the blocks and
    the jets within each block anew (and transforms them by ``train.augment``)."""
    from l1tag.data.augment import transform

    class StreamedJets(tf.keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.x, self.y, self.batch = data.x["train"], data.y["train"], train_cfg.batch_size
            self.starts = np.arange(0, len(self.y), STREAM_BLOCK_JETS)
            self.epoch = 0
            self.on_epoch_end()

        def on_epoch_end(self):
            rng = np.random.default_rng([seed, self.epoch])
            self.blocks = rng.permutation(len(self.starts))
            sizes = [min(STREAM_BLOCK_JETS, len(self.y) - self.starts[b]) for b in self.blocks]
            self.batches = [(k, a) for k, size in enumerate(sizes) for a in range(0, size, self.batch)]
            self.seeds, self.loaded = [seed, self.epoch], None
            self.epoch += 1

        def _block(self, k: int):
            if self.loaded is None or self.loaded[0] != k:
                start = self.starts[self.blocks[k]]
                stop = min(start + STREAM_BLOCK_JETS, len(self.y))
                rng = np.random.default_rng(self.seeds + [int(k)])
                order = rng.permutation(stop - start)
                x = transform(self.x[start:stop][order], data.features, data.center, data.scale, train_cfg.augment,
                              rng)
                self.loaded = (k, x, self.y[start:stop][order])
            return self.loaded[1:]

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            k, a = self.batches[i]
            x, y = self._block(k)
            return x[a:a + self.batch], y[a:a + self.batch]

    return StreamedJets()


def epochs_words(train_cfg) -> str:
    """How long the float training runs, in words (bench headers)."""
    if train_cfg.lr_schedule == "cosine":
        return f"a {train_cfg.epochs}-epoch cosine schedule run to its end"
    return f"{train_cfg.epochs} float epochs max (early stopping, patience {train_cfg.patience})"


def _fit(tf, model, data, epochs: int, lr: float, train_cfg, verbose: int, controller=None, seed: int = 0,
         step=None, all_epochs: bool = False) -> dict:
    """``controller``: heterogeneous mode's β controller (l1tag.train.hetero), which also picks the epoch kept
    (no early stopping: the validation loss holds the resource term, whose weight moves).  ``step``: a callback
    run with the training (a proximal step: ternary PARQ's, the low-rank training's).  ``all_epochs``: no early
    stopping (PARQ's annealing ends on the grid; restoring an earlier epoch would leave the weights off it).  A cosine
    schedule never stops early: cut at 54 and 92 of 150 epochs (patience 8), SAL-T ended below a whole 120-epoch
    schedule of the same seeds (docs/models.md, "the epoch schedule").  With
    ``train.augment`` the training jets are transformed anew each epoch (``_augmented``); validation jets never."""
    steps = epochs * int(np.ceil(len(data.y["train"]) / train_cfg.batch_size))
    schedule = _schedule(tf, train_cfg.lr_schedule, lr, steps)
    optimizer = tf.keras.optimizers.Adam(schedule) if controller is None else bits_optimizer(schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [c for c in (step, controller) if c is not None]
    if controller is None and not all_epochs and train_cfg.lr_schedule != "cosine":
        callbacks.append(tf.keras.callbacks.EarlyStopping(patience=train_cfg.patience, restore_best_weights=True))
    if train_cfg.lr_schedule == "plateau":
        callbacks.append(tf.keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, train_cfg.patience // 2)))
    if isinstance(data.x["train"], StreamedSplit):  # from disk: the blocks in the Sequence's order
        h = model.fit(_streamed(tf, data, train_cfg, seed), validation_data=(data.x["val"], data.y["val"]), epochs=epochs, callbacks=callbacks,
                      verbose=verbose, shuffle=False)
    elif train_cfg.augment:
        h = model.fit(_augmented(tf, data, train_cfg, seed), validation_data=(data.x["val"], data.y["val"]),
                      epochs=epochs, callbacks=callbacks, verbose=verbose)
    else:
        h = model.fit(data.x["train"], data.y["train"], validation_data=(data.x["val"], data.y["val"]),
                      epochs=epochs, batch_size=train_cfg.batch_size, callbacks=callbacks, verbose=verbose,
                      shuffle=True)
    return {k: [float(v) for v in vals] for k, vals in h.history.items()}


def train_models(cfg, data, verbose: int = 0, float_model=None, lut_target=None):
    """Train the float model and (if quantization is enabled) its QAT twin; returns (float, qat, history).
    ``float_model``: a float model already trained with this config's model and seed (benches that compare
    quantizations of one float model pass it; the QAT phase then starts from the seed's fresh random state).
    ``lut_target``: with ``quantization.target.lut``, the ``l1tag.hardware.lut_target.LutTarget`` that turns
    it into EBOPs (passed in by the caller: training does not import the firmware stages)."""
    import tensorflow as tf

    from l1tag.models.builders import build_model

    tf.keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    n, f = data.x["train"].shape[1:]
    norm = (data.features, data.center, data.scale)  # the pair bias reads physical values
    history = {}
    if float_model is None:
        float_model = build_model(cfg.model, n, f, None, name=f"{cfg.model.type}_float", normalisation=norm)
        t0 = time.perf_counter()
        low = cfg.train.low_rank
        nuclear = nuclear_callback(float_model, low.strength, low.max_rank) if low.strength is not None else None
        history["float"] = _fit(tf, float_model, data, cfg.train.epochs, cfg.train.learning_rate, cfg.train, verbose,
                                seed=cfg.seed, step=nuclear)
        history["float_seconds"] = time.perf_counter() - t0
    qat_model = None
    if cfg.quantization.enabled:
        scales = ternary_scales(float_model) if cfg.quantization.mode == TERNARY else None  # s per layer
        ranks = learned_ranks(float_model) if cfg.train.low_rank.strength is not None else None
        if ranks is not None:
            history["low_rank"] = ranks
            log.info("learned low rank: %s", ", ".join(f"{k} {v}" for k, v in ranks.items()) or "no layer saves")
        qat_model = build_model(cfg.model, n, f, cfg.quantization, name=f"{cfg.model.type}_qat",
                                table_size=cfg.hls.table_size, normalisation=norm, ternary_scales=scales,
                                low_rank=ranks)
        control = None
        if cfg.quantization.mode == HETEROGENEOUS:
            transfer_weights(float_model, qat_model)  # the twin has more weights: its fractional bits and β
            if cfg.quantization.target.lut is not None:
                if lut_target is None:
                    raise L1tagError("quantization.target.lut needs l1tag's estimate during training: train through "
                                     "`l1tag build` or `l1tag train`, or set quantization.target.ebops")
                control = controller(lut_target.start(qat_model), retarget=lut_target.retarget,
                                     retarget_epochs=lut_target.epochs(cfg.train.qat_epochs))
            else:
                control = controller(cfg.quantization.target.ebops)
        elif ranks:
            low_rank_transfer(float_model, qat_model, ranks)  # a factorized layer as its two factors
        else:
            qat_model.set_weights(float_model.get_weights())
        if cfg.train.qat_epochs and scales is not None and cfg.quantization.ternary_training == "parq":
            # the twin runs the latent weights unrounded; PARQ's proximal step pulls them onto the grid
            t0 = time.perf_counter()
            twin = build_model(cfg.model, n, f, cfg.quantization, name=f"{cfg.model.type}_parq",
                               table_size=cfg.hls.table_size, normalisation=norm, ternary_scales=scales,
                               ternary_latent=True)
            twin.set_weights(float_model.get_weights())
            steps = cfg.train.qat_epochs * int(np.ceil(len(data.y["train"]) / cfg.train.batch_size))
            history["qat"] = _fit(tf, twin, data, cfg.train.qat_epochs, cfg.train.learning_rate / 4, cfg.train,
                                  verbose, seed=cfg.seed + 1, step=parq_callback(twin, scales, steps), all_epochs=True)
            qat_model.set_weights(twin.get_weights())  # on the grid: the ternary quantizers keep them as they are
            history["qat_seconds"] = time.perf_counter() - t0
        elif cfg.train.qat_epochs:
            t0 = time.perf_counter()
            history["qat"] = _fit(tf, qat_model, data, cfg.train.qat_epochs, cfg.train.learning_rate / 4, cfg.train,
                                  verbose, control, seed=cfg.seed + 1)
            history["qat_seconds"] = time.perf_counter() - t0
        if control is not None:
            history["heterogeneous"] = {"target_ebops": control.target, "start_ebops": control.start_ebops,
                                        "epochs": control.history, "kept": control.kept,
                                        **({"lut": lut_target.record} if cfg.quantization.target.lut else {})}
    return float_model, qat_model, history


def predict(model, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    return model.predict(x, batch_size=batch_size, verbose=0)


def write_weights(model, path: Path) -> None:
    """Weights as plain HDF5 datasets without timestamps, so the same training gives the same bytes."""
    import h5py

    with h5py.File(path, "w", track_order=True) as f:
        for i, (w, v) in enumerate(zip(model.weights, model.get_weights())):
            f.create_dataset(f"{i:03d}_{w.name.replace('/', '.')}", data=v, track_times=False)


def run_train_stage(cfg, build_dir: Path, data, verbose: int = 0, lut_target=None) -> dict:
    """Train, evaluate on the test split, and write ``build_dir/model`` atomically; returns metrics."""
    from l1tag.models.cost import model_cost
    from l1tag.train.metrics import evaluate

    float_model, qat_model, history = train_models(cfg, data, verbose, lut_target=lut_target)
    deployed = qat_model or float_model
    y = data.y["test"]
    probs = {"float": predict(float_model, data.x["test"])}
    if qat_model is not None:
        probs["quantized"] = predict(qat_model, data.x["test"])
    cost = model_cost(deployed)
    metrics = {name: evaluate(y, p) for name, p in probs.items()}
    energy = {"float32": model_cost(float_model)["energy_pj"]}  # pJ per jet, Horowitz 45 nm (models/cost.py)
    if qat_model is not None:
        energy["quantized"] = cost["energy_pj"]
    metrics["model"] = {"type": cfg.model.type, "parameters": cost["parameters"], "flops": cost["flops"],
                        "bops": cost["bops"], "energy_pj_per_jet": energy, "layers": cost["layers"]}
    if "heterogeneous" in history:  # what the resource target asked and what the kept epoch reached
        h = history["heterogeneous"]
        metrics["model"]["heterogeneous"] = {
            "target": {k: v for k, v in (("ebops", cfg.quantization.target.ebops),
                                          ("lut", cfg.quantization.target.lut)) if v is not None},
            "target_ebops": h["target_ebops"], "start_ebops": h["start_ebops"], "kept": h["kept"],
            **({"floor_lut": h["lut"]["floor_lut"], "start_lut": h["lut"]["start_lut"]} if "lut" in h else {})}
    metrics["train_seconds"] = history.get("float_seconds", 0.0) + history.get("qat_seconds", 0.0)

    model_dir = Path(build_dir) / "model"
    with atomic_path(model_dir) as tmp:
        tmp.mkdir()
        float_model.save(tmp / "float.h5")
        write_weights(float_model, tmp / "weights_float.h5")
        if qat_model is not None:
            qat_model.save(tmp / "qat.h5")
            write_weights(qat_model, tmp / "weights_qat.h5")
        (tmp / "history.json").write_text(json.dumps(history, indent=1))
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1))
        np.savez(tmp / "predictions.npz", **probs)  # the report's plots reuse them
    for name in probs:
        m = metrics[name]
        log.info("%s model: accuracy %.4f, AUC %.4f (test split, %d jets)", name, m["accuracy"], m["auc_macro"], len(y))
    return metrics
