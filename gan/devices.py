"""The accelerators Keras' backend sees, asked of that backend only (a JAX run never imports
TensorFlow). Layers and the optimiser keep Keras' own computation where there is a GPU."""
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
