"""weight_files.save_weights / load_weights: this project's Keras 3 files, the reference's Keras 2
.h5 layout (written here with h5py from hand-listed reference layers), refusal of other architectures."""
import json
import os

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import conv_layers
import weight_files

WIDTH = 1 / 16


def mask_generator():
    return conv_layers.make_generator((128, 64), 1, 'mask', 'call', 'max', 0, 'hm', width_factor=WIDTH)


def call_discriminator(pose_rep_type='hm'):
    return conv_layers.make_discriminator((128, 64), 1, 'mask', 'call', 'max', 0, pose_rep_type,
                                          width_factor=WIDTH)


def conv(n, size, channels_in, channels_out, bias=False):
    weights = {'kernel': (size, size, channels_in, channels_out)}
    if bias:
        weights['bias'] = (channels_out,)
    return f'conv2d_{n}', weights


def norm(n):
    return f'instance_normalization_{n}', {'gamma': (1,), 'beta': (1,)}


def up(n, channels_in, channels_out):
    """Keras 2 and Keras 3 both store a transposed convolution's kernel as (kh, kw, out, in)."""
    return f'conv2d_transpose_{n}', {'kernel': (4, 4, channels_out, channels_in)}


def reference_generator_layers():
    """The weighted layers the reference's make_generator created for market, ``mask``, 18-channel
    poses, in creation order, at width 1/16 (filters 4, 8, 16, 32, 32, 32): (name, {weight: shape})."""
    layers = []
    for encoder, (first, first_in) in enumerate([(1, 21), (7, 18)]):      # appearance, then pose encoder
        layers += [conv(first, 3, first_in, 4, bias=True),
                   conv(first + 1, 4, 4, 8), norm(4 * encoder + 1),
                   conv(first + 2, 4, 8, 16), norm(4 * encoder + 2),
                   conv(first + 3, 4, 16, 32), norm(4 * encoder + 3),
                   conv(first + 4, 4, 32, 32), norm(4 * encoder + 4),
                   conv(first + 5, 4, 32, 32)]
    # decoder: inputs are the previous output concatenated with the skip (appearance + pose channels)
    layers += [up(1, 64, 32), norm(9), up(2, 96, 32), norm(10), up(3, 96, 32), norm(11),
               up(4, 64, 16), norm(12), up(5, 32, 8), norm(13), conv(13, 3, 16, 3, bias=True)]
    return layers


def reference_discriminator_layers(offset=0, first_in=42):
    """The reference's ``call`` discriminator, with the Keras 2 counters shifted by ``offset`` as in a
    session that built the generator first."""
    return [conv(offset + 1, 4, first_in, 4, bias=True),
            conv(offset + 2, 4, 4, 8), norm(offset + 1),
            conv(offset + 3, 4, 8, 16), norm(offset + 2),
            conv(offset + 4, 4, 16, 32), norm(offset + 3),
            conv(offset + 5, 4, 32, 1)]


def write_keras2_file(path, layers, full_model=True, suffix=':0', outer=None, seed=0):
    """Write ``layers`` in Keras 2's h5 layout; returns {(layer, weight): array}.

    Full model (``model.save``): root attrs, ``model_weights`` group with ``layer_names``, a group per
    layer with ``weight_names`` and datasets ``<layer>/<weight>:0``, plus ``optimizer_weights``. Weights
    only (``model.save_weights``): the layer groups at the root. ``outer`` maps a layer to the group of
    the layer holding it (a nested model or the spatial transformer)."""
    rng = np.random.default_rng(seed)
    values = {}
    with h5py.File(path, 'w') as f:
        f.attrs['keras_version'] = b'2.1.2'
        f.attrs['backend'] = b'tensorflow'
        if full_model:
            f.attrs['model_config'] = json.dumps({'class_name': 'Model'}).encode()
            f.create_dataset('optimizer_weights/Adam/iterations:0', data=np.array(7))
            root = f.create_group('model_weights')
        else:
            root = f
        weight_names = {}
        for name, weights in layers:
            group_name = (outer or {}).get(name, name)
            group = root.require_group(group_name)
            for weight, shape in weights.items():
                value = rng.normal(size=shape).astype(np.float32)
                group.create_dataset(f'{name}/{weight}{suffix}', data=value)
                weight_names.setdefault(group_name, []).append(f'{name}/{weight}{suffix}'.encode())
                values[name, weight] = value
        for group_name, names in weight_names.items():
            root[group_name].attrs['weight_names'] = names
        root.attrs['layer_names'] = [name.encode() for name in ['input_1'] + list(weight_names)]
    return values


def kernel_of_shape(model, shape):
    """The one layer of the model whose kernel has this shape (identifies a layer without its name)."""
    found = [layer for layer in model.layers if hasattr(layer, 'kernel') and tuple(layer.kernel.shape) == shape]
    assert len(found) == 1, f'{len(found)} layers with kernel {shape}'
    return found[0].kernel.numpy()


def test_reference_generator_file_loads_into_the_right_layers(tmp_path):
    path = tmp_path / 'generator.h5'
    values = write_keras2_file(path, reference_generator_layers())
    model = mask_generator()
    weight_files.load_weights(model, path)
    assert np.array_equal(kernel_of_shape(model, (3, 3, 21, 4)), values['conv2d_1', 'kernel'])   # appearance
    assert np.array_equal(kernel_of_shape(model, (3, 3, 18, 4)), values['conv2d_7', 'kernel'])   # pose
    assert np.array_equal(kernel_of_shape(model, (3, 3, 16, 3)), values['conv2d_13', 'kernel'])  # output
    assert np.array_equal(kernel_of_shape(model, (4, 4, 8, 32)), values['conv2d_transpose_5', 'kernel'])
    # every file value landed somewhere in the model, once
    model_values = sorted(float(w.numpy().ravel()[0]) for w in model.weights)
    assert model_values == sorted(float(v.ravel()[0]) for v in values.values())


