"""The same model on every Keras backend: one training step on JAX equals TensorFlow's, a resume state
written on one backend continues on the other, mixed precision on JAX, and train.py on JAX, killed and resumed, ends where the
uninterrupted run ends, without importing TensorFlow. Each backend runs in a process of its own
(KERAS_BACKEND is read once, when keras is first imported): tests/backend_runs.py."""
import json
import os
import sys

import numpy as np
import pytest

from tests import subprocesses
from tests.backend_runs import backend_env, run_step
from tests.h5_arrays import float_norm, h5_arrays

pytestmark = pytest.mark.slow


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


def test_one_step_on_jax_equals_tensorflow(backend_steps):
    tf_step, jax_step = (load(backend_steps.of(backend), 'step1.npz') for backend in ('tensorflow', 'jax'))
    check_losses(tf_step, jax_step, 1e-6)
    assert not jax_step['tensorflow_imported'] and tf_step['tensorflow_imported']
    for group in ('d_gradient', 'g_gradient'):
        keys = group_keys(tf_step, group)
        assert keys and keys == group_keys(jax_step, group)
        assert relative_l2(tf_step, jax_step, keys) < 1e-4, group
    check_state(tf_step, jax_step, 1e-4)
    # The update happened on both backends: the weights left the shared starting point and the Adam
    # slots (zero before the first update) hold the gradients' moments.
    for net in ('generator', 'discriminator'):
        start = float_norm(backend_steps.shared / (net + '.weights.h5'))
        for step in (tf_step, jax_step):
            assert abs(np.sqrt(sum(np.sum(step[k].astype(np.float64) ** 2) for k in group_keys(step, net)))
                       - start) > 1e-6 * start, net
    for step in (tf_step, jax_step):
        for slots in ('g_optimizer', 'd_optimizer'):
            assert sum(np.count_nonzero(step[k]) for k in group_keys(step, slots)) > 0, slots


@pytest.mark.parametrize('written_on, continued_on', [('tensorflow', 'jax'), ('jax', 'tensorflow')])
def test_a_resume_state_continues_on_the_other_backend(backend_steps, written_on, continued_on):
    """Step 2 from the other backend's state equals step 2 of the process that wrote the state."""
    expected = load(backend_steps.of(written_on), 'step2.npz')
    got = load(backend_steps.continued(continued_on, written_on), 'step2.npz')
    check_losses(expected, got, 1e-5)
    check_state(expected, got, 1e-4)


