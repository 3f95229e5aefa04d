"""Training of the heterogeneous mode: β steered to the EBOPs target, and the epoch kept.

β, the weight of the resource term of every ``HQDense``, is the multiplier of the constraint EBOPs = target
and ``EBOPsController`` sets it after every batch from the model's exact EBOPs (``l1tag.models.layers.hetero``)
with a proportional-integral controller on the relative error e = EBOPs / target - 1::

    I    <- I + RATE x e                       (I starts at 1)
    beta  = beta_0 x (I + KP x e)              beta_0 = START_FRACTION x ln 5 / EBOPs_start

so β is large while the model is over its target and turns negative -- the term then rewards bits -- when
it falls under: the model settles at its target rather than wherever a fixed β leaves it (HGQ's authors
steer β with a PID controller to the same end).  beta_0 makes the resource term START_FRACTION of the
cross-entropy of a uniform guess (ln 5) for the EBOPs the model starts with.

The fractional bits are trained by Adam with steps FBITS_STEP_SCALE times those of the weights
(``bits_optimizer``): Adam's step is about its learning rate whatever the gradient's size, so at the
quantization-aware learning rate (~1e-3) a weight's bits would move by about one bit per thousand steps, far
too slowly for the tens of QAT epochs l1tag trains (HGQ's own examples train for thousands of epochs).

Which epoch is kept: the best validation accuracy among the epochs whose EBOPs are within TOLERANCE of the
target; if none is, the epoch closest to the target (the log says so).  Early stopping does not apply in
this mode: the validation loss includes the resource term, whose weight β moves.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger("l1tag")

RATE = 0.05
KP = 4.0
START_FRACTION = 0.1
TOLERANCE = 0.10
FBITS_STEP_SCALE = 32.0


def controller(target: float, verbose: bool = False, retarget=None, retarget_epochs=()):
    """The β controller for an EBOPs ``target``.  ``retarget(model, ebops) -> new target``, called at the end of
    each epoch in ``retarget_epochs`` (1-based), moves the target (a LUT target's correction from the estimate,
    l1tag/hardware/lut_target.py); the epoch kept is then chosen among the epochs after the last move."""
    import tensorflow as tf

    from l1tag.models.layers.hetero import hetero_layers, model_ebops

    class EBOPsController(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.target, self.history, self.kept = float(target), [], None
            self._best = None  # (in tolerance, -distance or accuracy, epoch, weights)

        def _set_beta(self, beta: float) -> None:
            self.beta = float(np.clip(beta, -100 * self.beta0, 100 * self.beta0))
            for layer in hetero_layers(self.model):
                layer.resource_beta.assign(self.beta)

        def on_train_begin(self, logs=None):
            start = model_ebops(self.model)
            self.start_ebops = start
            self.beta0 = START_FRACTION * math.log(5) / max(start, 1.0)
            self.integral = 1.0
            self._set_beta(self.beta0 * (1.0 + KP * (start / self.target - 1.0)))
            log.info("heterogeneous quantization: EBOPs %s at the start (uniform widths), target %s",
                     f"{start:,.0f}", f"{self.target:,.0f}")

        def on_train_batch_end(self, batch, logs=None):
            error = model_ebops(self.model) / self.target - 1.0
            self.integral = float(np.clip(self.integral + RATE * error, -100, 100))
            self._set_beta(self.beta0 * (self.integral + KP * error))

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            ebops = model_ebops(self.model)
            accuracy = float(logs.get("val_accuracy", 0.0))
            ratio = ebops / self.target
            inside = abs(ratio - 1.0) <= TOLERANCE
            key = (inside, accuracy if inside else -abs(math.log(max(ratio, 1e-12))))
            if self._best is None or key > self._best[0]:
                self._best = (key, epoch + 1, self.model.get_weights())
            self.history.append({"epoch": epoch + 1, "ebops": ebops, "beta": self.beta, "val_accuracy": accuracy,
                                 "target_ebops": self.target})
            logs["ebops"], logs["beta"] = ebops, self.beta
            if retarget is not None and epoch + 1 in retarget_epochs:
                self.target = float(retarget(self.model, ebops))
                self._best = None  # kept: an epoch steered to the corrected target
                self.history[-1]["next_target_ebops"] = self.target

        def on_train_end(self, logs=None):
            if self._best is None:
                return
            (inside, _), epoch, weights = self._best
            self.model.set_weights(weights)
            self.kept = {"epoch": epoch, "ebops": model_ebops(self.model), "within_tolerance": inside}
            if not inside:
                log.warning("heterogeneous quantization: no epoch reached EBOPs within %d %% of the target %s; "
                            "kept epoch %d, the closest (%s EBOPs): more train.qat_epochs, or a reachable target",
                            round(TOLERANCE * 100), f"{self.target:,.0f}", epoch, f"{self.kept['ebops']:,.0f}")

    return EBOPsController()


def bits_optimizer(learning_rate):
    """Adam whose steps on the fractional-bit variables (``fbits_*``) are FBITS_STEP_SCALE times larger."""
    import tensorflow as tf

    class BitsAdam(tf.keras.optimizers.Adam):
        def update_step(self, gradient, variable):
            if "/fbits_" not in variable.name:
                return super().update_step(gradient, variable)
            before = tf.identity(variable)
            super().update_step(gradient, variable)
            variable.assign(before + FBITS_STEP_SCALE * (variable - before))

    return BitsAdam(learning_rate)


def transfer_weights(source, target) -> None:
    """Copy the float model's weights into the quantized twin, layer by layer and weight by weight (by name):
    a heterogeneous layer has more weights than its float twin (its fractional bits, its β), which keep
    their initial values."""
    for layer in target.layers:
        try:
            twin = source.get_layer(layer.name)
        except ValueError:
            continue
        theirs = {w.name.split("/")[-1]: v for w, v in zip(twin.weights, twin.get_weights())}
        values = [theirs.get(w.name.split("/")[-1], v) for w, v in zip(layer.weights, layer.get_weights())]
        if values:
            layer.set_weights(values)
