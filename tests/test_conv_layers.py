"""Networks of conv_layers: instance norm against numpy, block shapes, the reference's parameter counts
(docs/reference.md, "Networks"), every flag combination building and running (narrow networks), gradients, dropout flag."""
import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import conv_layers

WIDTH = 1 / 16

# (image_size, use_input_pose, warp_skip, warp_agg, use_bg, pose_rep_type): every warp_skip with both
# pose representations, both aggregations, with and without input pose and background, and every depth.
GENERATOR_CASES = [
    ((128, 64), 1, 'mask', 'max', 0, 'hm'),
    ((128, 64), 0, 'mask', 'avg', 1, 'stickman'),
    ((128, 64), 1, 'full', 'max', 1, 'hm'),
    ((128, 64), 1, 'full', 'avg', 0, 'stickman'),
    ((128, 64), 1, 'stn', 'max', 0, 'hm'),
    ((128, 64), 0, 'stn', 'max', 1, 'stickman'),
    ((128, 64), 1, 'none', 'max', 0, 'hm'),
    ((128, 64), 0, 'none', 'max', 1, 'stickman'),
    ((128, 128), 1, 'mask', 'max', 0, 'hm'),
    ((64, 64), 1, 'mask', 'avg', 0, 'hm'),
    ((256, 256), 1, 'stn', 'max', 1, 'stickman'),
]
# (image_size, use_input_pose, warp_skip, disc_type, warp_agg, use_bg, pose_rep_type)
DISCRIMINATOR_CASES = [
    ((128, 64), 1, 'mask', 'call', 'max', 0, 'hm'),
    ((128, 64), 0, 'none', 'call', 'max', 1, 'stickman'),
    ((128, 128), 1, 'stn', 'call', 'max', 0, 'stickman'),
    ((256, 256), 1, 'mask', 'call', 'max', 0, 'hm'),
    ((128, 64), 1, 'mask', 'sim', 'max', 0, 'hm'),
    ((128, 64), 0, 'full', 'sim', 'max', 1, 'stickman'),
    ((128, 64), 1, 'mask', 'warp', 'max', 0, 'hm'),
    ((128, 64), 0, 'mask', 'warp', 'avg', 1, 'stickman'),
    ((128, 64), 1, 'full', 'warp', 'avg', 0, 'hm'),
    ((64, 64), 1, 'stn', 'warp', 'max', 0, 'hm'),
]


@functools.lru_cache(maxsize=None)
def generator(case):
    image_size, use_input_pose, warp_skip, warp_agg, use_bg, pose_rep_type = case
    return conv_layers.make_generator(image_size, use_input_pose, warp_skip, 'call', warp_agg, use_bg,
                                      pose_rep_type, width_factor=WIDTH)


@functools.lru_cache(maxsize=None)
def discriminator(case):
    return conv_layers.make_discriminator(*case, width_factor=WIDTH)


def random_batch(model, batch_size=2, seed=0):
    """Random inputs of the right shapes: images in [-1, 1], poses in [0, 1], near-identity transforms,
    0/1 masks, keypoints inside the image with one missing."""
    rng = np.random.default_rng(seed)
    batch = {}
    for name, tensor in model.input.items():
        shape = (batch_size,) + tuple(tensor.shape[1:])
        if name in ('source_image', 'image', 'background'):
            value = rng.uniform(-1, 1, shape)
        elif name == 'transforms':
            value = np.tile([1, 0, 0, 0, 1, 0, 0, 0], shape[:2] + (1,)) + rng.normal(0, 0.05, shape)
            value[..., 6:] = 0
        elif name == 'masks':
            value = rng.uniform(size=shape) > 0.5
        elif name.endswith('keypoints'):
            value = rng.uniform(0, 60, shape)
            value[:, 3] = -1
        else:
            value = rng.uniform(0, 1, shape)
        batch[name] = tf.constant(value, tf.float32)
    return batch


