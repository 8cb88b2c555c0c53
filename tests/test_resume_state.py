"""The resume state (gan/checkpoints.py): every variable of two small networks and their Adam states
saved and restored exactly, at epoch boundaries and within an epoch; a state written under one Keras
backend restored under another; a save interrupted at any point (an exception, SIGKILL, a full disk, a
real write failure) leaving the previous state loadable; the TensorFlow layouts of older runs read,
then replaced by the next save; one process per run folder (run.lock); folder flags that name files."""
import errno
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import keras
import numpy as np
import pytest

from gan import checkpoints
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = keras.backend.backend()
OTHER_BACKEND = 'jax' if BACKEND == 'tensorflow' else 'tensorflow'
INFO = {'run': {'seed': 3, 'warp_skip': 'mask'}}


def small_state():
    """Two small networks and two Adam optimisers, each applied once (slots and step counters not at
    their initial values): the variables of a resume state, as checkpoints.resume_variables lists them."""
    inputs = keras.Input((4,))
    generator = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3)(inputs)))
    image = keras.Input((2,))
    discriminator = keras.Model(image, keras.layers.Dense(1)(image))
    optimizers = []
    for model in (generator, discriminator):
        optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
        optimizer.apply([keras.ops.ones(v.shape, v.dtype) for v in model.trainable_variables],
                        model.trainable_variables)
        optimizers.append(optimizer)
    return checkpoints.resume_variables(generator, discriminator, *optimizers)


def values_of(variables):
    return {name: [np.array(v.numpy()) for v in group] for name, group in variables.items()}


def pattern(variable, base):
    """A value for ``variable`` that no other base gives: base + its index / 100 (whole for integers)."""
    shape = tuple(variable.shape)
    value = base + np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape) / 100.0
    return np.full(shape, int(base)) if 'int' in str(variable.dtype) else value


def fill(variables, base):
    for group in variables.values():
        for variable in group:
            variable.assign(pattern(variable, base).astype(variable.dtype))


def assert_filled(variables, base):
    for name, group in variables.items():
        for variable in group:
            np.testing.assert_allclose(variable.numpy(), pattern(variable, base), rtol=1e-6, err_msg=variable.path)


def assert_same(values, variables):
    now = values_of(variables)
    for name in values:
        assert len(values[name]) == len(now[name])
        for before, after in zip(values[name], now[name]):
            assert before.dtype == after.dtype
            np.testing.assert_array_equal(before, after)


def state_folder(directory):
    return sorted(os.listdir(os.path.join(directory, checkpoints.STATE_FOLDER)))


def position(next_epoch, next_step=0):
    return {'next_epoch': next_epoch, 'next_step': next_step}


# ---- what is saved and restored --------------------------------------------------------------

def test_every_variable_comes_back_exactly(tmp_path):
    directory = str(tmp_path / 'checkpoints')
    variables = small_state()
    saved = values_of(variables)
    assert int(saved['g_optimizer'][0]) == 1 and np.any(saved['g_optimizer'][2] != 0)   # applied once
    pointer = checkpoints.save_resume_state(variables, directory, position(1), INFO)
    assert pointer == dict(INFO, next_epoch=1, next_step=0, state=os.path.join('resume', 'state-epoch1-step0.h5'))
    assert sorted(os.listdir(directory)) == ['resume', 'resume.json']
    assert state_folder(directory) == ['latest.json', 'state-epoch1-step0.h5']
    assert json.load(open(os.path.join(directory, 'resume.json'))) == INFO

    fill(variables, 5.0)
    assert checkpoints.restore_resume_state(variables, directory) == pointer
    assert_same(saved, variables)

    fresh = small_state()   # built later in this process: its layers and optimisers are named dense_2, adam_2...
    assert fresh['g_optimizer'][2].path != variables['g_optimizer'][2].path
    checkpoints.restore_resume_state(fresh, directory)
    assert_same(saved, fresh)


