"""YAML configuration -> frozen, validated dataclasses.

One schema, written once as dataclasses: each field's type and its ``metadata['check']`` say what
is accepted, and the same description ends up in the error message.  Errors name the key by its
dotted path (``model.partitions: expected a positive integer, got 'four'``); unknown keys are
rejected with a did-you-mean suggestion; relative paths resolve against the config file's folder.
Every file a config refers to (input data, the budget file) is checked when it is loaded, and so is
``hls.part`` (against the parts table, or the budget file's own totals, and against the budget's part
and clock), so that a bad config fails in a second, not after minutes of data work.  Numbers must be
finite (NaN and inf are refused), sizes have upper bounds, and combinations that fail later (a pooling or
strategy the converter refuses, a C++ keyword as the top function) are refused at load.  YAML is read
with a safe loader (no object construction) that refuses duplicate keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import glob
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from l1tag import devices, kinds
from l1tag.data.features import (  # against the flow: docs/design.md "Imports"
    CLASSES,
    FEATURES,
    SYMMETRIES,
    TURNED,
    momentum_columns,
    unsupported_features,
)
from l1tag.errors import ConfigError
from l1tag.numerics.tables import DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE, MIN_TABLE_SIZE

# hls.strategy: how hls4ml builds the constant-weight layers; DA is hls4ml 1.3's distributed arithmetic (da4ml)
DA = "distributed_arithmetic"
STRATEGIES = (DA, "Latency", "Resource")
# The HLS tools, as report.json's hardware.source and hardware.tool name them, by hls.backend
VIVADO_HLS, VITIS_HLS = "vivado_hls", "vitis_hls"
HLS_TOOLS = {"Vitis": VITIS_HLS, "Vivado": VIVADO_HLS}

MAX_JETS = 10_000_000  # data.jets: the generator holds them in memory
MAX_WIDTH = 1024  # a layer width: every one is unrolled in the firmware

# The budgets that ship with l1tag, found by name from a config anywhere (like firmware_templates/).
SHIPPED_BUDGETS = Path(__file__).resolve().parents[1] / "configs" / "budgets"

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
        v = float(v)  # an int beyond float's range raises OverflowError, an ArithmeticError: caught by _build
        if not math.isfinite(v):  # NaN compares false with every bound, so it would pass them all
            raise ValueError
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


MAX_NAME = 64  # a name becomes folder and file names (<name>-firmware.tar.gz, temporary names beside it)


def identifier(max_len: int = MAX_NAME) -> Check:
    def fn(v: Any) -> str:
        if not isinstance(v, str) or not v or len(v) > max_len or not all(c.isascii() and (c.isalnum() or c in "_-")
                                                                            for c in v):
            raise ValueError
        return v

    return Check(f"a name of at most {max_len} letters, digits, '_' or '-'", fn)


# C++ keywords and alternative tokens (ISO C++20 [lex.key], [lex.digraph]): not usable as the top function
CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
while xor xor_eq main""".split())


def c_identifier(max_len: int = MAX_NAME) -> Check:
    def fn(v: Any) -> str:
        if (not isinstance(v, str) or not v.isidentifier() or not v.isascii() or len(v) > max_len
                or v in CPP_KEYWORDS):
            raise ValueError
        return v

    return Check(f"a C identifier of at most {max_len} characters (letters, digits, '_', not starting with a "
                 f"digit) that is not a C++ keyword or 'main'", fn)


def only(value: Any, why: str) -> Check:
    """A key with one working value today; ``why`` says why the others are refused."""

    def fn(v: Any) -> Any:
        if type(v) is not type(value) or v != value:
            raise ValueError
        return v

    return Check(f"{value!r} ({why})" if not isinstance(value, bool) else f"{str(value).lower()} ({why})", fn)


def optional(check: Check) -> Check:
    def fn(v: Any) -> Any:
        return None if v is None else check(v)

    return Check(check.expected + " (or null)", fn)


def list_of(check: Check, min_len: int = 1, length: int | None = None, max_len: int | None = None) -> Check:
    if length is not None:
        expected = f"a list of {length} items, each {check.expected}"
    else:
        expected = ("a non-empty list" if min_len else "a list") + (f" of at most {max_len}" if max_len else "") + \
            f", each item {check.expected}"

    def fn(v: Any) -> tuple:
        if not isinstance(v, (list, tuple)) or len(v) < min_len or (length is not None and len(v) != length) \
                or (max_len is not None and len(v) > max_len):
            raise ValueError
        return tuple(check(x) for x in v)

    return Check(expected, fn)


def power_of_two(minimum: int, maximum: int) -> Check:
    """hls4ml indexes its lookup tables with the top bits of the input, so sizes are powers of two."""

    def fn(v: Any) -> int:
        if not _is_int(v) or v < minimum or v > maximum or v & (v - 1):
            raise ValueError
        return int(v)

    return Check(f"a power of two in [{minimum}, {maximum}]", fn)


def fractions_summing_to_one() -> Check:
    def fn(v: Any) -> tuple:
        if not isinstance(v, (list, tuple)) or len(v) != 3 or not all(_is_number(x) and 0 < x < 1 for x in v):
            raise ValueError  # (NaN fails 0 < x)
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


a_path = path  # for dataclasses that have a field named ``path``


def paths() -> Check:
    """A file path or glob, or a list of them; each made absolute against the config file's folder."""

    def fn(v: Any) -> str | tuple:
        if isinstance(v, str) and v.strip():
            return v
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) and x.strip() for x in v):
            return tuple(v)
        raise ValueError

    return Check("a file path or glob, or a non-empty list of them", fn)


def _absolute(value: str, base_dir: Path) -> str:
    value = os.path.expanduser(value)
    return value if Path(value).is_absolute() else str((base_dir / value).resolve())


