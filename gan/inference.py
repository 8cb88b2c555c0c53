"""A network's forward pass compiled once for the Keras backend in use, for evaluation scripts.

``compiled_forward(model, training)`` returns ``forward(inputs) -> numpy array`` (float32 for a
float32 model): on TensorFlow a ``tf.function`` of the model's call; on JAX a ``jax.jit`` of
``model.stateless_call``, the model's non-trainable variables (the dropout layers' seed states, any
statistics a layer updates) carried from one call to the next, so that ``training=True`` draws new
dropout masks at every call as an eager call does; on other backends the plain call.

TensorFlow and JAX are imported only in the branch of their own backend.
"""
import keras
import numpy as np


def compiled_forward(model, training=False):
    """The forward pass of ``model`` with ``training`` fixed, as a function of its inputs (a dict or
    list of arrays, as the model takes them), returning a numpy array."""
    backend = keras.backend.backend()
    if backend == 'tensorflow':
        return _tensorflow_forward(model, training)
    if backend == 'jax':
        return _jax_forward(model, training)

    def forward(inputs):
        return keras.ops.convert_to_numpy(model(inputs, training=training))
    return forward


def _tensorflow_forward(model, training):
    from gan.engines.tensorflow_engine import compiled
    call = compiled(lambda inputs: model(inputs, training=training))

    def forward(inputs):
        return np.asarray(call(inputs))
    return forward


def _jax_forward(model, training):
    import jax

    @jax.jit
    def call(trainable_values, non_trainable_values, inputs):
        return model.stateless_call(trainable_values, non_trainable_values, inputs, training=training)

    state = {'non_trainable': [variable.value for variable in model.non_trainable_variables]}

    def forward(inputs):
        trainable = [variable.value for variable in model.trainable_variables]   # the weights as they are now
        outputs, non_trainable = call(trainable, state['non_trainable'], inputs)
        if training:   # the next call continues the seed states (and any updated statistics)
            state['non_trainable'] = non_trainable
        return np.asarray(outputs)
    return forward
