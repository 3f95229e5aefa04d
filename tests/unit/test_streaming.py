"""A training split larger than data.in_memory_jets: prepared chunk by chunk into data/train.h5 (the same arrays
as the in-memory preparation) and streamed by training one block at a time, every jet once per epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from test_readers import write_hls4ml

from l1tag.config import TrainConfig, load_config
from l1tag.data import preprocess, readers
from l1tag.data.preprocess import StreamedSplit, load_prepared, prepare, prepare_streamed, run_data_stage
from l1tag.data.readers import Hls4mlFiles, read_hls4ml
from l1tag.errors import DataError
from l1tag.train import trainer

FEATURES = ("pt", "etarel", "phirel", "erest", "pxrest")  # the rest frame's need each jet's whole four-momentum


@pytest.fixture
def two_files(tmp_path):
    """Two hls4ml files of 130 and 70 jets, 40 of each class."""
    labels = np.arange(200) % 5
    write_hls4ml(tmp_path / "a.h5", n=130, c=20, seed=1, labels=labels[:130])
    write_hls4ml(tmp_path / "b.h5", n=70, c=20, seed=2, labels=labels[130:])
    return [tmp_path / "a.h5", tmp_path / "b.h5"]


@pytest.mark.parametrize("fixed_test", [False, True])
def test_the_streamed_preparation_gives_the_in_memory_arrays(tmp_path, two_files, monkeypatch, fixed_test):
    """Small chunks and windows everywhere (reads of 17 rows, 23 jets prepared at a time, the normalisation
    fitted on 50 of the ~120 training jets): the streamed split, the others and the normalisation are exactly
    those of ``prepare`` on the whole sample."""
    monkeypatch.setattr(readers, "READ_CHUNK_JETS", 17)
    monkeypatch.setattr(preprocess, "STREAM_CHUNK_JETS", 23)
    monkeypatch.setattr(preprocess, "FIT_JETS", 50)
    test = None
    if fixed_test:
        write_hls4ml(tmp_path / "t.h5", n=15, c=20, seed=3, labels=np.arange(15) % 5)
        test = read_hls4ml(tmp_path / "t.h5", 12)
    args = (12, FEATURES, "kt", 1.0, "robust", (0.6, 0.2, 0.2), 7)
    whole = prepare(read_hls4ml(two_files, 12), *args, test_sample=test)
    streamed = prepare_streamed(Hls4mlFiles(two_files, 12), tmp_path / "train.h5", *args, test_sample=test)
    assert isinstance(streamed.x["train"], StreamedSplit) and streamed.x["train"].shape == whole.x["train"].shape
    assert len(whole.y["train"]) > preprocess.FIT_JETS  # the seeded choice of fitted jets is exercised
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(np.asarray(streamed.x[s]), whole.x[s])
        np.testing.assert_array_equal(streamed.y[s], whole.y[s])
        np.testing.assert_array_equal(streamed.index[s], whole.index[s])
    for name in ("center", "scale", "raw_test", "multiplicity_test"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(whole, name))
    # the fit is on the chosen jets, not all: fitted on every training jet, the scale would differ
    all_fit = preprocess.fit_normalisation(whole.x["train"] * whole.scale + whole.center, "robust")[1]
    assert not np.allclose(all_fit, whole.scale)


def test_a_streamed_split_reads_only_the_rows_asked(tmp_path, two_files, monkeypatch):
    monkeypatch.setattr(readers, "READ_CHUNK_JETS", 10)
    p = prepare_streamed(Hls4mlFiles(two_files, 8), tmp_path / "train.h5", 8, ("pt", "etarel"), "kt", 0.0,
                         "robust", (0.6, 0.2, 0.2), 1)
    x = np.asarray(p.x["train"])
    rows = np.array([0, 3, 4, 31, 32, 119])
    np.testing.assert_array_equal(p.x["train"][rows], x[rows])
    np.testing.assert_array_equal(p.x["train"][5:40], x[5:40])
    with pytest.raises(IndexError, match="sorted row numbers"):
        p.x["train"][np.array([4, 3])]


def _config(tmp_path, paths, in_memory_jets: int):
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "s", "seed": 3, "data": {
        "source": "hls4ml", "path": [str(p) for p in paths], "constituents": 12, "in_memory_jets": in_memory_jets,
        "features": ["pt", "etarel", "phirel"]}}))
    return load_config(cfg_file)


def test_the_data_stage_streams_a_split_above_in_memory_jets_and_reloads_it(tmp_path, two_files):
    build = tmp_path / "b"
    streamed = run_data_stage(_config(tmp_path, two_files, 100), build, progress=False)
    train_file = build / "data" / "train.h5"
    assert isinstance(streamed.x["train"], StreamedSplit) and train_file.exists()
    assert json.loads((build / "data" / "prepared.json").read_text())["streamed"] is True
    with np.load(build / "data" / "prepared.npz") as z:
        assert "x_train" not in z.files and "x_val" in z.files  # the training split only in train.h5
    again = load_prepared(build / "data" / "prepared.npz")
    assert isinstance(again.x["train"], StreamedSplit)
    read = {s: np.asarray(again.x[s]) for s in ("train", "val", "test")}
    # the same settings held in memory: the same arrays, and the stale train.h5 removed
    whole = run_data_stage(_config(tmp_path, two_files, 1000), build, progress=False)
    assert isinstance(whole.x["train"], np.ndarray) and not train_file.exists()
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(read[s], whole.x[s])
    # a streamed build whose train.h5 went missing says so in one line
    run_data_stage(_config(tmp_path, two_files, 100), build, progress=False)
    train_file.unlink()
    with pytest.raises(DataError, match="train.h5 .*is missing: run `l1tag data prepare`"):
        load_prepared(build / "data" / "prepared.npz")


def _epochs(sequence, epochs: int):
    """The (x, y) each epoch shows, batch by batch in the Sequence's order, as Keras reads it (shuffle off)."""
    out = []
    for _ in range(epochs):
        batches = [sequence[i] for i in range(len(sequence))]
        out.append((np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])))
        sequence.on_epoch_end()
    return out