def _resolve_path(value: Any, base_dir: Path, dotted: str, origin: str) -> Any:
    """A path (or list of paths) made absolute against the config file's folder."""
    if isinstance(value, tuple):
        return tuple(_absolute(v, base_dir) for v in value)
    return _absolute(value, base_dir)


def shipped_budgets() -> list[str]:
    """Names of the budget files in the repo's configs/budgets/, usable as ``budget.file: <name>``."""
    return sorted(p.stem for p in SHIPPED_BUDGETS.glob("*.yaml"))


def _resolve_budget(value: str, base_dir: Path, dotted: str, origin: str) -> str:
    """A budget file next to the config (as a path) or else a shipped budget by name; it must exist."""
    local = Path(_absolute(value, base_dir))
    if local.is_file():
        return str(local)
    bare = "/" not in value and os.sep not in value
    if bare:
        shipped = SHIPPED_BUDGETS / (value if value.endswith((".yaml", ".yml")) else value + ".yaml")
        if shipped.is_file():
            return str(shipped.resolve())
    looked = f"no file {local}" + (" and no shipped budget of that name" if bare else "")
    raise ConfigError(f"{origin}: {dotted}: budget file not found: {value!r} ({looked}); give a path relative "
                      f"to the config's folder or a shipped budget: {', '.join(shipped_budgets()) or 'none found'}")


def setting(default: Any, check: Check, doc: str, is_path: bool = False, required: bool = False,
            resolve: Callable[[Any, Path, str, str], Any] | None = None) -> Any:
    """One key of the schema: its default, its check and its doc (the error messages and docs/config.md's
    config reference quote both); ``resolve(value, config_folder, dotted_key, origin)`` turns a path into a
    file."""
    meta = {"check": check, "doc": doc, "required": required,
            "resolve": resolve or (_resolve_path if is_path else None)}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------------------------
# The schema
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataConfig:
    source: str = setting("generate", choice("generate", "hls4ml", "jetclass"),
                          "where jets come from: generated with Pythia 8 + FastJet, or existing files")
    path: str | tuple | None = setting(None, optional(paths()),
                                       "input file, glob, or list of them for hls4ml/jetclass (each must exist or "
                                       "match files); the generated file for 'generate' (one path; default: an "
                                       "entry of the jet cache, data.cache_dir)", is_path=True)
    test_path: str | tuple | None = setting(None, optional(paths()),
                                            "a fixed test set, in the same forms and file format as data.path: the "
                                            "test split is exactly these files' jets (same selection, sorting and "
                                            "normalisation, fitted on the training split only), and train/validation "
                                            "come from data.path with data.split's first two fractions renormalised "
                                            "to sum to 1 (its test fraction is unused)", is_path=True)
    jets: int = setting(50000, integer(1, MAX_JETS), "number of jets to generate (source: generate)")
    generate_jobs: int = setting(2, integer(1, 256), "parallel generator workers (Ray tasks; 1: in the l1tag process)")
    cache_dir: str | None = setting(None, optional(a_path()),
                                    "the jet cache (source: generate, no data.path): generated files shared by every "
                                    "build, bench and search that asks for the same jets (default: $L1TAG_CACHE_DIR, "
                                    "else ~/.cache/l1tag/jets; l1tag/data/cache.py)", is_path=True)
    detector: str = setting("none", choice("none", "simple"),
                            "detector response for generated jets (see docs/data.md)")
    constituents: int = setting(32, integer(1, 150), "n: constituents kept per jet")
    features: tuple = setting(["pt", "etarel", "phirel"], list_of(choice(*FEATURES)),
                              "per-particle features by hls4ml name, or erest, pxrest, pyrest, pzrest: the "
                              "four-momentum in the jet's rest frame (l1tag/data/features.py)")
    pt_min: float = setting(0.0, number(0.0), "drop constituents below this pT (GeV)")
    sort_by: str = setting("kt", choice("kt", "pt", "dr", "eta", "none"),
                           "constituent order (on physical values, before normalisation; each descending: "
                           "kt = pT dR, pt, dr = dR to the jet axis, eta = eta relative to the jet)")
    normalization: str = setting("robust", choice("robust", "standard", "momentum", "none"),
                                 "feature scaling fitted on the training split only (momentum: the four-momentum "
                                 "divided by one common power of two and not centred, which keeps Lorentz "
                                 "transformations linear; the other features robust)")
    split: tuple = setting([0.6, 0.2, 0.2], fractions_summing_to_one(), "train/validation/test fractions")
    in_memory_jets: int = setting(250_000, integer(1),
                                  "the largest training split held in memory: a larger one (hls4ml-layout files: "
                                  "source generate or hls4ml) is prepared chunk by chunk into <build>/data/train.h5 "
                                  "and training streams it block by block (l1tag/data/preprocess.py); validation "
                                  "and test splits are always held in memory")


