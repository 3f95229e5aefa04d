"""Jets generated with Pythia 8 and clustered with FastJet, written in the hls4ml HDF5 layout.

Five classes in equal numbers, each from its own hard process at sqrt(s) = 13 TeV with
pTHat in [950, 1150] GeV (``../shared/reference/datasets.md``):

======  ====================================================  =================================
class   Pythia processes                                      truth match (dR < R to the jet)
======  ====================================================  =================================
g       HardQCD:gg2gg, HardQCD:qqbar2gg                        an outgoing hard gluon
q       HardQCD:qq2qq, HardQCD:qqbar2qqbarNew                  an outgoing hard u, d or s quark
w       WeakBosonAndParton:qqbar2Wg, qg2Wq (W -> hadrons)     the W and both its quarks
z       WeakBosonAndParton:qqbar2gmZg, qg2gmZq (Z only,        the Z and both its quarks
        Z -> hadrons)
t       Top:gg2ttbar, Top:qqbar2ttbar (W -> hadrons)          the top, its b and the W's quarks
======  ====================================================  =================================

Jets: anti-kT R = 0.8 over all visible final-state particles (or the detector response below),
pT in [800, 1400] GeV, |eta| < 2.5.  Soft-drop mass (beta = 0, z_cut = 0.1, C/A reclustering) is
stored as ``j_mass_sd``.

Detector response ``simple`` (the default in configs; ``none`` keeps every visible particle): charged
particles keep their direction and get 1 % pT smearing; photons and neutral hadrons are merged into
calorimeter clusters (anti-kT R = 0.05 among neutrals, about a calorimeter tower) whose energy is
smeared by 20 %/sqrt(E) (+) 3 %; every candidate must have pT > 1 GeV.  Measured here it does *not*
close the gap to the real hls4ml sample's collimation (mean constituent dR rises; docs/data.md), so
it is an option, not the default.

Determinism: the work is cut into fixed tasks (class, chunk) whose seeds derive from the run seed,
and results are gathered in task order, so the file is the same for any number of workers.  The tasks
run in this process (one worker) or as Ray tasks (local CPUs or a cluster); each finished task is kept
beside the output until the file is written, which is written to a temporary name and renamed at the
end: an interrupted run leaves no truncated file and resumes without redoing finished tasks.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

from l1tag.data.features import CLASSES, HLS4ML_PARTICLE_NAMES, LABEL_NAMES, constituent_features
from l1tag.errors import DataError
from l1tag.files import write_bytes, write_text

log = logging.getLogger("l1tag")

CHUNK_JETS = 250  # jets per task: small enough for a smooth progress bar, big enough to amortise init
PYTHIA_MAX_SEED = 900_000_000

PROCESSES = {
    "g": ["HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"],
    "q": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on"],
    "w": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
          "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
    "z": ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
          "23:onMode = off", "23:onIfAny = 1 2 3 4 5"],
    "t": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
}

JET_COLUMNS = ("j_pt", "j_eta", "j_phi", "j_mass", "j_mass_sd", "j_energy", "j_multiplicity", "j_truth_pt")


@dataclass(frozen=True)
class GeneratorSettings:
    sqrt_s_gev: float = 13000.0
    pthat_min_gev: float = 950.0
    pthat_max_gev: float = 1150.0
    jet_radius: float = 0.8
    jet_pt_min_gev: float = 800.0
    jet_pt_max_gev: float = 1400.0
    jet_abs_eta_max: float = 2.5
    constituents: int = 150
    detector: str = "none"
    softdrop_zcut: float = 0.1
    softdrop_beta: float = 0.0


def _task_seed(seed: int, class_index: int, chunk: int) -> int:
    state = np.random.SeedSequence([seed, class_index, chunk]).generate_state(1)[0]
    return int(state % PYTHIA_MAX_SEED) + 1


# ------------------------------------------------------------------------------------------
# Worker side: one task = CHUNK_JETS jets of one class
# ------------------------------------------------------------------------------------------


def _truth_targets(event, cls: str) -> list[tuple[float, float, float, list[tuple[float, float]]]]:
    """(eta, phi, pt, [(eta, phi) of decay quarks]) of each object a jet of class ``cls`` must match."""
    targets = []
    for i in range(event.size()):
        p = event[i]
        aid = abs(p.id())
        if cls in ("g", "q"):
            if p.status() == -23 and ((cls == "g" and aid == 21) or (cls == "q" and 1 <= aid <= 3)):
                targets.append((p.eta(), p.phi(), p.pT(), []))
        elif (cls == "w" and aid == 24) or (cls == "z" and aid == 23) or (cls == "t" and aid == 6):
            if p.iBotCopyId() != i:  # only the last copy decays
                continue
            quarks = _decay_quarks(event, i)
            if quarks is not None:
                targets.append((p.eta(), p.phi(), p.pT(), quarks))
    return targets


def _decay_quarks(event, i: int) -> list[tuple[float, float]] | None:
    """Directions of the quarks from the decay of particle ``i`` (for a top: its b and the W's quarks)."""
    out = []
    for d in event[i].daughterList():
        q = event[d]
        if abs(q.id()) <= 5:
            out.append((q.eta(), q.phi()))
        elif abs(q.id()) == 24:
            w = q.iBotCopyId()
            sub = [(event[k].eta(), event[k].phi()) for k in event[w].daughterList() if abs(event[k].id()) <= 5]
            if len(sub) != 2:
                return None
            out += sub
    expected = 3 if abs(event[i].id()) == 6 else 2
    return out if len(out) == expected else None


def _delta_r(eta1: float, phi1: float, eta2: float, phi2: float) -> float:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return float(np.hypot(eta1 - eta2, dphi))


def _detector_response(particles: list[tuple[float, float, float, float, bool]], rng: np.random.Generator, fj):
    """Charged: 1 % pT smearing; neutrals: R = 0.05 clusters, 20 %/sqrt(E) (+) 3 % energy smearing; pT > 1 GeV."""
    out = []
    neutrals = []
    for px, py, pz, e, charged in particles:
        if charged:
            s = 1.0 + 0.01 * rng.standard_normal()
            out.append(fj.PseudoJet(px * s, py * s, pz * s, e * s))
        else:
            neutrals.append(fj.PseudoJet(px, py, pz, e))
    if neutrals:
        cs = fj.ClusterSequence(neutrals, fj.JetDefinition(fj.antikt_algorithm, 0.05))
        for c in cs.inclusive_jets(0.0):
            sigma = np.hypot(0.20 / np.sqrt(max(c.e(), 1e-3)), 0.03)
            s = max(1.0 + sigma * rng.standard_normal(), 0.0)
            out.append(fj.PseudoJet(c.px() * s, c.py() * s, c.pz() * s, c.e() * s))
    return [p for p in out if p.pt() > 1.0]


def softdrop_mass(constituents, settings: GeneratorSettings, fj) -> float:
    """mMDT / soft drop: decluster the C/A tree until min(pT)/(pT1+pT2) > z_cut (dR/R)^beta (``constituents``:
    FastJet PseudoJets; ``fj``: the fastjet module).  Also l1tag.data.observables' soft-drop mass."""
    cs = fj.ClusterSequence(list(constituents), fj.JetDefinition(fj.cambridge_algorithm, 10.0))
    jets = cs.inclusive_jets(0.0)
    if not jets:
        return 0.0
    j = max(jets, key=lambda x: x.pt())
    a, b = fj.PseudoJet(), fj.PseudoJet()
    while j.has_parents(a, b):
        z = min(a.pt(), b.pt()) / (a.pt() + b.pt())
        if z > settings.softdrop_zcut * (a.delta_R(b) / settings.jet_radius) ** settings.softdrop_beta:
            return j.m()
        j = a if a.pt() > b.pt() else b
        a, b = fj.PseudoJet(), fj.PseudoJet()
    return j.m()


def generate_task(args: tuple) -> tuple[np.ndarray, np.ndarray, int]:
    """Generate one task's jets: returns (p4 (n, C, 4), jet columns (n, len(JET_COLUMNS)), events)."""
    try:
        return _generate_task(*args)
    except Exception as exc:  # re-raise as plain text: SWIG objects in an exception do not pickle back
        raise RuntimeError(f"jet generation failed ({args[0]} jets, seed {args[2]}): "
                           f"{type(exc).__name__}: {str(exc)[:300]}") from None


def _generate_task(cls: str, n_jets: int, seed: int, settings_dict: dict) -> tuple[np.ndarray, np.ndarray, int]:
    import fastjet as fj
    import pythia8mc

    # FastJet (Cacciari, Salam, Soyez, EPJC 72 (2012) 1896) is cited in docs/data.md and the file's
    # attributes instead of having every worker print its banner into the progress output.
    fj._swig.ClusterSequence.set_fastjet_banner_stream(None)
    settings = GeneratorSettings(**settings_dict)
    pythia = pythia8mc.Pythia("", False)
    for line in [
        f"Beams:eCM = {settings.sqrt_s_gev}", f"PhaseSpace:pTHatMin = {settings.pthat_min_gev}",
        f"PhaseSpace:pTHatMax = {settings.pthat_max_gev}", "Random:setSeed = on", f"Random:seed = {seed}",
        "Next:numberCount = 0", "Print:quiet = on", *PROCESSES[cls],
    ]:
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise for class {cls}")
    rng = np.random.default_rng(seed)
    jet_def = fj.JetDefinition(fj.antikt_algorithm, settings.jet_radius)
    p4 = np.zeros((n_jets, settings.constituents, 4))
    cols = np.zeros((n_jets, len(JET_COLUMNS)))
    found = events = 0
    max_events = 100 * n_jets + 1000  # guards against a process that never yields a matched jet
    while found < n_jets:
        events += 1
        if events > max_events:
            raise RuntimeError(f"class {cls}: only {found} matched jets in {max_events} events")
        if not pythia.next():
            continue
        ev = pythia.event
        targets = _truth_targets(ev, cls)
        if not targets:
            continue
        visible = [(ev[k].px(), ev[k].py(), ev[k].pz(), ev[k].e(), ev[k].isCharged())
                   for k in range(ev.size()) if ev[k].isFinal() and ev[k].isVisible()]
        if settings.detector == "simple":
            inputs = _detector_response(visible, rng, fj)
        else:
            inputs = [fj.PseudoJet(px, py, pz, e) for px, py, pz, e, _ in visible]
        cs = fj.ClusterSequence(inputs, jet_def)
        for jet in fj.sorted_by_pt(cs.inclusive_jets(settings.jet_pt_min_gev)):
            if found == n_jets:
                break
            if jet.pt() > settings.jet_pt_max_gev or abs(jet.eta()) >= settings.jet_abs_eta_max:
                continue
            match = _match(jet, targets, settings.jet_radius)
            if match is None:
                continue
            parts = fj.sorted_by_pt(jet.constituents())
            keep = parts[: settings.constituents]
            p4[found, : len(keep)] = [(p.px(), p.py(), p.pz(), p.e()) for p in keep]
            cols[found] = (jet.pt(), jet.eta(), jet.phi_std(), jet.m(), softdrop_mass(parts, settings, fj),
                           jet.e(), len(parts), match[2])
            found += 1
    return p4, cols, events


def _match(jet, targets, radius: float):
    for t in targets:
        eta, phi, _pt, quarks = t
        if _delta_r(jet.eta(), jet.phi_std(), eta, phi) < radius and all(
            _delta_r(jet.eta(), jet.phi_std(), qe, qp) < radius for qe, qp in quarks
        ):
            return t
    return None


# ------------------------------------------------------------------------------------------
# Driver: tasks inline (one worker) or as Ray tasks, each finished task kept on disk, gathered in task order
# ------------------------------------------------------------------------------------------


def _tasks(per_class: int, seed: int, settings: GeneratorSettings) -> list[tuple]:
    tasks = []
    for ci, cls in enumerate(CLASSES):
        for chunk, start in enumerate(range(0, per_class, CHUNK_JETS)):
            n = min(CHUNK_JETS, per_class - start)
            tasks.append((cls, n, _task_seed(seed, ci, chunk), asdict(settings)))
    return tasks


class _Partial:
    """The finished tasks of a generation, one ``task-<i>.npz`` each in ``<out>.partial/`` beside the output,
    under a manifest of what is being generated: an interrupted run keeps them, a rerun with the same
    settings generates only the rest, and any other settings start afresh."""

    def __init__(self, out: Path, manifest: dict):
        self.dir = out.with_name(out.name + ".partial")
        self.manifest = manifest
        record = self.dir / "manifest.json"
        if self.dir.is_dir() and (not record.is_file() or json.loads(record.read_text()) != manifest):
            shutil.rmtree(self.dir)
        self.dir.mkdir(exist_ok=True)
        write_text(record, json.dumps(manifest, sort_keys=True))

    def _file(self, i: int) -> Path:
        return self.dir / f"task-{i:05d}.npz"

    def done(self, n_tasks: int) -> dict[int, tuple]:
        out = {}
        for i in range(n_tasks):
            try:
                with np.load(self._file(i)) as z:
                    out[i] = (z["p4"], z["cols"], int(z["events"]))
            except (OSError, ValueError, KeyError):  # not finished (or cut short while written: np.savez is
                continue                            # written to a temporary name and renamed)
        return out

    def keep(self, i: int, result: tuple) -> None:
        buf = io.BytesIO()
        np.savez(buf, p4=result[0], cols=result[1], events=result[2])
        write_bytes(self._file(i), buf.getvalue())

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _run_inline(pending: list[int], tasks: list[tuple], partial: _Partial, bar) -> None:
    for i in pending:
        result = generate_task(tasks[i])
        partial.keep(i, result)
        bar.update(len(result[0]))


def _run_ray(pending: list[int], tasks: list[tuple], partial: _Partial, bar, jobs: int, address: str | None) -> None:
    """The pending tasks as Ray tasks of one CPU each, on ``jobs`` local CPUs or the cluster at ``address``;
    each result is kept as it arrives (l1tag/parallel.py starts Ray)."""
    from l1tag.parallel import local_ray

    with local_ray(jobs, address) as ray:
        remote = ray.remote(num_cpus=1, max_retries=0)(generate_task)
        refs = {remote.remote(tasks[i]): i for i in pending}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the worker's RuntimeError, one line
                    raise RuntimeError(str(exc.cause) if exc.cause else str(exc).splitlines()[-1]) from None
                partial.keep(i, result)
                bar.update(len(result[0]))


def generate(out: str | Path, jets: int, seed: int = 42, jobs: int = 2, constituents: int = 150,
             detector: str = "none", progress: bool = True, address: str | None = None) -> Path:
    """Generate ``jets`` jets (equal numbers of g, q, W, Z, t) into ``out`` in the hls4ml layout.

    With ``jobs`` = 1 (and no ``address``) the tasks run in this process; otherwise as Ray tasks on ``jobs``
    local CPUs, or on the Ray cluster at ``address``.  Each finished task is kept in ``<out>.partial/`` until
    the file is written, so an interrupted generation resumes where it stopped.  The file is the same, byte
    for byte, whatever the workers (tasks have fixed seeds and are gathered in task order)."""
    from tqdm import tqdm

    out = Path(out)
    per_class = jets // len(CLASSES)
    if per_class < 1:
        raise DataError(f"--jets {jets}: need at least {len(CLASSES)} jets (one per class)")
    if per_class * len(CLASSES) != jets:
        log.warning("generating %d jets (%d per class) instead of %d: classes come in equal numbers",
                    per_class * len(CLASSES), per_class, jets)
    if detector not in ("none", "simple"):
        raise DataError(f"detector '{detector}': expected 'none' or 'simple'")
    if not out.parent.exists():
        raise DataError(f"{out}: folder {out.parent} does not exist")
    settings = GeneratorSettings(constituents=constituents, detector=detector)
    tasks = _tasks(per_class, seed, settings)
    partial = _Partial(out, {"seed": seed, "jets_per_class": per_class, "chunk": CHUNK_JETS,
                             "settings": asdict(settings), "pythia8mc": version("pythia8mc"),
                             "fastjet": version("fastjet")})
    results = partial.done(len(tasks))
    pending = [i for i in range(len(tasks)) if i not in results]
    if results:
        log.info("resuming: %d of %d generation tasks already done in %s", len(results), len(tasks), partial.dir)
    bar = tqdm(total=per_class * len(CLASSES), unit="jet", desc="generating jets", disable=not progress,
               initial=sum(len(r[0]) for r in results.values()))
    try:
        if jobs == 1 and address is None:
            _run_inline(pending, tasks, partial, bar)
        elif pending:
            _run_ray(pending, tasks, partial, bar, jobs, address)
    finally:
        bar.close()
    results = partial.done(len(tasks))
    missing = [i for i in range(len(tasks)) if i not in results]
    if missing:
        raise DataError(f"{out}: {len(missing)} generation tasks have no result in {partial.dir}; run again to "
                        f"generate them")

    p4 = np.concatenate([results[i][0] for i in range(len(tasks))])
    cols = np.concatenate([results[i][1] for i in range(len(tasks))])
    events = sum(results[i][2] for i in range(len(tasks)))
    labels = np.concatenate([np.full(t[1], CLASSES.index(t[0])) for t in tasks])
    order = np.random.default_rng(seed).permutation(len(labels))  # mixed classes, as the hls4ml files
    p4, cols, labels = p4[order], cols[order], labels[order]
    _write_hls4ml(out, p4, cols, labels, seed, settings, events)
    partial.remove()
    log.info("wrote %s: %d jets from %d events", out, len(labels), events)
    return out


def check_generated(path: str | Path, jets: int, seed: int, constituents: int, detector: str) -> None:
    """A file at data.path (source: generate) is reused only if l1tag generated it with these settings: the
    number of jets (as :func:`generate` rounds it), seed and detector equal, at least ``constituents`` stored.
    DataError naming the first difference otherwise."""
    want = {"jets": jets // len(CLASSES) * len(CLASSES), "seed": seed, "detector": detector}
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
            rows = f["jets"].shape[0] if isinstance(f.get("jets"), h5py.Dataset) else None
    except OSError as exc:
        raise DataError(f"{path}: data.path (data.source generate) exists but cannot be read as HDF5 "
                        f"({type(exc).__name__}); remove it to generate the jets again") from None
    if "generator" not in attrs or rows is None:
        raise DataError(f"{path}: data.path (data.source generate) exists but l1tag did not generate it (no "
                        f"generator settings recorded); set data.source: hls4ml to read it, or remove it to generate")
    have = {"jets": rows, "seed": _plain(attrs.get("seed")), "detector": _plain(attrs.get("detector"))}
    diffs = [f"{k} {have[k]!r} (the config asks for {want[k]!r})" for k in want if have[k] != want[k]]
    stored = _plain(attrs.get("constituents"))
    if not isinstance(stored, int) or stored < constituents:
        diffs.append(f"{stored!r} constituents per jet (the config needs at least {constituents})")
    if diffs:
        raise DataError(f"{path}: data.path was generated with other settings: {'; '.join(diffs)}; remove the "
                        f"file (or point data.path elsewhere) to generate the jets the config asks for")


def _plain(v):
    """An HDF5 attribute as a plain Python value (numpy scalars, bytes)."""
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v.item() if hasattr(v, "item") else v


def _write_hls4ml(out: Path, p4, cols, labels, seed: int, settings: GeneratorSettings, events: int) -> None:
    # the full jet (not the truncated constituent list) is the axis of etarel/phirel, as in hls4ml
    c = {name: cols[:, i] for i, name in enumerate(JET_COLUMNS)}
    jet_p4 = np.stack([c["j_pt"] * np.cos(c["j_phi"]), c["j_pt"] * np.sin(c["j_phi"]),
                       c["j_pt"] * np.sinh(c["j_eta"]), c["j_energy"]], axis=1)
    onehot = np.zeros((len(labels), len(LABEL_NAMES)))
    onehot[np.arange(len(labels)), labels] = 1.0
    image = io.BytesIO()  # HDF5 builds the file in memory: on a full disk it crashes at exit rather than fail
    with h5py.File(image, "w") as f:
        f.create_dataset("jetConstituentList", data=constituent_features(p4, jet_p4), compression="gzip")
        f.create_dataset("jets", data=np.concatenate([cols, onehot], axis=1))
        f.create_dataset("jetFeatureNames", data=np.array([n.encode() for n in JET_COLUMNS + LABEL_NAMES]))
        f.create_dataset("particleFeatureNames", data=np.array([n.encode() for n in HLS4ML_PARTICLE_NAMES]))
        f.attrs["generator"] = f"l1tag: Pythia 8 (pythia8mc {version('pythia8mc')}) + FastJet {version('fastjet')}"
        f.attrs["seed"] = seed
        f.attrs["events"] = events
        for k, v in asdict(settings).items():
            f.attrs[k] = v
        for cls, lines in PROCESSES.items():
            f.attrs[f"process_{cls}"] = "; ".join(lines)
    write_bytes(out, image.getvalue())  # atomic; a full disk is one clear error naming the file
