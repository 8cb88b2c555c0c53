"""The JAX engine: each update one jit-compiled, stateless function (one XLA program per update).

The losses are the backend-neutral ones of gan/base_gan.py, evaluated inside ``keras.StatelessScope``
with every variable mapped to a value held by the engine; ``jax.grad`` takes their gradient and
``optimizer.stateless_apply`` the Adam update. The engine's values are the run's state between steps:
``sync_variables`` writes them into the Keras variables (before weights, sheets or the resume state
are written) and ``reload_variables`` reads them back (after a restore).

Several devices (--distribute auto with several, or mirrored): ``keras.distribution.DataParallel``
over ``jax.devices()`` (every process's devices in a ``jax.distributed`` run) replicates the variables
and splits every global batch along its first axis; XLA inserts the gradient all-reduce. The losses
are means over the global batch, so the step is that of one device on the whole batch. Over several
machines every process runs the same command with JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
JAX_PROCESS_ID set (``connect_processes``); process 0 writes the files.
"""
import atexit
import contextlib
import functools
import os
import sys

import jax
import keras
import numpy as np

from gan.engines.common import HEARTBEAT_SECONDS, PeerLostError, Steps, adam, check_batch

# The groups of variables the engine carries from step to step, in this order.
GROUPS = ('generator', 'generator_other', 'discriminator', 'discriminator_other', 'g_optimizer', 'd_optimizer')


# Set on every process of a run over several machines (README, "Several machines"): jax.distributed
# then connects the processes before any device is used. jax reads the coordinator's address from
# the environment itself, but not the number of processes or this process's index: those are read
# here and passed on.
COORDINATOR = 'JAX_COORDINATOR_ADDRESS'
NUM_PROCESSES = 'JAX_NUM_PROCESSES'
PROCESS_ID = 'JAX_PROCESS_ID'


def process_numbers(environ=os.environ):
    """(number of processes, this process's index) from JAX_NUM_PROCESSES and JAX_PROCESS_ID; a
    missing or bad value is a ValueError naming the variable."""
    def whole_number(name, least):
        text = environ.get(name, '').strip()
        if not text:
            raise ValueError('%s is set, so %s must be set too (README, "Several machines")' % (COORDINATOR, name))
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise ValueError('%s must be a whole number of at least %d, got %r' % (name, least, text))
        return value
    count, index = whole_number(NUM_PROCESSES, 1), whole_number(PROCESS_ID, 0)
    if index >= count:
        raise ValueError('%s=%d names no process of %s=%d (they are numbered 0 to %d)'
                         % (PROCESS_ID, index, NUM_PROCESSES, count, count - 1))
    return count, index


# What the error of a collective between processes says when the other side is gone (gloo on CPUs,
# NCCL on GPUs, the coordination service on both).
PEER_LOST_WORDS = ('Connection closed', 'Connection reset', 'Gloo', 'NCCL', 'coordination service', 'UNAVAILABLE',
                   'DEADLINE_EXCEEDED')
# How a process of a several-process run leaves (see leave_early): (left before the end, exit status).
_leaving = {'early': True, 'status': 1}


def connect_processes():
    """jax.distributed.initialize() once, when the environment names a coordinator."""
    if os.environ.get(COORDINATOR) and not jax.distributed.is_initialized():
        count, index = process_numbers()
        jax.distributed.initialize(os.environ[COORDINATOR], num_processes=count, process_id=index,
                                   heartbeat_timeout_seconds=HEARTBEAT_SECONDS)
        atexit.register(leave_early)   # runs before jax's own shutdown, registered earlier


def leave_early():
    """At exit, a process that leaves a several-process run before its end (an error, Ctrl-C) leaves
    at once with its exit status: jax's shutdown would make it wait (five minutes) for the others,
    which wait for it in their next step. The coordination service then stops them within
    HEARTBEAT_SECONDS. A process that ended its training (Engine.finish) shuts down the normal way."""
    if _leaving['early']:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_leaving['status'])


def is_chief():
    """Process 0 of a jax.distributed run (the only process otherwise) writes the run's files."""
    connect_processes()
    return jax.process_index() == 0


def make_optimizer(mixed_precision):
    return adam(mixed_precision)


