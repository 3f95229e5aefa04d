"""Generated jets (Pythia 8 + FastJet): layout, physics, determinism; preprocessing; the data CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from l1tag.cli import main
from l1tag.data.features import CLASSES, FEATURE_INDEX, PARTICLE_FEATURES, constituent_features
from l1tag.data.generate import JET_COLUMNS, generate
from l1tag.data.inspect import MASS_WINDOWS, inspect_file
from l1tag.data.preprocess import fit_normalisation, order_constituents, prepare, stratified_split
from l1tag.data.readers import JetSample, read_hls4ml
from l1tag.errors import DataError


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """400 jets (80 per class), all visible particles: enough for the mass medians to be meaningful."""
    out = tmp_path_factory.mktemp("gen") / "jets.h5"
    generate(out, 400, seed=3, jobs=2, constituents=150, detector="none", progress=False)
    return out


def test_file_has_the_hls4ml_layout(generated):
    with h5py.File(generated) as f:
        assert f["jetConstituentList"].shape == (400, 150, 16)
        names = [n.decode() for n in f["jetFeatureNames"][:]]
        assert names[-6:] == ["j_g", "j_q", "j_w", "j_z", "j_t", "j_undef"]
        assert f["jets"].shape == (400, len(JET_COLUMNS) + 6)
        assert [n.decode() for n in f["particleFeatureNames"][:]][:16] == [f"j1_{n}" for n in PARTICLE_FEATURES]
        assert f.attrs["seed"] == 3 and f.attrs["detector"] == "none" and f.attrs["events"] > 0
        labels = f["jets"][:, -6:]
        assert (labels.sum(axis=1) == 1).all() and (labels[:, -1] == 0).all()
        np.testing.assert_array_equal(labels[:, :5].sum(axis=0), [80] * 5)
        pt = f["jetConstituentList"][:, :, FEATURE_INDEX["pt"]]
        assert (np.diff(pt, axis=1) <= 0).all(), "constituents are pT ordered, zero padded at the end"


def test_physics_of_generated_jets(generated):
    s = inspect_file(str(generated))
    assert s["consistency"]["max_abs_pt_minus_hypot_px_py_gev"] < 1e-3
    assert s["consistency"]["max_abs_deltaR_minus_hypot_etarel_phirel"] < 1e-5
    for cls, (lo, hi) in MASS_WINDOWS.items():
        assert lo <= s["per_class"][cls]["mass_median_gev"] <= hi, (cls, s["per_class"][cls])
    assert s["per_class"]["g"]["multiplicity_mean"] > s["per_class"]["q"]["multiplicity_mean"]
    assert all(s["physics_checks"].values())
    sample = read_hls4ml(str(generated))
    jf = sample.jet_features
    assert ((jf["j_pt"] >= 800) & (jf["j_pt"] <= 1400)).all() and (np.abs(jf["j_eta"]) < 2.5).all()
    assert (jf["j_mass_sd"] <= jf["j_mass"] + 1e-6).all()  # grooming only removes particles
    # the top's soft-drop mass sits nearer the pole than its ungroomed mass
    top = sample.labels == CLASSES.index("t")
    assert abs(np.median(jf["j_mass_sd"][top]) - 173) < abs(np.median(jf["j_mass"][top]) - 173) + 5


def test_same_seed_same_file_bytes_for_one_and_two_workers(tmp_path):
    """One worker runs the tasks in this process, two run them as Ray tasks: the same bytes."""
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    generate(a, 10, seed=11, jobs=1, constituents=30, detector="simple", progress=False)
    generate(b, 10, seed=11, jobs=2, constituents=30, detector="simple", progress=False)
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "b.h5"], "no partial or temporary files left"


def test_an_interrupted_generation_resumes_without_redoing_finished_tasks(tmp_path, monkeypatch):
    """Killed after 2 of its 5 tasks (one per class at 10 jets), the rerun generates only the other 3, and the
    file is the one an uninterrupted run writes; other settings start afresh."""
    from l1tag.data import generate as gen

    real, calls = gen.generate_task, []

    def dies_after_two(args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[0])
        return real(args)

    out = tmp_path / "jets.h5"
    monkeypatch.setattr(gen, "generate_task", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate(out, 10, seed=7, jobs=1, constituents=30, progress=False)
    assert not out.exists() and len(list((tmp_path / "jets.h5.partial").glob("task-*.npz"))) == 2
    calls.clear()
    monkeypatch.setattr(gen, "generate_task", lambda args: calls.append(args[0]) or real(args))
    generate(out, 10, seed=7, jobs=1, constituents=30, progress=False)
    assert calls == ["w", "z", "t"] and not (tmp_path / "jets.h5.partial").exists()
    fresh = tmp_path / "fresh.h5"
    generate(fresh, 10, seed=7, jobs=1, constituents=30, progress=False)
    assert out.read_bytes() == fresh.read_bytes()
    (tmp_path / "other.h5.partial").mkdir()  # a partial generation of other settings is discarded
    (tmp_path / "other.h5.partial" / "manifest.json").write_text("{}")
    (tmp_path / "other.h5.partial" / "task-00000.npz").write_bytes(b"not this run's")
    calls.clear()
    generate(tmp_path / "other.h5", 10, seed=7, jobs=1, constituents=30, progress=False)
    assert len(calls) == 5 and (tmp_path / "other.h5").read_bytes() == fresh.read_bytes()


def test_the_jet_cache_reuses_an_entry_and_regenerates_a_broken_one(tmp_path, monkeypatch, caplog):
    """Two builds asking for the same jets share one cache entry; other settings get their own; an entry whose
    bytes differ from its record is regenerated (with a warning), never used; list and prune see it."""
    from l1tag.data import cache

    import l1tag.data.generate as gen

    real, generated = gen.generate, []
    monkeypatch.setattr(gen, "generate", lambda out, *a, **k: generated.append(Path(out).name) or real(out, *a, **k))
    root = tmp_path / "cache"
    first = cache.cached_jets(10, 5, 32, "none", jobs=1, configured=str(root), progress=False)
    again = cache.cached_jets(10, 5, 32, "none", jobs=1, configured=str(root), progress=False)
    assert first == again and len(generated) == 1 and first.parent == root
    other = cache.cached_jets(10, 6, 32, "none", jobs=1, configured=str(root), progress=False)
    assert other != first and len(generated) == 2
    assert [r["state"] for r in cache.list_entries(str(root))] == ["ok", "ok"]
    good = first.read_bytes()
    first.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped
    assert cache.list_entries(str(root))[0]["state"] == "bytes differ from the record"
    with caplog.at_level("WARNING", logger="l1tag"):
        third = cache.cached_jets(10, 5, 32, "none", jobs=1, configured=str(root), progress=False)
    assert third == first and len(generated) == 3 and third.read_bytes() == good
    assert "cannot be used (bytes differ from the record)" in caplog.text
    other.write_bytes(b"cut short")
    assert cache.prune(str(root)) == [other.name] and not other.exists()
    assert [r["file"] for r in cache.list_entries(str(root))] == [first.name]


def test_two_builds_with_the_same_data_settings_share_the_cached_file(tmp_path, monkeypatch):
    from l1tag.config import load_config
    from l1tag.data.preprocess import generated_path, run_data_stage

    import l1tag.data.generate as gen

    real, generated = gen.generate, []
    monkeypatch.setattr(gen, "generate", lambda out, *a, **k: generated.append(out) or real(out, *a, **k))
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("name: c\nseed: 3\ndata: {jets: 25, generate_jobs: 1, cache_dir: jets}\n")
    cfg = load_config(cfg_file)
    run_data_stage(cfg, tmp_path / "build_a", progress=False)
    run_data_stage(cfg, tmp_path / "build_b", progress=False)
    assert len(generated) == 1 and Path(generated[0]) == Path(generated_path(cfg, tmp_path / "build_b"))
    assert Path(generated[0]).parent == tmp_path / "jets"  # data.cache_dir, relative to the config's folder


def test_simple_detector_applies_the_pt_threshold(tmp_path):
    out = tmp_path / "d.h5"
    generate(out, 10, seed=5, jobs=1, constituents=150, detector="simple", progress=False)
    s = read_hls4ml(str(out))
    pt = s.constituents[..., FEATURE_INDEX["pt"]]
    assert pt[pt > 0].min() > 1.0


def test_sorting_by_kt_orders_by_pt_times_dr():
    rng = np.random.default_rng(0)
    p4 = np.zeros((4, 12, 4))
    pt = np.sort(rng.uniform(1, 100, (4, 10)), axis=1)[:, ::-1]
    eta, phi = rng.normal(0, 0.3, (4, 10)), rng.normal(0, 0.3, (4, 10))
    p4[:, :10] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1)
    c = constituent_features(p4)
    out = order_constituents(c, 8, "kt")
    kt = out[..., FEATURE_INDEX["pt"]] * out[..., FEATURE_INDEX["deltaR"]]
    assert (np.diff(kt, axis=1) <= 1e-6).all()
    # the 8 kept are the 8 highest-pT, whatever their kT
    np.testing.assert_allclose(np.sort(out[..., FEATURE_INDEX["pt"]], axis=1), np.sort(c[:, :8, 5], axis=1), rtol=1e-6)
    # padding stays at the end and a pT threshold empties rows
    out2 = order_constituents(c, 12, "dr", pt_min=50.0)
    real = out2[..., FEATURE_INDEX["pt"]] > 0
    assert (real[:, :-1] >= real[:, 1:]).all() and (out2[..., FEATURE_INDEX["pt"]][real] >= 50).all()
    # eta: from the highest eta relative to the jet down, the 10 real particles first, padding last
    out3 = order_constituents(c, 12, "eta")
    real = out3[..., FEATURE_INDEX["pt"]] > 0
    for jet, keep in zip(out3, real):
        assert (np.diff(jet[keep, FEATURE_INDEX["etarel"]]) <= 0).all() and keep[:10].all() and not keep[10:].any()


def test_prepare_splits_stratified_and_normalises_on_train_only(generated):
    sample = read_hls4ml(str(generated))
    p = prepare(sample, 16, ("pt", "etarel", "phirel"), "kt", 0.0, "robust", (0.6, 0.2, 0.2), seed=1)
    sizes = {s: len(p.y[s]) for s in p.y}
    assert sizes == {"train": 240, "val": 80, "test": 80}
    for s in p.y:
        np.testing.assert_array_equal(np.bincount(p.y[s]), [sizes[s] // 5] * 5)
    assert not set(p.index["train"]) & set(p.index["test"])
    x = p.x["train"]
    real = np.any(x != 0, axis=-1)
    np.testing.assert_allclose(np.median(x[real], axis=0), 0.0, atol=1e-5)  # robust: median at 0
    assert p.x["train"].dtype == np.float32 and p.x["train"].shape[1:] == (16, 3)
    again = prepare(sample, 16, ("pt", "etarel", "phirel"), "kt", 0.0, "robust", (0.6, 0.2, 0.2), seed=1)
    np.testing.assert_array_equal(again.x["test"], p.x["test"])


def _sample(n: int, seed: int) -> JetSample:
    """n jets of 20 massless constituents, classes in turn (so every class is present)."""
    rng = np.random.default_rng(seed)
    p4 = np.zeros((n, 20, 4))
    for i in range(n):
        m = int(rng.integers(4, 21))
        pt = np.sort(rng.exponential(40.0, m) + 1.0)[::-1]
        eta, phi = rng.normal(0, 0.3, m), rng.normal(0, 0.3, m)
        p4[i, :m] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
    return JetSample(constituent_features(p4).astype(np.float32), np.arange(n) % 5)


def test_prepare_with_a_fixed_test_set():
    sample, test = _sample(100, 1), _sample(13, 2)
    features = ("pt", "etarel", "phirel")
    p = prepare(sample, 8, features, "kt", 0.0, "robust", (0.5, 0.25, 0.25), seed=4, test_sample=test)
    # train : val = 0.5 : 0.25 of the main sample, renormalised; the test split is the whole test sample
    assert {s: len(p.y[s]) for s in p.y} == {"train": 66, "val": 34, "test": 13}
    np.testing.assert_array_equal(np.sort(np.concatenate([p.index["train"], p.index["val"]])), np.arange(100))
    np.testing.assert_array_equal(p.y["test"], test.labels)
    np.testing.assert_array_equal(p.index["test"], np.arange(13))
    ordered_test = order_constituents(test.constituents, 8, "kt")
    np.testing.assert_array_equal(p.raw_test, ordered_test)
    np.testing.assert_array_equal(p.multiplicity_test, (test.constituents[..., FEATURE_INDEX["pt"]] > 0).sum(axis=1))
    # the normalisation is fitted on the training split only, and applied to the fixed test set
    cols = [FEATURE_INDEX[f] for f in features]
    train_raw = order_constituents(sample.constituents, 8, "kt")[p.index["train"]][..., cols]
    center, scale = fit_normalisation(train_raw, "robust")
    np.testing.assert_allclose(p.center, center)
    np.testing.assert_allclose(p.scale, scale)
    real = np.any(ordered_test[..., cols] != 0, axis=-1)
    np.testing.assert_allclose(p.x["test"][real], ((ordered_test[..., cols] - center) / scale)[real], rtol=1e-5)
    assert (p.x["test"][~real] == 0).all()


def test_two_way_split_needs_two_jets_per_class():
    split = stratified_split(np.arange(20) % 5, (0.6, 0.2, 0.2), seed=0, with_test=False)
    assert set(split) == {"train", "val"} and (len(split["train"]), len(split["val"])) == (15, 5)
    with pytest.raises(DataError, match="need at least 2 of each class"):
        stratified_split(np.array([0] * 12 + [1]), (0.6, 0.2, 0.2), seed=0, with_test=False)


def test_inspect_cli_and_bad_file(generated, tmp_path, capsys):
    assert main(["data", "inspect", str(generated)]) == 0
    out = capsys.readouterr().out
    assert "w_mass_median_in_70_110_gev: ok" in out and "400 jets" in out
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["jets"] = np.zeros((3, 7))
    assert main(["data", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.h5" in err and "jetConstituentList" in err and "Traceback" not in err
    assert main(["data", "inspect", str(tmp_path / "nothere.h5")]) == 2


def test_the_cache_commands_list_and_prune(tmp_path, capsys):
    """`l1tag data list` names each entry and its state; `prune --dry-run` removes nothing, `prune` the broken."""
    root = tmp_path / "cache"
    root.mkdir()
    (root / "jets-10-seed1-none-c32-abcdef012345.h5").write_bytes(b"no record beside it")
    assert main(["data", "list", "--cache-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"jet cache {root}: 1 entries" in out and "no record" in out
    assert "jets-10-seed1-none-c32-abcdef012345.h5" in out
    assert main(["data", "prune", "--cache-dir", str(root), "--dry-run"]) == 0
    assert "would remove 1" in capsys.readouterr().out and len(list(root.iterdir())) == 1
    assert main(["data", "prune", "--cache-dir", str(root)]) == 0
    assert "removed 1" in capsys.readouterr().out and list(root.iterdir()) == []


def test_augmentation_turns_and_mirrors_about_the_jet_axis_only():
    """rotation keeps each constituent's distance to the axis (so deltaR, kT and the kT order) and pT, turns
    each jet by its own angle; reflections flip one sign; padding rows stay zero; the same generator state
    gives the same jets."""
    from l1tag.data.augment import transform

    features = ("pt", "etarel", "phirel", "deltaR")
    p = prepare(_sample(200, 4), 12, features, "kt", 0.0, "robust", (0.6, 0.2, 0.2), seed=1)
    x = p.x["train"]
    phys = lambda a: np.where(np.any(a != 0, -1, keepdims=True), a * p.scale + p.center, 0.0)  # noqa: E731
    before = phys(x)
    real = np.any(x != 0, axis=-1)
    assert (~real).any()  # the sample has padding rows to keep

    turned = phys(transform(x, features, p.center, p.scale, ("rotation",), np.random.default_rng(7)))
    assert (np.all(turned == 0, axis=-1) == ~real).all()
    np.testing.assert_allclose(np.hypot(turned[..., 1], turned[..., 2])[real], before[..., 3][real], rtol=1e-4,
                               atol=1e-5)  # still at the same distance: deltaR
    np.testing.assert_allclose(turned[..., [0, 3]], before[..., [0, 3]], rtol=1e-5, atol=1e-5)
    angles = np.arctan2(turned[..., 2], turned[..., 1]) - np.arctan2(before[..., 2], before[..., 1])
    per_jet = np.angle(np.exp(1j * angles))
    first = per_jet[:, :1]
    assert np.allclose(np.angle(np.exp(1j * (per_jet - first)))[real], 0.0, atol=1e-3)  # one angle per jet
    assert np.std(first) > 1.0  # and a different one for each jet

    mirrored = phys(transform(x, features, p.center, p.scale, ("reflect_eta",), np.random.default_rng(7)))
    sign = np.sign(mirrored[..., 1] * before[..., 1])[real]
    assert set(np.unique(sign[sign != 0])) == {-1.0, 1.0}
    np.testing.assert_allclose(mirrored[..., 2], before[..., 2], atol=1e-5)  # phi untouched

    a = transform(x, features, p.center, p.scale, ("rotation", "reflect_phi"), np.random.default_rng(3))
    b = transform(x, features, p.center, p.scale, ("rotation", "reflect_phi"), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert transform(x, features, p.center, p.scale, (), np.random.default_rng(3)) is x
