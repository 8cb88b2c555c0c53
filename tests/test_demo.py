"""demo.py (docs/reference.md, "Keypoint estimation") end to end on the synthetic data, and its keypoint bookkeeping."""
import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import demo
import pose_utils
from data.make_synthetic_dataset import ensure_synthetic_dataset
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = '0.0625'
R_HIP = pose_utils.LABELS.index('Rhip')


def test_missing_points_come_from_the_previous_frame():
    first = np.arange(36).reshape(18, 2)
    second = np.full((18, 2), -1)
    second[:5] = 100 + np.arange(10).reshape(5, 2)
    third = np.full((18, 2), -1)
    third[17] = [7, 7]
    filled = demo.fill_missing_from_previous([first, second, third])
    np.testing.assert_array_equal(filled[0], first)
    np.testing.assert_array_equal(filled[1][:5], second[:5])
    np.testing.assert_array_equal(filled[1][5:], first[5:])
    np.testing.assert_array_equal(filled[2][:17], filled[1][:17])  # a chain: the second frame after filling
    np.testing.assert_array_equal(filled[2][17], [7, 7])


def test_keypoints_follow_the_resize():
    kp = np.full((18, 2), -1)
    kp[0], kp[1] = [255, 127], [10, 21]
    scaled = demo.scale_keypoints(kp, (256, 128, 3), (128, 64))
    np.testing.assert_array_equal(scaled[0], [127, 63])
    np.testing.assert_array_equal(scaled[1], [5, 10])
    assert np.all(scaled[2:] == -1)


@pytest.fixture(scope='module')
def demo_setup(tmp_path_factory):
    """Synthetic data, a source and three frames, their CSV (frame 0: no Rhip and nothing before it;
    frame 2: no Rhip, taken from frame 1) and a fresh narrow generator's weights."""
    import conv_layers
    import weight_files
    import keras
    root = tmp_path_factory.mktemp('demo')
    data_root = str(root / 'data')
    ensure_synthetic_dataset(data_root, 'synthetic', train_identities=2, test_identities=1, images_per_identity=4)
    annotations = pose_utils.load_annotations(os.path.join(data_root, 'synthetic-annotation-train.csv'))
    images_dir = os.path.join(data_root, 'synthetic-dataset', 'train')
    names = sorted(annotations)
    source, frames = names[0], names[4:7]
    frames_dir = root / 'frames'
    frames_dir.mkdir()
    for name in frames:
        shutil.copy(os.path.join(images_dir, name), frames_dir / name)
    rows = {name: annotations[name].copy() for name in [source] + frames}
    rows[frames[0]][R_HIP] = -1
    rows[frames[2]][R_HIP] = -1
    csv_path = str(root / 'demo-annotation.csv')
    pose_utils.save_annotations(csv_path, rows)
    keras.utils.set_random_seed(0)
    generator = conv_layers.make_generator((128, 64), True, 'mask', 'call', 'max', False, 'hm', float(WIDTH))
    checkpoint = str(root / 'generator.weights.h5')
    weight_files.save_weights(generator, checkpoint)
    return dict(root=root, data_root=data_root, source=os.path.join(images_dir, source), frames=frames,
                frames_dir=str(frames_dir), csv=csv_path, rows=rows, checkpoint=checkpoint, generator=generator)


@pytest.mark.slow
@pytest.mark.parametrize('backend', ['tensorflow', 'jax'])
def test_demo_command_line_end_to_end(demo_setup, backend):
    """demo.py on each backend (on JAX without importing TensorFlow), against the generator run here on
    TensorFlow."""
    pytest.importorskip(backend)
    s = demo_setup
    out = str(s['root'] / ('generated-' + backend))
    command = subprocesses.reporting_import('demo.py', 'tensorflow') + [
        '--dataset', 'synthetic', '--data_root', s['data_root'],
        '--generator_checkpoint', s['checkpoint'], '--warp_skip', 'mask', '--width_factor', WIDTH,
        '--source_image', s['source'], '--target_images_dir', s['frames_dir'],
        '--keypoints_csv', s['csv'], '--generated_images_dir', out, '--batch_size', '1']
    result = subprocesses.run(command, 300, env=dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS='cpu'))
    assert result.returncode == 0, result.stderr
    assert 'tensorflow imported: %s' % (backend == 'tensorflow') in result.stdout
    frames = s['frames']
    # Frame 0 has no torso and no frame before it: skipped; frame 2 borrows frame 1's Rhip.
    expected = sorted(os.path.splitext(name)[0] + '.png' for name in frames[1:])
    assert sorted(name for name in os.listdir(out) if name.endswith('.png')) == expected
    gif = Image.open(os.path.join(out, demo.GIF_NAME))
    assert gif.n_frames == 2 and gif.size == (3 * 64, 128)

    # The generated panel is what the generator makes of the source in the (filled) target pose.
    import pose_dataset
    source = np.asarray(Image.open(s['source']).convert('RGB'))
    rows = s['rows']
    filled_1 = np.where(rows[frames[1]] == -1, rows[frames[0]], rows[frames[1]])
    filled_2 = np.where(rows[frames[2]] == -1, filled_1, rows[frames[2]])
    assert np.all(filled_2[R_HIP] == rows[frames[1]][R_HIP])
    for name, target_kp in ((frames[1], filled_1), (frames[2], filled_2)):
        inputs = pose_dataset.make_pair_inputs(source, s['rows'][os.path.basename(s['source'])], target_kp,
                                               (128, 64), 'hm', 'mask', True, False)
        batch = {key: inputs[key][None] for key in s['generator'].input}
        expected_image = pose_utils.deprocess_image(np.asarray(s['generator'](batch, training=False))[0])
        strip = np.asarray(Image.open(os.path.join(out, os.path.splitext(name)[0] + '.png')))
        assert strip.shape == (128, 192, 3)
        np.testing.assert_array_equal(strip[:, :64], source)
        np.testing.assert_array_equal(strip[:, 64:128], np.asarray(Image.open(os.path.join(s['frames_dir'], name))))
        assert np.abs(strip[:, 128:].astype(int) - expected_image).max() <= 1