@pytest.mark.parametrize('full_model,suffix', [(True, ':0'), (False, ''), (False, ':0')])
def test_reference_discriminator_file_with_shifted_counters(tmp_path, full_model, suffix):
    path = tmp_path / 'discriminator.h5'
    values = write_keras2_file(path, reference_discriminator_layers(offset=13), full_model, suffix)
    model = call_discriminator()
    weight_files.load_weights(model, path)
    # A chain: topological order is creation order.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in model.layers if isinstance(layer, conv_layers.InstanceNormalization)]
    assert (len(convs), len(norms)) == (5, 3)   # the reference's discriminator: 5 convolutions, 3 norms
    for i, layer in enumerate(convs):
        assert np.array_equal(layer.kernel.numpy(), values[f'conv2d_{14 + i}', 'kernel'])
    assert np.array_equal(convs[0].bias.numpy(), values['conv2d_14', 'bias'])
    for i, layer in enumerate(norms):
        assert layer.gamma.numpy()[0] == values[f'instance_normalization_{14 + i}', 'gamma'][0]
        assert layer.beta.numpy()[0] == values[f'instance_normalization_{14 + i}', 'beta'][0]


def test_reference_spatial_transformer_weights_nested_in_its_layer(tmp_path):
    model = conv_layers.make_generator((128, 64), 1, 'stn', 'call', 'max', 0, 'hm', width_factor=WIDTH)
    layers = reference_generator_layers() + [('dense_1', dict(kernel=(72, 64), bias=(64,))),
                                             ('dense_2', dict(kernel=(64, 32), bias=(32,))),
                                             ('dense_3', dict(kernel=(32, 6), bias=(6,)))]
    outer = {f'dense_{i}': 'spatial_transformer_1' for i in (1, 2, 3)}
    path = tmp_path / 'stn.h5'
    values = write_keras2_file(path, layers, outer=outer)
    weight_files.load_weights(model, path)
    for shape, name in [((72, 64), 'dense_1'), ((64, 32), 'dense_2'), ((32, 6), 'dense_3')]:
        assert np.array_equal(kernel_of_shape(model, shape), values[name, 'kernel'])


def test_round_trip_of_project_format(tmp_path):
    source, target = mask_generator(), mask_generator()
    path = tmp_path / 'epoch_001_generator.weights.h5'
    weight_files.save_weights(source, path)
    assert sorted(os.listdir(tmp_path)) == ['epoch_001_generator.weights.h5']
    batch = {name: tf.random.uniform((1,) + tuple(t.shape[1:]), seed=1) for name, t in source.input.items()}
    assert not np.allclose(source(batch, training=False), target(batch, training=False))
    weight_files.load_weights(target, path)
    assert np.array_equal(np.asarray(source(batch, training=False)), np.asarray(target(batch, training=False)))


def test_file_written_with_keras_own_convolutions_loads(tmp_path, monkeypatch):
    """Weight files key layers by class name: a generator built with keras.layers.Conv2DTranspose and
    keras.layers.Conv2D (as any plain Keras 3 build of these networks is) loads into conv_layers'
    GEMM-computing subclasses, same outputs."""
    with monkeypatch.context() as patch:
        patch.setattr(conv_layers, 'Conv2DTranspose', keras.layers.Conv2DTranspose)
        patch.setattr(conv_layers, 'Conv2D', keras.layers.Conv2D)
        source = mask_generator()
    target = mask_generator()
    assert type(source.get_layer('conv2d_transpose_1')) is keras.layers.Conv2DTranspose
    assert type(target.get_layer('conv2d_transpose_1')) is conv_layers.Conv2DTranspose
    assert type(source.get_layer('conv2d_2')) is keras.layers.Conv2D
    assert type(target.get_layer('conv2d_2')) is conv_layers.Conv2D
    path = tmp_path / 'generator.weights.h5'
    weight_files.save_weights(source, path)
    weight_files.load_weights(target, path)
    batch = {name: tf.random.uniform((1,) + tuple(t.shape[1:]), seed=2) for name, t in source.input.items()}
    np.testing.assert_allclose(np.asarray(target(batch, training=False)), np.asarray(source(batch, training=False)),
                               atol=1e-5)


def test_save_needs_keras3_suffix(tmp_path):
    with pytest.raises(ValueError, match='.weights.h5'):
        weight_files.save_weights(call_discriminator(), tmp_path / 'd.h5')


def test_reference_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / 'discriminator.h5'
    write_keras2_file(path, reference_discriminator_layers(first_in=42))   # 18-channel poses
    model = call_discriminator('stickman')                                 # 3-channel poses: 12 inputs
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=r"conv2d_1'.*\(4, 4, 42, 4\).*\(4, 4, 12, 4\)"):
        weight_files.load_weights(model, path)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, model.weights))  # nothing assigned


def test_reference_file_with_missing_layers_is_refused(tmp_path):
    path = tmp_path / 'generator.h5'
    write_keras2_file(path, reference_discriminator_layers())
    with pytest.raises(ValueError, match="another architecture.*conv2d"):
        weight_files.load_weights(mask_generator(), path)


def test_project_file_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / 'd.weights.h5'
    weight_files.save_weights(call_discriminator('hm'), path)
    with pytest.raises(ValueError, match="another architecture: layer 'conv2d_1'"):
        weight_files.load_weights(call_discriminator('stickman'), path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.h5'):
        weight_files.load_weights(call_discriminator(), tmp_path / 'nothing.h5')