@dataclass(frozen=True)
class ModelConfig:
    type: str = setting("salt", choice(*kinds.NAMES), "tagger architecture (the registry of kinds, l1tag/kinds/)")
    d_model: int = setting(16, integer(1, MAX_WIDTH), "embedding width d")
    heads: int = setting(4, integer(1, MAX_WIDTH), "attention heads H (d_model must be divisible by heads)")
    partitions: int = setting(4, integer(1), "SAL-T partitions p / Linformer projected length")
    ffn_dim: int = setting(16, integer(1, MAX_WIDTH), "feed-forward hidden width")
    blocks: int = setting(1, integer(1, 16), "attention blocks")
    conv_kernel: tuple = setting([3, 3], list_of(integer(1, 31), length=2),
                                 "SAL-T attention-score conv kernel (rows, cols)")
    head_dims: tuple = setting([16], list_of(integer(1, MAX_WIDTH), min_len=0, max_len=8),
                               "hidden widths of the MLP after pooling")
    phi_dims: tuple = setting([32, 32, 32], list_of(integer(1, MAX_WIDTH), max_len=8), "Deep Sets per-particle widths")
    pooling: str = setting("max", only("max", "mean pooling has no bit-exact firmware yet"), "pooling over particles")
    pair_bias: bool = setting(False, boolean(),
                              "ParT's pairwise bias on the attention scores: ln dR, ln kT, ln z, ln m^2 of every "
                              "particle pair, embedded to one bias per head (l1tag/ops/pair_bias.py; needs "
                              "data.features pt, etarel, phirel; model.type transformer, or salt: U summed over "
                              "each partition by its key weights; always on for part; hls.parallelization_factor = n)")
    projection: str = setting("learned", choice("learned", "bins"),
                              "the Linformer's E, F: learned, or bins: fixed averages over p contiguous blocks of "
                              "ceil(n / p) particles in data.sort_by order (not trained)")
    vectors: int = setting(2, integer(1, MAX_WIDTH),
                           "lgatr_slim: Lorentz vectors per particle in the residual stream (4 features each; the "
                           "other d_model - 4 vectors are scalars; both divisible by model.heads)")
    pair_hidden: int = setting(0, integer(0, MAX_WIDTH), "units of a ReLU layer in the pair embedding (0: linear)")
    pair_bits: int = setting(12, integer(4, 16), "bits of the pairs' d eta, d phi in the pair bias (resolution "
                             "of ln dR: 2R / 2^(bits - 1))")
    classes: int = setting(len(CLASSES), only(len(CLASSES), "the generator and every reader give g, q, W, Z, t"),
                           "output classes (g, q, W, Z, t)")


@dataclass(frozen=True)
class QuantizerConfig:
    bits: int = setting(8, integer(2, 32), "total bits")
    integer: int = setting(0, integer(0, 31), "integer bits (excluding the sign bit, QKeras convention; QKeras' "
                           "quantized_bits cannot train with negative ones)")


HETEROGENEOUS = "heterogeneous"
TERNARY = "ternary"
TERNARY_TRAINING_DEFAULT = "ste"
WEIGHT_BITS_DEFAULT = 8  # quantization.weights.bits; in ternary mode the score-convolution taps' only


@dataclass(frozen=True)
class QuantizationTarget:
    ebops: int | None = setting(None, optional(integer(1, 10**12)),
                                "the resource the heterogeneous training steers to: effective bit operations of "
                                "the constant-weight layers (sum over weights of its bits x its input's bits, x "
                                "the particles it is applied to), as HGQ counts them")
    lut: int | None = setting(None, optional(integer(1, 10**9)),
                              "instead of ebops: the firmware's LUTs by l1tag's ESTIMATE at "
                              "hls.parallelization_factor; turned into an EBOPs target after the float training from "
                              "the estimate with every heterogeneous weight removed (the floor: a target at or below "
                              "it is refused, exit 2) and "
                              "at the starting widths, and corrected at 25, 45 and 65 % of the quantization-aware "
                              "epochs from the estimate of the model as it is then (l1tag/hardware/lut_target.py)")


@dataclass(frozen=True)
class QuantizationConfig:
    mode: str = setting("uniform", choice("uniform", HETEROGENEOUS, TERNARY),
                        "uniform: one QKeras type per tensor class (the keys below); heterogeneous: every weight of "
                        "the Dense layers and of the attention's Q, K, V learns its own fractional bits (HGQ's "
                        "quantizer, a resource term in the loss steered to quantization.target), "
                        "weights.bits - weights.integer - 1 to start; ternary: the weights of the Dense layers, "
                        "the attention (Q, K, V and its projections) and the pair bias are -s, 0 or +s, s a power "
                        "of two per layer from the float weights (l1tag/models/ternary.py), trained as "
                        "quantization.ternary_training says; quantization.weights then sets only the score "
                        "convolution's taps")
    target: QuantizationTarget = field(default_factory=QuantizationTarget)
    ternary_training: str = setting(TERNARY_TRAINING_DEFAULT, choice("ste", "parq"),
                                    "ternary mode's quantization-aware training: ste (rounded from the first step, "
                                    "straight-through gradient) or parq (PARQ's proximal step pulls latent weights "
                                    "onto -s, 0, +s along a soft-to-hard schedule; 5 points below ste on the "
                                    "default SAL-T, docs/models.md)")
    enabled: bool = setting(True, only(True, "the firmware is converted from the quantization-aware model; there is "
                                             "no float-firmware path"), "quantization-aware training")
    input: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=14, integer=5))
    weights: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=WEIGHT_BITS_DEFAULT, integer=1))
    bias: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=2))
    activations: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=3))
    scores: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=10, integer=4))
    softmax: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=8, integer=0))
    pair_features: QuantizerConfig = field(default_factory=lambda: QuantizerConfig(bits=12, integer=5))


@dataclass(frozen=True)
class LowRankConfig:
    strength: float | None = setting(None, optional(number(0.0, open_min=True)),
                                     "learned low rank: the nuclear-norm weight λ whose proximal step soft-thresholds "
                                     "each Dense kernel's singular values by λ x the learning rate after every float "
                                     "step; a layer whose learned rank r gives r (d_in + d_out) < d_in d_out becomes "
                                     "two Dense layers d_in -> r -> d_out (l1tag/models/low_rank.py); null: off")
    max_rank: int | None = setting(None, optional(integer(1)),
                                   "at most this many singular values kept per layer (with strength; below "
                                   "model.d_model, or the widest Deep Sets layer)")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(60, integer(1), "float training epochs: the cosine schedule's length, else an upper "
                                            "bound (early stopping)")
    qat_epochs: int = setting(20, integer(0), "quantization-aware fine-tuning epochs from the float weights")
    batch_size: int = setting(256, integer(1), "batch size")
    learning_rate: float = setting(5e-3, number(0.0, open_min=True), "Adam learning rate (QAT uses a quarter)")
    lr_schedule: str = setting("cosine", choice("cosine", "plateau", "constant"), "learning-rate schedule")
    patience: int = setting(8, integer(1), "early-stopping patience in epochs (validation loss) of the plateau and "
                                          "constant schedules; a cosine schedule runs all its epochs")
    augment: tuple = setting([], list_of(choice(*SYMMETRIES), min_len=0),
                             "symmetries shown at random each epoch to the training jets: rotation (about the jet "
                             "axis in the eta-phi plane), reflect_eta, reflect_phi (needs data.features of "
                             "l1tag/data/augment.py: etarel and phirel, and invariant ones); [] none")
    low_rank: LowRankConfig = field(default_factory=LowRankConfig)