def test_the_file_holds_the_variables_in_order_with_their_paths(tmp_path):
    directory = str(tmp_path)
    variables = small_state()
    checkpoints.save_resume_state(variables, directory, position(4, 2), INFO)
    with h5py.File(os.path.join(directory, 'resume', 'state-epoch4-step2.h5'), 'r') as f:
        assert sorted(f) == ['d_optimizer', 'discriminator', 'g_optimizer', 'generator']
        assert (f.attrs['next_epoch'], f.attrs['next_step']) == (4, 2)
        assert json.loads(f.attrs['info']) == INFO
        for name, group in variables.items():
            assert len(f[name]) == len(group)
            for index, variable in enumerate(group):
                dataset = f[name]['%05d' % index]
                assert dataset.attrs['path'] == variable.path
                np.testing.assert_array_equal(dataset[()], variable.numpy())


def test_a_position_within_an_epoch_is_kept_and_the_older_state_goes(tmp_path):
    directory = str(tmp_path)
    variables = small_state()
    checkpoints.save_resume_state(variables, directory, position(1), INFO)
    fill(variables, 2.0)
    sums = {'G_total': 1.5, 'D_total': 0.25}     # other keys of the position travel in the pointer
    pointer = checkpoints.save_resume_state(variables, directory, dict(position(1, 3), sums=sums), INFO)
    assert (pointer['next_epoch'], pointer['next_step'], pointer['sums']) == (1, 3, sums)
    assert state_folder(directory) == ['latest.json', 'state-epoch1-step3.h5']
    assert checkpoints.read_pointer(directory) == pointer
    fill(variables, 0.0)
    assert checkpoints.restore_resume_state(variables, directory)['next_step'] == 3
    assert_filled(variables, 2.0)


def test_a_state_of_other_networks_is_refused_and_nothing_is_assigned(tmp_path):
    directory = str(tmp_path)
    checkpoints.save_resume_state(small_state(), directory, position(1), INFO)
    inputs = keras.Input((4,))
    wider = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(5)(inputs)))
    other = dict(small_state(), generator=wider.variables)
    before = values_of(other)
    state = os.path.join(directory, 'resume', 'state-epoch1-step0.h5')
    with pytest.raises(checkpoints.RunError, match=r'^%s: generator variable 0 is dense(_\d+)?/kernel \(4, 3\) in the '
                       r'state and dense_\d+/kernel \(4, 5\) here: the state is of another run' % state):
        checkpoints.restore_resume_state(other, directory)
    assert_same(before, other)
    fewer = dict(small_state(), discriminator=[])
    with pytest.raises(checkpoints.RunError, match='holds 2 variables of the discriminator, the discriminator built '
                                                   'here has 0'):
        checkpoints.restore_resume_state(fewer, directory)
    with h5py.File(state, 'r+') as f:
        f['generator']['00000'].attrs['path'] = 'conv2d_3/kernel'
    with pytest.raises(checkpoints.RunError, match=r'variable 0 is conv2d_3/kernel \(4, 3\) in the state'):
        checkpoints.restore_resume_state(small_state(), directory)


