"""A dataset of (from, to) pairs: the reproducible training order and the tf.data plumbing.

Training order (docs/reference.md, "Losses and training": pairs reshuffled at every pass): the stream of training batches is a
sequence of passes; pass p is the permutation ``default_rng([seed, p])`` of the pairs, cut into
``len(pairs) // batch_size`` batches (the incomplete tail is dropped, as the reference did). Batch g
of the stream is therefore a pure function of (seed, g): an epoch starting at batch g0 can be
rebuilt after a restart from the epoch number alone, which is what makes ``--resume`` exact.
"""
import numpy as np
import tensorflow as tf


def pass_permutation(number_of_pairs, seed, pass_index):
    return np.random.default_rng([int(seed), int(pass_index)]).permutation(number_of_pairs)


def stream_indices(number_of_pairs, batch_size, seed, first_batch, number_of_batches):
    """(number_of_batches * batch_size,) pair indices of batches first_batch ... of the training stream."""
    batches_per_pass = number_of_pairs // batch_size
    if batches_per_pass < 1:
        raise ValueError('batch size %d is larger than the %d training pairs' % (batch_size, number_of_pairs))
    batch_ids = np.arange(first_batch, first_batch + number_of_batches)
    passes, positions = np.divmod(batch_ids, batches_per_pass)
    result = np.empty((number_of_batches, batch_size), dtype=np.int64)
    for pass_index in np.unique(passes):
        permutation = pass_permutation(number_of_pairs, seed, pass_index)[:batches_per_pass * batch_size]
        rows = passes == pass_index
        result[rows] = permutation.reshape(batches_per_pass, batch_size)[positions[rows]]
    return result.reshape(-1)


class PairDataset:
    """Base: subclasses give the per-pair work that needs files and the work done on whole batches:

    ``_pair_fn(split)``: pair index (scalar int64 tensor) -> dict of tensors of that pair (decoded
    images, keypoints); ``_batch_fn(split)``: that dict batched (leading batch axis) -> the batch dict.
    Computing from keypoints on whole batches (pose maps, part transforms and masks) costs one call per
    batch instead of one per pair. Both maps keep the element order (deterministic=True) whatever the
    parallelism, so the data order is a function of (seed, batch number): exact resume."""

    def __init__(self, batch_size, seed=0, parallel_calls=tf.data.AUTOTUNE):
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.parallel_calls = parallel_calls

    def number_of_pairs(self, split):
        raise NotImplementedError

    def _pair_fn(self, split):
        raise NotImplementedError

    def _batch_fn(self, split):
        raise NotImplementedError

    def _pipeline(self, indices, split, batch_size, drop_remainder):
        dataset = tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
        dataset = dataset.map(self._pair_fn(split), num_parallel_calls=self.parallel_calls, deterministic=True)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        dataset = dataset.map(self._batch_fn(split), num_parallel_calls=self.parallel_calls, deterministic=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def train_dataset(self, first_batch, number_of_batches):
        """Global batches first_batch .. first_batch + number_of_batches - 1 of the training stream."""
        indices = stream_indices(self.number_of_pairs('train'), self.batch_size, self.seed,
                                 first_batch, number_of_batches)
        return self._pipeline(indices, 'train', self.batch_size, drop_remainder=True)

    def test_dataset(self, batch_size):
        """Every test pair once, in pairs-file order; the last batch may be smaller."""
        return self._pipeline(np.arange(self.number_of_pairs('test')), 'test', batch_size, drop_remainder=False)
