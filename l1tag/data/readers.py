"""Readers for jet datasets: hls4ml HDF5 files (downloaded or generated) and JetClass ROOT files.

Every reader returns a :class:`JetSample` with the 16 hls4ml per-particle features
(``features.PARTICLE_FEATURES``), pT-ordered and zero-padded, and class indices into
``features.CLASSES``.  Bad input raises :class:`l1tag.errors.DataError` with one line naming the
file, the problem and what was expected.  NumPy, h5py, uproot and awkward only.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from l1tag.data.features import CLASSES, LABEL_NAMES, PARTICLE_FEATURES, constituent_features
from l1tag.errors import DataError

log = logging.getLogger("l1tag")

N_FEATURES = len(PARTICLE_FEATURES)
HLS4ML_EXPECTED = (
    "expected the hls4ml layout: jetConstituentList (N, C, 16) and jets (N, K>=6) "
    "with one-hot labels in the last 6 columns"
)
JETCLASS_LABELS = (
    "label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
    "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl",
)
JETCLASS_PARTICLES = ("part_px", "part_py", "part_pz", "part_energy")
JETCLASS_JETS = ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles", "jet_sdmass")
JETCLASS_EXPECTED = (
    "expected a JetClass ROOT file: TTree 'tree' with part_px/py/pz/energy, jet_pt/eta/phi/energy/"
    "nparticles/sdmass and one-hot label_* branches"
)
# QCD jets are a quark/gluon mix; JetClass has no pure gluon class, so they are mapped to q.
DEFAULT_JETCLASS_MAPPING = {"label_QCD": "q", "label_Wqq": "w", "label_Zqq": "z", "label_Tbqq": "t"}
SOURCES = ("hls4ml", "generate", "jetclass")


@dataclass
class JetSample:
    """Jets ready for preprocessing.

    Attributes:
        constituents: float32 (N, C, 16) in ``PARTICLE_FEATURES`` order, pT-ordered, zero padded
            (a padding row has pt == 0).
        labels: int64 (N,) class indices into ``CLASSES`` (g=0, q=1, w=2, z=3, t=4).
        jet_features: per-jet columns by name (may be empty).
        source: human description of where the jets came from.
    """

    constituents: np.ndarray
    labels: np.ndarray
    jet_features: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _fail(path, problem: str, expected: str) -> DataError:
    return DataError(f"{path}: {problem} ({expected})")


def expand_paths(paths, expected: str = "expected an existing file or a glob matching files") -> list[str]:
    """A path, a glob pattern or a list of them -> the existing files, in order (globs sorted).

    A file named twice (say, by a glob and by name) is read once: its jets would otherwise be counted
    twice and could land in both the training and the test split.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise DataError(f"no input files given ({expected})")
    files: list[str] = []
    for item in items:
        item = os.fspath(item)
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item))
            if not matches:
                raise _fail(item, "glob pattern matches no files", expected)
            files.extend(matches)
        elif not os.path.exists(item):
            raise _fail(item, "file not found", expected)
        elif os.path.isdir(item):
            raise _fail(item, "is a directory, not a file", expected)
        else:
            files.append(item)
    unique, seen = [], set()
    for f in files:
        if os.path.realpath(f) not in seen:
            seen.add(os.path.realpath(f))
            unique.append(f)
    return unique


def _fit_constituents(x: np.ndarray, constituents: int | None) -> np.ndarray:
    """Keep the first ``constituents`` (pT-ordered) or zero-pad up to it."""
    if constituents is None or constituents == x.shape[1]:
        return x
    if constituents < 1:
        raise DataError(f"constituents must be >= 1, got {constituents}")
    if constituents < x.shape[1]:
        return x[:, :constituents]
    pad = np.zeros((x.shape[0], constituents - x.shape[1], x.shape[2]), dtype=x.dtype)
    return np.concatenate([x, pad], axis=1)


def _decode(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel()]


READ_CHUNK_JETS = 50000  # rows of a file read at a time