def test_a_damaged_state_file_is_named(tmp_path):
    directory = str(tmp_path)
    checkpoints.save_resume_state(small_state(), directory, position(1), INFO)
    state = os.path.join(directory, 'resume', 'state-epoch1-step0.h5')
    data = open(state, 'rb').read()
    open(state, 'wb').write(data[:len(data) // 3])
    with pytest.raises(checkpoints.RunError, match='^%s is not a readable resume state' % state):
        checkpoints.restore_resume_state(small_state(), directory)


# ---- a save interrupted ----------------------------------------------------------------------

class Killed(Exception):
    pass


def test_a_save_interrupted_at_any_point_leaves_the_previous_state(tmp_path, monkeypatch):
    directory = str(tmp_path)
    variables = small_state()
    checkpoints.save_resume_state(variables, directory, position(1), INFO)
    saved = values_of(variables)
    real_write = checkpoints._write_state

    def half_written(path, *args):
        open(path, 'wb').write(b'partial')
        raise Killed(path)

    def before_pointer(*position):
        raise Killed(position)

    for dying in ('while writing the state', 'before the pointer moves'):
        fill(variables, 9.0)
        with monkeypatch.context() as patch:
            if dying == 'while writing the state':
                patch.setattr(checkpoints, '_write_state', half_written)
            else:
                patch.setattr(checkpoints, '_before_pointer', before_pointer)
            with pytest.raises(Killed):
                checkpoints.save_resume_state(variables, directory, position(2), INFO)
        assert checkpoints.read_pointer(directory)['next_epoch'] == 1, dying
        expected = ['latest.json', 'state-epoch1-step0.h5']
        if dying == 'before the pointer moves':    # whole, but not named by the pointer
            expected.append('state-epoch2-step0.h5')
        assert state_folder(directory) == expected, dying
        checkpoints.restore_resume_state(variables, directory)
        assert_same(saved, variables)
    assert checkpoints._write_state is real_write
    checkpoints.save_resume_state(variables, directory, position(3), INFO)
    assert state_folder(directory) == ['latest.json', 'state-epoch3-step0.h5']


def test_a_full_disk_while_saving_names_the_state_and_keeps_the_previous(tmp_path, monkeypatch):
    """The disk fills up while the state's bytes go to it (fsync reports it, as on a file system that
    writes back later)."""
    directory = str(tmp_path)
    variables = small_state()
    checkpoints.save_resume_state(variables, directory, position(1), INFO)
    saved = values_of(variables)

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, 'fsync', fsync)
    fill(variables, 9.0)
    state = os.path.join(directory, 'resume', 'state-epoch2-step0.h5')
    with pytest.raises(checkpoints.RunError) as error:
        checkpoints.save_resume_state(variables, directory, position(2), INFO)
    assert str(error.value) == ('could not write %s (No space left on device): free some space on that disk, then '
                                'continue the run with --resume; the last complete checkpoint is kept' % state)
    monkeypatch.undo()
    assert state_folder(directory) == ['latest.json', 'state-epoch1-step0.h5']
    checkpoints.restore_resume_state(variables, directory)
    assert_same(saved, variables)


class ArrayVariable:
    """A numpy array with what the resume state reads and writes of a Keras variable (for processes
    that need no Keras)."""

    def __init__(self, path, value):
        self.path, self.value = path, value

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)

    def numpy(self):
        return self.value

    def assign(self, value):
        self.value = np.asarray(value, self.value.dtype)


FILE_SIZE_LIMITED = textwrap.dedent('''
    import resource, signal, sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from gan import checkpoints
    {array_variable}
    small = {{'generator': [ArrayVariable('dense/kernel', np.full((10, 10), 1.0, np.float32))]}}
    checkpoints.save_resume_state(small, {directory!r}, {{'next_epoch': 1, 'next_step': 0}}, {{'run': {{}}}})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
    large = {{'generator': [ArrayVariable('dense/kernel', np.full((100, 100), 2.0, np.float32))]}}
    try:
        checkpoints.save_resume_state(large, {directory!r}, {{'next_epoch': 2, 'next_step': 0}}, {{'run': {{}}}})
    except checkpoints.RunError as error:
        print(error)
''')


