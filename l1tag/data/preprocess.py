"""Jets -> model inputs: constituent selection, kT sorting, feature selection, split, normalisation.

Order of operations (sorting on physical values, before any normalisation, as ../shared/reference/models.md
asks; the SAL-T authors' code sorted after normalisation, which scrambles the kT key):

1. constituents with pT < ``pt_min`` are dropped, then the ``n`` highest-pT are kept;
2. those ``n`` are ordered by ``sort_by`` (descending): ``kt`` = pT * dR, ``pt``, ``dr``, or ``none``;
   padding rows stay at the end;
3. the configured features are selected by hls4ml name;
4. a stratified train / validation / test split is drawn from the seed; with a fixed test set
   (``data.test_path``) the test split is that sample, and train / validation are drawn from the main
   sample with the train and validation fractions renormalised to sum to 1;
5. normalisation (``robust``: median and 5-95 % range; ``standard``: mean and standard deviation) is
   fitted on the real (non-padding) constituents of the training split only (of at most FIT_JETS of its
   jets, a seeded choice, when it has more); padding rows stay 0.

The result is cached in ``<build>/data/prepared.npz`` next to a JSON record of what produced it.  A training
split larger than ``data.in_memory_jets`` (hls4ml-layout sources) is never in memory whole: the sample is
read a selection of rows at a time (``readers.Hls4mlFiles``), the training split prepared STREAM_CHUNK_JETS
jets at a time into ``<build>/data/train.h5`` (``x`` (N, n, F) float32; the labels stay in prepared.npz),
and ``PreparedData.x["train"]`` is a ``StreamedSplit`` over it that training reads block by block
(l1tag/train/trainer.py).  Both ways give the same arrays (tests/unit/test_streaming.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1tag.data.features import CLASSES, FEATURE_INDEX, REST_FRAME, momentum_columns, rest_frame
from l1tag.data.readers import Hls4mlFiles, JetSample, expand_paths, read_jets, read_rows
from l1tag.errors import DataError
from l1tag.files import atomic_path, write_text

log = logging.getLogger("l1tag")

PT, DR, ETA = FEATURE_INDEX["pt"], FEATURE_INDEX["deltaR"], FEATURE_INDEX["etarel"]
FIT_JETS = 100_000  # the normalisation is fitted on at most this many training jets
STREAM_CHUNK_JETS = 50_000  # training jets prepared at a time into train.h5
TRAIN_FILE = "train.h5"  # beside prepared.npz: the streamed training split


class StreamedSplit:
    """A split kept in an HDF5 file (``x``, float32 (N, n, F)) and read on demand: ``shape``, ``len`` and rows by
    slice or by sorted row numbers, like the array it stands for (``np.asarray`` reads it whole)."""

    def __init__(self, path: Path, name: str = "x"):
        import h5py

        self.path, self.name = Path(path), name
        with h5py.File(self.path, "r") as f:
            self.shape, self.dtype = tuple(f[name].shape), f[name].dtype

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            if isinstance(key, slice):
                return f[self.name][key]
            rows = np.asarray(key)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            if rows.ndim != 1 or (np.diff(rows) < 0).any():
                raise IndexError(f"{self.path}: rows are read by a slice or sorted row numbers")
            return read_rows(f[self.name], rows)

    def __array__(self, dtype=None):
        return np.asarray(self[:], dtype=dtype)


@dataclass
class PreparedData:
    """Normalised model inputs of the three splits and what is needed to reproduce them."""

    x: dict[str, np.ndarray]  # split -> float32 (N, n, F)
    y: dict[str, np.ndarray]  # split -> int64 (N,)
    index: dict[str, np.ndarray]  # split -> indices of the jets in its source sample (the test sample, if fixed)
    raw_test: np.ndarray  # float32 (N_test, n, 16): the test constituents in physical units (for plots)
    multiplicity_test: np.ndarray  # (N_test,) constituents of each test jet before the cut to n (for plots)
    features: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray

    @property
    def n_constituents(self) -> int:
        return int(self.x["train"].shape[1])


def order_constituents(constituents: np.ndarray, n: int, sort_by: str, pt_min: float = 0.0) -> np.ndarray:
    """(N, C, 16) pT-ordered constituents -> (N, n, 16): threshold, keep the n leading, order by key."""
    x = np.array(constituents[:, : max(n, 1)], dtype=np.float32, copy=True)
    if x.shape[1] < n:
        x = np.concatenate([x, np.zeros((len(x), n - x.shape[1], x.shape[2]), np.float32)], axis=1)
    x[x[..., PT] < max(pt_min, 1e-30)] = 0.0  # below threshold (or padding): a zero row
    # re-compact: rows were pT ordered, but a threshold can only remove a tail, so order is kept
    real = x[..., PT] > 0
    if sort_by == "none":
        return x
    key = {"kt": x[..., PT] * x[..., DR], "pt": x[..., PT], "dr": x[..., DR], "eta": x[..., ETA]}[sort_by]
    key = np.where(real, key, -np.inf)  # padding last
    order = np.argsort(-key, axis=1, kind="stable")
    return np.take_along_axis(x, order[..., None], axis=1)


MOMENTUM_RANGE = 16.0  # momentum: the 99.9th percentile of |E, px, py, pz| lands at or below this


def fit_normalisation(x: np.ndarray, method: str, features: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(center, scale) per feature from the real (non-padding) rows of ``x`` (N, n, F).  ``momentum``: the
    columns of the four-momentum (named by ``features``: ``momentum_columns``) share one scale, the power of
    two that brings their 99.9th percentile of |value| to at most MOMENTUM_RANGE, and no centre (a Lorentz
    transformation of the inputs stays one of the scaled inputs); the other columns robust."""
    rows = x[np.any(x != 0, axis=-1)]
    if len(rows) == 0:
        raise DataError("no non-empty constituents in the training split: cannot fit the normalisation")
    if method == "momentum":
        center, scale = fit_normalisation(x, "robust")
        cols = momentum_columns(features)
        if cols is None:
            raise DataError(f"data.normalization momentum needs a four-momentum in data.features (e, px, py, pz or "
                            f"erest, pxrest, pyrest, pzrest); got {', '.join(features)}")
        top = float(np.percentile(np.abs(rows[:, cols]), 99.9))
        center[cols] = 0.0
        scale[cols] = 2.0 ** np.ceil(np.log2(max(top, 1e-30) / MOMENTUM_RANGE))
        return center, scale
    if method == "robust":
        center = np.median(rows, axis=0)
        scale = np.percentile(rows, 95, axis=0) - np.percentile(rows, 5, axis=0)
    elif method == "standard":
        center, scale = rows.mean(axis=0), rows.std(axis=0)
    else:
        center, scale = np.zeros(x.shape[-1]), np.ones(x.shape[-1])
    scale = np.where(scale > 0, scale, 1.0)
    return center.astype(np.float32), scale.astype(np.float32)


