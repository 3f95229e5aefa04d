"""Tiny taggers for the op, trace and RTL tests: a kind at a small shape with its initial weights perturbed
(so that no output is trivially zero), and its lowering."""

from __future__ import annotations

import numpy as np

from l1tag.config import config_from_dict


def perturbed_tagger(kind: str, n: int = 8, width: int = 8, seed: int = 3):
    """(QKeras model, its lowering, the generator that perturbed it: draw the test jets from it next)."""
    import tensorflow as tf

    from l1tag.hls.lower import lower
    from l1tag.models.builders import build_model

    tf.keras.utils.set_random_seed(seed)  # the initial weights too: the same tagger on every run

    cfg = config_from_dict({"name": "t", "data": {"constituents": n},
                            "model": {"type": kind, "d_model": width, "heads": 2, "partitions": 2, "ffn_dim": width,
                                      "head_dims": [width], "phi_dims": [width, width]}})
    model = build_model(cfg.model, n, 3, cfg.quantization)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.3, w.shape) for w in model.get_weights()])
    return model, lower(model), rng