def test_two_jax_devices_take_the_step_of_one(backend_steps, synthetic_root, tmp_path):
    """keras.distribution.DataParallel over two CPU devices: each takes one pair of the global batch of
    two, and the step equals the one-device step."""
    one = load(backend_steps.of('jax'), 'step1.npz')
    out = run_step('jax', synthetic_root, tmp_path / 'two', backend_steps.shared, '--steps_only',
                   '--distribute', 'mirrored',
                   env={'XLA_FLAGS': os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=2'})
    two = load(out, 'step1.npz')
    assert (int(one['replicas']), int(two['replicas'])) == (1, 2)
    check_losses(one, two, 1e-6)
    check_state(one, two, 1e-5)


MIXED_PRECISION_ON_JAX = '''
import json
import sys
sys.path.insert(0, {root!r})
import cmd
import keras
import numpy as np
from gan import engines
from pose_dataset import PoseHMDataset
from pose_training import make_gan
from tests.fixtures_data import training_args

args = training_args({data!r}, {out!r}, '--warp_skip', 'mask', '--mixed_precision', '1')
engine = engines.make_engine('none', args.batch_size)
gan = make_gan(args, engine)
engine.compile(gan)
before = [np.array(v) for v in gan.generator.trainable_variables]
stream = PoseHMDataset.from_args(args).train_batches(0, 48)
finite, steps, changed = True, 0, False
# The dynamic loss scale starts at 2^15: the first steps overflow float16 and are skipped while the
# scale halves; a later one updates the weights.
while not changed and steps < 16:
    values = dict(engine.discriminator_step(next(stream), next(stream)), **engine.generator_step(next(stream)))
    finite = finite and all(np.isfinite(float(v)) for v in values.values())
    steps += 1
    engine.sync_variables()
    changed = any(not np.array_equal(np.array(v), b) for v, b in zip(gan.generator.trainable_variables, before))
stream.close()
print(json.dumps({{
    'loss_scaled': isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer),
    'float16_layers': sum(layer.compute_dtype == 'float16' for layer in gan.generator.layers),
    'variable_dtypes': sorted({{v.dtype for v in gan.generator.variables + gan.discriminator.variables
                               if v.dtype.startswith('float')}}),
    'generated_dtype': str(engine.generate(next(PoseHMDataset.from_args(args).train_batches(0, 1))).dtype),
    'finite': bool(finite), 'steps': steps, 'changed': bool(changed),
    'scale': float(gan.g_optimizer.scale_loss(1.0))}}))
'''


def test_mixed_precision_on_jax_scales_the_loss_and_keeps_float32_weights(synthetic_root, tmp_path):
    """--mixed_precision 1 on JAX: float16 layers, float32 variables, Keras' dynamic loss scaling inside
    the compiled updates (the scale halves while the float16 gradients overflow, then the weights move)."""
    code = MIXED_PRECISION_ON_JAX.format(root=subprocesses.ROOT, data=synthetic_root, out=str(tmp_path))
    result = subprocesses.run([sys.executable, '-c', code], 300, env=backend_env('jax'))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report['loss_scaled'] and report['float16_layers'] > 10, report
    assert report['variable_dtypes'] == ['float32'] and report['generated_dtype'] == 'float32', report
    assert report['finite'] and report['changed'] and 1 < report['steps'] < 16, report
    assert report['scale'] < 2 ** 15, report


# ---- train.py on JAX ------------------------------------------------------------------------------

def jax_train_command(root, out, *extra, checkpoints=None):
    """train.py on JAX (two epochs of two steps, dropout on) writing into ``out``, its checkpoints into
    ``checkpoints`` (``out`` when not given)."""
    checkpoints = checkpoints or out
    # train.py run as __main__ that reports at exit whether TensorFlow was imported
    return subprocesses.reporting_import('train.py', 'tensorflow') + ['--dataset', 'synthetic', '--data_root', root,
            '--width_factor', '0.0625', '--batch_size', '2', '--batches_per_epoch', '2',
            '--number_of_epochs', '2', '--warp_skip', 'mask', '--data_workers', '1', '--use_validation', '0',
            '--output_dir', str(out), '--checkpoints_dir', str(checkpoints), '--log_dir', str(out / 'logs')] + list(extra)


def train_on_jax(root, out, *extra, env=None):
    return subprocesses.run(jax_train_command(root, out, *extra), 900, env=dict(backend_env('jax'), **(env or {})))


def final_state(folder):
    """The final weights files and the resume state's variables, as arrays."""
    arrays = {}
    for name in ('epoch_002_generator.weights.h5', 'epoch_002_discriminator.weights.h5'):
        arrays.update(h5_arrays(folder / name, name + '/'))
    latest = json.loads((folder / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (2, 0)
    arrays.update(h5_arrays(folder / 'resume' / latest['state'], 'state/'))
    return arrays


@pytest.fixture(scope='module')
def jax_run(synthetic_root, tmp_path_factory):
    """train.py on JAX, uninterrupted in one process: the run that a stopped and resumed run, and a
    run of two processes, must end as."""
    folder = tmp_path_factory.mktemp('jax-run')
    whole = train_on_jax(synthetic_root, folder / 'whole')
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert 'tensorflow imported: False' in whole.stdout
    return folder / 'whole'


def test_train_py_on_jax_killed_and_resumed_equals_the_uninterrupted_run(synthetic_root, jax_run, tmp_path):
    whole = jax_run
    # killed (SIGKILL) once the state at epoch 1, step 1 is on the disk, before its pointer moves
    killed = train_on_jax(synthetic_root, tmp_path / 'resumed', '--save_every_steps', '1',
                          env={'GAN_CHECKPOINT_KILL_BEFORE_POINTER': '1:1'})
    assert killed.returncode == -9, killed.stderr[-3000:]
    latest = json.loads((tmp_path / 'resumed' / 'resume' / 'latest.json').read_text())
    assert (latest['next_epoch'], latest['next_step']) == (1, 0)
    resumed = train_on_jax(synthetic_root, tmp_path / 'resumed', '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed from' in resumed.stdout and 'tensorflow imported: False' in resumed.stdout
    expected, got = final_state(whole), final_state(tmp_path / 'resumed')
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert np.array_equal(expected[key], got[key]), key


def test_two_jax_processes_train_as_one(synthetic_root, jax_run, tmp_path):
    """jax.distributed between two train.py processes on 127.0.0.1 (README, "Several machines"), one CPU
    device each: DataParallel spans both, each process hands its half of every global batch to its
    device, and the run ends with the one-process run's weights and resume state to float32 rounding,
    dropout included (jax draws the same random bits for an array however it is split). Only process
    0 writes: process 1's output and log folder stays absent."""
    whole = jax_run
    coordinator = '127.0.0.1:%d' % subprocesses.free_ports(1)[0]
    out, other = tmp_path / 'two', tmp_path / 'process1'
    with subprocesses.Processes(str(tmp_path)) as processes:
        started = [processes.start('process%d' % index, jax_train_command(synthetic_root, folder, checkpoints=out), 900,
                                   env=dict(backend_env('jax'), JAX_COORDINATOR_ADDRESS=coordinator,
                                            JAX_NUM_PROCESSES='2', JAX_PROCESS_ID=str(index)))
                   for index, folder in enumerate((out, other))]
        processes.finish(*started)
        assert all('tensorflow imported: False' in processes.output(process) for process in started)
    assert not other.exists()
    expected, got = final_state(whole), final_state(out)
    assert sorted(expected) == sorted(got)
    # per weight file and per group of the resume state (weights, Adam slots of each network): Adam
    # divides by running RMS values, so float32 rounding in the split batch grows with the steps
    # (after four: 6e-5 relative in the generator's Adam slots, at most 1.1e-5 on any weight)
    groups = {}
    for key in expected:
        groups.setdefault(key.split('/')[0] if not key.startswith('state/') else '/'.join(key.split('/')[:2]),
                          []).append(key)
    errors = {group: relative_l2(expected, got, keys) for group, keys in groups.items()}
    print('two JAX processes vs one, relative L2: ' + ', '.join('%s %.2g' % kv for kv in sorted(errors.items())))
    assert max(errors.values()) < 1e-3, errors