def _checked_datasets(f, path: str):
    """The file's (jetConstituentList, jets) datasets, their layout checked (one DataError line otherwise)."""
    import h5py

    for key in ("jetConstituentList", "jets"):
        if key not in f:
            raise _fail(path, f"dataset '{key}' missing", HLS4ML_EXPECTED)
    cons_ds, jets_ds = f["jetConstituentList"], f["jets"]
    for key, ds in (("jetConstituentList", cons_ds), ("jets", jets_ds)):
        if not isinstance(ds, h5py.Dataset):
            raise _fail(path, f"'{key}' is a {type(ds).__name__.lower()}, not a dataset", HLS4ML_EXPECTED)
        if ds.dtype.kind not in "iuf":
            raise _fail(path, f"'{key}' holds {ds.dtype} values, not numbers", HLS4ML_EXPECTED)
    if cons_ds.ndim != 3 or cons_ds.shape[-1] != N_FEATURES:
        raise _fail(path, f"'jetConstituentList' has shape {cons_ds.shape}", HLS4ML_EXPECTED)
    if jets_ds.ndim != 2 or jets_ds.shape[1] < len(LABEL_NAMES):
        raise _fail(path, f"'jets' has shape {jets_ds.shape}", HLS4ML_EXPECTED)
    if cons_ds.shape[0] != jets_ds.shape[0]:
        raise _fail(path, f"'jetConstituentList' has {cons_ds.shape[0]} jets but 'jets' has "
                    f"{jets_ds.shape[0]}", HLS4ML_EXPECTED)
    if cons_ds.shape[0] == 0:
        raise _fail(path, "file is empty (0 jets)", HLS4ML_EXPECTED)
    return cons_ds, jets_ds


def _open(path: str):
    import h5py

    try:
        return h5py.File(path, "r")
    except Exception as exc:  # not HDF5, permissions, truncated file ...
        raise _fail(path, f"cannot be read as HDF5 ({type(exc).__name__})", HLS4ML_EXPECTED) from None


def _labels_and_features(jets: np.ndarray, names, path: str):
    onehot, undef = jets[:, -6:-1], jets[:, -1]
    good = ((onehot == 1).sum(axis=1) == 1) & ((onehot == 0).sum(axis=1) == 4) & (undef == 0)
    if not good.all():
        raise _fail(path, f"labels not one-hot in {int((~good).sum())} of {len(good)} rows",
                    "expected exactly one 1 in j_g, j_q, j_w, j_z, j_t and j_undef == 0")
    labels = np.argmax(onehot, axis=1).astype(np.int64)
    feats: dict[str, np.ndarray] = {}
    if names is not None and len(names) == jets.shape[1]:
        for i, name in enumerate(names[:-len(LABEL_NAMES)]):
            if name not in LABEL_NAMES:
                feats[name] = jets[:, i]
    elif names is not None:
        log.warning("%s: jetFeatureNames has %d names for %d columns; jet features ignored",
                    path, len(names), jets.shape[1])
    return labels, feats


def read_rows(ds, rows: np.ndarray, columns: int | None = None) -> np.ndarray:
    """``ds[rows, :columns]`` of an HDF5 dataset for sorted row numbers, read in windows of READ_CHUNK_JETS
    consecutive rows (one contiguous read each, never more than one window in memory beside the result)."""
    rows = np.asarray(rows, dtype=np.int64)
    shape = ds.shape[1:] if columns is None else (min(columns, ds.shape[1]),) + ds.shape[2:]
    out = np.empty((len(rows),) + tuple(shape), dtype=np.float32)
    if len(rows) == 0:
        return out
    cut = (slice(None),) if columns is None else (slice(0, shape[0]),)
    for start in range(int(rows[0]) - int(rows[0]) % READ_CHUNK_JETS, int(rows[-1]) + 1, READ_CHUNK_JETS):
        lo, hi = np.searchsorted(rows, [start, start + READ_CHUNK_JETS])
        if lo < hi:
            window = ds[(slice(int(rows[lo]), int(rows[hi - 1]) + 1),) + cut]
            out[lo:hi] = window[rows[lo:hi] - rows[lo]]
    return out


