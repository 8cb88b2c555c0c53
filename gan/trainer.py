"""The training loop of a conditional GAN (docs/reference.md, "Losses and training"): per step
--training_ratio discriminator updates (each on fresh batches) then one generator update on a fresh
batch; sample sheets, checkpoints, validation, logs, resume.

An epoch is --batches_per_epoch steps; a step reads 2 * training_ratio + 1 batches of the
reproducible training stream (gan/dataset.py): each discriminator update takes a batch of real pairs
and a batch whose generated images are the fakes (as the reference's discriminator model), the
generator update one more. Epoch e therefore reads the stream from batch e * batches_per_epoch *
(2 * training_ratio + 1): data order is a function of (seed, epoch), and the resume state is the epoch.

Epochs are numbered as in the reference's trainer (docs/reference.md, "Training epochs and
checkpoints"): a run trains epochs start_epoch .. start_epoch + number_of_epochs - 1, and BEFORE epoch
e draws the sheet epoch_e.png when (e + 1) % display_ratio == 0 and writes the checkpoint epoch_e_*
when (e + 1) % checkpoint_ratio == 0, so epoch_e_* holds the weights after e trained epochs. The
weights after the last epoch, which the reference never saved, go to epoch_<end>_* at the end.

Nothing here knows what the networks draw: the GAN (its train steps, loss terms and metrics), the
dataset (train_dataset, test_dataset, test_batches) and the sample-sheet function come from the caller
(pose_training.py for the Deformable GAN).
"""
import math
import os
import time

import keras
import tensorflow as tf
from tqdm import tqdm

from gan import checkpoints, distribute
from gan.fused_adam import FusedAdam
from gan.run_log import RunLog, save_png

# Both networks (the paper); epsilon is Keras 2.0.8's default, which the reference ran with.
ADAM = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)


class NonFiniteLossError(checkpoints.RunError):
    """A loss became NaN or infinite: the run stops, its checkpoints stay as they were."""


def make_optimizer(mixed_precision):
    optimizer = FusedAdam(**ADAM)
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer


