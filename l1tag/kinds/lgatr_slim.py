"""L-GATr-slim: a slim Lorentz-equivariant transformer on the constituents' four-momenta.

Each particle carries S scalars and V Lorentz vectors (components E, px, py, pz) in one feature row of width
d = S + 4 V, laid out head by head (:class:`Layout`): head h holds S / H scalars, then V / H vectors of four
components, so that an attention head sees whole vectors.  The metric is diag(+1, -1, -1, -1).

* **Equivariant linear**: scalars mix with scalars, vectors with vectors (the same weight on every
  component), and only scalars take a bias.  Its firmware is an ordinary constant-weight Dense whose kernel
  is tied that way (:func:`kernel_tying`): the off-block zeros cost nothing in distributed arithmetic, and the
  layer is lowered, C-simulated and traced as every Dense.  Training keeps the tie exactly: the Keras kernel
  carries a constraint that projects it onto the tied subspace after every step
  (``l1tag.models.layers.lorentz.TiedWeights``).
* **Minkowski attention**: full attention whose scores are q_s . k_s + sum_c <q_c, k_c> (the Minkowski inner
  product of each vector channel).  The metric is folded into Wk (``metric`` tying: the key's spatial
  components enter negated), so the scores are the ordinary dot products of the transformer's kernel;
  A V' mixes vectors with invariant weights.  Keras: ``QLorentzAttention``; C++: ``l1tag::full_attention``.
* **Gated nonlinearity**: in the feed-forward part, each vector channel is scaled by a ReLU gate computed
  from the scalars (``gate`` tying: one scalar copied onto the channel's four components), v_c <- relu(g_c)
  v_c, and the hidden scalars take the Minkowski squares <v_c, v_c> of the hidden vectors (``contract``
  tying on v (.) v); both products of two variables are the ``multiply`` op (l1tag/ops/multiply.py).
* **Invariant readout**: a Dense from the scalars only, pooled over particles, then the usual head.
* **Rest frame and time reference**: the inputs are the four-momenta in the jet's rest frame (data.features
  erest, pxrest, pyrest, pzrest), where the components are of the jet's mass, not its energy, so the pair
  invariants survive a fixed-point type; the embedding also reads each input's energy as a scalar, its
  product with the time axis, which there is the jet's four-velocity (``time_reference``).

The float tagger is invariant under any rotation of its inputs (the time reference breaks the boosts), and
so, as a function of the lab momenta, under a boost along the jet's axis and a rotation about it: the rest
frame follows the jet.  The data stage scales the four components by one common power of two and centres
none of them (``data.normalization: momentum``), which keeps that.  The quantized tagger rounds each
component on its own grid, so its invariance is only approximate: bench/lorentz_invariance.py measures how
far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l1tag.kinds import NO_PAIR_BIAS
from l1tag.kinds.transformer import TransformerKind

METRIC = np.array([1.0, -1.0, -1.0, -1.0])  # diag(+, -, -, -) on (E, px, py, pz)


@dataclass(frozen=True)
class Layout:
    """How ``scalars`` + 4 x ``vectors`` features sit in a row: ``heads`` groups, each its share of the
    scalars, then its share of the vectors, four components each."""

    scalars: int
    vectors: int
    heads: int = 1

    def __post_init__(self):
        if self.scalars % self.heads or self.vectors % self.heads:
            raise ValueError(f"{self.scalars} scalars and {self.vectors} vectors do not split into {self.heads} "
                             f"heads")

    @property
    def width(self) -> int:
        return self.scalars + 4 * self.vectors

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(scalar columns (S,), vector columns (V, 4): vector c's component mu)."""
        s, v, group = self.scalars // self.heads, self.vectors // self.heads, self.width // self.heads
        scal = [h * group + i for h in range(self.heads) for i in range(s)]
        vec = [[h * group + s + 4 * c + mu for mu in range(4)] for h in range(self.heads) for c in range(v)]
        return np.array(scal, dtype=int), np.array(vec, dtype=int).reshape(-1, 4)


def stream_layout(model_cfg) -> Layout:
    """The residual stream of an lgatr_slim config: d_model - 4 vectors scalars, model.vectors vectors."""
    return Layout(model_cfg.d_model - 4 * model_cfg.vectors, model_cfg.vectors, model_cfg.heads)


def input_layout(features: int, p4: list[int]) -> tuple[Layout, np.ndarray]:
    """The inputs as a layout (the four-momentum in columns ``p4``, ``l1tag.data.features.momentum_columns``, is
    one vector; the other of the ``features`` columns are scalars) and the permutation of the columns that puts
    them in that layout's order."""
    scalars = [i for i in range(features) if i not in p4]
    return Layout(len(scalars), 1), np.array(scalars + p4, dtype=int)


LINEAR, METRIC_KEY, GATE, CONTRACT = "linear", "metric", "gate", "contract"
TYINGS = (LINEAR, METRIC_KEY, GATE, CONTRACT)


