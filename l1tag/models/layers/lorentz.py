"""The Lorentz-equivariant tie of a weight in training: a Keras constraint (l1tag/kinds/lgatr_slim.py).

``TiedWeights(group, sign)`` projects a kernel or bias onto its tied subspace (each group's entries one free
weight times their signs, group -1 zero), the nearest such array in least squares.  Keras applies a
variable's constraint after every optimizer step, so the trained weights are exactly tied; ``tie_all``
applies it once to a freshly built model (initial weights) and after ``set_weights`` of untied values.
The model stays plain QKeras layers, so its firmware is the ordinary Dense and attention ops.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from l1tag.kinds.lgatr_slim import free_parameters


@tf.keras.utils.register_keras_serializable(package="l1tag")
class TiedWeights(tf.keras.constraints.Constraint):
    """The projection onto the weights with ``group`` / ``sign``'s tie (nested lists of the array's shape)."""

    def __init__(self, group, sign):
        self.group = np.asarray(group, dtype=np.int64)
        self.sign = np.asarray(sign, dtype=np.float32)
        self.groups = free_parameters(self.group)
        used = self.group >= 0
        self._index = np.where(used, self.group, self.groups)  # the zeros: one extra segment, dropped
        self._count = np.maximum(np.bincount(self.group[used].ravel(), minlength=self.groups), 1).astype(np.float32)

    def __call__(self, w):
        index = tf.constant(self._index.ravel())
        signed = tf.reshape(w, [-1]) * tf.constant(self.sign.ravel(), dtype=w.dtype)
        theta = tf.math.unsorted_segment_sum(signed, index, self.groups + 1)[: self.groups]
        theta = theta / tf.constant(self._count, dtype=w.dtype)
        padded = tf.concat([theta, tf.zeros([1], dtype=w.dtype)], axis=0)
        return tf.reshape(tf.gather(padded, index) * tf.constant(self.sign.ravel(), dtype=w.dtype), tf.shape(w))

    def free_parameters(self) -> int:
        return self.groups

    def get_config(self):
        return {"group": self.group.tolist(), "sign": self.sign.tolist()}


def tie_all(model) -> None:
    """Apply every weight's constraint once (a freshly built model, or weights set from elsewhere)."""
    for w in model.weights:
        if getattr(w, "constraint", None) is not None:
            w.assign(w.constraint(w))


def tied_parameters(model) -> int:
    """Trainable numbers of a model whose tied weights count their groups only."""
    total = 0
    for w in model.trainable_weights:
        c = getattr(w, "constraint", None)
        total += c.free_parameters() if isinstance(c, TiedWeights) else int(np.prod(w.shape))
    return total
