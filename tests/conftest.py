"""Test setup: the project's own ``cmd`` module, whichever ``cmd`` was imported first, and the
fixtures every test module may ask for by name (``synthetic_root``, ``vgg_weights_file``: defined in
tests/fixtures_data.py; ``backend_steps``: tests/backend_runs.py), shared here so that each is built
once per session.

``python -m pytest`` puts the repository root first on ``sys.path``, so the project's ``cmd.py``
is the ``cmd`` that pytest's ``pdb`` imports (it re-exports the standard names, so pdb works). A
plain ``pytest`` imports the standard ``cmd`` before this file runs; then the project's module is
loaded by path here and replaces it in ``sys.modules`` (``pdb`` keeps its own reference).

Every JAX process the tests start shares one persistent compilation cache for the session (JAX's own
setting, ``JAX_COMPILATION_CACHE_DIR``; one already set is used as it is): the same programs (the
networks' initializers, the small networks' updates) recur from test to test, and compiling them is
most of a small JAX run's time on a CPU (the backend tests' train.py run: 36 s with an empty cache,
16 s with its programs cached, on a 2-core AMD EPYC with AVX2). A cached program is the program compiled.
The session's XLA_FLAGS also turn LLVM's optimisation of XLA's CPU code off
(``--xla_backend_optimization_level=0``, added to flags already set; JAX's programs and TensorFlow's
jit-compiled warp): most of the time XLA takes to compile a program for the CPU goes to those passes,
which the tests' tiny steps do not pay back (that train.py run with an empty cache: 48 CPU-seconds, 28
without them; tests/test_backends.py: 295 CPU-seconds, 202 without them). The level changes the
machine code, not the operations: the equalities the tests check hold at either level (an
``XLA_FLAGS`` that names the level keeps its own).

With several workers (``-n 3``: pytest-xdist, ``--dist loadgroup``), the tests that share a run made
once (``SHARED_RUNS``) go to one worker, so that it is made once, and the modules with the most slow
tests come first, so that the long tests start early and the short ones fill the end.

TEST_TIMEOUT_SCALE multiplies the time limit of every command the tests run in a process of its own
(tests/subprocesses.py); a value that is not a positive number stops the run before any test.
"""
import collections
import importlib.util
import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def load_project_cmd():
    module = sys.modules.get('cmd')
    if getattr(module, 'IS_PROJECT_CMD', False):
        return module
    spec = importlib.util.spec_from_file_location('cmd', os.path.join(ROOT, 'cmd.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules['cmd'] = module
    return module


load_project_cmd()

from tests.backend_runs import backend_steps  # noqa: E402,F401
from tests.fixtures_data import synthetic_root, vgg_weights_file  # noqa: E402,F401
from tests.subprocesses import SCALE_VARIABLE, timeout_scale  # noqa: E402


_made_jax_cache = []
# XLA's CPU compiler without LLVM's optimisation passes (see the module docstring).
OPTIMISATION_FLAG = '--xla_backend_optimization_level=0'


def pytest_configure(config):
    timeout_scale()   # a bad TEST_TIMEOUT_SCALE: pytest.UsageError, one line
    if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
        _made_jax_cache.append(tempfile.mkdtemp(prefix='deformable-gan-tests-jax-cache-'))
        os.environ['JAX_COMPILATION_CACHE_DIR'] = _made_jax_cache[0]
    os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
    if OPTIMISATION_FLAG.split('=')[0] not in os.environ.get('XLA_FLAGS', ''):
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' ' + OPTIMISATION_FLAG).strip()


# Fixtures that train or build a network once for several tests (module or session scope).
SHARED_RUNS = ('backend_steps', 'jax_run', 'one_process', 'uninterrupted', 'random_keras_inception')


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        shared = [name for name in SHARED_RUNS if name in getattr(item, 'fixturenames', ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
    module = lambda item: item.nodeid.split('::')[0]   # noqa: E731
    slow = collections.Counter(module(item) for item in items if item.get_closest_marker('slow'))
    items.sort(key=lambda item: -slow[module(item)])   # a stable sort: each module stays whole


def pytest_unconfigure(config):
    for folder in _made_jax_cache:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_report_header(config):
    if timeout_scale() != 1:
        return 'subprocess time limits x %g (%s)' % (timeout_scale(), SCALE_VARIABLE)
