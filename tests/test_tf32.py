"""--tf32: full float32 arithmetic by default on every backend (TensorFlow and JAX would otherwise use
TensorFloat-32 on Ampere and later GPUs), TensorFloat-32 when asked. A CPU computes float32 either
way, so these tests read what each backend is told: TensorFlow's switch, the precision XLA is asked
for in the JAX engine's programs, PyTorch's switches."""
import json
import sys

import pytest

from tests import subprocesses
from tests.backend_runs import backend_env
from tests.fixtures_data import training_args
from tests.precision import precisions


def test_train_py_flags_set_tensorflow_float32_unless_tf32(synthetic_root, tmp_path):
    import tensorflow as tf
    from pose_training import make_gan
    was = tf.config.experimental.tensor_float_32_execution_enabled()
    try:
        tf.config.experimental.enable_tensor_float_32_execution(True)   # TensorFlow's own default
        make_gan(training_args(synthetic_root, tmp_path, '--distribute', 'none'))
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
        make_gan(training_args(synthetic_root, tmp_path, '--distribute', 'none', '--tf32', '1'))
        assert tf.config.experimental.tensor_float_32_execution_enabled()
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(was)


def test_precisions_are_read_from_lowered_programs():
    text = '\n'.join([
        '%0 = stablehlo.convolution(%a, %b) dim_numbers = [b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f], window = {} '
        '{precision_config = [#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>]} : '
        '(tensor<1x8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<1x8x8x4xf32>',
        '%1 = stablehlo.dot_general %x, %y, contracting_dims = [1] x [0], precision = [DEFAULT, DEFAULT] : '
        '(tensor<1x256xf32>, tensor<256x2xf32>) -> tensor<1x2xf32>',
        '%2 = stablehlo.dot_general %x, %y, contracting_dims = [1] x [0] : '
        '(tensor<1x256xf32>, tensor<256x2xf32>) -> tensor<1x2xf32>',
        '%3 = stablehlo.dot_general %x, %y, contracting_dims = [1] x [0], precision = [DEFAULT, DEFAULT] : '
        '(tensor<1x256xf16>, tensor<256x2xf16>) -> tensor<1x2xf16>',   # not float32: left out
        '%4 = stablehlo.add %x, %y : tensor<1x2xf32>'])
    assert precisions(text) == {'HIGHEST': 1, 'DEFAULT': 1, 'unstated': 1}


@pytest.mark.slow
def test_jax_engine_programs_ask_for_float32(backend_steps):
    """Every float32 convolution and dot product of the JAX engine's updates and of its generator,
    under train.py's defaults, asks XLA for HIGHEST (float32) precision: none is left to the default,
    which is TensorFloat-32 on NVIDIA GPUs."""
    with open(backend_steps.of('jax') / 'precisions.json') as f:
        found = json.load(f)
    assert sorted(found) == ['discriminator_update', 'generate', 'generator_update']
    for name, counts in found.items():
        assert list(counts) == ['HIGHEST'] and counts['HIGHEST'] >= 10, (name, counts)


def test_jax_is_told_both_ways():
    pytest.importorskip('jax')
    code = ('import json, jax, keras, numpy as np\n'
            'from gan import devices\n'
            'from tests.precision import precisions\n'
            'def program(x, k):\n'
            '    return keras.ops.matmul(keras.ops.conv(x, k, padding="same").reshape(1, -1), np.ones((256, 2), "float32"))\n'
            'x, k = np.ones((1, 8, 8, 3), "float32"), np.ones((3, 3, 3, 4), "float32")\n'
            'for enabled in (False, True):\n'
            '    devices.set_tf32(enabled)\n'
            '    print(json.dumps(precisions(jax.jit(program).lower(x, k).as_text())))\n')
    result = subprocesses.run([sys.executable, '-c', code], 120, env=backend_env('jax'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{'HIGHEST': 2}, {'HIGH': 2}]


def test_torch_switches_are_set_both_ways(monkeypatch):
    """The PyTorch branch without torch installed: a stand-in module records the two switches."""
    import types
    import keras
    from gan import devices
    switches = types.SimpleNamespace(allow_tf32=None)
    matmul = types.SimpleNamespace(allow_tf32=None)
    stand_in = types.SimpleNamespace(backends=types.SimpleNamespace(cudnn=switches,
                                                                    cuda=types.SimpleNamespace(matmul=matmul)))
    monkeypatch.setitem(sys.modules, 'torch', stand_in)
    monkeypatch.setattr(keras.backend, 'backend', lambda: 'torch')
    told = []
    for enabled in (False, True):
        devices.set_tf32(enabled)
        told.append((switches.allow_tf32, matmul.allow_tf32))
    assert told == [(False, False), (True, True)]


def test_torch_is_told_both_ways():
    """The same with torch itself, where it is installed."""
    pytest.importorskip('torch')
    code = ('from gan import devices; import torch\n'
            'devices.set_tf32(False); print(torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)\n'
            'devices.set_tf32(True); print(torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)')
    result = subprocesses.run([sys.executable, '-c', code], 120, env=backend_env('torch'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ['False', 'False', 'True', 'True']
