"""Data fixtures of the training tests: a tiny synthetic dataset (with background folders) and a
random-weight VGG19 file, built once per session in a temporary folder (tests/conftest.py makes them
available to every test module), and ``training_args``, the flags of a tiny run on that dataset."""
import os

import numpy as np
import pytest
from PIL import Image

import cmd
from data.make_synthetic_dataset import ensure_synthetic_dataset

TRAIN_IDENTITIES, TEST_IDENTITIES, IMAGES_PER_IDENTITY = 3, 2, 3


def add_backgrounds(root, dataset='synthetic'):
    """train-bg/ and test-bg/ beside the images: one flat-colour NAME_BG.jpg per image."""
    for split in ('train', 'test'):
        images = os.path.join(root, dataset + '-dataset', split)
        backgrounds = os.path.join(root, dataset + '-dataset', split + '-bg')
        os.makedirs(backgrounds, exist_ok=True)
        for i, name in enumerate(sorted(os.listdir(images))):
            height, width = cmd.IMAGE_SIZES[dataset]
            colour = np.array([(37 * i) % 256, 90, 200], dtype=np.uint8)
            Image.fromarray(np.tile(colour, (height, width, 1))).save(
                os.path.join(backgrounds, name.replace('.jpg', '_BG.jpg')))


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic-data'))
    ensure_synthetic_dataset(root, 'synthetic', train_identities=TRAIN_IDENTITIES,
                             test_identities=TEST_IDENTITIES, images_per_identity=IMAGES_PER_IDENTITY, seed=0)
    add_backgrounds(root)
    return root


@pytest.fixture(scope='session')
def vgg_weights_file(tmp_path_factory):
    import keras
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    path = str(tmp_path_factory.mktemp('vgg') / 'vgg19_random.weights.h5')
    vgg.save_weights(path)
    return path


def training_args(root, out, *extra):
    """Parsed train.py flags for a tiny run on the synthetic data (width 1/16, 1 step per epoch)."""
    out = str(out)
    return cmd.parse_args(['--dataset', 'synthetic', '--data_root', root, '--width_factor', '0.0625',
                           '--batch_size', '2', '--batches_per_epoch', '1', '--number_of_epochs', '1',
                           '--output_dir', os.path.join(out, 'samples'),
                           '--checkpoints_dir', os.path.join(out, 'checkpoints'),
                           '--log_dir', os.path.join(out, 'logs'), '--tmp_dir', os.path.join(out, 'tmp')]
                          + list(extra))
