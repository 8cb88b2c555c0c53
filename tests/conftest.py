"""Test setup: the project's own ``cmd`` module, whichever ``cmd`` was imported first, and the
fixtures every test module may ask for by name (``synthetic_root``, ``vgg_weights_file``: defined in
tests/fixtures_data.py; ``backend_steps``: tests/backend_runs.py), shared here so that each is built
once per session.

``python -m pytest`` puts the repository root first on ``sys.path``, so the project's ``cmd.py``
is the ``cmd`` that pytest's ``pdb`` imports (it re-exports the standard names, so pdb works). A
plain ``pytest`` imports the standard ``cmd`` before this file runs; then the project's module is
loaded by path here and replaces it in ``sys.modules`` (``pdb`` keeps its own reference).

TEST_TIMEOUT_SCALE multiplies the time limit of every command the tests run in a process of its own
(tests/subprocesses.py); a value that is not a positive number stops the run before any test.
"""
import importlib.util
import os
import sys

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


def pytest_configure(config):
    timeout_scale()   # a bad TEST_TIMEOUT_SCALE: pytest.UsageError, one line


def pytest_report_header(config):
    if timeout_scale() != 1:
        return 'subprocess time limits x %g (%s)' % (timeout_scale(), SCALE_VARIABLE)
