"""What every engine shares: the two steps as the trainer starts and reads them, the batch check, the
loss-scaled Adam, and how a run of several processes (workers) notices that one of them is gone."""
import keras

from gan.checkpoints import RunError
from gan.engines import ADAM

# A process of a several-process run silent for this long is taken as dead by the coordination
# service (TensorFlow's or jax's), which then stops the others.
HEARTBEAT_SECONDS = 10


class PeerLostError(RunError):
    """Another process (worker) of a several-process run died or became unreachable."""


class Steps:
    """The updates of an engine, started and read apart. ``start_discriminator_step`` and
    ``start_generator_step`` hand the update to the backend and return its loss terms as the backend
    holds them; ``read_losses`` waits for them and makes them floats. A GPU runs an update while the
    host starts the next one, so the trainer reads each update's losses after it has started the
    next: the device does not wait for the host between updates."""

    def discriminator_step(self, real_batch, fake_batch):
        """One discriminator update; its loss terms as floats."""
        return self.read_losses(self.start_discriminator_step(real_batch, fake_batch))

    def generator_step(self, batch):
        """One generator update; its loss terms as floats."""
        return self.read_losses(self.start_generator_step(batch))

    @staticmethod
    def read_losses(values):
        return {name: float(value) for name, value in values.items()}


def check_batch(replicas, global_batch_size):
    """ValueError naming --batch_size unless the ``replicas`` divide the global batch."""
    if global_batch_size is not None and global_batch_size % replicas:
        raise ValueError('--batch_size %d is the global batch and must be a multiple of the %d replicas of '
                         'this run (all devices of all workers), e.g. %d'
                         % (global_batch_size, replicas, max(replicas, global_batch_size - global_batch_size % replicas)))


def adam(mixed_precision, optimizer_class=keras.optimizers.Adam):
    """``optimizer_class`` with the paper's settings, wrapped in Keras' dynamic loss scaling under
    mixed precision (float16 gradients would underflow without it)."""
    optimizer = optimizer_class(**ADAM)
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer
