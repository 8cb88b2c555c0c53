"""The accelerators Keras' backend sees and the arithmetic they use, set through that backend only (a
JAX run never imports TensorFlow). Layers and the optimiser keep Keras' own computation where there is
a GPU."""
import functools

import keras


@functools.lru_cache(maxsize=None)
def gpus():
    """The names of the GPUs of Keras' backend (logical devices on TensorFlow); () on a CPU."""
    backend = keras.backend.backend()
    if backend == 'tensorflow':
        import tensorflow as tf
        return tuple(device.name for device in tf.config.list_logical_devices('GPU'))
    if backend == 'jax':
        import jax
        return tuple(str(device) for device in jax.devices() if device.platform == 'gpu')
    if backend == 'torch':
        import torch
        return tuple('cuda:%d' % i for i in range(torch.cuda.device_count()))
    return ()


def prepare_backend(tf32):
    """What every script tells Keras' backend before it builds a network: the arithmetic of --tf32
    (``set_tf32``) and, on JAX, flat random draws for the initialisers (gan/jax_random.py)."""
    from gan import jax_random
    set_tf32(tf32)
    jax_random.install()


def set_tf32(enabled):
    """Float32 convolutions and matrix products on NVIDIA tensor cores in TensorFloat-32 (inputs rounded
    to a 10-bit mantissa; Ampere and later GPUs) when ``enabled``, else in full float32, the reference's
    arithmetic. For the whole process, every program compiled afterwards; CPUs compute float32 either
    way. TensorFlow and JAX use TF32 unless told otherwise, PyTorch for its convolutions: the project
    tells each backend (``--tf32``, float32 by default)."""
    backend = keras.backend.backend()
    if backend == 'tensorflow':
        import tensorflow as tf
        tf.config.experimental.enable_tensor_float_32_execution(bool(enabled))
    elif backend == 'jax':
        import jax
        # The precision of every convolution and dot of float32 operands XLA compiles from now on.
        jax.config.update('jax_default_matmul_precision', 'tensorfloat32' if enabled else 'float32')
    elif backend == 'torch':
        import torch
        torch.backends.cuda.matmul.allow_tf32 = bool(enabled)
        torch.backends.cudnn.allow_tf32 = bool(enabled)
