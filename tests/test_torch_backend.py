"""The same model on KERAS_BACKEND=torch: one training step (eager autograd, gan/engines/torch_engine.py)
equals TensorFlow's, without importing TensorFlow; a resume state written on TensorFlow continues on
torch; the torch engine refuses several devices. Each backend runs in a process of its own
(tests/backend_runs.py); skipped where torch is not installed."""
import importlib.util
import sys

import pytest

from tests import subprocesses
from tests.backend_runs import backend_env
from tests.test_backends import check_losses, check_state, group_keys, load, relative_l2

pytestmark = pytest.mark.skipif(importlib.util.find_spec('torch') is None, reason='torch is not installed')


@pytest.mark.slow
def test_one_step_on_torch_equals_tensorflow(backend_steps):
    expected, got = (load(backend_steps.of(backend), 'step1.npz') for backend in ('tensorflow', 'torch'))
    assert int(got['replicas']) == 1
    assert not got['tensorflow_imported'] and expected['tensorflow_imported']
    check_losses(expected, got, 1e-6)
    gradients = {group: group_keys(expected, group) for group in ('d_gradient', 'g_gradient')}
    assert all(gradients.values()) and gradients == {group: group_keys(got, group) for group in gradients}
    errors = {group: relative_l2(expected, got, keys) for group, keys in gradients.items()}
    assert max(errors.values()) < 1e-4, errors
    check_state(expected, got, 1e-4)
    # the second step moved the weights on torch too
    after = load(backend_steps.of('torch'), 'step2.npz')
    assert relative_l2(got, after, group_keys(got, 'generator')) > 1e-6


@pytest.mark.slow
def test_a_tensorflow_resume_state_continues_on_torch(backend_steps):
    expected = load(backend_steps.of('tensorflow'), 'step2.npz')
    got = load(backend_steps.continued('torch', 'tensorflow'), 'step2.npz')
    check_losses(expected, got, 1e-5)
    check_state(expected, got, 1e-4)
    # and torch's own second step is TensorFlow's
    check_state(expected, load(backend_steps.of('torch'), 'step2.npz'), 1e-4)


# Engines made in one torch process: --distribute mirrored, --distribute auto under a TF_CONFIG cluster,
# --distribute none; each prints its error's first line or the engine's description.
MAKE_ENGINES = """
import os
from gan.engines import make_engine
for distribute, tf_config in (('mirrored', ''), ('auto', '{"cluster": {"worker": ["a:1", "b:2"]}}'), ('none', '')):
    os.environ['TF_CONFIG'] = tf_config
    try:
        engine = make_engine(distribute, 3)
        print('made', engine.name, engine.replicas, engine.is_chief, engine.multi_worker)
    except ValueError as error:
        print('refused', error)
"""


def test_torch_takes_one_device_and_refuses_several():
    result = subprocesses.run([sys.executable, '-c', MAKE_ENGINES], 120, env=backend_env('torch'))
    assert result.returncode == 0, result.stderr[-3000:]
    mirrored, cluster, one = result.stdout.strip().splitlines()[-3:]
    assert mirrored.startswith('refused --distribute mirrored: KERAS_BACKEND=torch trains on one device only '
                               '(asked for several); use --distribute none'), mirrored
    assert cluster.startswith('refused --distribute auto: KERAS_BACKEND=torch trains on one device only '
                              '(TF_CONFIG is set)'), cluster
    assert one == 'made torch 1 True False'
