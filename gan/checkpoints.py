"""Checkpoints of a run, in a format every Keras backend reads and writes.

Two kinds, both in --checkpoints_dir:
- ``epoch_XXX_generator.weights.h5`` / ``_discriminator.weights.h5``: the networks' weights only
  (``save_weights``, Keras 3 format, atomic), every --checkpoint_ratio epochs; what test.py, demo.py
  and --generator_checkpoint read.
- the resume state: ``resume/state-epochE-stepS.h5``, one HDF5 file holding every variable of both
  networks (dropout seed states included) and of both optimisers (slots and step counters) at a
  position of the run (``next_epoch`` E, the epoch to train next, and ``next_step`` S, the steps of it
  already trained: 0 after a whole epoch). A group per network and optimiser holds one dataset per
  variable, in the variables' order, each with the variable's Keras ``path``; a restore checks count,
  path and shape of each and casts to the variable's dtype, so a state written under TensorFlow
  restores under JAX and back. The state is written under a temporary name, put on the disk and
  renamed; then the pointer ``resume/latest.json`` (the state's name and position) is replaced in one
  atomic rename; then the older state is deleted. A run killed at any moment leaves the pointer on a
  complete state: the previous one or the new one. Beside them, ``resume.json`` holds the flags that
  define the run, written before its first state.
  States of two TensorFlow layouts still resume, on the TensorFlow backend only: ``resume/state-N.*``
  with its pointer ``resume/checkpoint`` (a tf.train.CheckpointManager's), and ``resume_epoch_XXX/state``
  named by resume.json itself. The next save writes the format above and then deletes them.

A folder holds one run only: a new run refuses to start over an existing one (``--resume`` continues
it, ``--overwrite`` removes its files first), ``--resume`` refuses flags that define another run (the
caller names them: cmd.RUN_FLAGS for train.py), and while a run is alive it holds ``run.lock`` in
--checkpoints_dir (an flock the system drops when the process ends, however it ends), so a second run
started on the same folder stops at once, naming the process that holds it. A write that fails (a
full disk) stops the run with one line naming the file; the last complete checkpoint stays loadable
and no temporary file is left behind.
"""
import atexit
import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import socket
import sys
import time

import h5py
import numpy as np

from gan import atomic

POINTER = 'resume.json'
STATE_FOLDER = 'resume'
LATEST = 'latest.json'                  # in STATE_FOLDER: {'state', 'next_epoch', 'next_step'}
STATE_FILE = 'state-epoch%d-step%d.h5'
STATE_FORMAT = 'deformable-gan resume state'
LOCK = 'run.lock'
# The TensorFlow layouts that still resume (on the TensorFlow backend): a CheckpointManager's pointer
# in STATE_FOLDER naming resume/state-N (after epoch N), and a resume.json naming its state folder
# itself ({'next_epoch', 'state': 'resume_epoch_XXX/state'}).
MANAGER_POINTER = 'checkpoint'
FOLDER_STATE_PREFIX = 'resume_epoch_'
OPTIONS = 'options.json'
# Tests set this to an epoch number E (or E:S for a position within epoch E): the process then kills
# itself (SIGKILL) once that position's state is written whole, before the pointer moves to it, the
# worst moment to die.
KILL_BEFORE_POINTER = 'GAN_CHECKPOINT_KILL_BEFORE_POINTER'

# The files a run writes, per folder flag (names relative to that folder; ``.tmp`` while written).
RUN_FILES = {
    'checkpoints_dir': r'epoch_\d{3,}_(generator|discriminator)(\.tmp)?\.weights\.h5|%s|%s\d{3,}(\.tmp)?|'
                       r'%s(\.tmp)?|%s(\.tmp)?|%s' % (STATE_FOLDER, FOLDER_STATE_PREFIX, re.escape(POINTER),
                                                     re.escape(OPTIONS), re.escape(LOCK)),
    'output_dir': r'epoch_\d{3,}\.png(\.tmp)?',
    'log_dir': r'training_log\.csv(\.tmp)?|loss_curves\.png(\.tmp)?|tensorboard',
}
# What a run leaves only once it has started training; options.json, run.lock and TensorBoard's first
# events alone are left by a start that failed (or by a run that is alive), and are not a run.
STARTED = re.compile(r'(epoch_|%s|%s|training_log)' % (STATE_FOLDER, re.escape(POINTER)))


