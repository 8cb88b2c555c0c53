"""Checkpoints of a run.

Two kinds, both in --checkpoints_dir:
- ``epoch_XXX_generator.weights.h5`` / ``_discriminator.weights.h5``: the networks' weights only
  (``save_weights``, Keras 3 format, atomic), every --checkpoint_ratio epochs; what test.py, demo.py
  and --generator_checkpoint read.
- the resume state, after every epoch: ``resume/state-N.*``, a tf.train.Checkpoint of every variable
  of both networks (dropout seed states included) and of both optimisers (slots and step counters)
  after epoch N, kept by a tf.train.CheckpointManager: it writes the state whole, then replaces its
  pointer ``resume/checkpoint`` (one atomic rename), then deletes the older state. A run killed at any
  moment leaves the pointer on a complete state: the previous one or the new one. Beside it,
  ``resume.json`` holds the flags that define the run, written before its first state.

A folder holds one run only: a new run refuses to start over an existing one (``--resume`` continues
it, ``--overwrite`` removes its files first), and ``--resume`` refuses flags that define another run
(the caller names them: cmd.RUN_FLAGS for train.py). A write that fails (a full disk) stops the run
with one line naming the file; the last complete checkpoint stays loadable and no temporary file is
left behind.
"""
import contextlib
import errno
import glob
import json
import os
import re
import signal

import tensorflow as tf

from gan import atomic

POINTER = 'resume.json'
STATE_FOLDER = 'resume'
STATE_NAME = 'state'
# A resume.json that names its state folder itself ({'next_epoch', 'state': 'resume_epoch_XXX/state'}) is
# read too, so that runs saved in that layout still resume; the next save moves them to STATE_FOLDER.
FOLDER_STATE_PREFIX = 'resume_epoch_'
OPTIONS = 'options.json'
# Tests set this to an epoch number: the process then kills itself (SIGKILL) once that epoch's state is
# written whole, before the pointer moves to it, the worst moment to die.
KILL_BEFORE_POINTER = 'GAN_CHECKPOINT_KILL_BEFORE_POINTER'

# The files a run writes, per folder flag (names relative to that folder; ``.tmp`` while written).
RUN_FILES = {
    'checkpoints_dir': r'epoch_\d{3,}_(generator|discriminator)(\.tmp)?\.weights\.h5|%s|%s\d{3,}(\.tmp)?|'
                       r'%s(\.tmp)?|%s(\.tmp)?' % (STATE_FOLDER, FOLDER_STATE_PREFIX, re.escape(POINTER),
                                                  re.escape(OPTIONS)),
    'output_dir': r'epoch_\d{3,}\.png(\.tmp)?',
    'log_dir': r'training_log\.csv(\.tmp)?|loss_curves\.png(\.tmp)?|tensorboard',
}
# What a run leaves only once it has started training; options.json and TensorBoard's first events
# alone are left by a start that failed, and are replaced without asking.
STARTED = re.compile(r'(epoch_|%s|%s|training_log)' % (STATE_FOLDER, re.escape(POINTER)))


class RunError(RuntimeError):
    """A run cannot start or go on; the message says why and what to do. Nothing half-written is left."""


def _tf_variables(variables):
    return [getattr(v, 'value', v) for v in variables]


def make_resume_checkpoint(generator, discriminator, g_optimizer, d_optimizer):
    """tf.train.Checkpoint over explicit variable lists (Keras 3 models are not tracked by attribute)."""
    return tf.train.Checkpoint(generator=_tf_variables(generator.variables),
                               discriminator=_tf_variables(discriminator.variables),
                               g_optimizer=_tf_variables(g_optimizer.variables),
                               d_optimizer=_tf_variables(d_optimizer.variables))


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as error:
            raise RunError('%s is damaged (%s): restore it, or start the run over with --overwrite'
                           % (path, error)) from error


def read_pointer(checkpoints_dir):
    """What --resume continues from, as a dict: resume.json's content (the run's flags, under 'run')
    plus, once an epoch is saved, 'next_epoch' (the epoch to train next) and 'state' (the checkpoint
    prefix, relative to ``checkpoints_dir``); None when there is no resume.json."""
    pointer = _read_json(os.path.join(checkpoints_dir, POINTER))
    if pointer is None:
        return None
    latest = tf.train.latest_checkpoint(os.path.join(checkpoints_dir, STATE_FOLDER))
    if latest:
        pointer.update(next_epoch=int(latest.rsplit('-', 1)[1]) + 1,
                       state=os.path.relpath(latest, checkpoints_dir))
    return pointer


