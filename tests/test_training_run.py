"""The training loop: exact resume, atomic checkpoints under a kill, the NaN stop, training_ratio,
and train.py end to end."""
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from gan import checkpoints
from gan.trainer import NonFiniteLossError, Trainer
from pose_training import make_gan, train
from pose_dataset import PoseHMDataset
from tests.fixtures_data import training_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ('--warp_skip', 'none', '--checkpoint_ratio', '1', '--use_validation', '0')


def _state(trainer):
    gan = trainer.gan
    return [v.numpy() for v in gan.generator.variables + gan.discriminator.variables
            + gan.g_optimizer.variables + gan.d_optimizer.variables]


@pytest.mark.slow
def test_two_epochs_equal_one_then_resume_one(synthetic_root, tmp_path):
    straight = train(training_args(synthetic_root, tmp_path / 'a', *FLAGS, '--number_of_epochs', '2'))
    train(training_args(synthetic_root, tmp_path / 'b', *FLAGS, '--number_of_epochs', '1'))
    resumed = train(training_args(synthetic_root, tmp_path / 'b', *FLAGS, '--number_of_epochs', '2', '--resume'))
    assert resumed.first_epoch == 1
    assert int(resumed.gan.g_optimizer.iterations) == 2
    for a, b in zip(_state(straight), _state(resumed)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    with open(tmp_path / 'b' / 'logs' / 'training_log.csv') as f:
        assert [row['epoch'] for row in csv.DictReader(f)] == ['0', '1']


@pytest.mark.slow
def test_training_ratio_two_updates_the_discriminator_twice_per_step(synthetic_root, tmp_path):
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'none', '--training_ratio', '2',
                         '--batches_per_epoch', '2')
    trainer = Trainer(make_gan(args), PoseHMDataset.from_args(args), args)
    values = trainer.train_epoch(0)
    assert int(trainer.gan.d_optimizer.iterations) == 4 and int(trainer.gan.g_optimizer.iterations) == 2
    assert all(np.isfinite(v) for v in values.values())


@pytest.mark.slow
def test_nan_loss_stops_naming_the_term_and_keeps_the_checkpoint(synthetic_root, tmp_path):
    train(training_args(synthetic_root, tmp_path, *FLAGS))
    pointer = checkpoints.read_pointer(str(tmp_path / 'checkpoints'))
    good = training_args(synthetic_root, tmp_path, *FLAGS, '--number_of_epochs', '2', '--resume')
    # --resume refuses another loss weight, so the NaN weight goes into the GAN directly
    bad_gan = make_gan(training_args(synthetic_root, tmp_path, *FLAGS, '--l1_penalty_weight', 'nan'))
    bad = Trainer(bad_gan, PoseHMDataset.from_args(good), good)
    bad.restore()
    with pytest.raises(NonFiniteLossError, match=r'G_l1 is nan at epoch 1, step 0 \(generator update\)'):
        bad.train()
    assert checkpoints.read_pointer(str(tmp_path / 'checkpoints')) == pointer
    trainer = Trainer(make_gan(good), PoseHMDataset.from_args(good), good)
    trainer.restore()
    assert all(np.isfinite(v).all() for v in _state(trainer))


@pytest.mark.slow
def test_a_save_interrupted_at_any_point_leaves_the_previous_state(synthetic_root, tmp_path, monkeypatch):
    import tensorflow as tf
    args = training_args(synthetic_root, tmp_path, *FLAGS)
    trainer = train(args)
    saved = _state(trainer)
    directory = args.checkpoints_dir

    class Killed(Exception):
        pass

    real_write = tf.train.Checkpoint._write

    def half_written(self, prefix, *args, **kwargs):   # the index is on disk, the data not
        open(prefix + '.index', 'wb').write(b'partial')
        raise Killed(prefix)

    def before_pointer(next_epoch):                       # the state is whole, the pointer not moved
        raise Killed(next_epoch)

    for dying in ('while writing the state', 'before the pointer moves'):
        trainer.gan.generator.variables[0].assign(trainer.gan.generator.variables[0] + 1.0)
        if dying == 'while writing the state':
            monkeypatch.setattr(tf.train.Checkpoint, '_write', half_written)
        else:
            monkeypatch.setattr(checkpoints, '_before_pointer', before_pointer)
        with pytest.raises(Killed):
            checkpoints.save_resume_state(trainer.resume_checkpoint, directory, 2, {'seed': 0})
        monkeypatch.setattr(tf.train.Checkpoint, '_write', real_write)
        monkeypatch.undo()
        assert checkpoints.read_pointer(directory)['next_epoch'] == 1, dying
        assert sorted(os.listdir(os.path.join(directory, checkpoints.STATE_FOLDER))) == [
            'checkpoint', 'state-0.data-00000-of-00001', 'state-0.index'], dying
        fresh = Trainer(make_gan(args), PoseHMDataset.from_args(args), args)
        fresh.restore()
        for a, b in zip(saved, _state(fresh)):
            np.testing.assert_array_equal(a, b)


def _small_model_checkpoint():
    import keras
    inputs = keras.Input((64,))
    model = keras.Model(inputs, keras.layers.Dense(2048)(inputs))
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    return model, checkpoints.make_resume_checkpoint(model, model, optimizer, optimizer)