@dataclass(frozen=True)
class HLSConfig:
    backend: str = setting("Vitis", choice(*HLS_TOOLS), "hls4ml backend")
    part: str = setting("xcvu13p-flga2577-2-e", text(),
                        "FPGA part: a device of l1tag/hardware/parts/ (any package, speed grade or case), or any part "
                        "if the budget file gives its totals")
    clock_period_ns: float = setting(5.0, number(0.0, open_min=True), "target clock period (ns)")
    io_type: str = setting("io_parallel", choice("io_parallel"), "hls4ml IO type")
    strategy: str = setting(DA, choice(*STRATEGIES),
                            "how hls4ml builds the constant-weight (Dense) layers: distributed_arithmetic (da4ml "
                            "adder graphs, no DSPs), Latency (multipliers) or Resource (multipliers shared "
                            "reuse_factor ways); l1tag's own kernels are particle loops in every case")
    parallelization_factor: int | None = setting(None, optional(integer(1)),
                                                 "P: particles processed per clock in every per-particle layer "
                                                 "(Dense, l1tag's attention and DynamicTanh); P divides "
                                                 "data.constituents, II = n / P; null: all n at once (fully parallel)")
    reuse_factor: int = setting(1, integer(1), "multiplier sharing of the Resource strategy (must be 1 otherwise)")
    table_size: int = setting(DEFAULT_TABLE_SIZE, power_of_two(MIN_TABLE_SIZE, MAX_TABLE_SIZE),
                                   "softmax/tanh lookup-table entries")
    variable_products: str = setting("lut", choice("lut", "dsp"),
                                     "how the attention's products of two variables are built (scores, softmax "
                                     "normalisation, A V', run-time projection weights): lut (BIND_OP impl=fabric) or "
                                     "dsp (impl=dsp); the estimate prices what this asks for")
    project_name: str = setting("myproject", c_identifier(), "HLS top-function / project name")


@dataclass(frozen=True)
class CsimConfig:
    jets: int | None = setting(None, optional(integer(1)), "test jets run through the C simulation (null: the whole "
                               "test split, so that every quality number is on the same jets)")
    # fidelity checks (exit 4 below them, after writing everything; see `l1tag.build.fidelity_checks`)
    min_bit_exact_fraction: float = setting(1.0, number(0.0, 1.0), "below this fraction of jets on which the C "
                                            "simulation equals the fixed-point reference bit for bit, the run exits 4")
    min_argmax_agreement_quantized: float = setting(0.999, number(0.0, 1.0),
                                                    "below this argmax agreement of the firmware with the QKeras model "
                                                    "the run exits 4 (after writing everything)")
    min_argmax_agreement_float: float = setting(0.85, number(0.0, 1.0),
                                                "below this argmax agreement of the firmware with the float model the "
                                                "run exits 4")
    max_accuracy_drop_float: float = setting(2.0, number(0.0), "above this drop of accuracy, float model -> "
                                             "firmware, in percentage points on the same jets, the run exits 4")


@dataclass(frozen=True)
class RtlConfig:
    """The open-synth stage (``l1tag/rtl``): da4ml Verilog of every block, Verilator, Yosys."""

    enabled: bool = setting(True, boolean(), "run the open-synth stage in `l1tag build` (da4ml Verilog of each block, "
                            "Verilator bit-exactness, Yosys counts); skipped with a warning when da4ml, Verilator or "
                            "Yosys is missing")
    jets: int = setting(1000, integer(1), "test jets whose block inputs (from the fixed-point reference) Verilator "
                        "simulates on every block")
    latency_cutoff: int = setting(5, integer(1), "adder levels per register stage of da4ml's pipelined Verilog "
                                  "(da4ml's delay unit, not a timed clock: no timing closure is run)")
    max_piece_cost: int = setting(40000, integer(100), "a block whose da4ml cost (~LUTs) exceeds this is simulated "
                                  "and synthesized in pieces (its outputs split into groups), to bound Yosys' time "
                                  "and memory")
    workers: int = setting(2, integer(1), "blocks built, simulated and synthesized at once")
    top: bool = setting(True, boolean(), "at P = n (II 1), also the whole tagger as one pipelined RTL design "
                        "(rtl/top/: Verilog, VHDL, a valid signal, exact latency), Verilator on every C-simulated "
                        "jet; at P < n only the blocks are checked")
    top_max_cost: int = setting(2500000, integer(1000), "the whole design is built in the build only when the "
                                "blocks' da4ml cost x copies is at most this (tracing and Verilator grow with it: "
                                "the n = 32 SAL-T, 1.9 M, takes ~7 min and ~5 GB with 2 workers); bench/rtl_top.py "
                                "builds larger ones")
    top_synth_max_cost: int = setting(60000, integer(0), "Yosys synthesizes the whole design in the build only up "
                                      "to this da4ml cost (its time and memory grow fast); bench/rtl_top.py "
                                      "synthesizes larger ones")


@dataclass(frozen=True)
class BudgetConfig:
    file: str = setting("l1t_200mhz_tm18", Check("a shipped budget's name or a file path", path().fn),
                        "L1T budget: a file path (relative to the config's folder) or the name of a budget shipped "
                        f"in configs/budgets/ ({', '.join(shipped_budgets())})", resolve=_resolve_budget)
    require_margin: str | None = setting(None, optional(choice("error_band")),
                                         "error_band: an ESTIMATED latency, II or utilization passes only at the high "
                                         "end of its 80 % band (l1tag/hardware/error_band.json, measured "
                                         "leave-one-repository-out on real designs); null: the value itself")


