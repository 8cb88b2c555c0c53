"""A dataset of (from, to) pairs: the reproducible training order, and its batches made two ways.

Training order (docs/reference.md, "Losses and training": pairs reshuffled at every pass): the stream of training batches is a
sequence of passes; pass p is the permutation ``default_rng([seed, p])`` of the pairs, cut into
``len(pairs) // batch_size`` batches (the incomplete tail is dropped, as the reference did). Batch g
of the stream is therefore a pure function of (seed, g): an epoch starting at batch g0 can be
rebuilt after a restart from the epoch number alone, which is what makes ``--resume`` exact.

The same batches come either from tf.data (``train_dataset``, ``test_dataset``: TensorFlow backend only;
the plumbing is in gan/tf_data.py, imported only when they are called) or from numpy code in worker
processes (``train_batches``, ``numpy_test_batches``: every backend). This module does not import
tensorflow.
"""
import os

import keras
import numpy as np

from gan.prefetch import OrderedPrefetcher


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


def default_workers(workers):
    """The number of worker processes for a ``workers`` argument: None means one per CPU."""
    return (os.cpu_count() or 1) if workers is None else int(workers)


class PairBatches(keras.utils.PyDataset):
    """The batches of a list of pair-index arrays, as a ``keras.utils.PyDataset``: ``batches[i]`` makes
    batch i in this process with ``maker`` (a picklable function pair ids -> batch dict).

    Iterating it yields the batches in order, made ahead by ``workers`` processes
    (gan/prefetch.py; 0: one at a time in this process as they are asked for). ``close()`` (or the end of
    a ``with`` block) stops the workers; so does the end of the iteration."""

    def __init__(self, maker, pair_ids, workers):
        super().__init__()
        self.maker = maker
        self.pair_ids = list(pair_ids)
        self.data_workers = default_workers(workers)
        self._prefetcher = None

    def __len__(self):
        return len(self.pair_ids)

    def __getitem__(self, index):
        return self.maker(self.pair_ids[index])

    def __iter__(self):
        if self.data_workers <= 0:
            return (self[i] for i in range(len(self)))
        self.close()
        self._prefetcher = OrderedPrefetcher(self.maker, self.pair_ids, self.data_workers)
        return self._prefetcher

    def close(self):
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class TrainBatches(PairBatches):
    """``train_batches``' result: an iterator (``next()``) as well as a PairBatches."""

    def __init__(self, maker, pair_ids, workers):
        super().__init__(maker, pair_ids, workers)
        self._iterator = None

    def __iter__(self):
        if self._iterator is None:
            self._iterator = super().__iter__()
        return self._iterator

    def __next__(self):
        return next(iter(self))


class PairDataset:
    """Base: subclasses give the per-pair and per-batch work, for tf.data and for numpy.

    tf.data (gan/tf_data.py): ``_pair_fn(split)``: pair index (scalar int64 tensor) -> dict of tensors of
    that pair (decoded images, keypoints); ``_batch_fn(split)``: that dict batched (leading batch axis)
    -> the batch dict. numpy: ``batch_maker(split)``: a picklable function (pair indices) -> the same
    batch dict as numpy arrays. Computing from keypoints on whole batches (pose maps, part transforms
    and masks) costs one call per batch instead of one per pair. Both ways keep the order, whatever the
    parallelism, so the data order is a function of (seed, batch number): exact resume.

    ``parallel_calls``: tf.data's parallelism (None: AUTOTUNE); ``workers``: the numpy pipeline's worker
    processes (None: one per CPU; 0: in this process)."""

    def __init__(self, batch_size, seed=0, parallel_calls=None, workers=None):
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.parallel_calls = parallel_calls
        self.workers = workers

    def number_of_pairs(self, split):
        raise NotImplementedError

    def _pair_fn(self, split):
        raise NotImplementedError

    def _batch_fn(self, split):
        raise NotImplementedError

    def batch_maker(self, split):
        raise NotImplementedError

    def _train_indices(self, first_batch, number_of_batches):
        return stream_indices(self.number_of_pairs('train'), self.batch_size, self.seed, first_batch,
                              number_of_batches)

    def train_dataset(self, first_batch, number_of_batches):
        """Global batches first_batch .. first_batch + number_of_batches - 1 of the training stream, as a
        tf.data.Dataset (TensorFlow backend)."""
        from gan import tf_data
        indices = self._train_indices(first_batch, number_of_batches)
        return tf_data.pipeline(self, indices, 'train', self.batch_size, drop_remainder=True)

    def train_batches(self, first_batch, number_of_batches):
        """The batches of ``train_dataset(first_batch, number_of_batches)``, bit for bit and in the same
        order, as dicts of numpy arrays made by numpy code in ``workers`` background processes: an
        iterator with ``close()``, usable as a context manager."""
        indices = self._train_indices(first_batch, number_of_batches).reshape(number_of_batches, self.batch_size)
        return TrainBatches(self.batch_maker('train'), indices, self.workers)

    def test_dataset(self, batch_size):
        """Every test pair once, in pairs-file order; the last batch may be smaller (tf.data)."""
        from gan import tf_data
        return tf_data.pipeline(self, np.arange(self.number_of_pairs('test')), 'test', batch_size,
                                drop_remainder=False)

    def numpy_test_batches(self, batch_size):
        """The batches of ``test_dataset(batch_size)`` from the numpy pipeline (a PairBatches)."""
        count = self.number_of_pairs('test')
        pair_ids = [np.arange(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
        return PairBatches(self.batch_maker('test'), pair_ids, self.workers)
