"""The training loop: the NaN stop, training_ratio, and train.py end to end (exact resume: test_run_lifecycle.py
and test_interrupts.py; the resume state's own guarantees under a kill or a full disk: test_resume_state.py)."""
import csv
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from gan import checkpoints
from gan.trainer import NonFiniteLossError, Trainer
from pose_training import make_gan, train
from pose_dataset import PoseHMDataset
from tests import subprocesses
from tests.h5_arrays import h5_arrays
from tests.fixtures_data import training_args

FLAGS = ('--warp_skip', 'none', '--checkpoint_ratio', '1', '--use_validation', '0')


def _state(trainer):
    gan = trainer.gan
    return [v.numpy() for v in gan.generator.variables + gan.discriminator.variables
            + gan.g_optimizer.variables + gan.d_optimizer.variables]


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
    # the flags refuse a NaN weight, and --resume another weight: the NaN goes into the GAN directly
    bad_gan = make_gan(good)
    bad_gan.l1_penalty_weight = float('nan')
    bad = Trainer(bad_gan, PoseHMDataset.from_args(good), good)
    bad.restore()
    with pytest.raises(NonFiniteLossError, match=r'G_l1 is nan at epoch 1, step 0 \(generator update\)'):
        bad.train()
    assert checkpoints.read_pointer(str(tmp_path / 'checkpoints')) == pointer
    trainer = Trainer(make_gan(good), PoseHMDataset.from_args(good), good)
    trainer.restore()
    assert all(np.isfinite(v).all() for v in _state(trainer))


@pytest.mark.slow
def test_train_py_end_to_end(synthetic_root, tmp_path):
    out = tmp_path / 'run'
    command = [sys.executable, 'train.py', '--dataset', 'synthetic', '--data_root', synthetic_root,
               '--output_dir', str(out / 'samples'), '--checkpoints_dir', str(out / 'checkpoints'),
               '--log_dir', str(out / 'logs'), '--warp_skip', 'mask', '--l1_penalty_weight', '0.01',
               '--nn_loss_area_size', '3', '--batch_size', '2', '--number_of_epochs', '2',
               '--batches_per_epoch', '1', '--checkpoint_ratio', '2', '--width_factor', '0.0625']
    result = subprocesses.run(command, 300)
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
    generator = build(args).generator   # the weight file loads into the generator of the same flags
    stored = [np.sum(value.astype(np.float64) ** 2) for value in
              h5_arrays(out / 'checkpoints' / 'epoch_001_generator.weights.h5').values() if value.dtype.kind == 'f']
    loaded = [np.sum(np.asarray(v, np.float64) ** 2) for v in generator.weights if v.dtype.startswith('float')]
    assert len(loaded) == len(stored) > 0 and sum(loaded) == pytest.approx(sum(stored), rel=1e-12)
