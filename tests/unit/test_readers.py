"""Dataset readers: hls4ml HDF5 and JetClass ROOT round trips, each bad-input DataError, and the data
stage reading data.path as a file list or glob and data.test_path as a fixed test set."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from l1tag.config import load_config
from l1tag.data.features import (
    CLASSES,
    FEATURE_INDEX,
    HLS4ML_PARTICLE_NAMES,
    LABEL_NAMES,
    constituent_features,
    jet_kinematics,
)
from l1tag.data.preprocess import normalise, order_constituents, run_data_stage
from l1tag.data.readers import JetSample, expand_paths, read_hls4ml, read_jetclass, read_jets
from l1tag.errors import DataError

PT = FEATURE_INDEX["pt"]


def random_p4(rng, n, c, min_mult=5):
    """(n, c, 4) pT-ordered, zero-padded massless four-momenta."""
    p4 = np.zeros((n, c, 4))
    for i in range(n):
        m = rng.integers(min_mult, c + 1)
        pt = np.sort(rng.exponential(50.0, m) + 1.0)[::-1]
        eta = rng.normal(0.3, 0.2, m)
        phi = rng.normal(1.0, 0.2, m)
        p4[i, :m] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
    return p4


def write_hls4ml(path, n=20, c=30, seed=0, labels=None, names=True, **override):
    rng = np.random.default_rng(seed)
    p4 = random_p4(rng, n, c)
    cons = constituent_features(p4)
    labels = rng.integers(0, 5, n) if labels is None else np.asarray(labels)
    kin = jet_kinematics(p4)
    extra = ["j_pt", "j_eta", "j_mass"]
    jets = np.zeros((n, len(extra) + 6))
    for k, name in enumerate(extra):
        jets[:, k] = kin[name]
    jets[np.arange(n), len(extra) + labels] = 1.0
    data = {"jetConstituentList": cons, "jets": jets}
    data.update(override)
    with h5py.File(path, "w") as f:
        for key, val in data.items():
            if val is not None:
                f.create_dataset(key, data=val)
        if names:
            f.create_dataset("jetFeatureNames", data=np.array([s.encode() for s in extra + list(LABEL_NAMES)]))
            f.create_dataset("particleFeatureNames", data=np.array([s.encode() for s in HLS4ML_PARTICLE_NAMES]))
    return cons, labels, kin


def test_hls4ml_round_trip(tmp_path):
    path = tmp_path / "jets_a.h5"
    cons, labels, kin = write_hls4ml(path)
    s = read_hls4ml(str(path))
    assert isinstance(s, JetSample) and len(s) == 20
    assert s.constituents.shape == (20, 30, 16) and s.constituents.dtype == np.float32
    assert s.labels.dtype == np.int64
    np.testing.assert_array_equal(s.labels, labels)
    np.testing.assert_allclose(s.constituents, cons, rtol=1e-6, atol=1e-5)
    assert set(s.jet_features) == {"j_pt", "j_eta", "j_mass"}
    np.testing.assert_allclose(s.jet_features["j_pt"], kin["j_pt"])
    assert "jets_a.h5" in s.source
    # some padding exists, and padding <=> pt == 0 at the end of each jet
    pt = s.constituents[..., PT]
    assert (pt == 0).any()
    assert np.all(np.diff(pt, axis=1) <= 0)


def test_hls4ml_truncate_and_pad(tmp_path):
    path = tmp_path / "jets.h5"
    cons, _, _ = write_hls4ml(path)
    short = read_hls4ml(path, constituents=10)
    assert short.constituents.shape == (20, 10, 16)
    np.testing.assert_allclose(short.constituents, cons[:, :10], rtol=1e-6, atol=1e-5)
    long = read_hls4ml(path, constituents=40)
    assert long.constituents.shape == (20, 40, 16)
    assert np.all(long.constituents[:, 30:] == 0)
    np.testing.assert_allclose(long.constituents[:, :30], cons, rtol=1e-6, atol=1e-5)


def test_hls4ml_reads_only_the_kept_constituents_chunk_by_chunk(tmp_path, monkeypatch):
    """A file of 150 stored constituents read for n = 8 never holds the 150 in memory: the first 8 are read in
    chunks (here of 300 jets), the same values as a full read cut to 8."""
    import tracemalloc

    from l1tag.data import readers

    path = tmp_path / "wide.h5"
    cons, labels, _ = write_hls4ml(path, n=2000, c=150, seed=4)
    monkeypatch.setattr(readers, "READ_CHUNK_JETS", 300)
    tracemalloc.start()
    s = read_hls4ml(path, constituents=8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(s.constituents, cons[:, :8], rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(s.labels, labels)
    full = cons.shape[0] * cons.shape[1] * cons.shape[2] * 4  # 19.2 MB as float32
    assert peak < full / 4, f"peak {peak} bytes for a {full}-byte file"


def test_hls4ml_glob_and_list_concatenate(tmp_path):
    _, la, _ = write_hls4ml(tmp_path / "part_0.h5", n=20, seed=1)
    _, lb, _ = write_hls4ml(tmp_path / "part_1.h5", n=7, seed=2)
    for arg in (str(tmp_path / "part_*.h5"), [tmp_path / "part_0.h5", str(tmp_path / "part_1.h5")]):
        s = read_hls4ml(arg, constituents=16)
        assert s.constituents.shape == (27, 16, 16)
        np.testing.assert_array_equal(s.labels, np.concatenate([la, lb]))
        assert s.jet_features["j_pt"].shape == (27,)
        assert "part_0.h5" in s.source and "part_1.h5" in s.source


def test_hls4ml_without_names_has_no_jet_features(tmp_path):
    write_hls4ml(tmp_path / "plain.h5", names=False)
    s = read_jets("generate", tmp_path / "plain.h5", 30)
    assert s.jet_features == {} and len(s) == 20


def _raises(match_file, *phrases, call):
    with pytest.raises(DataError) as exc:
        call()
    msg = str(exc.value)
    assert "\n" not in msg
    assert match_file in msg
    for p in phrases:
        assert p in msg, msg
    return msg


def test_missing_key(tmp_path):
    path = tmp_path / "nocons.h5"
    write_hls4ml(path, jetConstituentList=None)
    _raises("nocons.h5", "'jetConstituentList' missing", "hls4ml layout", call=lambda: read_hls4ml(path))


def test_wrong_rank(tmp_path):
    path = tmp_path / "rank.h5"
    write_hls4ml(path, jetConstituentList=np.zeros((20, 30 * 16)))
    _raises("rank.h5", "shape", "(N, C, 16)", call=lambda: read_hls4ml(path))
    path2 = tmp_path / "lastdim.h5"
    write_hls4ml(path2, jetConstituentList=np.zeros((20, 30, 12)))
    _raises("lastdim.h5", "(20, 30, 12)", call=lambda: read_hls4ml(path2))


def test_mismatched_n(tmp_path):
    path = tmp_path / "mismatch.h5"
    write_hls4ml(path, jets=np.tile(np.eye(6)[0], (19, 1)))
    _raises("mismatch.h5", "20 jets", "19", call=lambda: read_hls4ml(path))


def test_nan(tmp_path):
    rng = np.random.default_rng(3)
    cons = constituent_features(random_p4(rng, 20, 30))
    cons[2, 0, 5] = np.nan
    cons[7, 3, 1] = np.inf
    path = tmp_path / "nan.h5"
    write_hls4ml(path, jetConstituentList=cons)
    _raises("nan.h5", "NaN", "2 of 20 jets", call=lambda: read_hls4ml(path))
    _raises("nan.h5", "NaN", "1 of 20 jets", call=lambda: read_hls4ml(path, constituents=2))  # only jet 2's is read


def test_not_one_hot(tmp_path):
    path = tmp_path / "labels.h5"
    jets = np.zeros((20, 9))
    jets[:, 3] = 1
    jets[0, 4] = 1  # two classes
    jets[1, 3] = 0  # no class
    jets[2, 8] = 1  # j_undef set
    write_hls4ml(path, jets=jets)
    _raises("labels.h5", "not one-hot", "3 of 20 rows", call=lambda: read_hls4ml(path))


def test_empty(tmp_path):
    path = tmp_path / "empty.h5"
    write_hls4ml(path, jetConstituentList=np.zeros((0, 30, 16)), jets=np.zeros((0, 9)))
    _raises("empty.h5", "empty", call=lambda: read_hls4ml(path))


def test_unreadable_and_missing_paths(tmp_path):
    bad = tmp_path / "garbage.h5"
    bad.write_text("not an hdf5 file\n")
    _raises("garbage.h5", "cannot be read as HDF5", call=lambda: read_hls4ml(bad))
    _raises("nothere.h5", "not found", call=lambda: read_hls4ml(tmp_path / "nothere.h5"))
    _raises("none_*.h5", "matches no files", call=lambda: read_hls4ml(str(tmp_path / "none_*.h5")))


def test_different_constituent_counts(tmp_path):
    write_hls4ml(tmp_path / "a.h5", c=30)
    write_hls4ml(tmp_path / "b.h5", c=20)
    _raises("b.h5", "same number of constituents", call=lambda: read_hls4ml([tmp_path / "a.h5", tmp_path / "b.h5"]))


def test_unknown_source():
    _raises("nope", "unknown data source", call=lambda: read_jets("nope", "x.h5", 10))


# ---------------------------------------------------------------- JetClass

JC_LABELS = ("label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
             "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl")


def write_jetclass(path, classes, seed=0, drop=(), nan=False):
    import awkward as ak
    import uproot

    rng = np.random.default_rng(seed)
    n = len(classes)
    parts = {k: [] for k in ("part_px", "part_py", "part_pz", "part_energy")}
    for i in range(n):
        m = int(rng.integers(3, 25))
        pt = rng.exponential(30.0, m) + 0.5  # unsorted on purpose
        eta, phi = rng.normal(0, 0.2, m), rng.normal(0.5, 0.2, m)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        if nan and i == 1:
            px[0] = np.nan
        for k, v in zip(parts, (px, py, pz, np.sqrt(px**2 + py**2 + pz**2))):
            parts[k].append(v.astype(np.float32))
    counts = np.array([len(x) for x in parts["part_px"]], dtype=np.int64)
    branches = {k: ak.unflatten(np.concatenate(v + [np.zeros(0, np.float32)]), counts) for k, v in parts.items()}
    sums = {k: np.array([np.sum(x) for x in v]) for k, v in parts.items()}
    jpt = np.hypot(sums["part_px"], sums["part_py"])
    branches.update(
        jet_pt=jpt, jet_eta=np.arcsinh(sums["part_pz"] / jpt), jet_phi=np.arctan2(sums["part_py"], sums["part_px"]),
        jet_energy=sums["part_energy"], jet_nparticles=counts.astype(np.float32),
        jet_sdmass=rng.uniform(10, 200, n),
    )
    for lab in JC_LABELS:
        branches[lab] = np.array([c == lab for c in classes], dtype=bool)
    for d in drop:
        branches.pop(d)
    with uproot.recreate(path) as f:
        f["tree"] = branches
    return parts


def test_jetclass_round_trip(tmp_path, caplog):
    classes = ["label_QCD", "label_Hbb", "label_Wqq", "label_Zqq", "label_Tbqq", "label_Tbl", "label_QCD", "label_Wqq"]
    path = tmp_path / "jc.root"
    parts = write_jetclass(path, classes)
    with caplog.at_level(logging.INFO, logger="l1tag"):
        s = read_jetclass(str(path), constituents=10)
    assert "dropped 2 of 8" in caplog.text
    kept = [i for i, c in enumerate(classes) if c not in ("label_Hbb", "label_Tbl")]
    assert len(s) == 6 and s.constituents.shape == (6, 10, 16) and s.constituents.dtype == np.float32
    want = {"label_QCD": "q", "label_Wqq": "w", "label_Zqq": "z", "label_Tbqq": "t"}
    np.testing.assert_array_equal(s.labels, [CLASSES.index(want[classes[i]]) for i in kept])
    pt = s.constituents[..., PT]
    assert np.all(np.diff(pt, axis=1) <= 0)  # pT-sorted, padding at the end
    px, py = s.constituents[..., FEATURE_INDEX["px"]], s.constituents[..., FEATURE_INDEX["py"]]
    np.testing.assert_allclose(pt, np.hypot(px, py), rtol=1e-5, atol=1e-5)
    for row, i in enumerate(kept):
        ref = np.sort(np.hypot(parts["part_px"][i], parts["part_py"][i]))[::-1][:10]
        np.testing.assert_allclose(pt[row, : len(ref)], ref, rtol=1e-5)
        assert np.all(pt[row, len(ref):] == 0)
    assert set(s.jet_features) == {"j_pt", "j_eta", "j_phi", "j_mass", "j_multiplicity", "j_mass_sd"}
    assert s.jet_features["j_pt"].shape == (6,)
    # via read_jets, with padding beyond the longest jet
    s2 = read_jets("jetclass", path, 40)
    assert s2.constituents.shape == (6, 40, 16)


def test_jetclass_custom_mapping(tmp_path):
    path = tmp_path / "jc.root"
    write_jetclass(path, ["label_Hbb", "label_QCD", "label_Hgg"])
    s = read_jetclass(path, 8, mapping={"label_Hgg": "g", "label_Hbb": "z"})
    np.testing.assert_array_equal(s.labels, [3, 0])


def test_jetclass_errors(tmp_path):
    path = tmp_path / "nobranch.root"
    write_jetclass(path, ["label_QCD"] * 3, drop=("part_px",))
    _raises("nobranch.root", "part_px", "missing", call=lambda: read_jetclass(path, 10))
    path = tmp_path / "nan.root"
    write_jetclass(path, ["label_QCD"] * 3, nan=True)
    _raises("nan.root", "NaN", "1 jets", call=lambda: read_jetclass(path, 10))
    path = tmp_path / "unmapped.root"
    write_jetclass(path, ["label_Hbb"] * 3)
    _raises("unmapped.root", "no jets of the mapped classes", call=lambda: read_jetclass(path, 10))
    path = tmp_path / "empty.root"
    write_jetclass(path, [])
    _raises("empty.root", "empty", call=lambda: read_jetclass(path, 10))
    bad = tmp_path / "garbage.root"
    bad.write_bytes(b"garbage" * 100)
    _raises("garbage.root", "cannot be read as ROOT", call=lambda: read_jetclass(bad, 10))
    _raises("missing.root", "not found", call=lambda: read_jetclass(tmp_path / "missing.root", 10))


# ---------------------------------------------------------------- data.path / data.test_path end to end

def test_expand_paths_reads_a_file_named_twice_once(tmp_path):
    write_hls4ml(tmp_path / "part_0.h5", n=10, seed=1)
    write_hls4ml(tmp_path / "part_1.h5", n=10, seed=2)
    files = expand_paths([str(tmp_path / "part_1.h5"), str(tmp_path / "part_*.h5"), tmp_path / "." / "part_0.h5"])
    assert files == [str(tmp_path / "part_1.h5"), str(tmp_path / "part_0.h5")]
    assert len(read_hls4ml([tmp_path / "part_0.h5", str(tmp_path / "part_*.h5")])) == 20


def _config(tmp_path, data: dict):
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({"name": "d", "seed": 3, "data": {
        "source": "hls4ml", "constituents": 16, "features": ["pt", "etarel", "phirel"], **data}}))
    return load_config(cfg_file)


def _write_parts(tmp_path) -> np.ndarray:
    """Two hls4ml files of 30 and 20 jets, 10 of each class in all; returns the labels in order."""
    labels = np.arange(50) % 5
    (tmp_path / "jets").mkdir()
    write_hls4ml(tmp_path / "jets" / "part_0.h5", n=30, seed=1, labels=labels[:30])
    write_hls4ml(tmp_path / "jets" / "part_1.h5", n=20, seed=2, labels=labels[30:])
    return labels


def test_data_stage_reads_a_list_or_a_glob_of_files(tmp_path):
    labels = _write_parts(tmp_path)
    by_list = run_data_stage(_config(tmp_path, {"path": ["jets/part_0.h5", "jets/part_1.h5"]}),
                             tmp_path / "b1", progress=False)
    by_glob = run_data_stage(_config(tmp_path, {"path": "jets/part_*.h5"}), tmp_path / "b2", progress=False)
    sizes = {s: len(by_list.y[s]) for s in ("train", "val", "test")}
    assert sizes == {"train": 30, "val": 10, "test": 10}
    for s in sizes:
        np.testing.assert_array_equal(by_list.x[s], by_glob.x[s])
        np.testing.assert_array_equal(by_list.y[s], labels[by_list.index[s]])
    meta = json.loads((tmp_path / "b1" / "data" / "prepared.json").read_text())
    assert [Path(f["file"]).name for f in meta["inputs"]] == ["part_0.h5", "part_1.h5"]
    assert meta["data"]["path"] == [str(tmp_path / "jets" / "part_0.h5"), str(tmp_path / "jets" / "part_1.h5")]


def test_data_stage_with_a_fixed_test_set(tmp_path, caplog):
    _write_parts(tmp_path)
    test_labels = np.array([0, 1, 2, 3, 4, 4, 3])
    cons, _, _ = write_hls4ml(tmp_path / "test.h5", n=7, seed=9, labels=test_labels)
    cfg = _config(tmp_path, {"path": "jets/part_*.h5", "test_path": "test.h5", "split": [0.6, 0.3, 0.1]})
    with caplog.at_level(logging.INFO, logger="l1tag"):
        p = run_data_stage(cfg, tmp_path / "b", progress=False)
    assert "fixed test set: test.h5" in caplog.text
    # train : val = 0.6 : 0.3 of the 50 jets of data.path; the test split is the 7 jets of test.h5, in order
    assert {s: len(p.y[s]) for s in p.y} == {"train": 33, "val": 17, "test": 7}
    np.testing.assert_array_equal(p.y["test"], test_labels)
    np.testing.assert_array_equal(p.index["test"], np.arange(7))
    np.testing.assert_allclose(p.raw_test, order_constituents(cons.astype(np.float32), 16, "kt"), rtol=1e-6)
    cols = [FEATURE_INDEX[f] for f in ("pt", "etarel", "phirel")]
    np.testing.assert_allclose(p.x["test"], normalise(p.raw_test[..., cols], p.center, p.scale), rtol=1e-6)
    meta = json.loads((tmp_path / "b" / "data" / "prepared.json").read_text())
    assert [Path(f["file"]).name for f in meta["test_inputs"]] == ["test.h5"] and meta["test_jets"] == 7
    # the cache knows the test set: another test file reruns the stage
    write_hls4ml(tmp_path / "test2.h5", n=5, seed=10, labels=[0, 1, 2, 3, 4])
    cfg2 = _config(tmp_path, {"path": "jets/part_*.h5", "test_path": ["test2.h5"], "split": [0.6, 0.3, 0.1]})
    assert len(run_data_stage(cfg2, tmp_path / "b", progress=False).y["test"]) == 5


def _replace(path, key, make):
    with h5py.File(path, "a") as f:
        del f[key]
        make(f)


@pytest.mark.parametrize("key, make, problem", [
    ("jetConstituentList", lambda f: f.create_group("jetConstituentList"), "'jetConstituentList' is a group, not a dataset"),
    ("jets", lambda f: f.create_group("jets").create_dataset("x", data=np.zeros(3)), "'jets' is a group, not a dataset"),
    ("jets", lambda f: f.create_dataset("jets", data=np.array([[b"a"] * 9] * 20)), "'jets' holds |S1 values, not numbers"),
    ("jetConstituentList", lambda f: f.create_dataset("jetConstituentList", data=np.array(["x" * 3] * 20, dtype="S3")),
     "'jetConstituentList' holds |S3 values, not numbers"),
])
def test_a_group_or_strings_in_place_of_a_dataset_is_a_data_error(tmp_path, capsys, key, make, problem):
    """Was an internal error (exit 1): AttributeError on a Group, ValueError converting strings."""
    path = tmp_path / "odd.h5"
    write_hls4ml(path)
    _replace(path, key, make)
    _raises("odd.h5", problem, "hls4ml layout", call=lambda: read_hls4ml(path))
    from l1tag.cli import main

    assert main(["data", "inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1 and "internal error" not in err


def test_feature_names_as_a_group_are_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "names.h5"
    write_hls4ml(path)
    _replace(path, "jetFeatureNames", lambda f: f.create_group("jetFeatureNames"))
    with caplog.at_level(logging.WARNING, logger="l1tag"):
        s = read_hls4ml(path)
    assert s.jet_features == {} and "'jetFeatureNames' is not a dataset" in caplog.text
