"""Keras' random draws on the JAX backend, drawn flat and reshaped: the same numbers, compiled faster.

JAX's default random generator (partitionable Threefry) numbers the elements of a shape in row-major
order, so ``prod(shape)`` values drawn flat and reshaped are the draw of that shape bit for bit
(tests/test_jax_random.py). XLA's CPU compiler takes 0.5 to 2 s for each draw of a 4-d shape (the
counter arithmetic over four axes) and about 0.15 s for a flat one, and Keras initialises every
weight with one eagerly compiled draw of its shape: building the networks on JAX spent most of its
time compiling them (benchmarks/README.md, section 7). Keras has no setting for this, so ``install``
replaces its JAX backend's ``uniform``, ``normal`` and ``truncated_normal`` with flat draws; jax.random
itself is left as it is."""
import math

_installed = []


def _flat(draw):
    def flat_draw(shape, *args, **kwargs):
        shape = tuple(shape)
        if len(shape) < 2:
            return draw(shape, *args, **kwargs)
        return draw((math.prod(shape),), *args, **kwargs).reshape(shape)
    flat_draw.__wrapped__ = draw
    return flat_draw


def install():
    """Flat draws for Keras' JAX backend, once per process; nothing on another backend."""
    import keras
    if _installed or keras.backend.backend() != 'jax':
        return
    from keras.src.backend.jax import random
    for name in ('uniform', 'normal', 'truncated_normal'):
        setattr(random, name, _flat(getattr(random, name)))
    _installed.append(True)
