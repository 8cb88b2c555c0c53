"""The same model on every Keras backend: one training step on JAX equals TensorFlow's, a resume state
written on one backend continues on the other, and train.py on JAX, killed and resumed, ends where the
uninterrupted run ends, without importing TensorFlow. Each backend runs in a process of its own
(KERAS_BACKEND is read once, when keras is first imported); the JAX processes share a compilation cache
so that each program is compiled once."""
import json
import os
import sys

import numpy as np
import pytest

from tests import subprocesses

ROOT = subprocesses.ROOT
STEP_SCRIPT = os.path.join(ROOT, 'tests', 'backend_step.py')
FLAGS = ['--warp_skip', 'mask', '--nn_loss_area_size', '3']

pytestmark = pytest.mark.slow


def backend_env(backend, cache_dir):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL='3', JAX_PLATFORMS='cpu',
               JAX_COMPILATION_CACHE_DIR=str(cache_dir), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0')
    return env


def run_step(backend, root, out, shared, cache_dir, *extra, env=None):
    os.makedirs(out, exist_ok=True)
    command = [sys.executable, STEP_SCRIPT, root, str(out), str(shared)] + list(extra) + FLAGS
    result = subprocesses.run(command, 600, env=dict(backend_env(backend, cache_dir), **(env or {})))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def backend_steps(root, base, backends, continued=()):
    """Steps 1 and 2 on each of ``backends`` (in that order: the first writes the shared weights and
    batches), then step 2 on backend C continued from backend W's state after step 1 for each (W, C) of
    ``continued``; {name: output folder}, the continued ones named 'C_from_W'."""
    shared, cache = base / 'shared', base / 'jax-cache'
    shared.mkdir()
    out = {backend: run_step(backend, root, base / backend, shared, cache) for backend in backends}
    for written_on, continued_on in continued:
        name = '%s_from_%s' % (continued_on, written_on)
        out[name] = run_step(continued_on, root, base / name, shared, cache,
                             '--restore', str(out[written_on] / 'checkpoints'))
    return out


@pytest.fixture(scope='module')
def steps(synthetic_root, tmp_path_factory):
    """Steps 1 and 2 on each backend from the same weights and batches, and step 2 of each backend
    continued from the other's resume state after step 1."""
    return backend_steps(synthetic_root, tmp_path_factory.mktemp('backends'), ('tensorflow', 'jax'),
                         (('tensorflow', 'jax'), ('jax', 'tensorflow')))


def load(folder, name):
    with np.load(folder / name) as stored:
        return {key: stored[key] for key in stored.files}


def relative_l2(expected, got, keys):
    """|got - expected| / |expected| over the concatenation of ``keys`` (float64)."""
    a = np.concatenate([expected[k].astype(np.float64).ravel() for k in keys])
    b = np.concatenate([got[k].astype(np.float64).ravel() for k in keys])
    return np.linalg.norm(b - a) / np.linalg.norm(a)


def group_keys(values, group):
    return sorted(k for k in values if k.startswith(group + '/'))


def check_losses(expected, got, rtol):
    names = group_keys(expected, 'loss')
    assert names == group_keys(got, 'loss')
    for name in names:
        assert got[name] == pytest.approx(expected[name], rel=rtol), name


def check_state(expected, got, rtol):
    """Every weight and Adam slot: per network and per optimiser within ``rtol`` relative L2, and each
    variable within ``rtol`` of its group's norm (a scalar gain's tiny value is not a scale)."""
    for group in ('generator', 'discriminator', 'g_optimizer', 'd_optimizer'):
        keys = group_keys(expected, group)
        assert keys == group_keys(got, group)
        assert relative_l2(expected, got, keys) < rtol, group
        scale = np.sqrt(sum(np.sum(expected[k].astype(np.float64) ** 2) for k in keys))
        worst = max(np.linalg.norm(got[k].astype(np.float64) - expected[k]) for k in keys)
        assert worst < rtol * scale, group


def test_one_step_on_jax_equals_tensorflow(steps):
    tf_step, jax_step = load(steps['tensorflow'], 'step1.npz'), load(steps['jax'], 'step1.npz')
    check_losses(tf_step, jax_step, 1e-6)
    assert not jax_step['tensorflow_imported'] and tf_step['tensorflow_imported']
    for group in ('d_gradient', 'g_gradient'):
        keys = group_keys(tf_step, group)
        assert keys and keys == group_keys(jax_step, group)
        assert relative_l2(tf_step, jax_step, keys) < 1e-4, group
    check_state(tf_step, jax_step, 1e-4)
    # the update happened: the weights moved from the shared starting point
    assert any(not np.array_equal(tf_step[k], load(steps['tensorflow'], 'step2.npz')[k])
               for k in group_keys(tf_step, 'generator'))