def test_a_write_that_really_fails_leaves_the_previous_state(tmp_path):
    """A file-size limit makes HDF5's own write fail for real (no stand-in): one line naming the state,
    no temporary file, the previous state whole."""
    directory = str(tmp_path / 'checkpoints')
    script = tmp_path / 'limited.py'
    script.write_text(FILE_SIZE_LIMITED.format(root=ROOT, directory=directory,
                                                array_variable=inspect.getsource(ArrayVariable)))
    child = subprocesses.run([sys.executable, str(script)], 120)
    assert child.returncode == 0, child.stderr[-3000:]
    state = os.path.join(directory, 'resume', 'state-epoch2-step0.h5')
    assert child.stdout.strip() == ('could not write %s (File too large): make it writable (or choose another '
                                    'folder), then continue the run with --resume; the last complete checkpoint '
                                    'is kept' % state)
    assert state_folder(directory) == ['latest.json', 'state-epoch1-step0.h5']
    variable = ArrayVariable('dense/kernel', np.zeros((10, 10), np.float32))
    assert checkpoints.restore_resume_state({'generator': [variable]}, directory)['next_epoch'] == 1
    assert np.all(variable.value == 1.0)


# ---- across backends, and killed ---------------------------------------------------------------

BACKEND_SCRIPT = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, {root!r})
    import keras
    from gan import checkpoints
    from tests.test_resume_state import small_state, fill, assert_filled
    mode, directory = sys.argv[1], sys.argv[2]
    variables = small_state()
    if mode == 'write':                  # states for epochs 1, 2, ...: all values base = the epoch
        for epoch in range(1, int(sys.argv[3]) + 1):
            fill(variables, float(epoch))
            checkpoints.save_resume_state(variables, directory, {{'next_epoch': epoch, 'next_step': 0}},
                                          {{'run': {{'seed': 3}}}})
    else:                                # restore; check the values of base sys.argv[3]
        pointer = checkpoints.restore_resume_state(variables, directory)
        assert_filled(variables, float(sys.argv[3]))
        refusal = None
        try:                             # a state in TensorFlow's format (sys.argv[4])
            checkpoints.restore_resume_state(variables, sys.argv[4])
        except checkpoints.RunError as error:
            refusal = str(error)
        print(json.dumps({{'backend': keras.backend.backend(), 'pointer': pointer, 'refusal': refusal,
                          'iterations': str(variables['g_optimizer'][0].dtype)}}))