def expected_patches(image_size):
    """Rows x columns of the patch discriminator: valid 4x4/2 conv, then four pad-1 4x4/2 blocks."""
    sides = [(side - 4) // 2 + 1 for side in image_size]
    for _ in range(4):
        sides = [(side + 2 - 4) // 2 + 1 for side in sides]
    return sides[0] * sides[1]


def test_instance_normalization_matches_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 5, 4, 3)).astype(np.float32)
    layer = conv_layers.InstanceNormalization()
    layer.build(x.shape)
    layer.gamma.assign([1.5])
    layer.beta.assign([-0.25])
    flat = x.reshape(2, -1).astype(np.float64)
    mean = flat.mean(axis=1)[:, None, None, None]
    std = np.sqrt(((flat - flat.mean(axis=1, keepdims=True)) ** 2).mean(axis=1))[:, None, None, None]
    want = (x - mean) / (std + 1e-3) * 1.5 - 0.25
    assert np.allclose(np.asarray(layer(x)), want, atol=1e-5)
    assert [tuple(w.shape) for w in layer.weights] == [(1,), (1,)]


@pytest.mark.parametrize('down,norm,dropout,leaky,shape', [
    (True, True, False, True, (2, 8, 4, 7)),
    (True, False, False, False, (2, 8, 4, 7)),
    (False, True, True, False, (2, 32, 16, 7)),
    (False, False, False, True, (2, 32, 16, 7)),
])
def test_block_shapes(down, norm, dropout, leaky, shape):
    x = keras.Input((16, 8, 5))
    y = conv_layers.block(x, 7, down=down, norm=norm, dropout=dropout, leaky=leaky)
    model = keras.Model(x, y)
    out = model(np.random.default_rng(0).normal(size=(2, 16, 8, 5)).astype(np.float32))
    assert tuple(out.shape) == shape
    kinds = {type(layer).__name__ for layer in model.layers}
    assert ('InstanceNormalization' in kinds) == norm and ('Dropout' in kinds) == dropout
    assert ('LeakyReLU' in kinds) == leaky
    assert all(not getattr(layer, 'use_bias', False) for layer in model.layers)


def test_parameter_counts_match_spec():
    assert conv_layers.make_generator((128, 64), 1, 'mask', 'call', 'max', 0, 'hm').count_params() == 61_109_085
    assert conv_layers.make_generator((128, 64), 1, 'none', 'call', 'max', 0, 'hm').count_params() == 36_072_533
    assert conv_layers.make_generator((256, 256), 1, 'mask', 'call', 'max', 0, 'hm').count_params() == 82_080_611
    disc = conv_layers.make_discriminator((128, 64), 1, 'mask', 'call', 'max', 0, 'hm')
    assert disc.count_params() == 2_803_782
    assert tuple(disc.output.shape) == (None, 3)


@pytest.mark.parametrize('case', GENERATOR_CASES, ids=str)
def test_generator_builds_and_runs(case):
    image_size, use_input_pose, warp_skip, _, use_bg, pose_rep_type = case
    model = generator(case)
    pose_channels = 18 if pose_rep_type == 'hm' else 3
    expected = {'source_image': image_size + (3,), 'target_pose': image_size + (pose_channels,)}
    if use_input_pose:
        expected['source_pose'] = image_size + (pose_channels,)
    if use_bg:
        expected['background'] = image_size + (3,)
    if warp_skip == 'mask':
        expected.update(transforms=(10, 8), masks=(10,) + image_size)
    elif warp_skip == 'full':
        expected['transforms'] = (1, 8)
    elif warp_skip == 'stn':
        expected.update(source_keypoints=(18, 2), target_keypoints=(18, 2))
    assert {name: tuple(t.shape[1:]) for name, t in model.input.items()} == expected
    out = np.asarray(model(random_batch(model), training=False))
    assert out.shape == (2,) + image_size + (3,)
    assert np.all(np.abs(out) <= 1) and np.all(np.isfinite(out)) and out.std() > 0