@pytest.mark.parametrize('written_on, continued_on', [('tensorflow', 'jax'), ('jax', 'tensorflow')])
def test_a_resume_state_continues_on_the_other_backend(steps, written_on, continued_on):
    """Step 2 from the other backend's state equals step 2 of the process that wrote the state."""
    expected = load(steps[written_on], 'step2.npz')
    got = load(steps['%s_from_%s' % (continued_on, written_on)], 'step2.npz')
    check_losses(expected, got, 1e-5)
    check_state(expected, got, 1e-4)


def test_two_jax_devices_take_the_step_of_one(steps, synthetic_root, tmp_path):
    """keras.distribution.DataParallel over two CPU devices: each takes one pair of the global batch of
    two, and the step equals the one-device step."""
    shared = steps['jax'].parent / 'shared'
    out = run_step('jax', synthetic_root, tmp_path / 'two', shared, tmp_path / 'cache', '--distribute', 'mirrored',
                   env={'XLA_FLAGS': '--xla_force_host_platform_device_count=2'})
    one, two = load(steps['jax'], 'step1.npz'), load(out, 'step1.npz')
    assert (int(one['replicas']), int(two['replicas'])) == (1, 2)
    check_losses(one, two, 1e-6)
    check_state(one, two, 1e-5)


# ---- train.py on JAX ------------------------------------------------------------------------------

# train.py run as __main__ that reports at exit whether TensorFlow was imported.
WITHOUT_TENSORFLOW = ("import atexit, runpy, sys; atexit.register(lambda: print('tensorflow imported:', "
                      "'tensorflow' in sys.modules)); sys.argv = ['train.py'] + sys.argv[1:]; "
                      "runpy.run_path('train.py', run_name='__main__')")


def train_on_jax(root, out, cache, *extra, env=None):
    command = [sys.executable, '-c', WITHOUT_TENSORFLOW, '--dataset', 'synthetic', '--data_root', root,
               '--width_factor', '0.0625', '--batch_size', '2', '--batches_per_epoch', '2',
               '--number_of_epochs', '2', '--warp_skip', 'mask', '--data_workers', '1', '--use_validation', '0',
               '--output_dir', str(out), '--checkpoints_dir', str(out), '--log_dir', str(out / 'logs')] + list(extra)
    return subprocesses.run(command, 900, env=dict(backend_env('jax', cache), **(env or {})))


def final_state(folder):
    """The final weights files and the resume state's variables, as arrays."""
    import h5py
    arrays = {}
    for name in ('epoch_002_generator.weights.h5', 'epoch_002_discriminator.weights.h5'):
        with h5py.File(folder / name, 'r') as f:
            f.visititems(lambda key, item: arrays.__setitem__(name + '/' + key, item[()])
                         if isinstance(item, h5py.Dataset) else None)
    latest = json.loads((folder / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (2, 0)
    with h5py.File(folder / 'resume' / latest['state'], 'r') as f:
        f.visititems(lambda key, item: arrays.__setitem__('state/' + key, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_train_py_on_jax_killed_and_resumed_equals_the_uninterrupted_run(synthetic_root, tmp_path):
    cache = tmp_path / 'jax-cache'
    whole = train_on_jax(synthetic_root, tmp_path / 'whole', cache)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert 'tensorflow imported: False' in whole.stdout
    # killed (SIGKILL) once the state at epoch 1, step 1 is on the disk, before its pointer moves
    killed = train_on_jax(synthetic_root, tmp_path / 'resumed', cache, '--save_every_steps', '1',
                          env={'GAN_CHECKPOINT_KILL_BEFORE_POINTER': '1:1'})
    assert killed.returncode == -9, killed.stderr[-3000:]
    latest = json.loads((tmp_path / 'resumed' / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (1, 0)
    resumed = train_on_jax(synthetic_root, tmp_path / 'resumed', cache, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed from' in resumed.stdout and 'tensorflow imported: False' in resumed.stdout
    expected, got = final_state(tmp_path / 'whole'), final_state(tmp_path / 'resumed')
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert np.array_equal(expected[key], got[key]), key
