"""The tf.data plumbing of gan/dataset.PairDataset (TensorFlow backend only: imported by
``train_dataset`` and ``test_dataset``, never on another backend)."""
import re

import numpy as np
import tensorflow as tf


def pipeline(dataset, indices, split, batch_size, drop_remainder):
    """tf.data.Dataset of the batches of pairs ``indices`` of ``split``: files read per pair
    (``dataset._pair_fn``), the rest per batch (``dataset._batch_fn``). Both maps keep the element
    order (deterministic=True) whatever the parallelism."""
    parallel_calls = tf.data.AUTOTUNE if dataset.parallel_calls is None else dataset.parallel_calls
    data = tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
    data = data.map(dataset._pair_fn(split), num_parallel_calls=parallel_calls, deterministic=True)
    data = data.batch(batch_size, drop_remainder=drop_remainder)
    data = data.map(dataset._batch_fn(split), num_parallel_calls=parallel_calls, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def numpy_batch(function, arguments, shapes):
    """``function(*arguments)`` (numpy, returning a dict of float32 arrays) inside tf.data through
    ``tf.numpy_function``: {name: float32 tensor of shape (None,) + shapes[name]}."""
    names = list(shapes)

    def as_list(*values):
        result = function(*values)
        return [np.asarray(result[name], dtype=np.float32) for name in names]
    if not names:
        return {}
    tensors = tf.numpy_function(as_list, list(arguments), [tf.float32] * len(names))
    return {name: tf.ensure_shape(tensor, (None,) + tuple(shapes[name])) for name, tensor in zip(names, tensors)}


def first_line(tf_error):
    """A TensorFlow error's message without its ``{{function_node ...}}`` prefix, first line only."""
    return re.sub(r'^\{\{.*?\}\}\s*', '', tf_error.message).splitlines()[0]