class Trainer:
    """Runs epochs start_epoch .. start_epoch + number_of_epochs - 1 of ``gan`` on ``dataset``.

    ``sample_sheet(pair names, batch, generated)`` -> uint8 image draws the sheets (none without it);
    ``run_flags`` ({flag: value}, the flags that define the run) are saved beside the resume state (resume.json)."""

    def __init__(self, gan, dataset, args, strategy=None, sample_sheet=None, run_flags=None):
        self.gan = gan
        self.sample_sheet = sample_sheet
        self.run_flags = dict(run_flags or {})
        self.dataset = dataset
        self.args = args
        self.strategy = strategy or tf.distribute.get_strategy()
        self.batches_per_step = 2 * args.training_ratio + 1
        self.chief = distribute.is_chief()
        self.resume_checkpoint = checkpoints.make_resume_checkpoint(
            gan.generator, gan.discriminator, gan.g_optimizer, gan.d_optimizer)
        self._d_step = tf.function(self._distributed(gan.discriminator_train_step))
        self._g_step = tf.function(self._distributed(gan.generator_train_step))
        self._validation_terms = tf.function(self._per_example_generator_terms, reduce_retracing=True)
        self.log = RunLog(args.log_dir) if self.chief else None
        self.first_epoch = args.start_epoch
        self.end_epoch = args.start_epoch + args.number_of_epochs

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

    # ---- resume ------------------------------------------------------------------------------
    def restore(self):
        """--resume: weights, optimiser states and the epoch from --checkpoints_dir (whose flags
        checkpoints.check_resume has compared with these)."""
        pointer = checkpoints.restore_resume_state(self.resume_checkpoint, self.args.checkpoints_dir)
        self.first_epoch = pointer['next_epoch']
        return pointer

    # ---- one epoch ---------------------------------------------------------------------------
    @staticmethod
    def _check_finite(values, epoch, step, update):
        for name, value in values.items():
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    'loss %s is %s at epoch %d, step %d (%s update): training stopped; the last good '
                    'checkpoint is left as it was' % (name, value, epoch, step, update))

    def training_batches(self, first_epoch, end_epoch):
        """One iterator over the training stream of epochs first_epoch .. end_epoch - 1. A run reads its
        epochs from one iterator: a tf.data iterator dropped at the end of every epoch can hold the
        training loop for seconds while its worker threads stop (benchmarks/README.md, "train.py end
        to end")."""
        batches_per_epoch = self.args.batches_per_epoch * self.batches_per_step
        data = self.dataset.train_dataset(first_epoch * batches_per_epoch,
                                          (end_epoch - first_epoch) * batches_per_epoch)
        return iter(distribute.distribute(self.strategy, data))

    def train_epoch(self, epoch, batches=None):
        """One epoch of --batches_per_epoch steps, read from ``batches`` (training_batches) or, without
        it, from an iterator over this epoch's batches alone; the epoch's mean loss terms."""
        args = self.args
        if batches is None:
            batches = self.training_batches(epoch, epoch + 1)
        for tracker in self.gan.metrics:
            tracker.reset_state()
        progress = tqdm(range(args.batches_per_epoch), desc='epoch %d' % epoch, disable=not self.chief,
                        dynamic_ncols=True)
        for step in progress:
            for _ in range(args.training_ratio):
                real, fake = next(batches), next(batches)
                values = {k: float(v) for k, v in self._d_step(real, fake).items()}
                self._check_finite(values, epoch, step, 'discriminator')
                self.gan.update_metrics(values)
            values = {k: float(v) for k, v in self._g_step(next(batches)).items()}
            self._check_finite(values, epoch, step, 'generator')
            results = self.gan.update_metrics(values)
            progress.set_postfix({k: '%.3g' % float(results[k]) for k in ('D_total', 'G_total')})
        return {name: float(tracker.result()) for name, tracker in self.gan.trackers.items()}

    def validate(self):
        """Generator loss terms over every test pair (means per pair; G_tv per batch of --batch_size)."""
        sums, count = {}, 0
        for batch in self.dataset.test_dataset(self.args.batch_size):
            size = int(tf.shape(batch['source_image'])[0])
            for name, per_example in self._validation_terms(batch).items():
                sums[name] = sums.get(name, 0.0) + float(tf.reduce_sum(per_example))
            count += size
        values = {name: total / count for name, total in sums.items()}
        for name in self.gan.SUMMED_TERMS:
            if name in values:
                values[name] *= self.args.batch_size
        values['G_total'] = sum(values[name] for name in self.gan.generator_term_names())
        return {'val_' + name: value for name, value in values.items()}

    def save_samples(self, epoch):
        names, batch = next(self.dataset.test_batches(self.args.batch_size))
        generated = keras.ops.convert_to_numpy(self.gan.generate(batch, training=False))
        sheet = self.sample_sheet(names, batch, generated)
        save_png(os.path.join(self.args.output_dir, 'epoch_%03d.png' % epoch), sheet)
        self.log.log_image(epoch, 'samples', sheet)
        return sheet

    def save_weights(self, epoch):
        generator_path, discriminator_path = checkpoints.weight_file_names(self.args.checkpoints_dir, epoch)
        with checkpoints.writing(self.args.checkpoints_dir):
            os.makedirs(self.args.checkpoints_dir, exist_ok=True)
        for model, path in ((self.gan.generator, generator_path), (self.gan.discriminator, discriminator_path)):
            with checkpoints.writing(path):   # save_weights removes its own temporary file
                checkpoints.save_weights(model, path)
        return generator_path

    def is_checkpoint_epoch(self, epoch):
        return (epoch + 1) % self.args.checkpoint_ratio == 0

    def train(self):
        """The reference's loop: sheet and checkpoint before the epoch, validation after it; then the
        resume state, and after the last epoch the final weights."""
        try:
            self._train_epochs()
        except distribute.PEER_ERRORS as error:
            lost = distribute.peer_lost(error, self.strategy, distribute.task_name())
            if lost is None:
                raise
            raise lost from error
        distribute.leave_together(self.strategy)

    def _train_epochs(self):
        args = self.args
        batches = self.training_batches(self.first_epoch, self.end_epoch)
        for epoch in range(self.first_epoch, self.end_epoch):
            if self.chief and self.sample_sheet and (epoch + 1) % args.display_ratio == 0:
                self.save_samples(epoch)
            if self.chief and self.is_checkpoint_epoch(epoch):
                self.save_weights(epoch)
            started = time.time()
            values = self.train_epoch(epoch, batches)
            values['seconds'] = time.time() - started
            # The reference validates on epoch 0 itself, not on the first epoch of a resumed run.
            if args.use_validation and (self.is_checkpoint_epoch(epoch) or epoch == 0):
                values.update(self.validate())
            if not self.chief:
                continue
            self.log.log_epoch(epoch, values)
            checkpoints.save_resume_state(self.resume_checkpoint, args.checkpoints_dir, epoch + 1,
                                          {'run': self.run_flags})
            print('epoch %d: %s' % (epoch, ', '.join('%s %.4g' % kv for kv in sorted(values.items()))), flush=True)
        if self.chief:
            print('final weights (after epoch %d): %s' % (self.end_epoch - 1, self.save_weights(self.end_epoch)),
                  flush=True)