@dataclass(frozen=True)
class Config:
    name: str = setting(None, identifier(), "build name (build/<name>)", required=True)
    seed: int = setting(42, integer(0, 2**32 - 1), "fixes data, training and therefore firmware")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    hls: HLSConfig = field(default_factory=HLSConfig)
    csim: CsimConfig = field(default_factory=CsimConfig)
    rtl: RtlConfig = field(default_factory=RtlConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    source_file: str | None = field(default=None, metadata={"internal": True})

    def to_dict(self) -> dict:
        """The resolved config as plain JSON-serialisable data (what report.json records)."""
        out = _to_plain(self)
        out.pop("source_file", None)
        return out


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
            shown = f"'{dotted}'" if dotted.isprintable() else repr(dotted)  # one line, whatever the key holds
            raise ConfigError(f"{origin}: unknown key {shown}{suggestion}")
        f = fields[key]
        sub, nullable = _section_type(cls, f)
        if sub is not None:
            kwargs[key] = None if value is None and nullable else _build(sub, value, dotted, base_dir, origin)
            continue
        check: Check = f.metadata["check"]
        try:
            converted = check(value)
        except (ValueError, TypeError, ArithmeticError):
            raise ConfigError(f"{origin}: {dotted}: expected {check.expected}, got {value!r}") from None
        resolve = f.metadata.get("resolve")
        if resolve and converted is not None:
            converted = resolve(converted, base_dir, dotted, origin)
        kwargs[key] = converted
    for name, f in fields.items():
        if name not in kwargs and f.metadata.get("required"):
            dotted = f"{where}.{name}" if where else name
            raise ConfigError(f"{origin}: missing required key '{dotted}' ({f.metadata['doc']})")
    # Path defaults (e.g. budget.file) resolve too, also in a section the config leaves out.
    for name, f in fields.items():
        if name in kwargs:
            continue
        dotted = f"{where}.{name}" if where else name
        resolve = f.metadata.get("resolve")
        sub, _ = _section_type(cls, f)
        if resolve and isinstance(f.default, str):
            kwargs[name] = resolve(f.default, base_dir, dotted, origin)
        elif sub is not None and _resolves_a_default(sub):
            kwargs[name] = _build(sub, {}, dotted, base_dir, origin)
    return cls(**kwargs)


def _resolves_a_default(cls: type) -> bool:
    """Whether a section has a path default to resolve (its dataclass default would leave it relative)."""
    return any(f.metadata.get("resolve") and isinstance(f.default, str) for f in dataclasses.fields(cls))


def _section_type(cls: type, f: dataclasses.Field) -> tuple[type | None, bool]:
    """The nested section class of a field (None for a plain value), and whether null is allowed for it."""
    hint = typing.get_type_hints(cls).get(f.name)
    if dataclasses.is_dataclass(hint):
        return hint, False
    args = typing.get_args(hint)
    inner = [a for a in args if a is not type(None)]
    if len(inner) == 1 and len(args) == 2 and dataclasses.is_dataclass(inner[0]):
        return inner[0], True
    return None, False


def _augment_checks(cfg: Config, origin: str) -> None:
    aug, features = cfg.train.augment, cfg.data.features
    if not aug:
        return
    if bad := unsupported_features(features):
        raise ConfigError(f"{origin}: train.augment {list(aug)}: the symmetries are not defined on data.features "
                          f"{bad}; use relative features (etarel, phirel, pt, ptrel, e, erel, deltaR, costhetarel) "
                          f"or set train.augment: []")
    turned = [f for f in TURNED if f in features]
    if not turned:
        raise ConfigError(f"{origin}: train.augment {list(aug)} changes nothing: data.features {list(features)} has "
                          f"neither etarel nor phirel; add them or set train.augment: []")
    if "rotation" in aug and len(turned) == 1:
        raise ConfigError(f"{origin}: train.augment: rotation mixes etarel and phirel, but data.features has only "
                          f"{turned[0]}; add the other or drop rotation")


def _cross_checks(cfg: Config, origin: str) -> None:
    m = cfg.model
    kind = kinds.get(m.type)
    if kind.attention and m.d_model % m.heads:
        raise ConfigError(f"{origin}: model.d_model ({m.d_model}) must be divisible by model.heads ({m.heads})")
    if kind.uses_partitions and m.partitions > cfg.data.constituents:
        raise ConfigError(f"{origin}: model.partitions ({m.partitions}) must not exceed data.constituents "
                          f"({cfg.data.constituents})")
    if cfg.data.source != "generate" and cfg.data.path is None:
        raise ConfigError(f"{origin}: data.path is required when data.source is '{cfg.data.source}'")
    if cfg.data.source == "generate" and cfg.data.path is not None and (
            isinstance(cfg.data.path, tuple) or _is_glob(cfg.data.path)):
        raise ConfigError(f"{origin}: data.path: with data.source 'generate' it is the one file the jets are "
                          f"written to, not a list or glob; got {cfg.data.path!r}")
    _augment_checks(cfg, origin)
    h, n = cfg.hls, cfg.data.constituents
    particles_per_clock(n, h.parallelization_factor, f"{origin}: hls.parallelization_factor")
    if h.reuse_factor > 1:
        why = {"Latency": "the Latency strategy's ALLOCATION limit is routinely not honoured by Vivado/Vitis HLS, so "
                          "it would not save the resources it claims",
               DA: "hls4ml's distributed arithmetic needs reuse factor 1",
               "Resource": "hls4ml's Resource Dense on particle arrays fails for now (an assertion in "
                           "nnet_conv1d_resource.h aborts the conversion, or the C++ does not compile)"}[h.strategy]
        raise ConfigError(f"{origin}: hls.reuse_factor {h.reuse_factor} with hls.strategy {h.strategy}: {why}; "
                          f"set hls.reuse_factor: 1 and share hardware with hls.parallelization_factor (particles "
                          f"per clock) instead")
    _check_split(cfg, origin)
    q = cfg.quantization
    targets = [k for k in ("ebops", "lut") if getattr(q.target, k) is not None]
    if q.mode == HETEROGENEOUS and not targets:
        raise ConfigError(f"{origin}: quantization.mode heterogeneous needs a resource target: set "
                          f"quantization.target.ebops (e.g. 0.5 x the uniform model's, which l1tag's train log prints) "
                          f"or quantization.target.lut")
    if len(targets) > 1:
        raise ConfigError(f"{origin}: quantization.target takes one of ebops and lut, not both: remove one")
    if q.mode != HETEROGENEOUS and targets:
        raise ConfigError(f"{origin}: quantization.target is read only in heterogeneous mode: set quantization.mode: "
                          f"heterogeneous, or remove quantization.target")
    if q.mode == HETEROGENEOUS and cfg.train.qat_epochs == 0:
        raise ConfigError(f"{origin}: quantization.mode heterogeneous learns its bit widths in the quantization-aware "
                          f"epochs: set train.qat_epochs > 0")
    _pair_bias_checks(cfg, origin)
    _momentum_checks(cfg, origin)
    _projection_checks(cfg, origin)
    _low_rank_checks(cfg, origin)
    _ternary_checks(cfg, origin)
    for name in ("input", "weights", "bias", "activations", "scores", "softmax", "pair_features"):
        qc: QuantizerConfig = getattr(q, name)
        if qc.integer >= qc.bits:
            raise ConfigError(f"{origin}: quantization.{name}.integer ({qc.integer}) must be smaller than "
                              f"quantization.{name}.bits ({qc.bits}); the sign bit needs one")


PAIR_FEATURE_COLUMNS = ("pt", "etarel", "phirel")
MAX_PAIR_CONSTITUENTS = 64  # n (n + 1) / 2 pairs, each with its own logarithms: 2,080 at 64


def _projection_checks(cfg: Config, origin: str) -> None:
    m = cfg.model
    if m.projection != "learned" and m.type != "linformer":
        raise ConfigError(f"{origin}: model.projection {m.projection} sets the Linformer's E and F; model.type "
                          f"{m.type} has none: set model.type: linformer or remove model.projection")


def _pair_bias_checks(cfg: Config, origin: str) -> None:
    m = cfg.model
    kind = kinds.get(m.type)
    if m.pair_bias and kind.pair_bias == kinds.NO_PAIR_BIAS:
        able = ", ".join(k.name for k in kinds.pair_bias_kinds())
        raise ConfigError(f"{origin}: model.pair_bias on model.type {m.type}: only {able} "
                          f"take the pair bias; set model.type: transformer or model.pair_bias: false")
    if not kinds.uses_pair_bias(m):
        return
    what = "model.pair_bias" if kind.pair_bias == kinds.PAIR_BIAS_OPTION else f"model.type {m.type} (ParT's pair bias)"
    missing = [f for f in PAIR_FEATURE_COLUMNS if f not in cfg.data.features]
    if missing:
        raise ConfigError(f"{origin}: {what} reads the pair features from data.features "
                          f"{', '.join(PAIR_FEATURE_COLUMNS)}; {', '.join(missing)} missing: add them to data.features")
    p = cfg.hls.parallelization_factor
    if p is not None and p != cfg.data.constituents:
        raise ConfigError(f"{origin}: {what} computes every pair in one pipelined function: set "
                          f"hls.parallelization_factor: {cfg.data.constituents} (= data.constituents) or null")
    if cfg.data.constituents > MAX_PAIR_CONSTITUENTS:
        raise ConfigError(f"{origin}: {what} with data.constituents {cfg.data.constituents}: the pair "
                          f"features are built for every pair, at most {MAX_PAIR_CONSTITUENTS} constituents; "
                          f"lower data.constituents")


def _momentum_checks(cfg: Config, origin: str) -> None:
    """An equivariant kind reads the four-momentum, scaled without centring; its stream splits into whole
    vectors per head."""
    m, d = cfg.model, cfg.data
    if not kinds.get(m.type).momentum:
        if d.normalization == "momentum":
            raise ConfigError(f"{origin}: data.normalization momentum is for the Lorentz-equivariant kinds; "
                              f"model.type {m.type} takes robust, standard or none")
        return
    if momentum_columns(d.features) is None:
        raise ConfigError(f"{origin}: model.type {m.type} is Lorentz-equivariant and reads the four-momentum, but "
                          f"data.features {list(d.features)} holds no whole one: set data.features: [erest, pxrest, "
                          f"pyrest, pzrest] (the jet's rest frame) or [e, px, py, pz]")
    if d.normalization != "momentum":
        raise ConfigError(f"{origin}: model.type {m.type} with data.normalization {d.normalization}: centring or "
                          f"scaling the four-momentum's components apart breaks Lorentz equivariance; set "
                          f"data.normalization: momentum")
    scalars = m.d_model - 4 * m.vectors
    if scalars < m.heads or scalars % m.heads or m.vectors % m.heads:
        raise ConfigError(f"{origin}: model.type {m.type}: model.d_model {m.d_model} with model.vectors "
                          f"{m.vectors} leaves {scalars} scalars; the scalars (at least one per head) and the "
                          f"vectors must each divide into model.heads {m.heads}: e.g. d_model "
                          f"{4 * m.vectors + m.heads * max(1, -(-max(scalars, 1) // m.heads))}")
    if cfg.train.low_rank.strength is not None:
        raise ConfigError(f"{origin}: train.low_rank with model.type {m.type}: a factorised layer would lose its "
                          f"Lorentz tie; remove train.low_rank")
    if cfg.quantization.mode == HETEROGENEOUS:
        raise ConfigError(f"{origin}: quantization.mode heterogeneous with model.type {m.type}: per-weight bits "
                          f"would untie the equivariant weights; use uniform or ternary")


def _low_rank_checks(cfg: Config, origin: str) -> None:
    lr, m = cfg.train.low_rank, cfg.model
    if lr.strength is None:
        if lr.max_rank is not None:
            raise ConfigError(f"{origin}: train.low_rank.max_rank is read only with train.low_rank.strength: set the "
                              f"nuclear-norm strength (e.g. 0.1), or remove max_rank")
        return
    if cfg.quantization.mode != "uniform":
        raise ConfigError(f"{origin}: train.low_rank with quantization.mode {cfg.quantization.mode}: low rank is "
                          f"built for uniform quantization; set quantization.mode: uniform or remove train.low_rank")
    width = m.d_model if kinds.get(m.type).attention else max(m.phi_dims)
    if lr.max_rank is not None and lr.max_rank >= width:
        raise ConfigError(f"{origin}: train.low_rank.max_rank {lr.max_rank} is not below the layers' width {width}: "
                          f"a rank that large saves nothing; set it below {width}, or remove it")


def _ternary_checks(cfg: Config, origin: str) -> None:
    """Ternary weights have no bit width to set (the score-convolution taps keep the default's), and how to
    train them means nothing in another mode.  Read on the parsed config, so that a full dump of one (the
    search's) passes as its source did."""
    q = cfg.quantization
    if q.mode != TERNARY:
        if q.ternary_training != TERNARY_TRAINING_DEFAULT:
            raise ConfigError(f"{origin}: quantization.ternary_training {q.ternary_training} is read only in ternary "
                              f"mode: set quantization.mode: ternary, or remove quantization.ternary_training")
        return
    if q.weights.bits != WEIGHT_BITS_DEFAULT:
        raise ConfigError(f"{origin}: quantization.weights.bits {q.weights.bits} with quantization.mode ternary: "
                          f"ternary weights are -s, 0 or +s (s per layer); remove quantization.weights.bits, or set "
                          f"quantization.mode: uniform for {q.weights.bits}-bit weights")


def _check_split(cfg: Config, origin: str) -> None:
    """With generated jets (their number known at load) every split holds at least one jet of each class:
    the stratified split needs that, and a model cannot be validated or tested on nothing."""
    d = cfg.data
    if d.source != "generate":
        return
    shares = dict(zip(("train", "validation", "test"), d.split))
    if d.test_path:  # the test split comes from the fixed test set
        total = shares["train"] + shares["validation"]
        shares = {"train": shares["train"] / total, "validation": shares["validation"] / total}
    small = {k: int(d.jets * f) for k, f in shares.items() if int(d.jets * f) < len(CLASSES)}
    if small:
        k, n = next(iter(small.items()))
        raise ConfigError(f"{origin}: data.split {list(d.split)} of data.jets {d.jets} leaves {n} jets in the {k} "
                          f"split, fewer than one per class ({len(CLASSES)}); raise data.jets or that fraction")


def _check_budget_target(cfg: Config, budget: Budget, origin: str) -> None:
    """hls.part and hls.clock_period_ns are the budget's: the budget check would fail them after the build."""
    from l1tag.hardware.budget import CLOCK_TOLERANCE_NS, part_family  # against the flow: docs/design.md "Imports"

    h = cfg.hls
    if part_family(h.part) != part_family(budget.part):
        raise ConfigError(f"{origin}: hls.part {h.part!r} is not the budget's part {budget.part!r} "
                          f"(budget.file {cfg.budget.file}); set hls.part: {budget.part} or choose a budget for "
                          f"{h.part}")
    if h.clock_period_ns > budget.clock_ns + CLOCK_TOLERANCE_NS:
        raise ConfigError(f"{origin}: hls.clock_period_ns {h.clock_period_ns} is longer than the budget's clock_ns "
                          f"{budget.clock_ns} (budget.file {cfg.budget.file}); set hls.clock_period_ns: "
                          f"{budget.clock_ns} or choose a budget for that clock")


def _is_glob(item: str) -> bool:
    return any(ch in item for ch in "*?[")


def _input_problem(item: str) -> str | None:
    """Why ``item`` (a file or a glob) names no input file, or None when it does."""
    if _is_glob(item):
        return None if any(os.path.isfile(m) for m in glob.glob(item)) else "glob pattern matches no files"
    if os.path.isdir(item):
        return "is a directory, not a file"
    return None if os.path.isfile(item) else "no such file"


def _input_files(value: str | tuple | None) -> set[str]:
    """The real paths of the files a data.path value names (globs expanded)."""
    items = value if isinstance(value, tuple) else (value,) if value else ()
    return {os.path.realpath(f) for item in items for f in (glob.glob(item) if _is_glob(item) else [item])
            if os.path.isfile(f)}


def _check_inputs(cfg: Config, origin: str, base_dir: Path) -> None:
    """Every input file the data stage will read exists (data.path of hls4ml/jetclass, data.test_path),
    and a fixed test set shares no file with the training data."""
    keys = (["path"] if cfg.data.source != "generate" else []) + ["test_path"]
    for key in keys:
        value = getattr(cfg.data, key)
        for item in (value if isinstance(value, tuple) else (value,) if value else ()):
            problem = _input_problem(item)
            if problem:
                raise ConfigError(f"{origin}: data.{key}: {item}: {problem} (give existing files, a list of them "
                                  f"or a glob; relative paths resolve against {base_dir})")
    shared = _input_files(cfg.data.test_path) & _input_files(cfg.data.path) if cfg.data.test_path else set()
    if shared:
        raise ConfigError(f"{origin}: data.test_path: {min(shared)} is also in data.path; the fixed test "
                          f"set must not share files with the training data (remove it from one of them)")


def _check_part(cfg: Config, budget: Budget, origin: str) -> None:
    """hls.part must be in the parts table, unless the budget file gives the part's totals itself."""
    if budget.totals is not None or devices.device(cfg.hls.part) is not None:
        return
    raise ConfigError(f"{origin}: hls.part: unknown FPGA part {cfg.hls.part!r}; closest known parts: "
                      f"{', '.join(devices.closest_parts(cfg.hls.part))}; or give the part's totals in the budget "
                      f"file (budget.file, now {cfg.budget.file}): totals: {{LUT: ..., FF: ..., DSP: ..., "
                      f"BRAM_18K: ..., URAM: ...}}")


def particles_per_clock(n: int, factor: int | None, where: str = "hls.parallelization_factor") -> int:
    """P, the particles per clock of the per-particle loops over n particles: ``factor``, or n when it is
    None (``hls.parallelization_factor: null``, fully parallel).  The one place the default is resolved and
    the divisibility checked (the config at load, the converter, the estimator and the RTL stage all ask
    here); ConfigError naming the divisors otherwise."""
    p = n if factor is None else int(factor)
    if p < 1 or n % p:
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        raise ConfigError(f"{where} ({p}) must divide data.constituents ({n}): one of "
                          f"{', '.join(map(str, divisors))}")
    return p


def config_from_dict(raw: Any, base_dir: Path | str = ".", origin: str = "<config>") -> Config:
    """Validate a raw mapping (as read from YAML) into a :class:`Config`.

    Besides the schema this loads the budget file, checks ``hls.part`` against it and the parts table,
    and checks that every input file exists: what would otherwise fail minutes into a build.
    """
    base_dir = Path(base_dir).resolve()
    cfg = _build(Config, raw, "", base_dir, origin)
    _cross_checks(cfg, origin)
    budget = load_budget(cfg.budget.file)
    _check_part(cfg, budget, origin)
    _check_budget_target(cfg, budget, origin)
    _check_inputs(cfg, origin, base_dir)
    return cfg


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) first, as SafeLoader does
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader's own error says so
                    break
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {first}); give each key once",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, not_found: str) -> Any:
    """A YAML file's contents; ConfigError with ``not_found``, or naming the line of a syntax error or of
    a key given twice."""
    if not path.is_file():
        raise ConfigError(not_found)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from None


