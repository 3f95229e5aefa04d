"""YAML configuration -> frozen, validated dataclasses.

One schema, written once as dataclasses: each field's type and its ``metadata['check']`` say what
is accepted, and the same description ends up in the error message.  Errors name the key by its
dotted path (``model.partitions: expected a positive integer, got 'four'``); unknown keys are
rejected with a did-you-mean suggestion; relative paths resolve against the config file's folder.
YAML is read with ``yaml.safe_load`` (no object construction).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from l1tag.errors import ConfigError

# --------------------------------------------------------------------------------------------
# Checks: each returns the converted value or raises ValueError with "expected ..." text.
# --------------------------------------------------------------------------------------------


class Check:
    """A value check with a human description used in error messages."""

    def __init__(self, expected: str, fn: Callable[[Any], Any]):
        self.expected = expected
        self.fn = fn

    def __call__(self, value: Any) -> Any:
        return self.fn(value)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    if minimum == 1 and maximum is None:
        expected = "a positive integer"
    elif minimum == 0 and maximum is None:
        expected = "a non-negative integer"
    else:
        expected = f"an integer in [{minimum if minimum is not None else '-inf'}, " \
                   f"{maximum if maximum is not None else 'inf'}]"

    def fn(v: Any) -> int:
        if not _is_int(v) or (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise ValueError
        return int(v)

    return Check(expected, fn)


def number(minimum: float | None = None, maximum: float | None = None, open_min: bool = False) -> Check:
    lo = "(" if open_min else "["
    expected = f"a number in {lo}{minimum if minimum is not None else '-inf'}, " \
               f"{maximum if maximum is not None else 'inf'}]"
    if minimum == 0 and maximum is None and open_min:
        expected = "a positive number"

    def fn(v: Any) -> float:
        if not _is_number(v):
            raise ValueError
        v = float(v)
        if minimum is not None and (v < minimum or (open_min and v == minimum)):
            raise ValueError
        if maximum is not None and v > maximum:
            raise ValueError
        return v

    return Check(expected, fn)


def boolean() -> Check:
    def fn(v: Any) -> bool:
        if not isinstance(v, bool):
            raise ValueError
        return v

    return Check("true or false", fn)


def choice(*options: str) -> Check:
    def fn(v: Any) -> str:
        if not isinstance(v, str) or v not in options:
            raise ValueError
        return v

    return Check("one of " + ", ".join(repr(o) for o in options), fn)


def text() -> Check:
    def fn(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError
        return v

    return Check("a non-empty string", fn)


def identifier() -> Check:
    def fn(v: Any) -> str:
        if not isinstance(v, str) or not v or not all(c.isalnum() or c in "_-" for c in v):
            raise ValueError
        return v

    return Check("a name of letters, digits, '_' or '-'", fn)


def c_identifier() -> Check:
    def fn(v: Any) -> str:
        if not isinstance(v, str) or not v.isidentifier() or not v.isascii():
            raise ValueError
        return v

    return Check("a C identifier (letters, digits, '_', not starting with a digit)", fn)


def optional(check: Check) -> Check:
    def fn(v: Any) -> Any:
        return None if v is None else check(v)

    return Check(check.expected + " (or null)", fn)


def list_of(check: Check, min_len: int = 1, length: int | None = None) -> Check:
    if length is not None:
        expected = f"a list of {length} items, each {check.expected}"
    else:
        expected = ("a non-empty list" if min_len else "a list") + f", each item {check.expected}"

    def fn(v: Any) -> tuple:
        if not isinstance(v, (list, tuple)) or len(v) < min_len or (length is not None and len(v) != length):
            raise ValueError
        return tuple(check(x) for x in v)

    return Check(expected, fn)


def fractions_summing_to_one() -> Check:
    def fn(v: Any) -> tuple:
        if not isinstance(v, (list, tuple)) or len(v) != 3 or not all(_is_number(x) and 0 < x < 1 for x in v):
            raise ValueError
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError
        return tuple(float(x) for x in v)

    return Check("three fractions (train, validation, test), each in (0, 1), summing to 1", fn)


def path() -> Check:
    """A path; made absolute against the config file's folder by ``_resolve_paths``."""

    def fn(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError
        return v

    return Check("a file path", fn)


def _f(default: Any, check: Check, doc: str, is_path: bool = False, required: bool = False) -> Any:
    meta = {"check": check, "doc": doc, "path": is_path, "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------

HLS4ML_PARTICLE_FEATURES = (
    "px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot",
    "phi", "phirel", "phirot", "deltaR", "costheta", "costhetarel",
)


@dataclass(frozen=True)
class DataConfig:
    source: str = _f("generate", choice("generate", "hls4ml", "jetclass"),
                     "where jets come from: generated with Pythia 8 + FastJet, or existing files")
    path: str | None = _f(None, optional(path()),
                          "input file, list or glob for hls4ml/jetclass; generated file for 'generate' "
                          "(default: <build>/data/jets-<jets>-seed<seed>-<detector>-c<n>.h5)", is_path=True)
    jets: int = _f(50000, integer(1), "number of jets to generate (source: generate)")
    generate_jobs: int = _f(2, integer(1), "parallel generator processes")
    detector: str = _f("none", choice("none", "simple"),
                       "detector response for generated jets (see README: data)")
    constituents: int = _f(32, integer(1, 150), "n: constituents kept per jet")
    features: tuple = _f(["pt", "etarel", "phirel"], list_of(choice(*HLS4ML_PARTICLE_FEATURES)),
                         "per-particle features by hls4ml name")
    pt_min: float = _f(0.0, number(0.0), "drop constituents below this pT (GeV)")
    sort_by: str = _f("kt", choice("kt", "pt", "dr", "none"),
                      "constituent order (on physical values, before normalisation)")
    normalization: str = _f("robust", choice("robust", "standard", "none"),
                            "feature scaling fitted on the training split only")
    split: tuple = _f([0.6, 0.2, 0.2], fractions_summing_to_one(), "train/validation/test fractions")


@dataclass(frozen=True)
class ModelConfig:
    type: str = _f("salt", choice("salt", "linformer", "transformer", "deepsets"), "tagger architecture")
    d_model: int = _f(16, integer(1), "embedding width d")
    heads: int = _f(4, integer(1), "attention heads H (d_model must be divisible by heads)")
    partitions: int = _f(4, integer(1), "SAL-T partitions p / Linformer projected length")
    ffn_dim: int = _f(16, integer(1), "feed-forward hidden width")
    blocks: int = _f(1, integer(1), "attention blocks")
    conv_kernel: tuple = _f([3, 3], list_of(integer(1), length=2), "SAL-T attention-score conv kernel (rows, cols)")
    head_dims: tuple = _f([16], list_of(integer(1), min_len=0), "hidden widths of the MLP after pooling")
    phi_dims: tuple = _f([32, 32, 32], list_of(integer(1)), "Deep Sets per-particle widths")
    pooling: str = _f("max", choice("max", "mean"), "pooling over particles")
    classes: int = _f(5, integer(2), "output classes (g, q, W, Z, t)")


@dataclass(frozen=True)
class QuantizerConfig:
    bits: int = _f(8, integer(2, 32), "total bits")
    integer: int = _f(0, integer(-8, 31), "integer bits (excluding the sign bit, QKeras convention)")


@dataclass(frozen=True)
class QuantizationConfig:
    enabled: bool = _f(True, boolean(), "quantization-aware training")
    input: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=14, integer=5))
    weights: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=1))
    bias: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=2))
    activations: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=3))
    scores: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=10, integer=4))
    softmax: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=0))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _f(60, integer(1), "float training epochs (upper bound; early stopping)")
    qat_epochs: int = _f(20, integer(0), "quantization-aware fine-tuning epochs from the float weights")
    batch_size: int = _f(256, integer(1), "batch size")
    learning_rate: float = _f(5e-3, number(0.0, open_min=True), "Adam learning rate (QAT uses a quarter)")
    lr_schedule: str = _f("cosine", choice("cosine", "plateau", "constant"), "learning-rate schedule")
    patience: int = _f(8, integer(1), "early-stopping patience in epochs (validation loss)")


