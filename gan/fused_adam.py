"""Adam whose per-variable update is TensorFlow's fused ``ResourceApplyAdam`` kernel.

Same arithmetic as ``keras.optimizers.Adam`` and the Keras 2 Adam of the reference
(docs/reference.md, "Losses and training"), per element, in float32:

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    w -= m * alpha / (sqrt(v) + epsilon)

Keras 3 writes that update as nine separate element-wise ops, each a full pass over the variable in
memory; the fused kernel makes one pass. With the generator's 61 M parameters the update is memory
bound: on a 2-core CPU the fused update takes about 0.1 s off the training step (benchmarks/README.md,
"Training step"). The slot variables are Keras' own (``_momentums``, ``_velocities``), so checkpoints
are those of ``keras.optimizers.Adam``.
"""
import keras
import tensorflow as tf
from keras import ops

from gan import devices


@keras.saving.register_keras_serializable(package='gan')
class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam (same arguments, variables and results) updating each variable with one
    fused kernel on the TensorFlow backend on a CPU; amsgrad, other backends and GPUs (where the
    fused kernel has not been measured) take Keras' own path."""

    def __init__(self, name='adam', **kwargs):
        super().__init__(name=name, **kwargs)   # Keras' name, so the variables' paths are Adam's too
        # Decided once: update_step runs for every variable (every step when called eagerly).
        self.fused = not self.amsgrad and keras.backend.backend() == 'tensorflow' and not devices.gpus()

    def update_step(self, gradient, variable, learning_rate):
        if not self.fused:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        # Under a tf.distribute strategy ``variable`` and the slots resolve to this replica's copies
        # (Keras calls update_step inside strategy.extended.update).
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), local_step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), local_step),
            lr=ops.cast(learning_rate, dtype), beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype), epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype), use_locking=False)
