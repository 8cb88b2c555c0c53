"""Which tf.distribute strategy a run uses (--distribute).

auto: MultiWorkerMirroredStrategy when TF_CONFIG is set, MirroredStrategy over several GPUs, else the
default (one device) strategy. Every strategy gets the same code path: networks and optimisers are
built in ``strategy.scope()``, steps run through ``strategy.run`` and losses are means over the
GLOBAL batch, so one step on N replicas equals one step on one device with the same batch.
"""
import json
import os

import tensorflow as tf


def make_strategy(kind='auto'):
    if kind == 'none':
        return tf.distribute.get_strategy()
    if kind == 'multiworker' or (kind == 'auto' and os.environ.get('TF_CONFIG')):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == 'mirrored':
        return tf.distribute.MirroredStrategy()
    if len(tf.config.list_logical_devices('GPU')) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief():
    """False on the non-chief workers of a multi-worker run: they write no files."""
    config = json.loads(os.environ.get('TF_CONFIG') or '{}')
    task = config.get('task', {})
    return task.get('type', 'chief') == 'chief' or (
        task.get('type') == 'worker' and task.get('index', 0) == 0 and 'chief' not in config.get('cluster', {}))


def check_batch(strategy, global_batch_size):
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError('--batch_size %d is not a multiple of the %d replicas of this run'
                         % (global_batch_size, replicas))


def distribute(strategy, dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))