@pytest.mark.parametrize('case', DISCRIMINATOR_CASES, ids=str)
def test_discriminator_builds_and_runs(case):
    image_size, use_input_pose, warp_skip, disc_type = case[:4]
    model = discriminator(case)
    names = set(model.input)
    assert {'source_image', 'image', 'target_pose'} <= names
    assert ('source_pose' in names) == bool(use_input_pose) and ('background' in names) == bool(case[5])
    assert ('transforms' in names or 'source_keypoints' in names) == (disc_type == 'warp')
    out = np.asarray(model(random_batch(model, batch_size=3), training=False))
    assert out.shape == (3, 1 if disc_type == 'sim' else expected_patches(image_size))
    assert np.all((out > 0) & (out < 1))


def assert_gradients_reach_every_weight(model, batch, loss_of_output):
    with tf.GradientTape() as tape:
        loss = loss_of_output(model(batch, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads)
               if g is None or not np.any(np.asarray(g))]
    assert not missing, f'no gradient for {missing}'


@pytest.mark.parametrize('case', [GENERATOR_CASES[1], GENERATOR_CASES[5], GENERATOR_CASES[6]], ids=str)
def test_generator_gradients_reach_every_weight(case):
    model = generator(case)
    if case[2] == 'stn':
        # The locnet's last kernel starts at zero, which blocks the layers before it: move it first.
        last_dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
        last_dense.kernel.assign(np.random.default_rng(0).normal(0, 1e-3, last_dense.kernel.shape))
    batch = random_batch(model)
    target = tf.constant(np.random.default_rng(1).uniform(-1, 1, (2,) + case[0] + (3,)), tf.float32)
    assert_gradients_reach_every_weight(model, batch, lambda out: tf.reduce_mean(tf.abs(out - target)))


@pytest.mark.parametrize('case', [DISCRIMINATOR_CASES[0], DISCRIMINATOR_CASES[4], DISCRIMINATOR_CASES[7]],
                         ids=str)
def test_discriminator_gradients_reach_every_weight(case):
    model = discriminator(case)
    assert_gradients_reach_every_weight(model, random_batch(model),
                                        lambda out: -tf.reduce_mean(tf.math.log(out + 1e-7)))


def test_dropout_only_in_training():
    model = generator(GENERATOR_CASES[6])
    batch = random_batch(model)
    first, second = (np.asarray(model(batch, training=False)) for _ in range(2))
    assert np.array_equal(first, second)
    noisy = np.asarray(model(batch, training=True))
    assert not np.allclose(noisy, first)


def test_width_factor_scales_filters_but_not_outputs():
    model = generator(GENERATOR_CASES[6])
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs[0].filters == 4 and convs[-1].filters == 3
    assert max(layer.filters for layer in convs) == 32


def test_layers_named_like_keras_2():
    names = [layer.name for layer in generator(GENERATOR_CASES[0]).layers]
    assert 'conv2d_1' in names and 'conv2d_13' in names and 'conv2d_14' not in names
    assert 'conv2d_transpose_5' in names and 'instance_normalization_13' in names


@pytest.mark.parametrize('kwargs,message', [
    (dict(warp_skip='affine'), 'warp_skip'),
    (dict(pose_rep_type='keypoints'), 'pose_rep_type'),
    (dict(image_size=(64, 32)), 'multiples of 64'),
])
def test_bad_flags_are_refused(kwargs, message):
    args = dict(image_size=(128, 64), use_input_pose=1, warp_skip='mask', disc_type='call', warp_agg='max',
                use_bg=0, pose_rep_type='hm', width_factor=WIDTH)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        conv_layers.make_generator(**args)


def test_warp_discriminator_needs_a_warp():
    with pytest.raises(ValueError, match='disc_type warp'):
        conv_layers.make_discriminator((128, 64), 1, 'none', 'warp', 'max', 0, 'hm', width_factor=WIDTH)


def scatter_transposed_conv(x, kernel):
    """Transposed convolution by its definition: input pixel (i, j) adds x[i, j] K[k, l] at (2i+k, 2j+l)."""
    batch, height, width, _ = x.shape
    out = np.zeros((batch, 2 * height + 2, 2 * width + 2, kernel.shape[2]))
    for i in range(height):
        for j in range(width):
            out[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] += np.einsum('bc,kloc->bklo', x[:, i, j], kernel)
    return out


