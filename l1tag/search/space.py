"""A search space over config keys (YAML) and the trials it gives, in a fixed order.

::

    name: small                     # the search's folder: build/<name>/
    sampler: grid                   # grid (every combination) or random (--trials N draws, seeded)
    seed: 1                         # random sampler's seed (the trials' own seed is the config's)
    fixed:                          # keys every trial sets (e.g. a shorter training for a quick search)
      train.epochs: 8
    space:
      model.d_model: [8, 16]                          # a list: one of these
      hls.parallelization_factor: {range: [4, 8], step: 4}       # integers lo, lo + step, ..., hi
      train.learning_rate: {log_range: [0.001, 0.01], num: 3}   # num values, evenly in log (random: any)

Every key is a dotted path of the l1tag config (``l1tag/config.py``); each trial's config is validated
like any config, so a key the schema does not know, or a value it refuses, is an exit-2 error naming
the key before anything runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1tag.errors import ConfigError

SAMPLERS = ("grid", "random")


@dataclass(frozen=True)
class Dimension:
    key: str
    values: tuple = ()  # a list, or a range expanded
    low: float | None = None  # log_range
    high: float | None = None
    num: int | None = None
    integer: bool = False

    def grid(self) -> list:
        if self.values:
            return list(self.values)
        points = np.geomspace(self.low, self.high, self.num)
        return [int(round(v)) for v in points] if self.integer else [float(f"{v:.6g}") for v in points]

    def sample(self, rng: np.random.Generator):
        if self.values:
            return self.values[int(rng.integers(len(self.values)))]
        v = float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return int(round(v)) if self.integer else float(f"{v:.6g}")


@dataclass
class Space:
    name: str
    sampler: str
    seed: int
    dimensions: list[Dimension]
    fixed: dict = field(default_factory=dict)
    source: str = "<space>"

    def trials(self, count: int | None = None) -> list[dict]:
        """The overrides of every trial (grid: all combinations, in order; random: ``count`` seeded draws)."""
        if self.sampler == "grid":
            combos = itertools.product(*(d.grid() for d in self.dimensions))
            out = [dict(zip([d.key for d in self.dimensions], c)) for c in combos]
            return out[:count] if count else out
        rng = np.random.default_rng(self.seed)
        return [{d.key: d.sample(rng) for d in self.dimensions} for _ in range(count or 8)]


def trial_id(overrides: dict) -> str:
    """A short, stable name for a trial: the digest of its overrides (resuming finds it again)."""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:10]


def _shown(key) -> str:
    """A key for a one-line message: quoted, or as repr when it holds a line break or other unprintables."""
    return f"'{key}'" if str(key).isprintable() else repr(key)


def apply(base: dict, overrides: dict) -> dict:
    """The base config (plain dict) with dotted ``overrides`` set."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"search key {_shown(key)}: '{part}' is not a config section")
        node[last] = value
    return out


def _dimension(key: str, spec, where: str) -> Dimension:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: space key {_shown(key)} has an empty list; give at least one value")
        return Dimension(key, values=tuple(spec))
    if isinstance(spec, dict) and set(spec) <= {"range", "step"} and "range" in spec:
        lo_hi, step = spec["range"], spec.get("step", 1)
        if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(isinstance(v, int) for v in lo_hi)
                and isinstance(step, int) and step > 0 and lo_hi[0] <= lo_hi[1]):
            raise ConfigError(f"{where}: space key {_shown(key)}: range needs [low, high] integers with low <= high and a "
                              f"positive integer step, e.g. {{range: [4, 16], step: 4}}")
        if (lo_hi[1] - lo_hi[0]) // step + 1 > MAX_VALUES:
            raise ConfigError(f"{where}: space key {_shown(key)}: range {lo_hi} step {step} gives more than {MAX_VALUES} "
                              f"values; use a larger step")
        return Dimension(key, values=tuple(range(lo_hi[0], lo_hi[1] + 1, step)))
    if isinstance(spec, dict) and set(spec) <= {"log_range", "num", "integer"} and "log_range" in spec:
        lo_hi, num = spec["log_range"], spec.get("num", 3)
        if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(isinstance(v, (int, float)) for v in lo_hi)
                and 0 < lo_hi[0] < lo_hi[1] < float("inf") and isinstance(num, int) and 2 <= num <= MAX_VALUES):
            raise ConfigError(f"{where}: space key {_shown(key)}: log_range needs [low, high] with 0 < low < high < inf "
                              f"and 2 <= num <= {MAX_VALUES}, e.g. {{log_range: [0.001, 0.01], num: 3}}")
        return Dimension(key, low=float(lo_hi[0]), high=float(lo_hi[1]), num=num, integer=bool(spec.get("integer")))
    raise ConfigError(f"{where}: space key {_shown(key)}: expected a list of values, {{range: [low, high], step: s}} or "
                      f"{{log_range: [low, high], num: n}}, got {spec!r}")


def load_space(file: str | Path, base: dict) -> Space:
    """Read and check a space file against the base config (plain dict): every key is tried on it."""
    from l1tag.config import config_from_dict, read_yaml

    file = Path(file)
    raw = read_yaml(file, f"search space {file} not found")
    unknown = set(raw or {}) - {"name", "sampler", "seed", "fixed", "space"} if isinstance(raw, dict) else set()
    if not isinstance(raw, dict) or unknown:
        raise ConfigError(f"{file}: a search space has the keys name, sampler, seed, fixed, space"
                          + (f" (unknown: {', '.join(sorted(map(repr, unknown)))})" if unknown else ""))
    name = raw.get("name")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{file}: 'name' (the search's folder under build/) must be letters, digits, '_' or '-'")
    sampler = raw.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise ConfigError(f"{file}: sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
    space, fixed = raw.get("space"), raw.get("fixed") or {}
    if not isinstance(space, dict) or not space or not isinstance(fixed, dict):
        raise ConfigError(f"{file}: 'space' must map config keys to their values (and 'fixed' keys to one value)")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ConfigError(f"{file}: seed (the random sampler's) must be an integer in [0, 4294967295], not {seed!r}")
    dims = [_dimension(str(k), v, str(file)) for k, v in space.items()]
    # every key and value must be one the config accepts: try each on the base config (a log_range is tried at
    # its ends and at its grid points; any value between them is as valid as they are)
    for key, value in [(d.key, v) for d in dims for v in _values_to_check(d)] + list(fixed.items()):
        try:
            config_from_dict(apply(base, {**fixed, key: value}), origin=f"{file} ({key}: {value!r})")
        except ConfigError as exc:
            raise ConfigError(f"{file}: space key {_shown(key)} = {value!r} is not a valid config: {exc}") from None
    return Space(name, sampler, seed, dims, dict(fixed), str(file))


MAX_VALUES = 1000  # values of one dimension: each is checked against the config schema at load


def _values_to_check(d: Dimension) -> list:
    """Every value of a list or range; a log_range's ends and grid points."""
    if d.values:
        return list(d.values)
    ends = (int(round(d.low)), int(round(d.high))) if d.integer else (d.low, d.high)
    return sorted({*ends, *d.grid()})