@contextlib.contextmanager
def writing(path, tmp=None):
    """Around the write of ``path`` through the temporary ``tmp``: on any failure ``tmp`` is removed, and
    a failed write (a full disk, no permission) becomes one RunError line naming ``path``."""
    try:
        yield
    except BaseException as error:
        if tmp:
            atomic.remove(tmp)
        if not isinstance(error, (OSError, tf.errors.OpError)):
            raise
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error).strip()
        if isinstance(error, tf.errors.ResourceExhaustedError) or getattr(error, 'errno', None) == errno.ENOSPC:
            advice = 'free some space on that disk, then continue the run with --resume'
        else:
            advice = 'make it writable (or choose another folder), then continue the run with --resume'
        raise RunError('could not write %s (%s): %s; the last complete checkpoint is kept'
                       % (path, reason.splitlines()[0] if reason else type(error).__name__, advice)) from error


def _state_manager(checkpoint, checkpoints_dir):
    # The state files are named by the epoch they follow: resume/state-1.* after epoch 1.
    return tf.train.CheckpointManager(checkpoint, os.path.join(checkpoints_dir, STATE_FOLDER), max_to_keep=1,
                                      checkpoint_name=STATE_NAME)


def _before_pointer(next_epoch):
    """Runs once a state is written whole, before the pointer moves to it (the kill tests' moment)."""
    if os.environ.get(KILL_BEFORE_POINTER) == str(next_epoch):
        os.kill(os.getpid(), signal.SIGKILL)


def _partial_state(prefix):
    """The files TensorFlow writes for the checkpoint ``prefix``: its index, data shards and temporary folder."""
    return [prefix + '.index'] + glob.glob(glob.escape(prefix) + '.data-*') + [prefix + '_temp']


def save_resume_state(checkpoint, checkpoints_dir, next_epoch, info):
    """Writes the state after an epoch (``next_epoch`` = the epoch to train next) through the run's
    CheckpointManager, and resume.json (``info``) before the run's first state."""
    pointer_path = os.path.join(checkpoints_dir, POINTER)
    declared = _read_json(pointer_path)
    if declared is None:
        with writing(pointer_path):
            atomic.write_json(pointer_path, info, sync=True)
    manager = _state_manager(checkpoint, checkpoints_dir)
    prefix = '%s-%d' % (os.path.join(checkpoints_dir, STATE_FOLDER, STATE_NAME), next_epoch - 1)
    # The manager appends its own callback, which moves the pointer, after this one.
    options = tf.train.CheckpointOptions(experimental_write_callbacks=[lambda path: _before_pointer(next_epoch)])
    try:
        with writing(prefix):
            manager.save(checkpoint_number=next_epoch - 1, options=options)
    except BaseException:
        if tf.train.latest_checkpoint(os.path.dirname(prefix)) != prefix:
            for path in _partial_state(prefix):
                atomic.remove(path)
        raise
    if declared is not None and declared != info:
        # A resume.json naming a state folder stays valid until the manager's first state is complete.
        with writing(pointer_path):
            atomic.write_json(pointer_path, info, sync=True)
    for entry in os.listdir(checkpoints_dir):
        if entry.startswith(FOLDER_STATE_PREFIX):
            atomic.remove(os.path.join(checkpoints_dir, entry))
    return read_pointer(checkpoints_dir)


def restore_resume_state(checkpoint, checkpoints_dir):
    """Loads the state that read_pointer names into ``checkpoint``; returns the pointer dict."""
    pointer = read_pointer(checkpoints_dir)
    if pointer is None:
        raise FileNotFoundError('--resume: no %s in %s (nothing to resume; train without --resume first)'
                                % (POINTER, checkpoints_dir))
    if 'state' not in pointer:
        raise FileNotFoundError('--resume: no saved epoch in %s (the run stopped during its first epoch): start '
                                'it over with --overwrite' % os.path.join(checkpoints_dir, STATE_FOLDER))
    status = checkpoint.read(os.path.join(checkpoints_dir, pointer['state']))
    status.assert_existing_objects_matched()
    return pointer


KERAS3_SUFFIX = '.weights.h5'