class RunError(RuntimeError):
    """A run cannot start or go on; the message says why and what to do. Nothing half-written is left."""


def resume_variables(generator, discriminator, g_optimizer, d_optimizer):
    """What the resume state holds, in the order it is saved: every variable of both networks and of
    both optimisers (for ``save_resume_state`` and ``restore_resume_state``)."""
    return {'generator': list(generator.variables), 'discriminator': list(discriminator.variables),
            'g_optimizer': list(g_optimizer.variables), 'd_optimizer': list(d_optimizer.variables)}


def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as error:
            raise RunError('%s is damaged (%s): restore it, or start the run over with --overwrite'
                           % (path, error)) from error


def _manager_state(checkpoints_dir):
    """The state prefix a tf.train.CheckpointManager's pointer names, when its index is there (read as
    tf.train.latest_checkpoint does, without TensorFlow)."""
    folder = os.path.join(checkpoints_dir, STATE_FOLDER)
    try:
        with open(os.path.join(folder, MANAGER_POINTER)) as f:
            found = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', f.read(), re.MULTILINE)
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    if not found:
        return None
    prefix = os.path.join(folder, found.group(1))    # a relative name is relative to the folder
    return prefix if os.path.exists(prefix + '.index') else None


def _read_latest(checkpoints_dir):
    path = os.path.join(checkpoints_dir, STATE_FOLDER, LATEST)
    latest = _read_json(path)
    if latest is None:
        return None
    try:
        return dict(latest, state=os.path.join(STATE_FOLDER, os.path.basename(str(latest['state']))),
                    next_epoch=int(latest['next_epoch']), next_step=int(latest['next_step']))
    except (KeyError, TypeError, ValueError) as error:
        raise RunError('%s is damaged (no valid %s): restore it, or start the run over with --overwrite'
                       % (path, error)) from error


def read_pointer(checkpoints_dir):
    """What --resume continues from, as a dict: resume.json's content (the run's flags, under 'run')
    plus, once a state is saved, 'next_epoch' (the epoch to train next), 'next_step' (the steps of it
    already trained) and 'state' (the state's file or prefix, relative to ``checkpoints_dir``); None
    when there is no resume.json."""
    pointer = _read_json(os.path.join(checkpoints_dir, POINTER))
    if pointer is None:
        return None
    if not isinstance(pointer, dict):
        raise RunError('%s is damaged (not a JSON object): restore it, or start the run over with --overwrite'
                       % os.path.join(checkpoints_dir, POINTER))
    latest = _read_latest(checkpoints_dir)
    if latest is not None:
        pointer.update(latest)
        return pointer
    prefix = _manager_state(checkpoints_dir)
    if prefix:
        pointer.update(next_epoch=int(prefix.rsplit('-', 1)[1]) + 1, next_step=0,
                       state=os.path.relpath(prefix, checkpoints_dir))
    elif 'state' in pointer:
        pointer.setdefault('next_step', 0)
    return pointer


def _tensorflow_errors():
    """tf.errors when TensorFlow is loaded already (its failures are then recognised), else None."""
    return getattr(sys.modules.get('tensorflow'), 'errors', None)


@contextlib.contextmanager
def writing(path, tmp=None):
    """Around the write of ``path`` through the temporary ``tmp``: on any failure ``tmp`` is removed, and
    a failed write (a full disk, no permission) becomes one RunError line naming ``path``."""
    try:
        yield
    except BaseException as error:
        if tmp:
            atomic.remove(tmp)
        tf_errors = _tensorflow_errors()
        tf_failure = getattr(tf_errors, 'OpError', ())
        if not isinstance(error, (OSError,) + ((tf_failure,) if tf_failure else ())):
            raise
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error).strip()
        full = (getattr(error, 'errno', None) == errno.ENOSPC or 'No space left on device' in str(error)
                or isinstance(error, getattr(tf_errors, 'ResourceExhaustedError', ())))
        if full:
            advice = 'free some space on that disk, then continue the run with --resume'
        else:
            advice = 'make it writable (or choose another folder), then continue the run with --resume'
        raise RunError('could not write %s (%s): %s; the last complete checkpoint is kept'
                       % (path, reason.splitlines()[0] if reason else type(error).__name__, advice)) from error


