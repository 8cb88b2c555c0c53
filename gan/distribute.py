"""Which tf.distribute strategy a run uses (--distribute), and what a multi-worker run needs.

auto: MultiWorkerMirroredStrategy when TF_CONFIG is set, MirroredStrategy over several GPUs, else the
default (one device) strategy. Every strategy gets the same code path: networks and optimisers are
built in ``strategy.scope()``, steps run through ``strategy.run`` and losses are means over the
GLOBAL batch, so one step on N replicas equals one step on one device with the same batch.

--batch_size is the GLOBAL batch, whatever the number of workers and devices: each of the R replicas
(all devices of all workers) takes batch_size / R pairs of every batch of the training stream
(gan/dataset.py), so the data order, the loss scale and Adam's learning rate are those of one device
with that batch; a batch that R does not divide is refused.

A multi-worker run (TF_CONFIG set before TensorFlow starts): the chief (task "chief", or "worker" 0
when the cluster has no chief) writes every file; the other workers write nothing. A worker that dies
or becomes unreachable stops the others within about HEARTBEAT_SECONDS with a PeerLostError; at the
end every worker waits for the others (``leave_together``), so none leaves a peer talking to a
coordination service that is gone; a worker that has lost a peer leaves at once (``leave_at_exit``).
"""
import json
import os
import re
import sys

import tensorflow as tf

from gan import devices
from gan.checkpoints import RunError
from gan.engines import common
from gan.engines.common import HEARTBEAT_SECONDS, PeerLostError

# How long the workers wait for each other at the end of training and at process exit.
FINISH_SECONDS = 120


def tf_config():
    """TF_CONFIG as a dict ({} when unset); a malformed one is refused with a message."""
    text = os.environ.get('TF_CONFIG')
    if not text:
        return {}
    try:
        config = json.loads(text)
        config['cluster'], config['task']['type'], config['task']['index']   # noqa: B018
    except (ValueError, KeyError, TypeError):
        raise RunError('TF_CONFIG must be JSON {"cluster": {"worker": ["host:port", ...]}, "task": {"type": '
                       '"worker", "index": i}}, got %s' % text) from None
    return config


def number_of_workers():
    cluster = tf_config().get('cluster', {})
    return sum(len(cluster.get(job, [])) for job in ('chief', 'worker')) or 1


def make_strategy(kind='auto'):
    if kind == 'none':
        return tf.distribute.get_strategy()
    if kind == 'multiworker' or (kind == 'auto' and os.environ.get('TF_CONFIG')):
        return _multi_worker_strategy()
    if kind == 'mirrored':
        return tf.distribute.MirroredStrategy()
    if len(devices.gpus()) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _multi_worker_strategy():
    """MultiWorkerMirroredStrategy with a coordination service that notices a dead peer (heartbeats)
    and lets every worker shut down together."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context
    config = tf_config()
    cluster = config['cluster']
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ('chief', 'worker') if job in cluster]
    context.context().configure_coordination_service(
        service_type='standalone', service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=jobs, heartbeat_timeout_in_ms=HEARTBEAT_SECONDS * 1000,
        shutdown_barrier_timeout_in_ms=FINISH_SECONDS * 1000)
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and number_of_workers() > 1


def is_chief():
    """False on the non-chief workers of a multi-worker run: they write no files."""
    config = tf_config()
    task = config.get('task', {})
    return task.get('type', 'chief') == 'chief' or (
        task.get('type') == 'worker' and task.get('index', 0) == 0 and 'chief' not in config.get('cluster', {}))


def task_name():
    task = tf_config().get('task', {})
    return '%s %s' % (task['type'], task['index']) if task else 'the only process'


def check_batch(strategy, global_batch_size):
    common.check_batch(strategy.num_replicas_in_sync, global_batch_size)


def distribute(strategy, dataset):
    """The global batches of ``dataset`` split over the replicas: replica r of R gets rows
    r * B / R .. (r + 1) * B / R - 1 of every batch of B pairs (workers in task order)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


# Errors that a collective operation raises when a peer has gone.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
               tf.errors.DeadlineExceededError, tf.errors.InternalError)


def peer_lost(error, strategy, where):
    """The PeerLostError to raise for ``error`` of a multi-worker step, or None for another error."""
    if not (is_multi_worker(strategy) and isinstance(error, PEER_ERRORS)):
        return None
    text = re.sub(r'\{\{.*?\}\}\s*', '', str(error)).strip()   # TensorFlow's function-node prefix
    message = text.splitlines()[0][:300].rstrip(':') if text else type(error).__name__
    return PeerLostError('%s: another worker of this multi-worker run stopped or cannot be reached (%s), '
                         'so this one stops too; the last complete checkpoint is kept: restart every worker '
                         'with --resume' % (where, message))


def leave_at_exit():
    """At the exit of a worker that has lost a peer: leave at once with train.py's error status. TensorFlow's
    own shutdown would wait at the coordination service's shutdown barrier (up to FINISH_SECONDS) for
    the worker that is gone. Registered with atexit when the PeerLostError is raised, it runs before
    TensorFlow's handlers; the files of the run are closed by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def leave_together(strategy):
    """Every worker of a multi-worker run waits here for the others (at most FINISH_SECONDS), so that
    the chief, which holds the coordination service, does not leave while others still need it."""
    if is_multi_worker(strategy):
        from tensorflow.python.eager import context
        context.context().wait_at_barrier('training finished', FINISH_SECONDS * 1000)