''')


def run_backend_script(tmp_path, backend, *arguments, env=None):
    script = tmp_path / 'backend_script.py'
    script.write_text(BACKEND_SCRIPT.format(root=ROOT))
    environment = dict(os.environ, KERAS_BACKEND=backend, **(env or {}))
    return subprocesses.run([sys.executable, str(script)] + [str(a) for a in arguments], 300, env=environment)


def tensorflow_checkpoint(variables):
    import tensorflow as tf
    return tf.train.Checkpoint(**{name: [v.value for v in group] for name, group in variables.items()})


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != 'tensorflow', reason='the TensorFlow backend writes the TensorFlow-format state')
def test_a_state_written_on_one_backend_restores_on_the_other(tmp_path):
    """JAX writes; TensorFlow (this process) restores it and writes the next; JAX restores that, and
    refuses a state in TensorFlow's format with one line."""
    directory = str(tmp_path / 'checkpoints')
    written = run_backend_script(tmp_path, 'jax', 'write', directory, 2)
    assert written.returncode == 0, written.stderr[-3000:]
    with h5py.File(os.path.join(directory, 'resume', 'state-epoch2-step0.h5'), 'r') as f:
        jax_iterations = f['g_optimizer']['00000'].dtype
    variables = small_state()
    assert checkpoints.restore_resume_state(variables, directory)['next_epoch'] == 2
    assert_filled(variables, 2.0)
    assert str(variables['g_optimizer'][0].dtype) == 'int64' and jax_iterations == np.int32   # cast on restore
    fill(variables, 3.0)
    checkpoints.save_resume_state(variables, directory, position(3), {'run': {'seed': 3}})

    legacy = str(tmp_path / 'legacy')
    tensorflow_checkpoint(variables).write(os.path.join(legacy, 'resume_epoch_004', 'state'))
    with open(os.path.join(legacy, 'resume.json'), 'w') as f:
        json.dump({'run': {'seed': 3}, 'next_epoch': 5, 'state': os.path.join('resume_epoch_004', 'state')}, f)
    restored = run_backend_script(tmp_path, 'jax', 'restore', directory, 3, legacy)
    assert restored.returncode == 0, restored.stderr[-3000:]
    report = json.loads(restored.stdout.strip().splitlines()[-1])
    assert report['backend'] == 'jax' and report['iterations'] == 'int32'
    assert report['pointer']['next_epoch'] == 3
    assert report['refusal'] == (
        "%s is a resume state in TensorFlow's format: continue this run once with KERAS_BACKEND=tensorflow (its "
        "next save writes a state that every backend reads)" % os.path.join(legacy, 'resume_epoch_004', 'state'))


@pytest.mark.slow
def test_sigkill_before_the_pointer_moves_leaves_a_loadable_state(tmp_path):
    """The writer kills itself (KILL_BEFORE_POINTER) once the third state is written whole, before the
    pointer moves to it: the second one loads, whole; the next save clears the third away."""
    directory = str(tmp_path / 'checkpoints')
    child = run_backend_script(tmp_path, OTHER_BACKEND, 'write', directory, 9,
                               env={checkpoints.KILL_BEFORE_POINTER: '3'})
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert state_folder(directory) == ['latest.json', 'state-epoch2-step0.h5', 'state-epoch3-step0.h5']
    variables = small_state()
    assert checkpoints.restore_resume_state(variables, directory)['next_epoch'] == 2
    assert_filled(variables, 2.0)
    checkpoints.save_resume_state(variables, directory, position(3, 1), {'run': {'seed': 3}})
    assert state_folder(directory) == ['latest.json', 'state-epoch3-step1.h5']


# ---- the TensorFlow layouts of older runs ------------------------------------------------------

tensorflow_only = pytest.mark.skipif(BACKEND != 'tensorflow', reason='TensorFlow-format states need TensorFlow')


@tensorflow_only
def test_a_checkpoint_manager_state_resumes_and_the_next_save_replaces_it(tmp_path):
    import tensorflow as tf
    directory = str(tmp_path)
    variables = small_state()
    fill(variables, 4.0)
    manager = tf.train.CheckpointManager(tensorflow_checkpoint(variables), os.path.join(directory, 'resume'),
                                         max_to_keep=1, checkpoint_name='state')
    manager.save(checkpoint_number=3)
    with open(os.path.join(directory, 'resume.json'), 'w') as f:
        json.dump(INFO, f)
    assert state_folder(directory) == ['checkpoint', 'state-3.data-00000-of-00001', 'state-3.index']
    pointer = checkpoints.read_pointer(directory)
    assert pointer == dict(INFO, next_epoch=4, next_step=0, state=os.path.join('resume', 'state-3'))

    fill(variables, 0.0)
    assert checkpoints.restore_resume_state(variables, directory) == pointer
    assert_filled(variables, 4.0)
    fill(variables, 5.0)
    checkpoints.save_resume_state(variables, directory, position(5), INFO)
    assert state_folder(directory) == ['latest.json', 'state-epoch5-step0.h5']
    assert json.load(open(os.path.join(directory, 'resume.json'))) == INFO
    fill(variables, 0.0)
    assert checkpoints.restore_resume_state(variables, directory)['next_epoch'] == 5
    assert_filled(variables, 5.0)


@tensorflow_only
def test_a_state_saved_in_its_own_folder_resumes_and_the_next_save_replaces_it(tmp_path):
    directory = str(tmp_path)
    variables = small_state()
    fill(variables, 4.0)
    tensorflow_checkpoint(variables).write(os.path.join(directory, 'resume_epoch_004', 'state'))
    with open(os.path.join(directory, 'resume.json'), 'w') as f:
        json.dump(dict(INFO, next_epoch=5, state=os.path.join('resume_epoch_004', 'state')), f)
    fill(variables, 0.0)
    assert checkpoints.restore_resume_state(variables, directory)['next_epoch'] == 5
    assert_filled(variables, 4.0)
    fill(variables, 6.0)
    pointer = checkpoints.save_resume_state(variables, directory, position(6), INFO)
    assert pointer == dict(INFO, next_epoch=6, next_step=0, state=os.path.join('resume', 'state-epoch6-step0.h5'))
    assert sorted(os.listdir(directory)) == ['resume', 'resume.json']
    assert json.load(open(os.path.join(directory, 'resume.json'))) == INFO
    fill(variables, 0.0)
    checkpoints.restore_resume_state(variables, directory)
    assert_filled(variables, 6.0)


@tensorflow_only
def test_a_tensorflow_state_of_other_networks_is_named(tmp_path):
    directory = str(tmp_path)
    tensorflow_checkpoint(small_state()).write(os.path.join(directory, 'resume_epoch_001', 'state'))
    with open(os.path.join(directory, 'resume.json'), 'w') as f:
        json.dump(dict(INFO, next_epoch=2, state=os.path.join('resume_epoch_001', 'state')), f)
    inputs = keras.Input((4,))
    wider = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(5)(inputs)))
    with pytest.raises(checkpoints.RunError, match='resume_epoch_001/state does not match the networks built here'):
        checkpoints.restore_resume_state(dict(small_state(), generator=wider.variables), directory)


def test_the_tensorflow_errors_are_recognised_only_once_tensorflow_is_loaded():
    command = ('import sys; sys.path.insert(0, %r); from gan import checkpoints; '
               'print(checkpoints._tensorflow_errors(), "tensorflow" in sys.modules, "keras" in sys.modules)' % ROOT)
    child = subprocesses.run([sys.executable, '-c', command], 60)
    assert child.stdout.split() == ['None', 'False', 'False'], child.stderr[-2000:]


# ---- --resume of a run stopped within an epoch -------------------------------------------------

def parsed_flags(out, *extra):
    import cmd
    return cmd.train_parser().parse_args(['--checkpoints_dir', str(out / 'checkpoints'), '--output_dir',
                                          str(out / 'samples'), '--log_dir', str(out / 'logs')] + list(extra))


def test_resume_within_an_epoch_needs_that_epoch_in_the_run(tmp_path):
    args = parsed_flags(tmp_path, '--resume', '--number_of_epochs', '2')
    checkpoints.save_resume_state(small_state(), args.checkpoints_dir, position(2, 3),
                                  {'run': checkpoints.run_flags(args, ['seed'])})
    with pytest.raises(checkpoints.RunError, match=r'has trained 2 epochs and 3 steps of epoch 2 already; give '
                                                   r'--number_of_epochs 3 or more'):
        checkpoints.check_resume(args, ['seed'])
    args.number_of_epochs = 3
    assert checkpoints.check_resume(args, ['seed'])['next_step'] == 3


# ---- one process per run folder ----------------------------------------------------------------

CLAIMER = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    from gan import checkpoints
    try:
        checkpoints.claim_run_folder(sys.argv[1])
    except checkpoints.RunError as error:
        print('refused:', error, flush=True)
        sys.exit(1)
    print('claimed', flush=True)
    sys.stdin.read()        # holds the folder until its input closes
''')