# ---- the resume state ------------------------------------------------------------------------

def _before_pointer(next_epoch, next_step):
    """Runs once a state is written whole, before the pointer moves to it (the kill tests' moment)."""
    if os.environ.get(KILL_BEFORE_POINTER) in (str(next_epoch), '%d:%d' % (next_epoch, next_step)):
        os.kill(os.getpid(), signal.SIGKILL)


def _variable_path(variable):
    return str(getattr(variable, 'path', None) or getattr(variable, 'name', ''))


def _same_kind(saved, here):
    """Paths compared without the counters Keras appends to make names unique in a process
    (``adam_1/dense_2_kernel_momentum`` is ``adam/dense_kernel_momentum``)."""
    def strip(path):
        return re.sub(r'_\d+(?=[_/]|$)', '', path)
    return strip(saved) == strip(here)


def _state_image(variables, position, info):
    """The state as the bytes of an HDF5 file, made in memory: HDF5 writing to a disk that fills up
    leaves its file open in the library, which then crashes the process at exit; the bytes go to the
    disk through ordinary writes, whose failures are ordinary OSErrors."""
    with h5py.File('resume-state', 'w', driver='core', backing_store=False) as f:
        f.attrs['format'] = STATE_FORMAT
        f.attrs['next_epoch'] = position['next_epoch']
        f.attrs['next_step'] = position['next_step']
        f.attrs['info'] = json.dumps(info, sort_keys=True, default=str)
        for name, group_variables in variables.items():
            group = f.create_group(name)
            for index, variable in enumerate(group_variables):
                value = np.asarray(variable.numpy() if hasattr(variable, 'numpy') else variable)
                group.create_dataset('%05d' % index, data=value).attrs['path'] = _variable_path(variable)
        f.flush()
        return f.id.get_file_image()


def _write_state(path, variables, position, info):
    """The state file ``path``, whole on the disk when this returns."""
    image = _state_image(variables, position, info)
    with open(path, 'wb') as f:
        f.write(image)
        f.flush()
        os.fsync(f.fileno())


def save_resume_state(variables, checkpoints_dir, position, info):
    """Saves the run's state at ``position`` ({'next_epoch', 'next_step'}: the epoch to train next and
    the steps of it already trained) from ``variables`` ({group name: [keras variables]}, as
    resume_variables gives), and resume.json (``info``: {'run': flags, ...}) before the run's first
    state; returns the new pointer (read_pointer). The state is whole on the disk before the pointer
    names it, and the older state goes only after that."""
    # Other keys of ``position`` (the trainer's running loss sums of the epoch) travel in the pointer.
    position = dict(position, next_epoch=int(position['next_epoch']), next_step=int(position.get('next_step', 0)))
    pointer_path = os.path.join(checkpoints_dir, POINTER)
    declared = _read_json(pointer_path)
    if declared is None:
        with writing(pointer_path):
            atomic.write_json(pointer_path, info, sync=True)
    folder = os.path.join(checkpoints_dir, STATE_FOLDER)
    name = STATE_FILE % (position['next_epoch'], position['next_step'])
    path = os.path.join(folder, name)
    previous = _read_latest(checkpoints_dir)
    with writing(path, path + atomic.TMP):
        os.makedirs(folder, exist_ok=True)
        _write_state(path + atomic.TMP, variables, position, info)
        os.replace(path + atomic.TMP, path)
        atomic.sync_folder(folder)
    _before_pointer(position['next_epoch'], position['next_step'])
    latest = os.path.join(folder, LATEST)
    try:
        with writing(latest):
            atomic.write_json(latest, dict(position, state=name), sync=True)
    except RunError:
        if previous is None or os.path.basename(previous['state']) != name:
            atomic.remove(path)
        raise
    if declared is not None and declared != json.loads(json.dumps(info, default=str)):
        # a resume.json that names a state folder stays valid until the pointer above names the new state
        with writing(pointer_path):
            atomic.write_json(pointer_path, info, sync=True)
    # Older states, of either format (TensorFlow's files and pointer included), go last.
    for entry in os.listdir(folder):
        if entry not in (name, LATEST):
            atomic.remove(os.path.join(folder, entry))
    for entry in os.listdir(checkpoints_dir):
        if entry.startswith(FOLDER_STATE_PREFIX):
            atomic.remove(os.path.join(checkpoints_dir, entry))
    return read_pointer(checkpoints_dir)