@pytest.mark.parametrize('shape', [(2, 4, 2, 3), (1, 8, 4, 5), (1, 16, 8, 2)])
def test_gemm_transposed_convolution_matches_definition_and_keras(shape):
    """The decoder's up-sampling layer on the small inputs it computes as one GEMM: against the
    definition in numpy (float64) and against Keras' own Conv2DTranspose, forward and both gradients."""
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ours = conv_layers.Conv2DTranspose(4, 4, strides=2, use_bias=False)
    theirs = keras.layers.Conv2DTranspose(4, 4, strides=2, use_bias=False)
    ours.build(shape), theirs.build(shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(x)), scatter_transposed_conv(x, ours.get_weights()[0]), atol=1e-5)
    gradients = []
    for layer in (ours, theirs):
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(layer(inputs) ** 3)
        gradients.append([g.numpy() for g in tape.gradient(loss, [inputs, layer.kernel])])
    for got, want in zip(*gradients):
        assert np.abs(want).max() > 0.1
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('on_gpu', [False, True])
def test_up_sampling_is_right_on_large_inputs(monkeypatch, on_gpu):
    """The decoder's up-sampling at a deep-level size, on a CPU (the GEMM) and where a GPU keeps
    Keras' own kernel: the definition either way, and the 1-pixel crop after it."""
    monkeypatch.setattr(conv_layers, 'on_gpu', lambda: on_gpu)
    x = np.random.default_rng(1).normal(size=(1, 16, 16, 2)).astype(np.float32)
    layer = conv_layers.Conv2DTranspose(3, 4, strides=2, use_bias=False)
    layer.build(x.shape)
    want = scatter_transposed_conv(x, layer.get_weights()[0])
    np.testing.assert_allclose(np.asarray(layer(x)), want, atol=1e-5)
    cropped = conv_layers.Cropping2D(1)(layer(x))
    np.testing.assert_allclose(np.asarray(cropped), want[:, 1:-1, 1:-1], atol=1e-5)


def windowed_conv(x, kernel):
    """A bias-free 4x4 stride-2 'valid' convolution by its definition: out[m, n] = sum over k, l of
    x[2m + k, 2n + l] K[k, l]."""
    batch, height, width, _ = x.shape
    rows, columns = (height - 4) // 2 + 1, (width - 4) // 2 + 1
    out = np.zeros((batch, rows, columns, kernel.shape[3]))
    for m in range(rows):
        for n in range(columns):
            out[:, m, n] = np.einsum('bklc,klco->bo', x[:, 2 * m:2 * m + 4, 2 * n:2 * n + 4], kernel)
    return out


@pytest.mark.parametrize('shape', [(2, 10, 6, 3), (1, 9, 5, 4), (2, 8, 11, 2), (1, 4, 4, 3)])
def test_gemm_convolution_matches_definition_and_keras(shape):
    """The blocks' down-sampling convolution as one GEMM (even and odd sizes, the smallest input): the
    definition in numpy (float64), and Keras' own Conv2D forward and both gradients."""
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    layer = keras.layers.Conv2D(5, 4, strides=2, use_bias=False)
    layer.build(shape)
    kernel = layer.get_weights()[0]
    np.testing.assert_allclose(np.asarray(conv_layers.conv_4x4_s2(x, layer.kernel)), windowed_conv(x, kernel),
                               atol=1e-5)
    gradients = []
    for compute in (conv_layers.conv_4x4_s2, lambda inputs, _: layer(inputs)):
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(compute(inputs, layer.kernel) ** 3)
        gradients.append([g.numpy() for g in tape.gradient(loss, [inputs, layer.kernel])])
    for got, want in zip(*gradients):
        assert np.abs(want).max() > 0.1
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def definition_gradients(x, kernel, transposed):
    """Gradients of sum(out ** 3) with respect to x and the kernel, for the bias-free 4x4 stride-2
    convolution (out[m, n] = sum x[2m + k, 2n + l] K[k, l]) or its transpose (x[i, j] K[k, l] added at
    (2i + k, 2j + l)), by the chain rule written out (float64)."""
    x, kernel = x.astype(np.float64), kernel.astype(np.float64)
    if transposed:
        out = scatter_transposed_conv(x, kernel)
        g = 3 * out ** 2
        dx, dk = np.zeros_like(x), np.zeros_like(kernel)
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                window = g[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4]           # (b, k, l, o)
                dx[:, i, j] = np.einsum('bklo,kloc->bc', window, kernel)
                dk += np.einsum('bklo,bc->kloc', window, x[:, i, j])
        return out, dx, dk
    out = windowed_conv(x, kernel)
    g = 3 * out ** 2
    dx, dk = np.zeros_like(x), np.zeros_like(kernel)
    for m in range(out.shape[1]):
        for n in range(out.shape[2]):
            dx[:, 2 * m:2 * m + 4, 2 * n:2 * n + 4] += np.einsum('bo,klco->bklc', g[:, m, n], kernel)
            dk += np.einsum('bklc,bo->klco', x[:, 2 * m:2 * m + 4, 2 * n:2 * n + 4], g[:, m, n])
    return out, dx, dk