class Hls4mlFiles:
    """hls4ml-layout HDF5 files (a path, a glob or a list of them, read as one sample) opened for reading by
    rows: every jet's label and jet features at once (checked), the constituents of a selection of jets at a
    time (``rows``), the first ``constituents`` of each only.  So a sample larger than memory can be prepared
    chunk by chunk (l1tag/data/preprocess.py); ``read_hls4ml`` reads all its rows."""

    def __init__(self, paths, constituents: int | None = None):
        self.files = expand_paths(paths, HLS4ML_EXPECTED)
        self.constituents = constituents
        labels, feats, sizes, width = [], [], [], None
        for path in self.files:
            with _open(path) as f:
                cons_ds, jets_ds = _checked_datasets(f, path)
                stored = cons_ds.shape[1]
                if width is None:
                    width = stored
                elif stored != width:
                    raise _fail(path, f"has {stored} constituents per jet but {self.files[0]} has {width}",
                                "expected all files to have the same number of constituents")
                lab, feat = _labels_and_features(np.asarray(jets_ds[...], dtype=np.float64),
                                                 _feature_names(f, path), path)
            labels.append(lab)
            feats.append(feat)
            sizes.append(len(lab))
        self.stored = width
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.labels = np.concatenate(labels)
        keys = set(feats[0]).intersection(*feats[1:])
        self.jet_features = {k: np.concatenate([f[k] for f in feats]) for k in feats[0] if k in keys}
        self.source = ", ".join(os.path.basename(f) for f in self.files)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def rows(self, rows: np.ndarray) -> JetSample:
        """The jets of the sorted sample row numbers ``rows`` (across the files), their constituents cut or
        zero padded to ``constituents``."""
        rows = np.asarray(rows, dtype=np.int64)
        keep = self.stored if self.constituents is None else min(self.constituents, self.stored)
        parts = []
        for i, path in enumerate(self.files):
            lo, hi = np.searchsorted(rows, self.starts[i:i + 2])
            with _open(path) as f:
                part = read_rows(f["jetConstituentList"], rows[lo:hi] - self.starts[i], keep)
            bad = (~np.isfinite(part)).any(axis=(1, 2))
            if bad.any():
                raise _fail(path, f"NaN or inf in jetConstituentList for {int(bad.sum())} of {len(bad)} jets",
                            "expected finite features")
            parts.append(part)
        cons = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return JetSample(constituents=_fit_constituents(cons, self.constituents),
                         labels=self.labels[rows], jet_features={k: v[rows] for k, v in self.jet_features.items()},
                         source=self.source)


def _feature_names(f, path: str) -> list[str] | None:
    """The optional 'jetFeatureNames' (None when absent or unreadable: the jet features are then ignored)."""
    import h5py

    ds = f.get("jetFeatureNames")
    if ds is None:
        return None
    if not isinstance(ds, h5py.Dataset):
        log.warning("%s: 'jetFeatureNames' is not a dataset; jet features ignored", path)
        return None
    return _decode(ds[...])


def _concat(parts, files) -> JetSample:
    keys = set(parts[0][2])
    for p in parts[1:]:
        keys &= set(p[2])
    return JetSample(
        constituents=np.concatenate([p[0] for p in parts]).astype(np.float32, copy=False),
        labels=np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False),
        jet_features={k: np.concatenate([p[2][k] for p in parts]) for k in parts[0][2] if k in keys},
        source=", ".join(os.path.basename(f) for f in files),
    )


def read_hls4ml(paths, constituents: int | None = None) -> JetSample:
    """Read hls4ml-layout HDF5 files (downloaded or generated by l1tag) and concatenate them.

    Args:
        paths: a path, a glob pattern, or a list of paths/globs.
        constituents: keep the first this many constituents (zero-pad if the files have fewer);
            ``None`` keeps the files' own count.
    """
    files = Hls4mlFiles(paths, constituents)
    return files.rows(np.arange(len(files)))