def _cast(value, dtype):
    try:
        return value.astype(dtype)
    except TypeError:           # a dtype numpy does not know by name: the variable's assign converts
        return value


def _restore_state_file(variables, path):
    """Assigns the state file ``path`` into ``variables``, once every variable is known to match."""
    try:
        state = h5py.File(path, 'r')
    except OSError as error:
        raise RunError('%s is not a readable resume state (%s): restore it, or start the run over with '
                       '--overwrite' % (path, str(error).splitlines()[0] if str(error) else 'unreadable')) from error
    assignments = []
    with state:
        if state.attrs.get('format') != STATE_FORMAT:
            raise RunError('%s is not a resume state of this project: restore it, or start the run over with '
                           '--overwrite' % path)
        for name, group_variables in variables.items():
            group = state.get(name)
            count = 0 if group is None else len(group)
            if count != len(group_variables):
                raise RunError('%s holds %d variables of the %s, the %s built here has %d: the state is of '
                               'another run; start it over with --overwrite' % (path, count, name, name,
                                                                               len(group_variables)))
            for index, variable in enumerate(group_variables):
                saved = group['%05d' % index]
                saved_path = saved.attrs.get('path', '')
                saved_path = saved_path.decode() if isinstance(saved_path, bytes) else str(saved_path)
                here = _variable_path(variable)
                if not _same_kind(saved_path, here) or tuple(saved.shape) != tuple(variable.shape):
                    raise RunError('%s: %s variable %d is %s %s in the state and %s %s here: the state is of '
                                   'another run; start it over with --overwrite'
                                   % (path, name, index, saved_path, tuple(saved.shape), here, tuple(variable.shape)))
                assignments.append((variable, _cast(np.asarray(saved[()]), variable.dtype)))
    for variable, value in assignments:
        variable.assign(value)


def _restore_tensorflow_state(variables, prefix):
    """A state in one of TensorFlow's layouts (tf.train.Checkpoint of the same variable lists), on the
    TensorFlow backend only."""
    import keras
    if keras.backend.backend() != 'tensorflow':
        raise RunError('%s is a resume state in TensorFlow\'s format: continue this run once with '
                       'KERAS_BACKEND=tensorflow (its next save writes a state that every backend reads)' % prefix)
    import tensorflow as tf
    checkpoint = tf.train.Checkpoint(**{name: [getattr(v, 'value', v) for v in group_variables]
                                        for name, group_variables in variables.items()})
    try:
        checkpoint.read(prefix).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise RunError('%s does not match the networks built here (%s): start the run over with --overwrite'
                       % (prefix, str(error).strip().splitlines()[0])) from error


def restore_resume_state(variables, checkpoints_dir):
    """Assigns the state that read_pointer names into ``variables`` (as for save_resume_state);
    returns the pointer dict ('next_epoch', 'next_step', 'state', 'run', ...)."""
    pointer = read_pointer(checkpoints_dir)
    if pointer is None:
        raise FileNotFoundError('--resume: no %s in %s (nothing to resume; train without --resume first)'
                                % (POINTER, checkpoints_dir))
    if 'state' not in pointer:
        raise FileNotFoundError('--resume: no saved epoch in %s (the run stopped during its first epoch): start '
                                'it over with --overwrite' % os.path.join(checkpoints_dir, STATE_FOLDER))
    path = os.path.join(checkpoints_dir, pointer['state'])
    if path.endswith('.h5'):
        _restore_state_file(variables, path)
    else:
        _restore_tensorflow_state(variables, path)
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
    trained, steps = pointer['next_epoch'] - args.start_epoch, pointer.get('next_step', 0)
    needed = trained + (1 if steps else 0)      # an epoch begun is finished
    if args.number_of_epochs < needed:
        done = '%d epochs' % trained + (' and %d steps of epoch %d' % (steps, pointer['next_epoch']) if steps else '')
        raise RunError('--resume: the run in %s has trained %s already; give --number_of_epochs %d or '
                       'more' % (args.checkpoints_dir, done, needed))
    return pointer


