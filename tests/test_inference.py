"""gan/inference.py: the compiled forward pass gives the eager call's outputs, and with training=True
draws a new dropout mask at every call, on the backend in use and on JAX (in a subprocess)."""
import os
import sys
import textwrap

import numpy as np
import pytest
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = textwrap.dedent('''
    import sys
    import numpy as np
    import keras
    from gan.inference import compiled_forward

    image = keras.Input((6, 4, 2), name='image')
    pose = keras.Input((6, 4, 1), name='pose')
    x = keras.layers.Concatenate()([image, pose])
    x = keras.layers.Conv2D(5, 3, padding='same')(x)
    model = keras.Model([image, pose], keras.layers.Dropout(0.5)(x))
    rng = np.random.default_rng(0)
    inputs = {'image': rng.normal(size=(3, 6, 4, 2)).astype(np.float32),
              'pose': rng.normal(size=(3, 6, 4, 1)).astype(np.float32)}
    eager = keras.ops.convert_to_numpy(model(inputs, training=False))
    plain = compiled_forward(model, training=False)(inputs)
    assert isinstance(plain, np.ndarray) and plain.dtype == np.float32
    np.testing.assert_allclose(plain, eager, rtol=1e-5, atol=1e-6)
    # The weights are read at each call: new weights after the function was made are used.
    forward = compiled_forward(model, training=False)
    kernel = model.layers[3].kernel
    kernel.assign(keras.ops.convert_to_numpy(kernel) * 2)
    np.testing.assert_allclose(forward(inputs), 2 * eager - keras.ops.convert_to_numpy(model.layers[3].bias),
                               rtol=1e-5, atol=1e-5)
    eager = keras.ops.convert_to_numpy(model(inputs, training=False))
    dropping = compiled_forward(model, training=True)
    first, second = dropping(inputs), dropping(inputs)
    for output in (first, second):   # every value dropped (0) or kept and scaled by 1 / (1 - 0.5)
        kept = output != 0
        assert 0.2 < kept.mean() < 0.8
        np.testing.assert_allclose(output[kept], 2 * eager[kept], rtol=1e-5, atol=1e-6)
    assert not np.array_equal(first != 0, second != 0)   # a new mask at every call
    print('backend', keras.backend.backend(), 'tensorflow' in sys.modules)
''')


def run_check(backend):
    environment = dict(os.environ, KERAS_BACKEND=backend)
    return subprocesses.run([sys.executable, '-c', CHECK], 300, env=environment)


@pytest.mark.parametrize('backend', ['tensorflow', 'jax'])
def test_compiled_forward_matches_the_eager_call_and_redraws_dropout(backend):
    pytest.importorskip(backend)
    result = run_check(backend)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'backend %s' % backend in result.stdout
    if backend == 'jax':   # nothing on the JAX path imports TensorFlow
        assert result.stdout.split()[-1] == 'False'


def test_compiled_forward_in_process():
    import keras
    from gan.inference import compiled_forward
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(compiled_forward(model)(values), keras.ops.convert_to_numpy(model(values)),
                               rtol=1e-6, atol=1e-6)
