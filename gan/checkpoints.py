"""Checkpoints of a run.

Two kinds, both in --checkpoints_dir:
- ``epoch_XXX_generator.weights.h5`` / ``_discriminator.weights.h5``: the networks' weights only
  (weight_files.save_weights, Keras 3 format, atomic), every --checkpoint_ratio epochs; what test.py,
  demo.py and --generator_checkpoint read.
- the resume checkpoint: ``resume_epoch_XXX/state.*`` (a tf.train.Checkpoint of every variable of both
  networks, dropout seed states included, both optimisers' slots and step counters) and the pointer
  ``resume.json`` (the epoch to train next, the seed, the folder). Written after every epoch: the
  state goes to a ``.tmp`` folder renamed into place, and only then is the pointer replaced (one
  atomic rename), then older states are deleted. A run killed at any moment leaves the pointer on a
  complete state: the previous one or the new one.
"""
import json
import os
import shutil

import tensorflow as tf

POINTER = 'resume.json'
STATE_PREFIX = 'resume_epoch_'


def _tf_variables(variables):
    return [getattr(v, 'value', v) for v in variables]


def make_resume_checkpoint(generator, discriminator, g_optimizer, d_optimizer):
    """tf.train.Checkpoint over explicit variable lists (Keras 3 models are not tracked by attribute)."""
    return tf.train.Checkpoint(generator=_tf_variables(generator.variables),
                               discriminator=_tf_variables(discriminator.variables),
                               g_optimizer=_tf_variables(g_optimizer.variables),
                               d_optimizer=_tf_variables(d_optimizer.variables))


def read_pointer(checkpoints_dir):
    """The resume.json of ``checkpoints_dir`` as a dict, or None when there is none."""
    path = os.path.join(checkpoints_dir, POINTER)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def save_resume_state(checkpoint, checkpoints_dir, next_epoch, info):
    """Writes the state after an epoch (``next_epoch`` = the epoch to train next), atomically."""
    os.makedirs(checkpoints_dir, exist_ok=True)
    name = '%s%03d' % (STATE_PREFIX, next_epoch - 1)
    final = os.path.join(checkpoints_dir, name)
    tmp = final + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    checkpoint.write(os.path.join(tmp, 'state'))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = dict(info, next_epoch=int(next_epoch), state=os.path.join(name, 'state'))
    pointer_path = os.path.join(checkpoints_dir, POINTER)
    with open(pointer_path + '.tmp', 'w') as f:
        json.dump(pointer, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer_path + '.tmp', pointer_path)
    for entry in os.listdir(checkpoints_dir):
        if entry.startswith(STATE_PREFIX) and entry != name:
            shutil.rmtree(os.path.join(checkpoints_dir, entry), ignore_errors=True)
    return pointer


def restore_resume_state(checkpoint, checkpoints_dir):
    """Loads the state ``resume.json`` points at into ``checkpoint``; returns the pointer dict."""
    pointer = read_pointer(checkpoints_dir)
    if pointer is None:
        raise FileNotFoundError('--resume: no %s in %s (nothing to resume; train without --resume first)'
                                % (POINTER, checkpoints_dir))
    status = checkpoint.read(os.path.join(checkpoints_dir, pointer['state']))
    status.assert_existing_objects_matched()
    return pointer


def weight_file_names(checkpoints_dir, epoch):
    stem = os.path.join(checkpoints_dir, 'epoch_%03d' % epoch)
    return stem + '_generator.weights.h5', stem + '_discriminator.weights.h5'