def kernel_tying(into: Layout, out: Layout, rule: str = LINEAR, time_reference: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(group (I, O) ints, sign (I, O)) of an equivariant kernel: entries of one group share one free weight
    (times their sign); group -1 is held at zero.

    * ``linear``: scalar -> scalar free; vector c' -> vector c one weight on all four components;
    * ``metric``: the same with the key's metric folded in (component mu's sign METRIC[mu]);
    * ``gate``: scalar -> the four columns of vector channel c (one weight, copied: a gate per channel);
    * ``contract``: the four components of input channel c -> scalar j, with the metric's signs (applied to
      v (.) v it gives sum_c w_cj <v_c, v_c>).

    ``time_reference`` (``linear``): also input vector c's energy -> scalar j, its own weight: the Minkowski
    product <v_c, t> with the time axis t = (1, 0, 0, 0), a reference vector that breaks the symmetry down to
    the rotations that keep t.  In the jet's rest frame t is the jet's own four-velocity, so <p, t> = p . J / m_J
    is a Lorentz invariant of the lab momenta (the embedding's only source of scalars)."""
    if rule not in TYINGS:
        raise ValueError(f"unknown tying {rule!r}; known: {', '.join(TYINGS)}")
    group = -np.ones((into.width, out.width), dtype=int)
    sign = np.zeros((into.width, out.width))
    s_in, v_in = into.columns()
    s_out, v_out = out.columns()
    g = 0
    if rule in (LINEAR, METRIC_KEY):
        for i in s_in:
            for o in s_out:
                group[i, o], sign[i, o], g = g, 1.0, g + 1
        signs = METRIC if rule == METRIC_KEY else np.ones(4)
        for ci in v_in:
            for co in v_out:
                group[ci, co], sign[ci, co], g = g, signs, g + 1
        if time_reference:
            for ci in v_in:
                for o in s_out:
                    group[ci[0], o], sign[ci[0], o], g = g, 1.0, g + 1
    elif rule == GATE:
        for i in s_in:
            for co in v_out:
                group[i, co], sign[i, co], g = g, 1.0, g + 1
    else:
        for ci in v_in:
            for o in s_out:
                group[ci, o], sign[ci, o], g = g, METRIC, g + 1
    return group, sign


def bias_tying(out: Layout, rule: str = LINEAR, into: Layout | None = None, time_reference: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """(group (O,), sign (O,)) of an equivariant bias: scalars free, vectors none; a gate's four copies one.
    A scalar output that no input reaches (``into`` without scalars or a time reference, under ``linear``)
    keeps none either: a constant carries nothing, and a constant output of an adder graph is a degenerate
    one-bit type that ap_types' C-simulation cannot cast."""
    group = -np.ones(out.width, dtype=int)
    s_out, v_out = out.columns()
    if not (rule in (LINEAR, METRIC_KEY) and into is not None and into.scalars == 0 and not time_reference):
        group[s_out] = np.arange(len(s_out))
    if rule == GATE:
        for c, cols in enumerate(v_out):
            group[cols] = len(s_out) + c
    return group, (group >= 0).astype(float)


def free_parameters(group: np.ndarray) -> int:
    """The trainable numbers behind a tied array: its groups."""
    return int(group.max()) + 1 if group.size and group.max() >= 0 else 0


def tie(w: np.ndarray, group: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """The nearest tied array (least squares): each group's weight the mean of sign x its entries."""
    flat_g, flat_s, flat_w = group.ravel(), sign.ravel(), np.asarray(w, dtype=np.float64).ravel()
    k = free_parameters(group)
    used = flat_g >= 0
    total = np.bincount(flat_g[used], weights=flat_s[used] * flat_w[used], minlength=k)
    count = np.bincount(flat_g[used], minlength=k)
    theta = total / np.maximum(count, 1)
    out = np.zeros_like(flat_w)
    out[used] = flat_s[used] * theta[flat_g[used]]
    return out.reshape(np.shape(w))


def minkowski(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """<a, b> over the last axis (E, px, py, pz)."""
    return np.sum(a * b * METRIC, axis=-1)


def boost(beta: float, axis) -> np.ndarray:
    """The 4 x 4 boost with velocity beta along ``axis`` on (E, px, py, pz) (the invariance checks)."""
    n = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    g = 1.0 / np.sqrt(1.0 - beta**2)
    m = np.eye(4)
    m[0, 0] = g
    m[0, 1:] = m[1:, 0] = g * beta * n
    m[1:, 1:] += (g - 1.0) * np.outer(n, n)
    return m


def rotation(angle: float, axis) -> np.ndarray:
    """The 4 x 4 rotation by ``angle`` about ``axis`` (Rodrigues) on (E, px, py, pz)."""
    n = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    m = np.eye(4)
    m[1:, 1:] = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    return m


class LGATrSlimKind(TransformerKind):
    name = "lgatr_slim"
    summary = ("Lorentz-equivariant: scalars and four-vectors per particle, Minkowski scores, gated vectors, "
               "an invariant readout")
    keras_layer = "QLorentzAttention"
    pair_bias = NO_PAIR_BIAS
    momentum = True  # reads a four-momentum (data.features erest..pzrest or e..pz; data.normalization momentum)

    def layer_arguments(self, model_cfg, weight_q, bias_q) -> dict:
        return {"vectors": model_cfg.vectors}


KIND = LGATrSlimKind()