def load_config(file: str | Path) -> Config:
    """Read and validate a YAML config; raises :class:`ConfigError` with one clear line."""
    p = Path(file)
    raw = read_yaml(p, f"config file not found: {file}")
    if raw is None:
        raise ConfigError(f"{file}: the config is empty; it needs at least 'name'")
    cfg = config_from_dict(raw, p.parent, str(file))
    return dataclasses.replace(cfg, source_file=str(p.resolve()))


# --------------------------------------------------------------------------------------------
# L1T budget files (configs/budgets/*.yaml, docs/design.md "Budgets")
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UtilizationLimits:
    LUT: float | None = setting(None, optional(number(0.0, 1.0)), "max fraction of the part's LUTs")
    FF: float | None = setting(None, optional(number(0.0, 1.0)), "max fraction of the part's flip-flops")
    DSP: float | None = setting(None, optional(number(0.0, 1.0)), "max fraction of the part's DSPs")
    BRAM_18K: float | None = setting(None, optional(number(0.0, 1.0)), "max fraction of the part's BRAM_18K")
    URAM: float | None = setting(None, optional(number(0.0, 1.0)), "max fraction of the part's URAMs")


@dataclass(frozen=True)
class BudgetLimits:
    latency_ns: float | None = setting(None, optional(number(0.0, open_min=True)), "max latency (ns)")
    ii_cycles: int | None = setting(None, optional(integer(1)), "max initiation interval (clock cycles)")
    utilization: UtilizationLimits = field(default_factory=UtilizationLimits)