def test_a_state_saved_in_its_own_folder_resumes_and_moves_to_the_manager(tmp_path):
    """A run whose resume.json names a ``resume_epoch_XXX/state`` folder resumes from it; its next save
    goes to the CheckpointManager's folder and the old folder goes."""
    directory = str(tmp_path / 'checkpoints')
    model, checkpoint = _small_model_checkpoint()
    model.layers[1].kernel.assign(model.layers[1].kernel * 0 + 5.0)
    checkpoint.write(os.path.join(directory, 'resume_epoch_004', 'state'))
    with open(os.path.join(directory, checkpoints.POINTER), 'w') as f:
        json.dump({'run': {'seed': 3}, 'next_epoch': 5, 'state': os.path.join('resume_epoch_004', 'state')}, f)
    model.layers[1].kernel.assign(model.layers[1].kernel * 0)
    assert checkpoints.restore_resume_state(checkpoint, directory)['next_epoch'] == 5
    assert np.all(model.layers[1].kernel.numpy() == 5.0)
    model.layers[1].kernel.assign(model.layers[1].kernel * 0 + 6.0)
    pointer = checkpoints.save_resume_state(checkpoint, directory, 6, {'run': {'seed': 3}})
    assert pointer == {'run': {'seed': 3}, 'next_epoch': 6, 'state': os.path.join('resume', 'state-5')}
    assert sorted(os.listdir(directory)) == ['resume', 'resume.json']
    assert json.load(open(os.path.join(directory, checkpoints.POINTER))) == {'run': {'seed': 3}}
    model.layers[1].kernel.assign(model.layers[1].kernel * 0)
    checkpoints.restore_resume_state(checkpoint, directory)
    assert np.all(model.layers[1].kernel.numpy() == 6.0)


KILLED_WRITER = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    import cmd
    from gan import checkpoints
    from tests.test_training_run import _small_model_checkpoint
    model, checkpoint = _small_model_checkpoint()
    for epoch in range(1, 10):
        model.layers[1].kernel.assign(model.layers[1].kernel * 0 + epoch)
        checkpoints.save_resume_state(checkpoint, {directory!r}, epoch, {{'seed': 0}})
''')


@pytest.mark.slow
def test_sigkill_while_writing_leaves_a_loadable_state(tmp_path):
    """The writer kills itself (gan/checkpoints.KILL_BEFORE_POINTER) once the third state is written
    whole, before the pointer moves to it: the second one must still load, whole."""
    directory = str(tmp_path / 'checkpoints')
    script = tmp_path / 'writer.py'
    script.write_text(KILLED_WRITER.format(root=ROOT, directory=directory))
    environment = dict(os.environ, **{checkpoints.KILL_BEFORE_POINTER: '3'})
    child = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=environment, capture_output=True,
                           timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert os.path.exists(os.path.join(directory, 'resume', 'state-2.index'))   # killed before the pointer
    model, checkpoint = _small_model_checkpoint()
    pointer = checkpoints.restore_resume_state(checkpoint, directory)
    kernel = model.layers[1].kernel.numpy()
    assert pointer['next_epoch'] == 2
    assert np.all(kernel == 2.0)


@pytest.mark.slow
def test_train_py_end_to_end(synthetic_root, tmp_path):
    out = tmp_path / 'run'
    command = [sys.executable, 'train.py', '--dataset', 'synthetic', '--data_root', synthetic_root,
               '--output_dir', str(out / 'samples'), '--checkpoints_dir', str(out / 'checkpoints'),
               '--log_dir', str(out / 'logs'), '--warp_skip', 'mask', '--l1_penalty_weight', '0.01',
               '--nn_loss_area_size', '3', '--batch_size', '2', '--number_of_epochs', '2',
               '--batches_per_epoch', '1', '--checkpoint_ratio', '2', '--width_factor', '0.0625']
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'nn_loss_area_size: 3' in result.stdout and '[default: 1]' in result.stdout
    assert json.load(open(out / 'checkpoints' / 'options.json'))['warp_skip'] == 'mask'
    sheet = np.asarray(Image.open(out / 'samples' / 'epoch_001.png'))
    assert sheet.shape == (2 * 128, 4 * 64, 3) and sheet.std() > 0
    assert os.path.exists(out / 'samples' / 'epoch_000.png')
    for part in ('generator', 'discriminator'):   # written before epoch 1, and the final weights
        assert os.path.getsize(out / 'checkpoints' / ('epoch_001_%s.weights.h5' % part)) > 0
        assert os.path.getsize(out / 'checkpoints' / ('epoch_002_%s.weights.h5' % part)) > 0
        assert not os.path.exists(out / 'checkpoints' / ('epoch_000_%s.weights.h5' % part))
    with open(out / 'logs' / 'training_log.csv') as f:
        rows = list(csv.DictReader(f))
    assert [row['epoch'] for row in rows] == ['0', '1']
    assert np.isfinite(float(rows[0]['G_nn'])) and rows[1]['val_G_total'] != ''
    curves = Image.open(out / 'logs' / 'loss_curves.png')
    assert curves.format == 'PNG' and curves.size[0] > 100
    assert os.listdir(out / 'logs' / 'tensorboard')
    assert checkpoints.read_pointer(str(out / 'checkpoints'))['next_epoch'] == 2

    from pose_training import make_gan as build
    import cmd
    args = cmd.parse_args(command[2:] + ['--generator_checkpoint',
                                         str(out / 'checkpoints' / 'epoch_001_generator.weights.h5')])
    build(args)   # the weight file loads into the generator of the same flags