def test_demo_refuses_a_source_without_torso(demo_setup, tmp_path, capsys):
    s = demo_setup
    rows = dict(s['rows'])
    source_name = os.path.basename(s['source'])
    rows[source_name] = np.full((18, 2), -1)
    csv_path = str(tmp_path / 'no-torso.csv')
    pose_utils.save_annotations(csv_path, rows)
    status = demo.main(['--dataset', 'synthetic', '--data_root', s['data_root'], '--generator_checkpoint',
                        s['checkpoint'], '--warp_skip', 'mask', '--width_factor', WIDTH,
                        '--source_image', s['source'], '--target_images_dir', s['frames_dir'],
                        '--keypoints_csv', csv_path, '--generated_images_dir', str(tmp_path / 'out')])
    assert status == 1
    assert source_name in capsys.readouterr().err
    assert not os.path.exists(tmp_path / 'out')


# ---- sup-mat/create_dataset_for_reid.py ---------------------------------------------------------

def load_reid_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location('create_dataset_for_reid',
                                                  os.path.join(ROOT, 'sup-mat', 'create_dataset_for_reid.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reid_pairs_are_seeded_and_never_the_same_image():
    reid = load_reid_module()
    names = ['%04d_c1s1_000001_01.jpg' % i for i in range(12)]
    pairs = reid.make_reid_pairs(names, 10, seed=3)
    assert pairs == reid.make_reid_pairs(names, 10, seed=3)
    assert pairs != reid.make_reid_pairs(names, 10, seed=4)
    assert [fr for fr, _ in pairs] == [name for name in names for _ in range(10)]
    for name in names:
        targets = [to for fr, to in pairs if fr == name]
        assert name not in targets and len(set(targets)) == 10  # 11 others: no repeats needed


@pytest.mark.slow
@pytest.mark.parametrize('backend', ['tensorflow', 'jax'])
def test_reid_command_line_end_to_end(demo_setup, backend):
    """The Re-ID script on each backend (on JAX without importing TensorFlow), against the generator run
    here on TensorFlow."""
    pytest.importorskip(backend)
    s = demo_setup
    out = str(s['root'] / ('reid-' + backend))
    pairs_file = str(s['root'] / ('reid-pairs-%s.csv' % backend))
    command = subprocesses.reporting_import(os.path.join('sup-mat', 'create_dataset_for_reid.py'), 'tensorflow') + [
        '--dataset', 'synthetic',
        '--data_root', s['data_root'], '--generator_checkpoint', s['checkpoint'], '--warp_skip', 'mask',
        '--width_factor', WIDTH, '--pairs_for_each', '2', '--reid_pairs_file', pairs_file,
        '--generated_images_dir', out, '--batch_size', '3']
    result = subprocesses.run(command, 300, env=dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS='cpu'))
    assert result.returncode == 0, result.stderr
    assert 'tensorflow imported: %s' % (backend == 'tensorflow') in result.stdout
    annotations = pose_utils.load_annotations(os.path.join(s['data_root'], 'synthetic-annotation-train.csv'))
    names = list(annotations)
    pairs = pose_utils.load_pairs(pairs_file)
    assert len(pairs) == 2 * len(names) and all(fr != to for fr, to in pairs)
    generated = ['%sg%d.jpg' % (fr[:-4], number) for number, (fr, _) in enumerate(pairs, start=1)]
    files = sorted(os.listdir(out))
    assert files == sorted(generated + names + ['train.txt'])
    # One generated image against the generator run here on the same pair, both JPEG-encoded.
    import pose_dataset
    from_name, to_name = pairs[5]
    source = np.asarray(Image.open(os.path.join(s['data_root'], 'synthetic-dataset', 'train', from_name)))
    inputs = pose_dataset.make_pair_inputs(source, annotations[from_name], annotations[to_name], (128, 64),
                                           'hm', 'mask', True, False)
    expected = pose_utils.deprocess_image(
        np.asarray(s['generator']({k: inputs[k][None] for k in s['generator'].input}, training=False))[0])
    encoded = io.BytesIO()
    Image.fromarray(expected).save(encoded, format='JPEG')  # the same lossy encoding
    expected = np.asarray(Image.open(encoded)).astype(float)
    saved = np.asarray(Image.open(os.path.join(out, generated[5]))).astype(float)
    assert np.abs(saved - expected).mean() < 0.5
    # Training list: every file, classes = person ids in name order, generated images with their person.
    rows = [line.split() for line in open(os.path.join(out, 'train.txt')).read().splitlines()]
    assert len(rows) == len(generated) + len(names)
    persons = sorted({name.split('_')[0] for name in names})
    for path, number in rows:
        assert path.startswith('dataset/bounding_box_train/')
        assert persons[int(number)] == os.path.basename(path).split('_')[0]