def normalise(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    real = np.any(x != 0, axis=-1, keepdims=True)
    return np.where(real, (x - center) / scale, 0.0).astype(np.float32)


def stratified_split(labels: np.ndarray, fractions: tuple[float, float, float], seed: int,
                     with_test: bool = True) -> dict[str, np.ndarray]:
    """Index arrays for train/val/test with the class mix of ``labels`` in each (scikit-learn).

    ``with_test=False`` (a fixed test set comes from elsewhere) splits into train and val only, with
    ``fractions[0] : fractions[1]`` renormalised to sum to 1.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    counts = np.bincount(labels, minlength=len(CLASSES))
    need = 3 if with_test else 2
    if len(labels) < 10 or (counts[counts > 0] < need).any():
        raise DataError(f"too few jets to split ({len(labels)} jets, per class {counts.tolist()}): "
                        f"need at least {need} of each class present")
    try:
        if not with_test:
            share = round(fractions[0] / (fractions[0] + fractions[1]), 12)  # 0.6 / 0.8 is 0.7499999999999999
            train, val = train_test_split(idx, train_size=share, stratify=labels, random_state=seed)
            return {"train": np.sort(train), "val": np.sort(val)}
        train, rest = train_test_split(idx, train_size=fractions[0], stratify=labels, random_state=seed)
        val_share = fractions[1] / (fractions[1] + fractions[2])
        val, test = train_test_split(rest, train_size=val_share, stratify=labels[rest], random_state=seed)
    except ValueError:  # scikit-learn: a split smaller than the number of classes
        raise DataError(f"data.split {list(fractions)} of {len(labels)} jets leaves a split with fewer jets than "
                        f"classes ({int((counts > 0).sum())}); give a larger fraction to the smallest split or more "
                        f"jets") from None
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


P4 = [FEATURE_INDEX[f] for f in ("px", "py", "pz", "e")]


def _feature_columns(ordered: np.ndarray, sample: JetSample, features) -> np.ndarray:
    """The ``features`` columns of the ordered constituents (N, n, 16): hls4ml columns as stored, the rest
    frame's boosted with the jet four-momentum (the sum of all the sample's stored constituents)."""
    out = np.zeros(ordered.shape[:2] + (len(features),), dtype=ordered.dtype)
    rest = None
    for k, f in enumerate(features):
        if f in REST_FRAME:
            if rest is None:
                jet = sample.constituents[..., P4].astype(np.float64).sum(axis=1)
                rest = rest_frame(ordered[..., P4], jet)
            out[..., k] = rest[..., REST_FRAME.index(f)]
        else:
            out[..., k] = ordered[..., FEATURE_INDEX[f]]
    return out


def _multiplicity(sample: JetSample) -> np.ndarray:
    """Constituents of each jet before the cut to n (the file's own count when it has one)."""
    return np.asarray(sample.jet_features.get(
        "j_multiplicity", (sample.constituents[..., PT] > 0).sum(axis=1))).astype(np.int64)


def prepare(sample: JetSample, n: int, features: tuple[str, ...], sort_by: str, pt_min: float,
            normalization: str, split: tuple[float, float, float], seed: int,
            test_sample: JetSample | None = None) -> PreparedData:
    """Run steps 1-5 of the module docstring on an in-memory sample.

    ``test_sample``: a fixed test set; the test split is exactly its jets (selected, sorted and normalised
    like the others), and ``sample`` only provides train and validation.
    """
    ordered = order_constituents(sample.constituents, n, sort_by, pt_min)
    columns = _feature_columns(ordered, sample, features)
    idx = stratified_split(sample.labels, split, seed, with_test=test_sample is None)
    selected = {s: columns[i] for s, i in idx.items()}
    labels = {s: sample.labels[i] for s, i in idx.items()}
    if test_sample is None:
        raw_test, multiplicity_test = ordered[idx["test"]], _multiplicity(sample)[idx["test"]]
    else:
        raw_test = order_constituents(test_sample.constituents, n, sort_by, pt_min)
        multiplicity_test = _multiplicity(test_sample)
        idx["test"] = np.arange(len(test_sample))
        selected["test"], labels["test"] = _feature_columns(raw_test, test_sample, features), test_sample.labels
    on = fit_rows(len(selected["train"]), seed)
    center, scale = fit_normalisation(selected["train"] if on is None else selected["train"][on], normalization,
                                      tuple(features))
    return PreparedData(
        x={s: normalise(v, center, scale) for s, v in selected.items()},
        y={s: v.astype(np.int64) for s, v in labels.items()},
        index=idx,
        raw_test=raw_test,
        multiplicity_test=multiplicity_test,
        features=tuple(features),
        center=center,
        scale=scale,
    )


def fit_rows(n_train: int, seed: int) -> np.ndarray | None:
    """The training jets (positions in the split) the normalisation is fitted on: all (None) up to FIT_JETS,
    else FIT_JETS of them drawn from the seed, in order (the streamed preparation never holds the whole split,
    and the in-memory one fits on the same jets so that both give the same arrays)."""
    if n_train <= FIT_JETS:
        return None
    return np.sort(np.random.default_rng([seed, 5]).choice(n_train, FIT_JETS, replace=False))


def _columns(sample: JetSample, n: int, features, sort_by: str, pt_min: float):
    """Steps 1-3 on some jets: (ordered constituents (N, n, 16), their ``features`` columns (N, n, F))."""
    ordered = order_constituents(sample.constituents, n, sort_by, pt_min)
    return ordered, _feature_columns(ordered, sample, features)


def prepare_streamed(files: Hls4mlFiles, train_file: Path, n: int, features: tuple[str, ...], sort_by: str,
                     pt_min: float, normalization: str, split: tuple[float, float, float], seed: int,
                     test_sample: JetSample | None = None, progress: bool = False) -> PreparedData:
    """``prepare`` without the sample in memory: the split is drawn from the labels, validation, test and the
    normalisation's jets are read by rows, and the training split is written STREAM_CHUNK_JETS jets at a time
    into ``train_file`` (atomically); ``x["train"]`` is a ``StreamedSplit`` over it.  The same arrays as
    ``prepare`` on the whole sample."""
    import h5py
    from tqdm import tqdm

    idx = stratified_split(files.labels, split, seed, with_test=test_sample is None)
    x: dict[str, np.ndarray] = {}
    for s in [s for s in ("val", "test") if s in idx]:
        sub = files.rows(idx[s])
        ordered, x[s] = _columns(sub, n, features, sort_by, pt_min)
        if s == "test":
            raw_test, multiplicity_test = ordered, _multiplicity(sub)
    if test_sample is not None:
        raw_test, x["test"] = _columns(test_sample, n, features, sort_by, pt_min)
        multiplicity_test = _multiplicity(test_sample)
        idx["test"] = np.arange(len(test_sample))
    train = idx["train"]
    on = fit_rows(len(train), seed)
    fit = _columns(files.rows(train if on is None else train[on]), n, features, sort_by, pt_min)[1]
    center, scale = fit_normalisation(fit, normalization, tuple(features))
    del fit
    labels = {s: (files.labels[i] if s != "test" or test_sample is None else test_sample.labels).astype(np.int64)
              for s, i in idx.items()}
    with atomic_path(train_file, suffix=".h5") as tmp, h5py.File(tmp, "w", track_order=True) as f:
        ds = f.create_dataset("x", (len(train), n, len(features)), dtype=np.float32, track_times=False,
                              chunks=(min(len(train), 1024), n, len(features)))
        with tqdm(total=len(train), unit="jet", desc="preparing the training split", disable=not progress) as bar:
            for a in range(0, len(train), STREAM_CHUNK_JETS):
                rows = train[a:a + STREAM_CHUNK_JETS]
                ds[a:a + len(rows)] = normalise(_columns(files.rows(rows), n, features, sort_by, pt_min)[1],
                                                center, scale)
                bar.update(len(rows))
    return PreparedData(
        x={**{s: normalise(v, center, scale) for s, v in x.items()}, "train": StreamedSplit(train_file)},
        y=labels, index=idx, raw_test=raw_test, multiplicity_test=multiplicity_test, features=tuple(features),
        center=center, scale=scale,
    )


# ------------------------------------------------------------------------------------------
# The data stage: source -> prepared arrays cached in <build>/data
# ------------------------------------------------------------------------------------------


SAMPLE_BYTES = 1 << 20  # the fingerprint hashes this much at each end of a file


def file_fingerprint(path: str) -> dict:
    """What identifies a file's contents without reading all of it: size, mtime in nanoseconds and the sha256
    of its first and last MiB (a copy over it, even of the same size within the same second, changes it)."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(SAMPLE_BYTES))
        if st.st_size > SAMPLE_BYTES:
            f.seek(max(SAMPLE_BYTES, st.st_size - SAMPLE_BYTES))
            h.update(f.read(SAMPLE_BYTES))
    return {"file": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_ends": h.hexdigest()}


def _fingerprint(files: list[str]) -> list[dict]:
    return [file_fingerprint(f) for f in files]


def generated_path(cfg, build_dir: Path) -> str:
    """The generated jets' file: data.path, or the jet cache's entry for these settings (l1tag/data/cache.py)."""
    from l1tag.data.cache import cache_dir, entry_path, settings_record

    d = cfg.data
    if d.path:
        return d.path
    record = settings_record(d.jets, cfg.seed, stored_constituents(cfg), d.detector)
    return str(entry_path(cache_dir(d.cache_dir), record))


def stored_constituents(cfg) -> int:
    """Constituents stored per generated jet: at least 32, so that files serve every n up to 32."""
    return max(cfg.data.constituents, 32)


def input_fingerprints(cfg) -> dict:
    """The content fingerprint of every file the data stage reads (data.path, data.test_path); a generated
    file that does not exist yet is absent, and so is l1tag's own generated file under the build folder (its
    name carries the settings that made it).  The data stage's key includes it (l1tag/build.py)."""
    d = cfg.data
    if d.source == "generate":
        files = [d.path] if d.path and os.path.isfile(d.path) else []
    else:
        files = expand_paths(d.path)
    out = {"inputs": _fingerprint(files)}
    if d.test_path:
        out["test_inputs"] = _fingerprint(expand_paths(d.test_path))
    return out