class Engine(Steps):
    """Steps of a compiled BaseGAN on JAX."""
    name = 'jax'

    def __init__(self, distribute_kind='auto', batch_size=None):
        connect_processes()
        self.devices = jax.devices()
        several = distribute_kind in ('mirrored', 'multiworker') or (
            distribute_kind == 'auto' and len(self.devices) > 1)
        self.distribution = keras.distribution.DataParallel(devices=self.devices) if several else None
        self.replicas = len(self.devices) if several else 1
        check_batch(self.replicas, batch_size)
        self.is_chief = is_chief()
        self.multi_worker = jax.process_count() > 1
        self.gan = None

    def scope(self):
        """Where networks and optimisers are built: variables replicated over the devices."""
        return self.distribution.scope() if self.distribution else contextlib.nullcontext()

    def compile(self, gan):
        self.gan = gan
        self.variables = {
            'generator': list(gan.generator.trainable_variables),
            'generator_other': list(gan.generator.non_trainable_variables),   # dropout seed states
            'discriminator': list(gan.discriminator.trainable_variables),
            'discriminator_other': list(gan.discriminator.non_trainable_variables),
            'g_optimizer': list(gan.g_optimizer.variables),
            'd_optimizer': list(gan.d_optimizer.variables)}
        # Read-only weights of the losses (VGG19 features), passed as arguments rather than baked
        # into the compiled programs as constants.
        extractor = getattr(gan, 'content_extractor', None)
        self.frozen_variables = list(extractor.variables) if extractor is not None else []
        self.reload_variables()
        # The old state's buffers are reused for the new one (donated): one copy of the weights and
        # Adam states in memory instead of two. On every device, so that the CPU tests run a GPU's
        # path (and a CPU step is no slower: benchmarks/README.md section 7). Hence the Keras
        # variables hold the state only from sync_variables to the next update.
        self._d_step = jax.jit(self._discriminator_update, donate_argnums=(0,))
        self._g_step = jax.jit(self._generator_update, donate_argnums=(0,))
        self._d_gradients = jax.jit(self._discriminator_gradients)
        self._g_gradients = jax.jit(self._generator_gradients)
        self._validation_terms = jax.jit(self._per_example_generator_terms)
        self._generate = jax.jit(self._generated)
        return self

    # ---- the state ---------------------------------------------------------------------------
    def reload_variables(self):
        self.state = {group: [v.value for v in self.variables[group]] for group in GROUPS}
        self.frozen = [v.value for v in self.frozen_variables]

    def sync_variables(self):
        """The state into the Keras variables (before they are saved or read; the next update deletes
        the buffers they then share with the state)."""
        for group in GROUPS:
            for variable, value in zip(self.variables[group], self.state[group]):
                variable.assign(value)

    def _scope(self, state, frozen):
        mapping = [(v, value) for group in GROUPS for v, value in zip(self.variables[group], state[group])]
        mapping += list(zip(self.frozen_variables, frozen))
        return keras.StatelessScope(state_mapping=mapping)

    def _updated(self, scope, state, groups):
        """The values of ``groups`` after the code run in ``scope`` (dropout seeds move on)."""
        return {group: [scope.get_current_value(v) for v in self.variables[group]] for group in groups}

    # ---- the updates (pure functions of the state, compiled) -----------------------------------
    def _gradients(self, state, frozen, trainable_group, losses, total):
        """(gradient of the scaled ``total`` loss with respect to the ``trainable_group`` values, the
        loss terms, the dropout seed states after the forward passes)."""
        def loss(trainable):
            with self._scope(dict(state, **{trainable_group: trainable}), frozen) as scope:
                values = losses()
                scaled = self._optimizer(trainable_group).scale_loss(values[total])
            return scaled, (values, self._updated(scope, state, ('generator_other', 'discriminator_other')))

        gradients, (values, others) = jax.grad(loss, has_aux=True)(state[trainable_group])
        return gradients, values, others

    def _optimizer(self, trainable_group):
        return self.gan.g_optimizer if trainable_group == 'generator' else self.gan.d_optimizer

    def _apply(self, state, trainable_group, gradients, others):
        slots = 'g_optimizer' if trainable_group == 'generator' else 'd_optimizer'
        weights, optimizer = self._optimizer(trainable_group).stateless_apply(state[slots], gradients,
                                                                              state[trainable_group])
        return dict(state, **{trainable_group: weights, slots: optimizer}, **others)

    def _discriminator_gradients(self, state, frozen, real_batch, fake_batch):
        return self._gradients(state, frozen, 'discriminator',
                               lambda: self.gan.discriminator_losses(real_batch, fake_batch, training=True), 'D_total')

    def _generator_gradients(self, state, frozen, batch):
        return self._gradients(state, frozen, 'generator',
                               lambda: self.gan.generator_losses(batch, training=True), 'G_total')

    def _discriminator_update(self, state, frozen, real_batch, fake_batch):
        gradients, values, others = self._discriminator_gradients(state, frozen, real_batch, fake_batch)
        return self._apply(state, 'discriminator', gradients, others), values

    def _generator_update(self, state, frozen, batch):
        gradients, values, others = self._generator_gradients(state, frozen, batch)
        return self._apply(state, 'generator', gradients, others), values

    def _per_example_generator_terms(self, state, frozen, batch):
        with self._scope(state, frozen):
            generated = self.gan.generate(batch, training=False)
            return self.gan.generator_terms(batch, generated, training=False)

    def _generated(self, state, frozen, batch):
        with self._scope(state, frozen):
            return self.gan.generate(batch, training=False)

    # ---- data --------------------------------------------------------------------------------
    def place(self, batch):
        """A dict batch of numpy arrays on the devices: split along the batch axis over several. Every
        process of a several-machine run reads the same global batch and hands its own rows to its
        devices (process i: rows i * B / P .. (i + 1) * B / P - 1)."""
        if self.distribution is None:
            return batch
        processes, index = jax.process_count(), jax.process_index()
        placed = {}
        for name, value in batch.items():
            sharding = self.distribution.get_data_layout(value.shape).backend_layout
            if processes == 1:
                placed[name] = jax.device_put(value, sharding)
            else:
                rows = len(value) // processes
                placed[name] = jax.make_array_from_process_local_data(
                    sharding, value[index * rows:(index + 1) * rows], value.shape)
        return placed

    def training_batches(self, dataset, first_batch, number_of_batches):
        """The global batches of the stream from the numpy pipeline (background workers)."""
        return dataset.train_batches(first_batch, number_of_batches)

    # ---- steps -------------------------------------------------------------------------------
    def start_discriminator_step(self, real_batch, fake_batch):
        self.state, values = self._d_step(self.state, self.frozen, self.place(real_batch), self.place(fake_batch))
        return values

    def start_generator_step(self, batch):
        self.state, values = self._g_step(self.state, self.frozen, self.place(batch))
        return values

    @staticmethod
    def read_losses(values):
        """The loss terms in one device-to-host transfer (``float`` on each would wait for one copy
        after the other)."""
        return {name: float(value) for name, value in jax.device_get(values).items()}

    def discriminator_gradients(self, real_batch, fake_batch):
        """The discriminator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        gradients, _, _ = self._d_gradients(self.state, self.frozen, self.place(real_batch),
                                                                 self.place(fake_batch))
        return [np.asarray(g) for g in gradients]

    def generator_gradients(self, batch):
        """The generator's (loss-scaled) gradients, in trainable-variable order, without an update."""
        gradients, _, _ = self._g_gradients(self.state, self.frozen, self.place(batch))
        return [np.asarray(g) for g in gradients]

    def _evaluated(self, function, batch):
        """``function(state, frozen, batch)`` of an evaluation (validation, sample sheets): over the
        devices of the run in one process. In a run of several processes it runs on this process
        alone, from its own copy of the replicated state: a computation over every process's devices
        would wait for all of them, and the sample sheet is the chief's alone."""
        if jax.process_count() == 1:
            return function(self.state, self.frozen, self.place(batch))
        local = functools.partial(jax.tree_util.tree_map, lambda value: value.addressable_data(0))
        return function(local(self.state), local(self.frozen), batch)

    def validation_terms(self, batch):
        terms = self._evaluated(self._validation_terms, batch)
        return {name: np.asarray(value) for name, value in terms.items()}

    def generate(self, batch):
        return np.asarray(self._evaluated(self._generate, batch))

    @contextlib.contextmanager
    def peers_guard(self):
        """In a several-process run: a collective of a step that fails because another process is
        gone becomes one PeerLostError line; the exit status of a training that ends with an
        exception is recorded for leave_early."""
        try:
            try:
                yield
            except jax.errors.JaxRuntimeError as error:
                lost = self.peer_lost(error)
                if lost is None:
                    raise
                raise lost from error
        except BaseException as error:
            _leaving['status'] = getattr(error, 'exit_status', 130 if isinstance(error, KeyboardInterrupt) else 1)
            raise

    def peer_lost(self, error):
        """The PeerLostError for ``error`` of a step of a several-process run, or None for another error
        (the collectives between processes fail with these words when the other side is gone)."""
        text = str(error).strip()
        if not (self.multi_worker and any(word in text for word in PEER_LOST_WORDS)):
            return None
        return PeerLostError('process %d: another process of this run stopped or cannot be reached (%s), so this '
                             'one stops too; the last complete checkpoint is kept: restart every process with '
                             '--resume' % (jax.process_index(), text.splitlines()[0][:300]))

    def finish(self):
        """Nothing to wait for: every process of a jax.distributed run leaves at its last step."""
        _leaving['early'] = False
