"""Keras' random draws on the JAX backend, drawn flat at a power-of-two size, cut and reshaped: the same
numbers, compiled faster.

JAX's default random generator (partitionable Threefry) numbers the elements of a shape in row-major
order and draws each from its own number, so the first ``prod(shape)`` values of a flat draw of any
larger size, reshaped, are the draw of that shape bit for bit (tests/test_jax_random.py). XLA's CPU
compiler takes 0.5 to 2 s for each draw of a 4-d shape (the counter arithmetic over four axes) and
about 0.15 s for a flat one, and Keras initialises every weight with one eagerly compiled draw of its
shape: building the networks on JAX spent most of its time compiling them (benchmarks/README.md,
section 7). Drawing at the next power of two compiles one program per size class instead of one per
weight size, and the cut and reshape of an eager draw are numpy's (no program at all). Keras has no
setting for this, so ``install`` replaces its JAX backend's ``uniform``, ``normal`` and
``truncated_normal``; jax.random itself is left as it is."""
import math

_installed = []


def _size_class(size):
    """The power of two at or above ``size``."""
    return 1 << (size - 1).bit_length()


def _flat(draw):
    import jax   # here, not at the top: the module is imported on every backend
    import numpy as np

    def flat_draw(shape, *args, **kwargs):
        shape = tuple(shape)
        size = math.prod(shape)
        if size < 2:
            return draw(shape, *args, **kwargs)
        values = draw((_size_class(size),), *args, **kwargs)
        if isinstance(values, jax.core.Tracer):   # inside a traced function: part of its program
            return values[:size].reshape(shape)
        return jax.numpy.asarray(np.asarray(values)[:size].reshape(shape))
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