# ---- one process per run folder --------------------------------------------------------------

_claims = {}   # real path of a folder this process holds -> (lock file descriptor, lock path, folder made, pid)


def _holder(fd):
    """Who holds the lock file ``fd``: its text, read again for a moment while the holder has locked
    it but not yet written its process id."""
    for _ in range(50):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode('utf-8', 'replace').strip()
        if text:
            return text
        time.sleep(0.02)
    return 'unknown'


def _lock(path):
    """An open descriptor of ``path`` under this process's exclusive flock, or None when another
    process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None, fd
        except BaseException:
            os.close(fd)
            raise
        try:   # the run that held it may have deleted the file between this open and this lock
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd, None
        except FileNotFoundError:
            pass
        os.close(fd)


def claim_run_folder(checkpoints_dir):
    """Makes this process the only run in ``checkpoints_dir`` for as long as it lives (or until
    release_run_folder): an exclusive flock on ``run.lock`` there, which holds the process id and host.
    The system drops the lock when the process ends, however it ends; a lock file left by a process
    that has ended is taken over. Another live process holding it: a RunError naming the folder and
    that process. Claiming a folder this process holds already does nothing. Returns the lock file."""
    folder = os.path.realpath(checkpoints_dir)
    if folder in _claims:
        return _claims[folder][1]
    path = os.path.join(folder, LOCK)
    made = not os.path.isdir(folder)
    with writing(path):
        os.makedirs(folder, exist_ok=True)
        fd, held = _lock(path)
        if fd is None:
            holder = _holder(held)
            os.close(held)
            raise RunError('%s is in use by another run (process %s holds %s): wait for it to end, or choose '
                           'another --checkpoints_dir' % (checkpoints_dir, holder, LOCK))
        try:
            os.ftruncate(fd, 0)
            os.write(fd, ('%d on %s\n' % (os.getpid(), socket.gethostname())).encode())
        except BaseException:
            os.close(fd)
            raise
    _claims[folder] = (fd, path, made, os.getpid())
    return path


def release_run_folder(checkpoints_dir):
    """Ends this process's claim on ``checkpoints_dir``: deletes run.lock (and the folder, when the
    claim made it and nothing else is in it). At exit every claim is released. A forked child, which
    shares its parent's claims, leaves them alone."""
    claim = _claims.pop(os.path.realpath(checkpoints_dir), None)
    if claim is None:
        return
    fd, path, made, pid = claim
    if pid != os.getpid():
        return
    atomic.remove(path)      # while locked: a process waiting for it then sees that the file is gone
    os.close(fd)
    if made:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))


@atexit.register
def _release_all():
    for folder in list(_claims):
        release_run_folder(folder)


def check_folders(args):
    """Each of --checkpoints_dir, --output_dir and --log_dir is a folder or can be made one: a path
    that is, or lies under, an existing file is refused."""
    for flag in RUN_FILES:
        given = getattr(args, flag, None)
        if not given:
            continue
        probe = os.path.abspath(given)
        while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe):
            named = given if probe == os.path.abspath(given) else '%s: %s' % (given, probe)
            raise RunError('--%s %s is a file, not a folder: give a folder (it is made if missing)' % (flag, named))


def prepare_run_folders(args, run_flag_names, chief=True):
    """Before anything is built or written: the folders are folders; the chief claims
    --checkpoints_dir for this process (claim_run_folder) before it looks at what is there, so that no
    other run starts there meanwhile; --resume checks the run it continues (returns its pointer); a new
    run refuses folders holding a run unless --overwrite, then removes the old files (chief). When it
    refuses, the claim it made is released."""
    check_folders(args)
    claimed = chief and os.path.realpath(args.checkpoints_dir) not in _claims
    if chief:
        claim_run_folder(args.checkpoints_dir)
    try:
        return _prepare_claimed_folders(args, run_flag_names, chief)
    except BaseException:
        if claimed:
            release_run_folder(args.checkpoints_dir)
        raise


def _prepare_claimed_folders(args, run_flag_names, chief):
    if args.resume:
        return check_resume(args, run_flag_names)
    found = [path for path in existing_run_files(args) if os.path.basename(path) != LOCK]
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
