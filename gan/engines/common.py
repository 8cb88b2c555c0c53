"""What every engine shares: the batch check, the loss-scaled Adam, and how a run of several
processes (workers) notices that one of them is gone."""
import keras

from gan.checkpoints import RunError
from gan.engines import ADAM

# A process of a several-process run silent for this long is taken as dead by the coordination
# service (TensorFlow's or jax's), which then stops the others.
HEARTBEAT_SECONDS = 10


class PeerLostError(RunError):
    """Another process (worker) of a several-process run died or became unreachable."""


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
