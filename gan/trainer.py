"""The training loop of a conditional GAN (docs/reference.md, "Losses and training"): per step
--training_ratio discriminator updates (each on fresh batches) then one generator update on a fresh
batch; sample sheets, checkpoints, validation, logs, resume.

An epoch is --batches_per_epoch steps; a step reads 2 * training_ratio + 1 batches of the
reproducible training stream (gan/dataset.py): each discriminator update takes a batch of real pairs
and a batch whose generated images are the fakes (as the reference's discriminator model), the
generator update one more. Step s of epoch e therefore reads the stream from batch (e * batches_per_epoch
+ s) * (2 * training_ratio + 1): data order is a function of (seed, epoch, step), and the resume state's
position is (epoch, step).

Epochs are numbered as in the reference's trainer (docs/reference.md, "Training epochs and
checkpoints"): a run trains epochs start_epoch .. start_epoch + number_of_epochs - 1, and BEFORE epoch
e draws the sheet epoch_e.png when (e + 1) % display_ratio == 0 and writes the checkpoint epoch_e_*
when (e + 1) % checkpoint_ratio == 0, so epoch_e_* holds the weights after e trained epochs. The
weights after the last epoch, which the reference never saved, go to epoch_<end>_* at the end.

The loop is backend-neutral: the steps, the batches and the device state come from the engine of
Keras' backend (gan/engines/). A run stopped by Ctrl-C or SIGTERM finishes its step, writes the resume
state at that step and exits 130 / 143 (gan/interrupts.py); --save_every_steps writes that state every
N steps too. Resuming inside an epoch reads the stream from the next step's batch and restores the
epoch's running loss sums, so it ends where the uninterrupted run ends.

Nothing here knows what the networks draw: the GAN (its train steps, loss terms and metrics), the
dataset (train_dataset, test_dataset, test_batches) and the sample-sheet function come from the caller
(pose_training.py for the Deformable GAN).
"""
import contextlib
import math
import os
import signal
import time

from tqdm import tqdm

from gan import checkpoints, engines
from gan.interrupts import StopRequested, StopRequests
from gan.run_log import RunLog, save_png

make_optimizer = engines.make_optimizer


class NonFiniteLossError(checkpoints.RunError):
    """A loss became NaN or infinite: the run stops, its checkpoints stay as they were."""


