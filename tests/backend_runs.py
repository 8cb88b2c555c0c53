"""Runs of tests/backend_step.py shared by the backend tests of one session (tests/test_backends.py,
tests/test_torch_backend.py): each backend's process runs once, however many tests read its steps.

Every process takes steps 1 and 2 from the same weights and batches (the first one writes them to
``shared``). A process on another backend than TensorFlow also continues from TensorFlow's state
after step 1, so one process gives both its own steps and that continuation; TensorFlow continuing
from another backend's state takes a TensorFlow process of its own. The JAX processes share a
session's compilation cache (tests/conftest.py), so that each program is compiled once."""
import os
import sys

import pytest

from tests import subprocesses

STEP_SCRIPT = os.path.join(subprocesses.ROOT, 'tests', 'backend_step.py')
FLAGS = ['--warp_skip', 'mask', '--nn_loss_area_size', '3']


def backend_env(backend):
    """The environment of a process on ``backend`` (JAX on the CPU, with the session's compilation cache)."""
    return dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL='3', JAX_PLATFORMS='cpu')


def run_step(backend, root, out, shared, *extra, env=None):
    """tests/backend_step.py on ``backend`` into ``out`` (``extra``: its --restore and train.py flags)."""
    os.makedirs(out, exist_ok=True)
    command = [sys.executable, STEP_SCRIPT, root, str(out), str(shared)] + list(extra) + FLAGS
    result = subprocesses.run(command, 600, env=dict(backend_env(backend), **(env or {})))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


class BackendSteps:
    """The folders of step1.npz / step2.npz per backend, each made by its process on first use."""

    def __init__(self, root, base):
        self.root, self.base = root, base
        self.shared = base / 'shared'
        self.shared.mkdir()
        self.folders = {}

    def run(self, name, backend, *extra):
        if name not in self.folders:
            self.folders[name] = run_step(backend, self.root, self.base / name, self.shared, *extra)
        return self.folders[name]

    def of(self, backend):
        """Steps 1 and 2 on ``backend``."""
        if backend == 'tensorflow':
            return self.run('tensorflow', 'tensorflow')
        return self.run(backend, backend, '--restore', str(self.of('tensorflow') / 'checkpoints'))

    def continued(self, backend, written_on):
        """Step 2 on ``backend`` from the state that ``written_on`` wrote after step 1."""
        if written_on == 'tensorflow':
            return self.of(backend) / 'continued'
        assert backend == 'tensorflow', 'only TensorFlow continues from another backend than TensorFlow'
        name = 'tensorflow_from_' + written_on
        return self.run(name, 'tensorflow', '--restore', str(self.of(written_on) / 'checkpoints')) / 'continued'


@pytest.fixture(scope='session')
def backend_steps(synthetic_root, tmp_path_factory):
    return BackendSteps(synthetic_root, tmp_path_factory.mktemp('backends'))