JAX_LAYERS = '''
import sys
import jax
import numpy as np
import conv_layers
given = np.load(sys.argv[1])
results = {{}}
for gpu in (False, True):
    conv_layers.on_gpu = lambda: gpu   # the layers a GPU run builds: Keras' own convolutions
    for name, layer in (('transposed', conv_layers.Conv2DTranspose(3, 4, strides=2, use_bias=False)),
                        ('strided', conv_layers.Conv2D(5, 4, strides=2, use_bias=False))):
        x, kernel = given[name + '_x'], given[name + '_kernel']
        layer.build(x.shape)
        loss = lambda x, k: (layer.stateless_call([k], [], x)[0] ** 3).sum()
        out = layer.stateless_call([kernel], [], x)[0]
        dx, dk = jax.grad(loss, argnums=(0, 1))(x, kernel)
        for part, value in (('out', out), ('dx', dx), ('dk', dk)):
            results['%s_%s_%s' % (gpu, name, part)] = np.asarray(value)
np.savez(sys.argv[2], **results)
'''


@pytest.mark.slow
def test_jax_up_and_down_sampling_on_a_cpu_and_as_a_gpu_computes_them(tmp_path):
    """On JAX, the decoder's transposed convolution and the blocks' strided convolution, as a CPU computes
    them (the GEMMs) and as a GPU does (Keras' own convolutions): the definitions, forward and both
    gradients."""
    import sys
    from tests import subprocesses
    from tests.backend_runs import backend_env
    pytest.importorskip('jax')
    rng = np.random.default_rng(7)
    given = {'transposed_x': rng.normal(size=(2, 6, 4, 2)), 'transposed_kernel': rng.normal(size=(4, 4, 3, 2)),
             'strided_x': rng.normal(size=(2, 10, 7, 3)), 'strided_kernel': rng.normal(size=(4, 4, 3, 5))}
    given = {name: value.astype(np.float32) for name, value in given.items()}
    np.savez(tmp_path / 'given.npz', **given)
    result = subprocesses.run([sys.executable, '-c', JAX_LAYERS.format(), str(tmp_path / 'given.npz'),
                               str(tmp_path / 'got.npz')], 300, env=backend_env('jax'))
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(tmp_path / 'got.npz') as got:
        for name in ('transposed', 'strided'):
            want = definition_gradients(given[name + '_x'], given[name + '_kernel'], name == 'transposed')
            for gpu in (False, True):
                for part, expected in zip(('out', 'dx', 'dk'), want):
                    value = got['%s_%s_%s' % (gpu, name, part)]
                    assert value.shape == expected.shape, (gpu, name, part)
                    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max(),
                                               err_msg='%s %s %s' % ('GPU' if gpu else 'CPU', name, part))