class Trainer:
    """Runs epochs start_epoch .. start_epoch + number_of_epochs - 1 of ``gan`` on ``dataset``.

    ``engine``: the engine the networks were built under (engines.make_engine; by default one for
    --distribute and --batch_size). ``sample_sheet(pair names, batch, generated)`` -> uint8 image draws
    the sheets (none without it); ``run_flags`` ({flag: value}, the flags that define the run) are saved
    beside the resume state (resume.json)."""

    def __init__(self, gan, dataset, args, engine=None, sample_sheet=None, run_flags=None):
        self.gan = gan
        self.sample_sheet = sample_sheet
        self.run_flags = dict(run_flags or {})
        self.dataset = dataset
        self.args = args
        self.engine = (engine or engines.make_engine(args.distribute, args.batch_size)).compile(gan)
        self.batches_per_step = 2 * args.training_ratio + 1
        self.chief = self.engine.is_chief
        self.log = RunLog(args.log_dir) if self.chief else None
        self.first_epoch, self.first_step = args.start_epoch, 0
        self.end_epoch = args.start_epoch + args.number_of_epochs
        self.epoch_sums = {}   # loss term -> [sum, count] over the epoch's steps so far
        # Updates started whose losses are not read yet: (update, epoch, step, values as the engine holds them).
        self.unread = []
        self.stops = None

    # ---- resume ------------------------------------------------------------------------------
    def state_variables(self):
        """The variables of the resume state, by group (the engine's values written into them first)."""
        self.engine.sync_variables()
        return checkpoints.resume_variables(self.gan.generator, self.gan.discriminator, self.gan.g_optimizer,
                                            self.gan.d_optimizer)

    def restore(self):
        """--resume: weights, optimiser states and the position (epoch, step) from --checkpoints_dir
        (whose flags checkpoints.check_resume has compared with these)."""
        pointer = checkpoints.restore_resume_state(self.state_variables(), self.args.checkpoints_dir)
        self.engine.reload_variables()
        self.first_epoch = pointer['next_epoch']
        self.first_step = pointer.get('next_step', 0)
        self.epoch_sums = {name: list(value) for name, value in pointer.get('epoch_sums', {}).items()}
        return pointer

    def save_state(self, epoch, step):
        """The resume state before step ``step`` of epoch ``epoch`` (step 0: at the epoch's start). A
        signal that comes while it is written waits for it (gan/interrupts.py)."""
        position = {'next_epoch': epoch, 'next_step': step, 'epoch_sums': self.epoch_sums if step else {}}
        if self.stops is not None:
            self.stops.saving = True
        try:
            return checkpoints.save_resume_state(self.state_variables(), self.args.checkpoints_dir, position,
                                                 {'run': self.run_flags})
        finally:
            if self.stops is not None:
                self.stops.saving = False

    # ---- one epoch ---------------------------------------------------------------------------
    @staticmethod
    def _check_finite(values, epoch, step, update):
        for name, value in values.items():
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    'loss %s is %s at epoch %d, step %d (%s update): training stopped; the last good '
                    'checkpoint is left as it was' % (name, value, epoch, step, update))

    def stream_batch(self, epoch, step):
        """The first batch of the training stream that step ``step`` of epoch ``epoch`` reads."""
        return (epoch * self.args.batches_per_epoch + step) * self.batches_per_step

    def training_batches(self, first_epoch, end_epoch, first_step=0):
        """One iterator over the training stream from step ``first_step`` of ``first_epoch`` to the end
        of epoch end_epoch - 1. A run reads its epochs from one iterator: a tf.data iterator dropped at
        the end of every epoch can hold the training loop for seconds while its worker threads stop
        (benchmarks/README.md, "train.py end to end")."""
        first = self.stream_batch(first_epoch, first_step)
        return self.engine.training_batches(self.dataset, first, self.stream_batch(end_epoch, 0) - first)

    def _started(self, update, epoch, step, values):
        """Records an update just started, then reads the losses of the ones before it: the device runs
        this one meanwhile (gan/engines/common.py, Steps)."""
        self.unread.append((update, epoch, step, values))
        self._read_losses(keep=1)

    def _read_losses(self, keep=0):
        """Reads, checks and adds up the losses of the started updates but the last ``keep``. Before
        anything is saved every update is read (``keep`` 0): a state is written only after its losses
        are known to be finite."""
        while len(self.unread) > keep:
            update, epoch, step, values = self.unread.pop(0)
            values = self.engine.read_losses(values)
            self._check_finite(values, epoch, step, update)
            self._add(values)

    def _add(self, values):
        for name, value in values.items():
            total = self.epoch_sums.setdefault(name, [0.0, 0])
            total[0] += value
            total[1] += 1

    def epoch_means(self):
        return {name: total / count for name, (total, count) in self.epoch_sums.items()}

    def train_epoch(self, epoch, batches=None, first_step=0):
        """Steps first_step .. --batches_per_epoch - 1 of an epoch, read from ``batches``
        (training_batches) or, without it, from an iterator over these steps alone; the epoch's mean
        loss terms (over the whole epoch, the steps before ``first_step`` included)."""
        args = self.args
        if batches is None:
            batches = self.training_batches(epoch, epoch + 1, first_step)
        if first_step == 0:
            self.epoch_sums = {}
        progress = tqdm(range(first_step, args.batches_per_epoch), desc='epoch %d' % epoch,
                        disable=not self.chief, dynamic_ncols=True, initial=first_step, total=args.batches_per_epoch)
        for step in progress:
            for _ in range(args.training_ratio):
                self._started('discriminator', epoch, step,
                              self.engine.start_discriminator_step(next(batches), next(batches)))
            self._started('generator', epoch, step, self.engine.start_generator_step(next(batches)))
            means = self.epoch_means()   # of the updates read so far
            progress.set_postfix({k: '%.3g' % means[k] for k in ('D_total', 'G_total') if k in means})
            self._after_step(epoch, step + 1, progress)
        self._read_losses()
        return self.epoch_means()

    def _after_step(self, epoch, next_step, progress):
        """A signal or --save_every_steps: the resume state at this step (a signal then stops the run)."""
        every = getattr(self.args, 'save_every_steps', 0) or 0
        stopping = self.stops is not None and self.stops.requested
        if not (stopping or (every and next_step % every == 0 and next_step < self.args.batches_per_epoch)):
            return
        self._read_losses()
        if self.chief:
            self.save_state(epoch, next_step)
        if stopping:
            progress.close()
            if self.chief:
                self.log.draw_curves()
            raise StopRequested(
                'stopped by %s at epoch %d, step %d of %d; the resume state is in %s: continue with the same '
                'command and --resume' % (self.stops.signal_name, epoch, next_step, self.args.batches_per_epoch,
                                          os.path.join(self.args.checkpoints_dir, checkpoints.STATE_FOLDER)),
                self.stops.signal_number)

    def validate(self):
        """Generator loss terms over every test pair (means per pair; G_tv per batch of --batch_size)."""
        sums, count = {}, 0
        for _, batch in self.dataset.test_batches(self.args.batch_size):
            size = len(batch['source_image'])
            for name, per_example in self.engine.validation_terms(batch).items():
                sums[name] = sums.get(name, 0.0) + float(per_example.sum())
            count += size
        values = {name: total / count for name, total in sums.items()}
        for name in self.gan.SUMMED_TERMS:
            if name in values:
                values[name] *= self.args.batch_size
        values['G_total'] = sum(values[name] for name in self.gan.generator_term_names())
        return {'val_' + name: value for name, value in values.items()}

    def save_samples(self, epoch):
        names, batch = next(iter(self.dataset.test_batches(self.args.batch_size)))
        sheet = self.sample_sheet(names, batch, self.engine.generate(batch))
        save_png(os.path.join(self.args.output_dir, 'epoch_%03d.png' % epoch), sheet)
        self.log.log_image(epoch, 'samples', sheet)
        return sheet

    def save_weights(self, epoch):
        self.engine.sync_variables()
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
        resume state, and after the last epoch the final weights. Ctrl-C and SIGTERM stop it after a
        step with its state written (StopRequested), except in a multi-worker run, whose workers must
        stop together (there the last epoch's state is what --resume continues from)."""
        with (contextlib.nullcontext() if self.engine.multi_worker else StopRequests()) as stops:
            self.stops = stops
            with self.engine.peers_guard():
                try:
                    self._train_epochs()
                except KeyboardInterrupt:   # only a multi-worker run lets Ctrl-C through
                    raise StopRequested(
                        'stopped by SIGINT; a multi-worker run keeps the resume state of its last whole epoch '
                        'in %s: continue every worker with the same command and --resume'
                        % os.path.join(self.args.checkpoints_dir, checkpoints.STATE_FOLDER), signal.SIGINT)
            self.engine.finish()

    def _train_epochs(self):
        args = self.args
        batches = self.training_batches(self.first_epoch, self.end_epoch, self.first_step)
        try:
            for epoch in range(self.first_epoch, self.end_epoch):
                first_step = self.first_step if epoch == self.first_epoch else 0
                if first_step == 0:   # a run resumed inside an epoch did these at the epoch's start
                    if self.chief and self.sample_sheet and (epoch + 1) % args.display_ratio == 0:
                        self.save_samples(epoch)
                    if self.chief and self.is_checkpoint_epoch(epoch):
                        self.save_weights(epoch)
                started = time.time()
                values = self.train_epoch(epoch, batches, first_step)
                values['seconds'] = time.time() - started
                # The reference validates on epoch 0 itself, not on the first epoch of a resumed run.
                if args.use_validation and (self.is_checkpoint_epoch(epoch) or epoch == 0):
                    values.update(self.validate())
                if not self.chief:
                    continue
                self.log.log_epoch(epoch, values)
                self.save_state(epoch + 1, 0)
                print('epoch %d: %s' % (epoch, ', '.join('%s %.4g' % kv for kv in sorted(values.items()))),
                      flush=True)
        finally:
            close = getattr(batches, 'close', None)
            if close is not None:
                close()
        if self.chief:
            self.log.draw_curves()
            print('final weights (after epoch %d): %s' % (self.end_epoch - 1, self.save_weights(self.end_epoch)),
                  flush=True)