@dataclass(frozen=True)
class HLSConfig:
    backend: str = _f("Vitis", choice("Vitis", "Vivado"), "hls4ml backend")
    part: str = _f("xcvu13p-flga2577-2-e", text(), "FPGA part")
    clock_period_ns: float = _f(5.0, number(0.0, open_min=True), "target clock period (ns)")
    io_type: str = _f("io_parallel", choice("io_parallel"), "hls4ml IO type")
    strategy: str = _f("Latency", choice("Latency", "Resource"), "hls4ml strategy")
    reuse_factor: int = _f(1, integer(1), "multiplier reuse factor")
    table_size: int = _f(1024, integer(16, 65536), "softmax/tanh lookup-table entries")
    project_name: str = _f("myproject", c_identifier(), "HLS top-function / project name")


@dataclass(frozen=True)
class CsimConfig:
    jets: int = _f(1000, integer(1), "test jets run through the C simulation")
    min_argmax_agreement_quantized: float = _f(0.95, number(0.0, 1.0),
                                                "fail the C-sim check below this agreement with QKeras")


@dataclass(frozen=True)
class BudgetConfig:
    file: str = _f("budgets/l1t_200mhz_tm18.yaml", path(), "L1T budget file", is_path=True)


@dataclass(frozen=True)
class Config:
    name: str = _f(None, identifier(), "build name (build/<name>)", required=True)
    seed: int = _f(42, integer(0), "fixes data, training and therefore firmware")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    hls: HLSConfig = field(default_factory=HLSConfig)
    csim: CsimConfig = field(default_factory=CsimConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    source_file: str | None = field(default=None, metadata={"internal": True})

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-serialisable data (what report.json records)."""
        out = _to_plain(self)
        out.pop("source_file", None)
        return out

    def section_hash(self, *sections: str) -> str:
        """Stable hash of some sections; the build uses it to decide which stages to rerun."""
        d = self.to_dict()
        blob = json.dumps({s: d[s] for s in sections}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(x) for x in obj]
    return obj


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _build(cls: type, raw: Any, where: str, base_dir: Path, origin: str) -> Any:
    label = where or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: {label}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs = {}
    for key, value in raw.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in fields:
            hint = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; valid keys: {', '.join(fields)}"
            raise ConfigError(f"{origin}: unknown key '{dotted}'{suggestion}")
        f = fields[key]
        sub = _dataclass_type(cls, f)
        if sub is not None:
            kwargs[key] = _build(sub, value, dotted, base_dir, origin)
            continue
        check: Check = f.metadata["check"]
        try:
            converted = check(value)
        except (ValueError, TypeError):
            raise ConfigError(f"{origin}: {dotted}: expected {check.expected}, got {value!r}") from None
        if f.metadata.get("path") and converted is not None:
            converted = str((base_dir / converted).resolve()) if not Path(converted).is_absolute() else converted
        kwargs[key] = converted
    for name, f in fields.items():
        if name not in kwargs and f.metadata.get("required"):
            dotted = f"{where}.{name}" if where else name
            raise ConfigError(f"{origin}: missing required key '{dotted}' ({f.metadata['doc']})")
    # Path defaults (e.g. budget.file) resolve against the config folder too.
    for name, f in fields.items():
        if name not in kwargs and f.metadata.get("path") and isinstance(f.default, str):
            kwargs[name] = str((base_dir / f.default).resolve())
    return cls(**kwargs)


def _dataclass_type(cls: type, f: dataclasses.Field) -> type | None:
    """The nested section class of a field, or None for a plain value."""
    hint = typing.get_type_hints(cls).get(f.name)
    return hint if dataclasses.is_dataclass(hint) else None


def _cross_checks(cfg: Config, origin: str) -> None:
    m = cfg.model
    if m.type != "deepsets" and m.d_model % m.heads:
        raise ConfigError(f"{origin}: model.d_model ({m.d_model}) must be divisible by model.heads ({m.heads})")
    if m.type in ("salt", "linformer") and m.partitions > cfg.data.constituents:
        raise ConfigError(f"{origin}: model.partitions ({m.partitions}) must not exceed data.constituents "
                          f"({cfg.data.constituents})")
    if cfg.data.source != "generate" and cfg.data.path is None:
        raise ConfigError(f"{origin}: data.path is required when data.source is '{cfg.data.source}'")
    q = cfg.quantization
    for name in ("input", "weights", "bias", "activations", "scores", "softmax"):
        qc: QuantizerConfig = getattr(q, name)
        if qc.integer >= qc.bits:
            raise ConfigError(f"{origin}: quantization.{name}.integer ({qc.integer}) must be smaller than "
                              f"quantization.{name}.bits ({qc.bits}); the sign bit needs one")


def config_from_dict(raw: Any, base_dir: Path | str = ".", origin: str = "<config>") -> Config:
    """Validate a raw mapping (as read from YAML) into a :class:`Config`."""
    cfg = _build(Config, raw, "", Path(base_dir).resolve(), origin)
    _cross_checks(cfg, origin)
    return cfg


def load_config(file: str | Path) -> Config:
    """Read and validate a YAML config; raises :class:`ConfigError` with one clear line."""
    p = Path(file)
    if not p.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config: {exc}") from None
    if raw is None:
        raise ConfigError(f"{file}: the config is empty; it needs at least 'name'")
    cfg = config_from_dict(raw, p.parent, str(file))
    return dataclasses.replace(cfg, source_file=str(p.resolve()))


# --------------------------------------------------------------------------------------------
# L1T budget files (configs/budgets/*.yaml, docs/design.md "Budgets")
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UtilizationLimits:
    LUT: float | None = _f(None, optional(number(0.0, 1.0)), "max fraction of the part's LUTs")
    FF: float | None = _f(None, optional(number(0.0, 1.0)), "max fraction of the part's flip-flops")
    DSP: float | None = _f(None, optional(number(0.0, 1.0)), "max fraction of the part's DSPs")
    BRAM_18K: float | None = _f(None, optional(number(0.0, 1.0)), "max fraction of the part's BRAM_18K")
    URAM: float | None = _f(None, optional(number(0.0, 1.0)), "max fraction of the part's URAMs")


@dataclass(frozen=True)
class BudgetLimits:
    latency_ns: float | None = _f(None, optional(number(0.0, open_min=True)), "max latency (ns)")
    ii_cycles: int | None = _f(None, optional(integer(1)), "max initiation interval (clock cycles)")
    utilization: UtilizationLimits = field(default_factory=UtilizationLimits)


@dataclass(frozen=True)
class Budget:
    name: str = _f(None, identifier(), "budget name", required=True)
    part: str = _f(None, text(), "FPGA part the limits refer to", required=True)
    clock_ns: float = _f(None, number(0.0, open_min=True), "clock period (ns)", required=True)
    limits: BudgetLimits = field(default_factory=BudgetLimits)


def load_budget(file: str | Path) -> Budget:
    """Read and validate an L1T budget file; raises :class:`ConfigError` naming the bad key."""
    p = Path(file)
    if not p.is_file():
        raise ConfigError(f"budget file not found: {file} (set budget.file in the config; "
                          f"shipped budgets are in configs/budgets/)")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return _build(Budget, raw if raw is not None else {}, "", p.parent.resolve(), str(file))


def config_reference_markdown() -> str:
    """The README's config reference table, generated from the schema so the two never drift apart."""
    rows = ["| key | default | meaning; accepted values |", "|---|---|---|"]

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            key, sub = prefix + f.name, hints[f.name]
            if sub is QuantizerConfig:
                q = f.default_factory()
                rows.append(f"| `{key}.bits`, `{key}.integer` | {q.bits}, {q.integer} | {f.name} quantizer: "
                            f"QKeras quantized_bits(bits, integer), integer bits exclude the sign |")
            elif dataclasses.is_dataclass(sub):
                walk(sub, key + ".")
            else:
                d = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                shown = "[" + ", ".join(map(str, d)) + "]" if isinstance(d, list) else ("required" if d is None and
                                                                                         f.metadata.get("required") else d)
                rows.append(f"| `{key}` | `{shown}` | {f.metadata['doc']}; {f.metadata['check'].expected} |")

    walk(Config, "")
    return "\n".join(rows)