def start_claimers(tmp_path, folder, count):
    script = tmp_path / 'claimer.py'
    script.write_text(CLAIMER.format(root=ROOT))
    return [subprocess.Popen([sys.executable, str(script), folder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True) for _ in range(count)]


def first_line(process):
    return process.stdout.readline().strip()


def test_two_processes_claiming_one_new_folder_at_once(tmp_path):
    folder = str(tmp_path / 'run' / 'checkpoints')
    processes = start_claimers(tmp_path, folder, 2)
    try:
        lines = [first_line(process) for process in processes]
        assert sorted(line.split(':')[0] for line in lines) == ['claimed', 'refused'], lines
        holder = processes[lines.index('claimed')]
        refused = processes[1 - lines.index('claimed')]
        assert refused.wait(subprocesses.scaled(30)) == 1
        assert lines[processes.index(refused)] == (
            'refused: %s is in use by another run (process %d on %s holds run.lock): wait for it to end, or choose '
            'another --checkpoints_dir' % (folder, holder.pid, os.uname().nodename))
        assert os.listdir(folder) == ['run.lock']
        holder.stdin.close()
        assert holder.wait(subprocesses.scaled(30)) == 0
        assert not os.path.exists(folder)        # the claim made the folder and left nothing in it
        again = start_claimers(tmp_path, folder, 1)[0]
        assert first_line(again) == 'claimed'
        again.stdin.close()
        again.wait(subprocesses.scaled(30))
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    folder = str(tmp_path / 'checkpoints')
    os.makedirs(folder)
    killed, = start_claimers(tmp_path, folder, 1)
    assert first_line(killed) == 'claimed'
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert open(os.path.join(folder, 'run.lock')).read().startswith('%d on ' % killed.pid)
    successor, = start_claimers(tmp_path, folder, 1)
    try:
        assert first_line(successor) == 'claimed'
        time.sleep(0.1)
        assert open(os.path.join(folder, 'run.lock')).read().startswith('%d on ' % successor.pid)
        successor.stdin.close()
        assert successor.wait(subprocesses.scaled(30)) == 0
        assert os.listdir(folder) == []            # the folder was there before: it stays
    finally:
        successor.kill()
        successor.wait()


def test_prepare_claims_keeps_its_lock_and_releases_it_when_it_refuses(tmp_path):
    args = parsed_flags(tmp_path)
    lock = os.path.join(args.checkpoints_dir, 'run.lock')
    try:
        assert checkpoints.prepare_run_folders(args, ['seed']) is None
        assert os.path.exists(lock)
        assert checkpoints.claim_run_folder(args.checkpoints_dir) == lock      # this process holds it already
        assert checkpoints.existing_run_files(args) == [lock]                 # a run file, not a started run
        args.overwrite = True
        assert checkpoints.prepare_run_folders(args, ['seed']) is None        # --overwrite keeps the lock
        assert os.listdir(args.checkpoints_dir) == ['run.lock']
    finally:
        checkpoints.release_run_folder(args.checkpoints_dir)
    assert not os.path.exists(args.checkpoints_dir)                  # made by the claim, empty

    resume = parsed_flags(tmp_path / 'none', '--resume')
    with pytest.raises(checkpoints.RunError, match='no resume.json'):
        checkpoints.prepare_run_folders(resume, ['seed'])
    assert not os.path.exists(resume.checkpoints_dir)              # the claim's folder goes with it
    worker = parsed_flags(tmp_path / 'worker')
    assert checkpoints.prepare_run_folders(worker, ['seed'], chief=False) is None
    assert not os.path.exists(worker.checkpoints_dir)                # only the chief claims


@pytest.mark.parametrize('flag', ['checkpoints_dir', 'output_dir', 'log_dir'])
def test_a_folder_flag_naming_a_file_is_refused_before_anything_is_written(tmp_path, flag):
    args = parsed_flags(tmp_path)
    path = getattr(args, flag)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'w').write('notes')
    with pytest.raises(checkpoints.RunError) as error:
        checkpoints.prepare_run_folders(args, ['seed'])
    assert str(error.value) == '--%s %s is a file, not a folder: give a folder (it is made if missing)' % (flag, path)
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(path)]
    setattr(args, flag, os.path.join(path, 'inner'))
    with pytest.raises(checkpoints.RunError, match=r'^--%s %s: %s is a file, not a folder' % (flag, args.__dict__[flag],
                                                                                               path)):
        checkpoints.prepare_run_folders(args, ['seed'])
