"""The PyTorch engine: each update in eager PyTorch on one device, with autograd.

As on TensorFlow, the Keras variables are the state (each holds a ``torch.nn.Parameter``, on the GPU
where there is one). An update evaluates the backend-neutral losses of gan/base_gan.py,
``torch.autograd.grad`` takes the gradient of the (loss-scaled) total with respect to the updated
network's trainable variables only (the other network gets no ``.grad`` buffers), and the Keras
optimiser applies it under ``torch.no_grad``. Batches come from the numpy pipeline.

One device only: --distribute mirrored or multiworker, and --distribute auto where several GPUs or a
TF_CONFIG cluster are present, are refused (KERAS_BACKEND=tensorflow or jax trains on several).
"""
import contextlib
import os

import keras
import numpy as np
import torch

from gan import devices
from gan.engines.common import Steps, adam, check_batch


def is_chief():
    """A torch run is one process: it writes the run's files."""
    return True


def make_optimizer(mixed_precision):
    return adam(mixed_precision)


def check_one_device(distribute_kind):
    """ValueError naming --distribute unless the run is on one device."""
    several = len(devices.gpus()) > 1
    if distribute_kind in ('mirrored', 'multiworker') or (
            distribute_kind == 'auto' and (several or os.environ.get('TF_CONFIG'))):
        found = 'TF_CONFIG is set' if os.environ.get('TF_CONFIG') else '%d GPUs are visible' % len(devices.gpus())
        raise ValueError('--distribute %s: KERAS_BACKEND=torch trains on one device only (%s); use --distribute '
                         'none for the first device, or KERAS_BACKEND=tensorflow or jax for several'
                         % (distribute_kind, found if distribute_kind == 'auto' else 'asked for several'))


class Engine(Steps):
    """Steps of a compiled BaseGAN in eager PyTorch on one device."""
    name = 'torch'

    def __init__(self, distribute_kind='auto', batch_size=None):
        check_one_device(distribute_kind)
        self.replicas = 1
        check_batch(self.replicas, batch_size)
        self.is_chief = is_chief()
        self.multi_worker = False
        self.gan = None

    def scope(self):
        """Where networks and optimisers are built: Keras' default device."""
        return contextlib.nullcontext()

    def compile(self, gan):
        self.gan = gan
        return self

    # ---- state: the Keras variables are the state ------------------------------------------------
    def sync_variables(self):
        """Nothing to do: the variables are the state."""

    def reload_variables(self):
        """Nothing to do: the variables are the state."""

    # ---- data --------------------------------------------------------------------------------
    @staticmethod
    def place(batch):
        """A dict batch of numpy arrays as tensors on Keras' device."""
        return {name: keras.ops.convert_to_tensor(value) for name, value in batch.items()}

    def training_batches(self, dataset, first_batch, number_of_batches):
        """The global batches of the stream from the numpy pipeline (background workers)."""
        return dataset.train_batches(first_batch, number_of_batches)

    # ---- gradients and updates -------------------------------------------------------------------
    @staticmethod
    def _gradients(optimizer, variables, losses, total):
        """(the loss-scaled gradient of ``losses()[total]`` for ``variables``, the loss terms)."""
        values = losses()
        scaled = optimizer.scale_loss(values[total])
        gradients = torch.autograd.grad(scaled, [v.value for v in variables], allow_unused=True)
        return list(gradients), {name: value.detach() for name, value in values.items()}

    def _discriminator_gradients(self, real_batch, fake_batch):
        real_batch, fake_batch = self.place(real_batch), self.place(fake_batch)
        return self._gradients(self.gan.d_optimizer, self.gan.discriminator.trainable_variables,
                               lambda: self.gan.discriminator_losses(real_batch, fake_batch, training=True), 'D_total')

    def _generator_gradients(self, batch):
        batch = self.place(batch)
        return self._gradients(self.gan.g_optimizer, self.gan.generator.trainable_variables,
                               lambda: self.gan.generator_losses(batch, training=True), 'G_total')

    @staticmethod
    def _apply(optimizer, gradients, variables):
        with torch.no_grad():
            optimizer.apply(gradients, variables)

    # ---- steps -------------------------------------------------------------------------------
    def start_discriminator_step(self, real_batch, fake_batch):
        gradients, values = self._discriminator_gradients(real_batch, fake_batch)
        self._apply(self.gan.d_optimizer, gradients, self.gan.discriminator.trainable_variables)
        return values

    def start_generator_step(self, batch):
        gradients, values = self._generator_gradients(batch)
        self._apply(self.gan.g_optimizer, gradients, self.gan.generator.trainable_variables)
        return values

    def discriminator_gradients(self, real_batch, fake_batch):
        """The discriminator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        gradients, _ = self._discriminator_gradients(real_batch, fake_batch)
        return [keras.ops.convert_to_numpy(g) for g in gradients]

    def generator_gradients(self, batch):
        """The generator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        gradients, _ = self._generator_gradients(batch)
        return [keras.ops.convert_to_numpy(g) for g in gradients]

    def validation_terms(self, batch):
        with torch.no_grad():
            batch = self.place(batch)
            generated = self.gan.generate(batch, training=False)
            terms = self.gan.generator_terms(batch, generated, training=False)
            return {name: keras.ops.convert_to_numpy(value) for name, value in terms.items()}

    def generate(self, batch):
        with torch.no_grad():
            return np.asarray(keras.ops.convert_to_numpy(self.gan.generate(self.place(batch), training=False)))

    @contextlib.contextmanager
    def peers_guard(self):
        yield

    def finish(self):
        """Nothing to wait for: a torch run is one process."""
