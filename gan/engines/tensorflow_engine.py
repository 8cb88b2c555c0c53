"""The TensorFlow engine: each update under its own GradientTape, compiled by ``tf.function`` and run
per replica by a ``tf.distribute`` strategy (gan/distribute.py), with the fused Adam kernel on CPUs
(gan/fused_adam.py) and batches from tf.data.

Per replica, every loss is a sum over the replica's examples divided by the GLOBAL batch, and the
Keras optimiser sums the replicas' gradients: N replicas take the step one device takes on the whole
batch.
"""
import atexit
import contextlib

import keras
import tensorflow as tf

from gan import distribute
from gan.engines.common import Steps, adam
from gan.fused_adam import FusedAdam


is_chief = distribute.is_chief


def compiled(function, **options):
    """``tf.function`` without AutoGraph: the model and losses are Keras ops with no Python control flow
    on tensors, so converting their source (about a hundred functions) only costs time, about 2 s of
    every run's start on 2 CPU cores."""
    return tf.function(function, autograph=False, **options)


def make_optimizer(mixed_precision):
    return adam(mixed_precision, FusedAdam)


def discriminator_gradients(gan, real_batch, fake_batch):
    """(the discriminator's loss-scaled gradients, its loss terms) on this replica."""
    variables = gan.discriminator.trainable_variables
    with tf.GradientTape() as tape:
        values = gan.discriminator_losses(real_batch, fake_batch, training=True)
        scaled = gan.d_optimizer.scale_loss(values['D_total'])
    return tape.gradient(scaled, variables), values


def generator_gradients(gan, batch):
    """(the generator's loss-scaled gradients, its loss terms) on this replica."""
    variables = gan.generator.trainable_variables
    with tf.GradientTape() as tape:
        values = gan.generator_losses(batch, training=True)
        scaled = gan.g_optimizer.scale_loss(values['G_total'])
    return tape.gradient(scaled, variables), values


def discriminator_update(gan, real_batch, fake_batch):
    """One discriminator update of ``gan`` (a compiled BaseGAN) on this replica; its loss terms."""
    gradients, values = discriminator_gradients(gan, real_batch, fake_batch)
    gan.d_optimizer.apply(gradients, gan.discriminator.trainable_variables)
    return values


def generator_update(gan, batch):
    """One generator update of ``gan`` on this replica; its loss terms."""
    gradients, values = generator_gradients(gan, batch)
    gan.g_optimizer.apply(gradients, gan.generator.trainable_variables)
    return values


class Engine(Steps):
    """Steps of a compiled BaseGAN on TensorFlow under the strategy of --distribute."""
    name = 'tensorflow'

    def __init__(self, distribute_kind='auto', batch_size=None, strategy=None):
        self.strategy = strategy or distribute.make_strategy(distribute_kind)
        self.replicas = self.strategy.num_replicas_in_sync
        if batch_size is not None:
            distribute.check_batch(self.strategy, batch_size)
        self.is_chief = distribute.is_chief()
        self.multi_worker = distribute.is_multi_worker(self.strategy)
        self.gan = None

    def scope(self):
        """Where networks and optimisers are built (the strategy's variables)."""
        return self.strategy.scope()

    def compile(self, gan):
        self.gan = gan
        self._d_step = compiled(self._distributed(lambda real, fake: discriminator_update(gan, real, fake)))
        self._g_step = compiled(self._distributed(lambda batch: generator_update(gan, batch)))
        self._d_gradients = compiled(lambda real, fake: discriminator_gradients(gan, real, fake)[0])
        self._g_gradients = compiled(lambda batch: generator_gradients(gan, batch)[0])
        self._validation_terms = compiled(self._per_example_generator_terms, reduce_retracing=True)
        self._generate = compiled(lambda batch: gan.generate(batch, training=False), reduce_retracing=True)
        return self

    def _distributed(self, step):
        strategy = self.strategy

        def run(*batches):
            values = strategy.run(step, args=batches)
            return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                    for name, value in values.items()}
        return run

    def _per_example_generator_terms(self, batch):
        generated = self.gan.generate(batch, training=False)
        return self.gan.generator_terms(batch, generated, training=False)

    # ---- data --------------------------------------------------------------------------------
    def training_batches(self, dataset, first_batch, number_of_batches):
        """One iterator over the global batches of the stream, split over the replicas."""
        data = dataset.train_dataset(first_batch, number_of_batches)
        return iter(distribute.distribute(self.strategy, data))

    # ---- steps -------------------------------------------------------------------------------
    def start_discriminator_step(self, real_batch, fake_batch):
        return self._d_step(real_batch, fake_batch)

    def start_generator_step(self, batch):
        return self._g_step(batch)

    def discriminator_gradients(self, real_batch, fake_batch):
        """The discriminator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        return [keras.ops.convert_to_numpy(g) for g in self._d_gradients(real_batch, fake_batch)]

    def generator_gradients(self, batch):
        """The generator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        return [keras.ops.convert_to_numpy(g) for g in self._g_gradients(batch)]

    def validation_terms(self, batch):
        return {name: keras.ops.convert_to_numpy(value) for name, value in self._validation_terms(batch).items()}

    def generate(self, batch):
        return keras.ops.convert_to_numpy(self._generate(batch))

    # ---- state: TensorFlow updates the Keras variables in place ---------------------------------
    def sync_variables(self):
        """Nothing to do: the variables are the state."""

    def reload_variables(self):
        """Nothing to do: the variables are the state."""

    # ---- a multi-worker run ---------------------------------------------------------------------
    @contextlib.contextmanager
    def peers_guard(self):
        """A collective error of a multi-worker step becomes one PeerLostError line."""
        try:
            yield
        except distribute.PEER_ERRORS as error:
            lost = distribute.peer_lost(error, self.strategy, distribute.task_name())
            if lost is None:
                raise
            atexit.register(distribute.leave_at_exit)
            raise lost from error

    def finish(self):
        distribute.leave_together(self.strategy)