def save_weights(model, path):
    """Write the model's weights to ``path`` (Keras 3 ``.weights.h5``), atomically: Keras insists on
    the suffix, so the temporary file is ``<name>.tmp.weights.h5`` in the same folder, then renamed."""
    path = os.fspath(path)
    if not path.endswith(KERAS3_SUFFIX):
        raise ValueError(f'{path}: weight files must end with {KERAS3_SUFFIX}')
    with atomic.atomic_path(path, keep_suffix=KERAS3_SUFFIX) as tmp:
        model.save_weights(tmp)


def weight_file_names(checkpoints_dir, epoch):
    stem = os.path.join(checkpoints_dir, 'epoch_%03d' % epoch)
    return stem + '_generator.weights.h5', stem + '_discriminator.weights.h5'


# ---- one run per folder ----------------------------------------------------------------------

def run_flags(args, names):
    """{flag: value} of the flags ``names`` that define the run, as saved in resume.json (JSON values,
    so that they compare)."""
    return json.loads(json.dumps({name: getattr(args, name) for name in names}))


def existing_run_files(args):
    """The files of RUN_FILES in the run's folders, sorted, each once."""
    found = set()
    for flag, pattern in RUN_FILES.items():
        folder = getattr(args, flag)
        if os.path.isdir(folder):
            found.update(os.path.join(folder, entry) for entry in os.listdir(folder) if re.fullmatch(pattern, entry))
    return sorted(found)


def _resume_differences(saved, given):
    return ['--%s saved %s, given %s' % (name, saved[name], given[name])
            for name in given if name in saved and saved[name] != given[name]]


def check_resume(args, run_flag_names):
    """--resume: the pointer of --checkpoints_dir, once the flags are known to continue that run."""
    pointer = read_pointer(args.checkpoints_dir)
    if pointer is None:
        raise RunError('--resume: no %s in %s, so there is no run to continue; train without --resume '
                       '(add --overwrite to replace what is there)' % (POINTER, args.checkpoints_dir))
    differences = _resume_differences(pointer.get('run', {}), run_flags(args, run_flag_names))
    if differences:
        raise RunError('--resume: flags that define the run differ from those saved in %s: %s. Give the saved '
                       'values to continue it, or start a new run in another --checkpoints_dir'
                       % (os.path.join(args.checkpoints_dir, POINTER), '; '.join(differences)))
    if 'next_epoch' not in pointer:
        raise RunError('--resume: the run in %s stopped before it saved an epoch (nothing in %s): start it over '
                       'with --overwrite' % (args.checkpoints_dir, os.path.join(args.checkpoints_dir, STATE_FOLDER)))
    trained = pointer['next_epoch'] - args.start_epoch
    if args.number_of_epochs < trained:
        raise RunError('--resume: the run in %s has trained %d epochs already; give --number_of_epochs %d or '
                       'more' % (args.checkpoints_dir, trained, trained))
    return pointer


def prepare_run_folders(args, run_flag_names, chief=True):
    """Before anything is built or written: --resume checks the run it continues (returns its pointer);
    a new run refuses folders holding a run unless --overwrite, then removes the old files (chief)."""
    if args.resume:
        return check_resume(args, run_flag_names)
    found = existing_run_files(args)
    started = [path for path in found if STARTED.match(os.path.basename(path))]
    if started and not args.overwrite:
        folders = ', '.join(sorted({os.path.dirname(path) for path in started}))
        names = sorted({os.path.basename(path) for path in started}, key=lambda name: (name != POINTER, name))
        raise RunError('a run is already there, in %s (%s%s): continue it with --resume, start it over with '
                       '--overwrite (deletes its files), or choose another --checkpoints_dir, --output_dir and '
                       '--log_dir' % (folders, ', '.join(names[:3]), ', ...' if len(names) > 3 else ''))
    starting_points = {os.path.abspath(path) for path in (args.generator_checkpoint, args.discriminator_checkpoint)
                       if path}
    read = [path for path in found if os.path.abspath(path) in starting_points]
    if read:
        raise RunError('%s is to be read (--generator_checkpoint / --discriminator_checkpoint) but belongs to the '
                       'run that --overwrite deletes: copy it elsewhere first, or choose another --checkpoints_dir'
                       % read[0])
    if chief:
        for path in found:
            atomic.remove(path)
    return None