@pytest.mark.parametrize('backend, on_gpu, gemm', [('jax', False, True), ('jax', True, False),
                                                  ('tensorflow', False, False), ('torch', False, False)])
def test_the_gemm_down_sampling_is_for_a_cpu_under_jax(monkeypatch, backend, on_gpu, gemm):
    monkeypatch.setattr(conv_layers, 'on_gpu', lambda: on_gpu)
    with monkeypatch.context() as patch:
        patch.setattr(keras.backend, 'backend', lambda: backend)
        chosen = conv_layers.gemm_down_sampling()
    assert chosen is gemm


@pytest.mark.parametrize('gemm, use_bias, strides', [(True, False, 2), (False, False, 2), (True, True, 2),
                                                     (True, False, 1)])
def test_down_sampling_layer_takes_the_gemm_where_chosen(monkeypatch, gemm, use_bias, strides):
    """conv_layers.Conv2D computes its bias-free 4x4 stride-2 case with conv_4x4_s2 where chosen, any
    other case as Keras does; the definition either way."""
    calls, original = [], conv_layers.conv_4x4_s2

    def spy(x, kernel):
        calls.append(x.shape)
        return original(x, kernel)
    monkeypatch.setattr(conv_layers, 'conv_4x4_s2', spy)
    monkeypatch.setattr(conv_layers, 'gemm_down_sampling', lambda: gemm)
    x = np.random.default_rng(4).normal(size=(1, 10, 6, 2)).astype(np.float32)
    layer = conv_layers.Conv2D(3, 4, strides=strides, use_bias=use_bias)
    layer.build(x.shape)
    got = np.asarray(layer(x))
    assert bool(calls) == (gemm and not use_bias and strides == 2)
    if strides == 2:
        bias = layer.get_weights()[1] if use_bias else 0
        np.testing.assert_allclose(got, windowed_conv(x, layer.get_weights()[0]) + bias, atol=1e-5)


def test_cropping_and_its_gradient_match_keras():
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 7, 6, 3)).astype(np.float32))
    results = []
    for layer in (conv_layers.Cropping2D(((1, 2), (0, 1))), keras.layers.Cropping2D(((1, 2), (0, 1)))):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y ** 3)
        results.append((y.numpy(), tape.gradient(loss, x).numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
    assert results[0][0].shape == (2, 4, 5, 3)


def test_unet_with_background_does_not_read_it():
    """--warp_skip none --use_bg 1: the background is an input, but the reference's U-Net encoder reads
    only the source image and the two poses (3 + 18 + 18 channels)."""
    model = generator(((128, 64), 0, 'none', 'max', 1, 'stickman'))
    assert 'background' in [tensor.name for tensor in model.inputs]
    batch = random_batch(model)
    other = dict(batch, background=-batch['background'])
    np.testing.assert_array_equal(np.asarray(model(batch, training=False)), np.asarray(model(other, training=False)))
    first_conv = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][0]
    assert first_conv.kernel.shape[2] == 3 + 3 + 0  # source image and target stickman, no background


def test_warp_interpolation_reaches_every_warp_layer():
    import argparse
    from warps import warp_types
    flags = argparse.Namespace(image_size=(128, 64), use_input_pose=1, warp_skip='mask', disc_type='warp',
                               warp_agg='max', use_bg=0, pose_rep_type='hm', width_factor=WIDTH,
                               warp_interpolation='nearest')
    for interpolation in ('nearest', 'bilinear'):
        flags.warp_interpolation = interpolation
        options = conv_layers.network_options(flags)
        for model in (conv_layers.make_generator(**options), conv_layers.make_discriminator(**options)):
            layers = [layer for layer in model.layers if isinstance(layer, warp_types.AffineTransformLayer)]
            assert layers and all(layer.interpolation == interpolation for layer in layers)
    default = conv_layers.make_generator((128, 64), 1, 'mask', 'call', 'max', 0, 'hm', width_factor=WIDTH)
    assert {layer.interpolation for layer in default.layers
            if isinstance(layer, warp_types.AffineTransformLayer)} == {'nearest'}
