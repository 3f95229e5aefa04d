"""Tiny taggers for the op, trace and RTL tests: a kind at a small shape with its initial weights perturbed
(so that no output is trivially zero), and its lowering."""

from __future__ import annotations

import numpy as np

from l1tag.config import config_from_dict


PAIR_BIAS = "+pair_bias"  # a kind name with this suffix: the tagger with ParT's pair bias (model.pair_bias)
TERNARY = "+ternary"  # ... and with this one: ternary weights (quantization.mode ternary; s = 2^-2 and 2^-1)
LOW_RANK = "+low_rank"  # ... and this: learned low rank, ffn0_up at rank 2 and head0 at rank 3 (two Dense each)
# the data stage's normalisation of (pt, etarel, phirel) that the pair bias reads (GeV, rad): generated jets'
NORMALISATION = (("pt", "etarel", "phirel"), (30.0, 0.0, 0.0), (150.0, 0.3, 0.3))
# a Lorentz-equivariant kind's: the rest-frame four-momentum, one scale, no centre (data.normalization momentum)
MOMENTUM_NORMALISATION = (("erest", "pxrest", "pyrest", "pzrest"), (0.0,) * 4, (4.0,) * 4)


def kind_inputs(kind: str) -> tuple[int, tuple]:
    """(features per particle, the data stage's normalisation) of the tiny taggers of ``kind`` (a registry name,
    or one with the suffixes below)."""
    from l1tag import kinds

    norm = MOMENTUM_NORMALISATION if kinds.get(kind.split("+")[0]).momentum else NORMALISATION
    return len(norm[0]), norm


def kind_config(kind: str, width: int = 8, **model) -> dict:
    """A config dict of a tiny ``kind`` tagger of about ``width`` features per particle: a Lorentz-equivariant
    kind gets ``width`` scalars and one vector per head (d_model = width + 4 heads) and reads the rest-frame
    four-momentum."""
    from l1tag import kinds

    settings = {"type": kind, "d_model": width, "heads": 2, "partitions": 2, "ffn_dim": width,
                "head_dims": [width], "phi_dims": [width, width], **model}
    if not kinds.get(kind).momentum:
        return {"model": settings}
    settings.update(vectors=settings["heads"], d_model=width + 4 * settings["heads"])
    return {"model": settings, "data": {"features": list(MOMENTUM_NORMALISATION[0]), "normalization": "momentum"}}


def perturbed_tagger(kind: str, n: int = 8, width: int = 8, seed: int = 3):
    """(QKeras model, its lowering, the generator that perturbed it: draw the test jets from it next).
    ``kind`` + PAIR_BIAS: that kind with model.pair_bias (inputs read as normalised pt, etarel, phirel, as
    for part, whose pair bias is always on)."""
    import tensorflow as tf

    from l1tag.hls.lower import lower
    from l1tag.models.builders import build_model

    tf.keras.utils.set_random_seed(seed)  # the initial weights too: the same tagger on every run

    pair_bias, ternary, low_rank = kind.endswith(PAIR_BIAS), kind.endswith(TERNARY), kind.endswith(LOW_RANK)
    base = kind.removesuffix(PAIR_BIAS).removesuffix(TERNARY).removesuffix(LOW_RANK)
    settings = kind_config(base, width, pair_bias=pair_bias)
    cfg = config_from_dict({"name": "t", **settings, "data": {"constituents": n, **settings.get("data", {})},
                            "hls": {"parallelization_factor": n},
                            "quantization": {"mode": "ternary" if ternary else "uniform"}})
    features, norm = kind_inputs(base)
    model = build_model(cfg.model, n, features, cfg.quantization, normalisation=norm,  # read with a pair bias
                        ternary_scales={"embed": 0.5, "att0": 0.5} if ternary else None,  # the rest: 2^-2
                        low_rank={"ffn0_up": 2, "head0": 3} if low_rank else None)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    return model, lower(model), rng