@dataclass(frozen=True)
class PartTotals:
    """A part's resources, for a part missing from l1tag's parts table (l1tag/hardware/parts/)."""

    LUT: int = setting(None, integer(1), "LUTs of the part", required=True)
    FF: int = setting(None, integer(1), "flip-flops of the part", required=True)
    DSP: int = setting(None, integer(0), "DSP slices of the part", required=True)
    BRAM_18K: int = setting(None, integer(0), "18 Kb block RAMs of the part", required=True)
    URAM: int = setting(0, integer(0), "UltraRAMs of the part")

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class EventRate:
    """How many jets the tagger must tag, how often: the budget's throughput."""

    jets_per_event: int = setting(None, integer(1, 1000), "jets the tagger must tag per event", required=True)
    period_ns: float = setting(None, number(0.0, open_min=True),
                               "time between two events at this board (ns): 25 x the time-multiplexing factor",
                               required=True)


@dataclass(frozen=True)
class Budget:
    name: str = setting(None, identifier(), "budget name", required=True)
    part: str = setting(None, text(), "FPGA part the limits refer to", required=True)
    clock_ns: float = setting(None, number(0.0, open_min=True), "clock period (ns)", required=True)
    limits: BudgetLimits = field(default_factory=BudgetLimits)
    # The part's totals, when given: the utilization limits are fractions of these (instead of the parts
    # table's), and a config may then target a part the table does not know.
    totals: PartTotals | None = None
    # The throughput, when given: as many instances as the jets of one event need within the event period,
    # their total resources against the limits, the latency with the jets serialised over them.
    events: EventRate | None = None


def load_budget(file: str | Path) -> Budget:
    """Read and validate an L1T budget file; raises :class:`ConfigError` naming the bad key."""
    p = Path(file)
    raw = read_yaml(p, f"budget file not found: {file} (set budget.file in the config to a file or to a "
                       f"shipped budget: {', '.join(shipped_budgets()) or 'none found'})")
    return _build(Budget, raw if raw is not None else {}, "", p.parent.resolve(), str(file))


def config_reference_markdown() -> str:
    """docs/config.md's configuration reference table, generated from the schema so the two never drift apart."""
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