def run_data_stage(cfg, build_dir: Path, progress: bool = True) -> PreparedData:
    """Generate the jets if needed, prepare them, and cache the result in ``build_dir/data``."""
    from l1tag.data.cache import cached_jets
    from l1tag.data.generate import check_generated, generate

    d = cfg.data
    data_dir = Path(build_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = d.path
    if d.source == "generate":
        stored = stored_constituents(cfg)
        if d.path is None:  # the jet cache: generated once for every build that asks for the same jets
            path = str(cached_jets(d.jets, cfg.seed, stored, d.detector, d.generate_jobs, d.cache_dir, progress))
        elif not Path(d.path).exists():
            log.info("generating %d jets with Pythia 8 + FastJet into %s", d.jets, d.path)
            generate(d.path, d.jets, seed=cfg.seed, jobs=d.generate_jobs, constituents=stored,
                     detector=d.detector, progress=progress)
        else:  # reused only if it is what this config would generate
            check_generated(d.path, d.jets, seed=cfg.seed, constituents=stored, detector=d.detector)
    files = expand_paths(path)
    test_files = expand_paths(d.test_path) if d.test_path else []
    record = {"data": cfg.to_dict()["data"], "seed": cfg.seed, "inputs": _fingerprint(files)}
    if test_files:
        record["test_inputs"] = _fingerprint(test_files)
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    cache = data_dir / "prepared.npz"
    meta_file = data_dir / "prepared.json"
    if cache.exists() and meta_file.exists() and json.loads(meta_file.read_text()).get("key") == key:
        log.info("data: using cached %s", cache)
        return load_prepared(cache)
    meta_file.unlink(missing_ok=True)  # written last: a stage cut short below is never taken for finished
    test_sample = read_jets(d.source, test_files, d.constituents) if test_files else None
    args = (d.constituents, d.features, d.sort_by, d.pt_min, d.normalization, d.split, cfg.seed)
    sample = Hls4mlFiles(files, d.constituents) if d.source in ("generate", "hls4ml") else None
    fixed = test_sample is not None
    if sample is not None and len(sample) * (d.split[0] / (d.split[0] + d.split[1]) if fixed else d.split[0]) \
            > d.in_memory_jets:
        prepared = prepare_streamed(sample, data_dir / TRAIN_FILE, *args, test_sample=test_sample, progress=progress)
    else:
        sample = sample.rows(np.arange(len(sample))) if sample is not None else read_jets(d.source, files,
                                                                                          d.constituents)
        prepared = prepare(sample, *args, test_sample=test_sample)
        (data_dir / TRAIN_FILE).unlink(missing_ok=True)  # a streamed split of earlier settings
    save_prepared(prepared, cache)
    streamed = isinstance(prepared.x["train"], StreamedSplit)
    write_text(meta_file, json.dumps({"key": key, **record, "jets": len(sample),
                                      "test_jets": len(test_sample) if test_sample is not None else None,
                                      "splits": {s: int(len(v)) for s, v in prepared.y.items()},
                                      "streamed": streamed}, indent=2))
    log.info("data: %d jets from %s -> train %d / val %d / test %d%s%s", len(sample), sample.source,
             *(len(prepared.y[s]) for s in ("train", "val", "test")),
             f" (fixed test set: {test_sample.source})" if test_sample is not None else "",
             f"; training split streamed from {data_dir / TRAIN_FILE}" if streamed else "")
    return prepared


def save_prepared(p: PreparedData, file: Path) -> None:
    arrays = {"features": np.array(p.features), "center": p.center, "scale": p.scale, "raw_test": p.raw_test,
              "multiplicity_test": p.multiplicity_test}
    for s in ("train", "val", "test"):
        arrays.update({f"y_{s}": p.y[s], f"index_{s}": p.index[s]})
        if not isinstance(p.x[s], StreamedSplit):  # else in train.h5 beside it
            arrays[f"x_{s}"] = p.x[s]
    with atomic_path(file, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_prepared(file: Path) -> PreparedData:
    """The arrays ``save_prepared`` wrote (a streamed training split from train.h5 beside ``file``)."""
    file = Path(file)
    with np.load(file) as z:
        splits = ("train", "val", "test")
        if "x_train" not in z.files and not (file.parent / TRAIN_FILE).exists():
            raise DataError(f"{file.parent / TRAIN_FILE} (the streamed training split of {file}) is missing: run "
                            f"`l1tag data prepare` (or `l1tag build`) again")
        return PreparedData(
            x={s: z[f"x_{s}"] if f"x_{s}" in z.files else StreamedSplit(file.parent / TRAIN_FILE) for s in splits},
            y={s: z[f"y_{s}"] for s in splits},
            index={s: z[f"index_{s}"] for s in splits}, raw_test=z["raw_test"],
            multiplicity_test=z["multiplicity_test"] if "multiplicity_test" in z.files else
            (z["raw_test"][..., PT] > 0).sum(axis=1),
            features=tuple(str(f) for f in z["features"]), center=z["center"], scale=z["scale"],
        )
