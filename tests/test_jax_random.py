"""gan/jax_random.py: on JAX, Keras' random draws made flat at a power-of-two size, cut and reshaped
(eagerly, and inside a traced function) are jax.random's draws of the shape, bit for bit, so the initial
weights stay those of stock Keras."""
import json
import sys

import pytest

from tests import subprocesses
from tests.backend_runs import backend_env

CHECK = '''
import json
import jax
import keras
import numpy as np
from gan import devices
from keras.src.backend.jax import random

shapes = [(4, 4, 21, 4), (7, 5), (2, 3, 1, 5, 2), (6,), ()]
def draws():
    out = {}
    for shape in shapes:
        key = jax.random.PRNGKey(len(shape) + sum(shape))
        out['uniform%s' % (shape,)] = np.asarray(random.uniform(shape, -0.3, 0.7, seed=key))
        out['normal%s' % (shape,)] = np.asarray(random.normal(shape, 0.5, 2.0, seed=key))
        out['truncated%s' % (shape,)] = np.asarray(random.truncated_normal(shape, 0.0, 1.0, seed=key))
    traced = jax.jit(lambda key: random.uniform((7, 5), -0.3, 0.7, seed=key))   # a draw inside a program
    out['uniform traced (7, 5)'] = np.asarray(traced(jax.random.PRNGKey(12)))
    keras.utils.set_random_seed(3)
    out['glorot'] = np.asarray(keras.initializers.GlorotUniform()((4, 4, 8, 16)))
    out['he_normal'] = np.asarray(keras.initializers.HeNormal()((3, 3, 5, 7)))
    return out

stock = draws()
devices.prepare_backend(False)
flat = draws()
assert random.uniform.__wrapped__ and random.normal.__wrapped__ and random.truncated_normal.__wrapped__
print(json.dumps({name: [bool(np.array_equal(stock[name], flat[name])), flat[name].shape == stock[name].shape,
                         float(np.std(flat[name])) if flat[name].size > 1 else 0.0] for name in stock}))
'''


@pytest.mark.slow
def test_flat_draws_are_the_draws_of_the_shape():
    pytest.importorskip('jax')
    result = subprocesses.run([sys.executable, '-c', CHECK], 300, env=backend_env('jax'))
    assert result.returncode == 0, result.stderr[-3000:]
    checked = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(checked) == 18
    for name, (equal, same_shape, spread) in checked.items():
        assert equal and same_shape, name
    assert checked['glorot'][2] > 0 and checked['normal(4, 4, 21, 4)'][2] == pytest.approx(2.0, rel=0.15)

