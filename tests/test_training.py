"""One training step of the paper's four configurations (test_training_flags.py: the other flag values),
the loss terms inside the GAN, mixed precision. The loop (resume, checkpoints, NaN stop, train.py) is in
test_training_run.py."""
import numpy as np
import pytest

import keras

from gan import losses
from gan.engines.tensorflow_engine import discriminator_update, generator_update
from pose_training import make_gan
from pose_dataset import PoseHMDataset
from tests.fixtures_data import training_args

PAPER = {
    'baseline': ['--warp_skip', 'none', '--l1_penalty_weight', '100'],
    'dsc': ['--warp_skip', 'mask', '--l1_penalty_weight', '100'],
    'full': ['--warp_skip', 'mask', '--l1_penalty_weight', '0.01', '--nn_loss_area_size', '3',
             '--content_loss_layer', 'block1_conv2'],
    'feature_matching': ['--warp_skip', 'mask', '--l1_penalty_weight', '0.5', '--content_loss_layer', 'block2_conv1'],
}
CONFIGURATIONS = dict(PAPER)
EXPECTED_TERMS = {'baseline': 'G_l1', 'full': 'G_content', 'feature_matching': 'G_content',
                  'no_input_pose_nn': 'G_nn', 'tv': 'G_tv', 'struct': 'G_struct'}


def stand_in_pose_estimator():
    """A small Keras model in place of the OpenPose network: (B, H, W, 3) -> (B, H/8, W/8, 18)."""
    keras.utils.set_random_seed(7)
    images = keras.Input((None, None, 3))
    x = keras.layers.AveragePooling2D(8)(images)
    return keras.Model(images, keras.layers.Conv2D(18, 1, activation='sigmoid')(x))


def _flags(name, vgg_weights):
    flags = CONFIGURATIONS[name]
    return flags + (['--vgg_weights', vgg_weights] if '--content_loss_layer' in flags else [])


def _weights(model):
    return [v.numpy() for v in model.trainable_variables]


def _changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def check_one_step(synthetic_root, vgg_weights_file, tmp_path, name):
    args = training_args(synthetic_root, tmp_path, *_flags(name, vgg_weights_file))
    estimator = stand_in_pose_estimator() if args.lstruct_penalty_weight else None
    gan = make_gan(args, pose_heatmaps=estimator)
    batches = iter(PoseHMDataset.from_args(args).train_dataset(0, 3))
    generator_before, discriminator_before = _weights(gan.generator), _weights(gan.discriminator)

    d_values = discriminator_update(gan, next(batches), next(batches))
    assert _changed(discriminator_before, _weights(gan.discriminator))
    assert not _changed(generator_before, _weights(gan.generator))
    g_values = generator_update(gan, next(batches))
    assert _changed(generator_before, _weights(gan.generator))

    values = {k: float(v) for k, v in dict(d_values, **g_values).items()}
    assert set(values) == set(gan.loss_names())
    assert all(np.isfinite(v) for v in values.values()), values
    assert EXPECTED_TERMS.get(name, 'G_l1') in values
    parts = sum(values[n] for n in gan.generator_term_names())
    assert values['G_total'] == pytest.approx(parts, rel=1e-5)
    assert values['D_total'] == pytest.approx(values['D_real'] + values['D_fake'], rel=1e-5)


@pytest.mark.parametrize('name', list(PAPER))
def test_one_step_of_each_paper_configuration(synthetic_root, vgg_weights_file, tmp_path, name):
    check_one_step(synthetic_root, vgg_weights_file, tmp_path, name)


def test_struct_term_is_the_weighted_heatmap_mse(synthetic_root, tmp_path):
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'none', '--lstruct_penalty_weight', '3')
    estimator = stand_in_pose_estimator()
    gan = make_gan(args, pose_heatmaps=estimator)
    batch = next(iter(PoseHMDataset.from_args(args).train_dataset(0, 1)))
    generated = gan.generate(batch, training=False)
    got = keras.ops.convert_to_numpy(gan.generator_terms(batch, generated, training=False)['G_struct'])
    target_maps = np.array(estimator(batch['target_image']))
    generated_maps = np.array(estimator(generated))
    np.testing.assert_allclose(got, 3 * ((target_maps - generated_maps) ** 2).mean(axis=(1, 2, 3)), rtol=1e-4)


def test_reconstruction_terms_are_the_paper_losses(synthetic_root, tmp_path):
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'none', '--nn_loss_area_size', '3',
                         '--l1_penalty_weight', '2', '--tv_penalty_weight', '0.5', '--gan_penalty_weight', '4')
    gan = make_gan(args)
    batch = next(iter(PoseHMDataset.from_args(args).train_dataset(0, 1)))
    generated = gan.generate(batch, training=False)
    terms = {k: keras.ops.convert_to_numpy(v) for k, v in gan.generator_terms(batch, generated, False).items()}
    np.testing.assert_allclose(terms['G_nn'], 2 * np.array(losses.nn_loss(batch['target_image'], generated, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(terms['G_tv'], 0.5 * np.array(losses.tv_loss(generated)), rtol=1e-5)
    d_fake = np.array(gan.discriminator(dict({k: batch[k] for k in gan.discriminator.input if k != 'image'},
                                             image=generated)))
    np.testing.assert_allclose(terms['G_gan'], -4 * np.log(d_fake + 1e-7).mean(axis=1), rtol=1e-5)


@pytest.mark.slow
def test_mixed_precision_step_keeps_float32_weights(synthetic_root, tmp_path):
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'mask', '--mixed_precision', '1')
    gan = make_gan(args)
    assert keras.config.dtype_policy().name == 'float32'   # the global policy is restored
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert any(layer.compute_dtype == 'float16' for layer in gan.generator.layers)
    batches = iter(PoseHMDataset.from_args(args).train_dataset(0, 4))
    before = _weights(gan.generator)
    values = dict(discriminator_update(gan, next(batches), next(batches)), **generator_update(gan, next(batches)))
    assert all(np.isfinite(float(v)) for v in values.values())
    assert all(v.dtype == 'float32' for v in gan.generator.trainable_variables + gan.discriminator.trainable_variables)
    batch = next(batches)
    assert gan.generate(batch, training=False).dtype == 'float32'
    # the dynamic loss scale starts at 2^15: the first steps overflow float16 and are skipped while
    # the scale halves; a later one must update the weights
    for _ in range(16):
        if _changed(before, _weights(gan.generator)):
            break
        generator_update(gan, batch)
    assert _changed(before, _weights(gan.generator))
    assert float(gan.g_optimizer.scale_loss(1.0)) < 2 ** 15


def test_the_compiled_generator_is_the_eager_one(synthetic_root, tmp_path):
    """tf.function's graph optimiser must not move the warp's nearest samples: its constant folding
    reassociates the sampling coordinates' arithmetic, and on these pairs it moved samples lying at a
    half pixel, changing outputs by up to 0.5."""
    import tensorflow as tf
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'mask')
    gan = make_gan(args)
    batch = next(iter(PoseHMDataset.from_args(args).train_dataset(0, 1)))
    eager = keras.ops.convert_to_numpy(gan.generate(batch, training=False))
    compiled = tf.function(lambda b: gan.generate(b, training=False))(batch).numpy()
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