def _read_jetclass_file(path: str, constituents: int, mapping: dict[str, str]):
    import awkward as ak
    import uproot

    try:
        f = uproot.open(path)
    except Exception as exc:
        raise _fail(path, f"cannot be read as ROOT ({type(exc).__name__})", JETCLASS_EXPECTED) from None
    with f:
        if "tree" not in f:
            raise _fail(path, "TTree 'tree' missing", JETCLASS_EXPECTED)
        tree = f["tree"]
        present = set(tree.keys())
        labels_present = [b for b in JETCLASS_LABELS if b in present]
        needed = JETCLASS_PARTICLES + JETCLASS_JETS + tuple(mapping)
        missing = [b for b in needed if b not in present]
        if missing:
            raise _fail(path, f"branch(es) {', '.join(missing)} missing", JETCLASS_EXPECTED)
        if tree.num_entries == 0:
            raise _fail(path, "file is empty (0 jets)", JETCLASS_EXPECTED)
        arr = tree.arrays(list(JETCLASS_PARTICLES + JETCLASS_JETS) + labels_present, library="ak")

    onehot = np.stack([ak.to_numpy(arr[b]).astype(np.float64) for b in labels_present], axis=1)
    good = ((onehot == 1).sum(axis=1) == 1) & ((onehot == 0).sum(axis=1) == onehot.shape[1] - 1)
    if not good.all():
        raise _fail(path, f"labels not one-hot in {int((~good).sum())} of {len(good)} rows",
                    "expected exactly one label_* branch set per jet")
    n = len(onehot)
    labels = np.full(n, -1, dtype=np.int64)
    for branch, cls in mapping.items():
        labels[onehot[:, labels_present.index(branch)] == 1] = CLASSES.index(cls)
    keep = labels >= 0
    if not keep.all():
        log.info("%s: dropped %d of %d jets of unmapped JetClass classes", path, int((~keep).sum()), n)

    comps = [arr[b][keep] for b in JETCLASS_PARTICLES]
    jetcols = {b: ak.to_numpy(arr[b]).astype(np.float64)[keep] for b in JETCLASS_JETS}
    bad = np.zeros(int(keep.sum()), dtype=bool)
    for c in comps:
        bad |= ak.to_numpy(ak.any(~np.isfinite(c), axis=1))
    for v in jetcols.values():
        bad |= ~np.isfinite(v)
    if bad.any():
        raise _fail(path, f"NaN or inf in particle or jet branches for {int(bad.sum())} jets",
                    "expected finite values")
    order = ak.argsort(np.hypot(comps[0], comps[1]), axis=1, ascending=False)
    p4 = np.stack([ak.to_numpy(ak.fill_none(ak.pad_none(c[order], constituents, clip=True), 0.0))
                   .astype(np.float64) for c in comps], axis=-1)
    if len(p4):
        cons = constituent_features(p4).astype(np.float32)
    else:
        cons = np.zeros((0, constituents, N_FEATURES), np.float32)
    pz = jetcols["jet_pt"] * np.sinh(jetcols["jet_eta"])
    m2 = jetcols["jet_energy"] ** 2 - jetcols["jet_pt"] ** 2 - pz**2
    feats = {
        "j_pt": jetcols["jet_pt"], "j_eta": jetcols["jet_eta"], "j_phi": jetcols["jet_phi"],
        "j_mass": np.sqrt(np.maximum(m2, 0.0)), "j_multiplicity": jetcols["jet_nparticles"],
        "j_mass_sd": jetcols["jet_sdmass"],
    }
    return cons, labels[keep], feats


def read_jetclass(paths, constituents: int, mapping: dict[str, str] | None = None) -> JetSample:
    """Read JetClass ROOT files (TTree ``tree``) and compute the hls4ml features.

    The default mapping is ``label_QCD -> q, label_Wqq -> w, label_Zqq -> z, label_Tbqq -> t``.
    JetClass has no pure gluon class: its QCD jets are a quark/gluon mix and are mapped to ``q``.
    Jets of classes absent from the mapping are dropped (logged).  Particles are sorted by pT,
    the first ``constituents`` kept and the rest zero padded.

    Args:
        paths: a path, a glob pattern, or a list of paths/globs.
        constituents: constituents per jet in the output.
        mapping: JetClass label branch -> class in ``CLASSES``.
    """
    mapping = dict(DEFAULT_JETCLASS_MAPPING if mapping is None else mapping)
    for branch, cls in mapping.items():
        if branch not in JETCLASS_LABELS or cls not in CLASSES:
            raise DataError(f"bad JetClass mapping {branch!r} -> {cls!r} (expected a label_* branch "
                            f"of {', '.join(JETCLASS_LABELS)} mapped to one of {', '.join(CLASSES)})")
    if constituents is None or constituents < 1:
        raise DataError(f"constituents must be >= 1 for JetClass, got {constituents}")
    files = expand_paths(paths, JETCLASS_EXPECTED)
    parts = [_read_jetclass_file(p, constituents, mapping) for p in files]
    sample = _concat(parts, files)
    if len(sample) == 0:
        raise DataError(f"{sample.source}: no jets of the mapped classes {sorted(mapping)} "
                        f"(expected jets with one of these labels)")
    return sample


def read_jets(source: str, path, constituents: int) -> JetSample:
    """Read jets by dataset kind: ``hls4ml`` or ``generate`` (hls4ml layout) or ``jetclass``."""
    if source in ("hls4ml", "generate"):
        return read_hls4ml(path, constituents)
    if source == "jetclass":
        return read_jetclass(path, constituents)
    raise DataError(f"unknown data source {source!r} (expected one of {', '.join(SOURCES)})")
