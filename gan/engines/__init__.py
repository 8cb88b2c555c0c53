"""The training engines: what differs between Keras backends in a GAN's training step.

Model and loss code (gan/base_gan.py, gan/losses.py and the networks) is backend-neutral: Keras layers
and ``keras.ops`` only. An engine takes the gradients of those losses and applies Adam, places the
variables and batches on the devices, and compiles the step for its backend:

- ``tensorflow_engine``: GradientTape steps under ``tf.function`` and a ``tf.distribute`` strategy
  (several GPUs, several workers through TF_CONFIG), the fused Adam kernel on CPUs, batches from tf.data.
- ``jax_engine``: jit-compiled stateless steps (``keras.StatelessScope``, ``optimizer.stateless_apply``),
  several devices through ``keras.distribution.DataParallel``, batches from the numpy pipeline.
- ``torch_engine``: the same step in eager PyTorch (autograd), batches from the numpy pipeline.

The backend is Keras' own choice: ``KERAS_BACKEND`` (tensorflow by default), set before keras is
first imported. Only the chosen engine's module is imported, so a JAX run never imports TensorFlow.
"""
import importlib

import keras

ENGINES = {'tensorflow': 'gan.engines.tensorflow_engine', 'jax': 'gan.engines.jax_engine',
           'torch': 'gan.engines.torch_engine'}

# Both networks (the paper); epsilon is Keras 2.0.8's default, which the reference ran with.
ADAM = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)


def backend():
    return keras.backend.backend()


def engine_module(name=None):
    """The engine module of Keras' backend (or of ``name``)."""
    name = name or backend()
    if name not in ENGINES:
        raise ValueError('KERAS_BACKEND=%s: this project runs on %s' % (name, ', '.join(ENGINES)))
    return importlib.import_module(ENGINES[name])


def make_engine(distribute='auto', batch_size=None):
    """The engine of Keras' backend for a run with --distribute ``distribute`` and the global batch
    ``batch_size`` (refused when the devices do not divide it)."""
    return engine_module().Engine(distribute, batch_size)


def set_random_seed(seed):
    """``keras.utils.set_random_seed`` (Python's, numpy's and Keras' seeds; the backend's own), without
    importing TensorFlow on another backend: Keras seeds TensorFlow whenever it is installed, through
    its lazy ``tensorflow`` module, which it is told here is absent."""
    if backend() == 'tensorflow':
        keras.utils.set_random_seed(seed)
        return
    from keras.src.utils import module_utils
    lazy_tensorflow = module_utils.tensorflow
    known = lazy_tensorflow._available
    lazy_tensorflow._available = lazy_tensorflow.module is not None
    try:
        keras.utils.set_random_seed(seed)
    finally:
        lazy_tensorflow._available = known


def make_optimizer(mixed_precision):
    """Adam with the paper's settings for this backend (loss-scaled under mixed precision)."""
    return engine_module().make_optimizer(mixed_precision)