class _Reads:
    """Counts the rows each read of a StreamedSplit asks for."""

    def __init__(self, monkeypatch):
        self.sizes = []
        read = StreamedSplit.__getitem__

        def counted(split, key):
            rows = read(split, key)
            self.sizes.append(len(rows))
            return rows

        monkeypatch.setattr(StreamedSplit, "__getitem__", counted)


@pytest.mark.parametrize("augment", [(), ("rotation", "reflect_eta")])
def test_streamed_training_shows_every_jet_once_per_epoch_one_block_in_memory(tmp_path, two_files, monkeypatch,
                                                                               augment):
    import tensorflow as tf

    monkeypatch.setattr(trainer, "STREAM_BLOCK_JETS", 32)
    data = prepare_streamed(Hls4mlFiles(two_files, 8), tmp_path / "train.h5", 8, ("pt", "etarel", "phirel"), "kt",
                            0.0, "robust", (0.6, 0.2, 0.2), 1)
    x, y = np.asarray(data.x["train"]), data.y["train"]
    cfg = TrainConfig(batch_size=10, augment=augment)
    reads = _Reads(monkeypatch)
    epochs = _epochs(trainer._streamed(tf, data, cfg, seed=5), 3)
    assert reads.sizes and max(reads.sizes) <= 32  # never more than one block read
    assert sum(reads.sizes) == 3 * len(y)  # each block read once per epoch
    pt = 0  # pT is unchanged by the symmetries: each jet shown once, identified by its pT column
    for xe, ye in epochs:
        assert len(ye) == len(y)
        key = np.lexsort(xe[:, :, pt].T)
        ref = np.lexsort(x[:, :, pt].T)
        np.testing.assert_array_equal(xe[key][:, :, pt], x[ref][:, :, pt])
        np.testing.assert_array_equal(ye[key], y[ref])
        if augment:  # turned and mirrored: the angles changed, the padding rows stayed 0
            assert not np.allclose(xe[key][:, :, 1:], x[ref][:, :, 1:])
            np.testing.assert_array_equal(np.all(xe[key] == 0, axis=-1), np.all(x[ref] == 0, axis=-1))
        else:
            np.testing.assert_array_equal(xe[key], x[ref])
    assert not np.array_equal(epochs[0][1], epochs[1][1])  # a new order each epoch
    again = _epochs(trainer._streamed(tf, data, cfg, seed=5), 1)[0]
    np.testing.assert_array_equal(again[0], epochs[0][0])  # the seed fixes it


def test_a_tagger_trains_from_a_streamed_split(tmp_path, two_files, monkeypatch):
    """Through Keras, float and QAT: every epoch reads every block once (plus, per fit, Keras's first look at a
    batch), and the trained model is what the same seed gives again."""
    from l1tag.train.trainer import train_models

    monkeypatch.setattr(trainer, "STREAM_BLOCK_JETS", 40)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "t", "seed": 2, "model": {"type": "deepsets", "phi_dims": [8],
                                                                          "head_dims": [8]},
                                        "train": {"epochs": 2, "qat_epochs": 1, "batch_size": 16}}))
    cfg = load_config(cfg_file)
    data = prepare_streamed(Hls4mlFiles(two_files, 8), tmp_path / "train.h5", 8, ("pt", "etarel", "phirel"), "kt",
                            0.0, "robust", (0.6, 0.2, 0.2), 1)
    reads = _Reads(monkeypatch)
    _, model, history = train_models(cfg, data)
    n = len(data.y["train"])
    assert len(history["float"]["loss"]) == 2 and len(history["qat"]["loss"]) == 1
    assert max(reads.sizes) <= 40 and 3 * n <= sum(reads.sizes) <= 3 * n + 2 * 40
    weights = [w.copy() for w in model.get_weights()]
    _, model2, _ = train_models(cfg, data)
    for a, b in zip(weights, model2.get_weights()):
        np.testing.assert_array_equal(a, b)
