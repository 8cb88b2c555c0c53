"""The numpy pipeline (input_pipeline/pose_batches.py, gan/prefetch.py, PairDataset.train_batches): the
batches of the tf.data pipeline bit for bit, worker processes that stop, no tensorflow on the JAX path; image modes
and keypoints outside the image in both pipelines."""
import os
import signal
import sys
import time

import numpy as np
import pytest
from PIL import Image

import pose_transform
import pose_utils
from gan.prefetch import OrderedPrefetcher
from input_pipeline import pose_batches
from pose_dataset import PoseHMDataset, check_image
from tests import subprocesses
from tests.fixtures_data import training_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dataset(root, tmp_path, *flags, workers=0):
    dataset = PoseHMDataset.from_args(training_args(root, tmp_path, *flags))
    dataset.workers = workers
    return dataset


def _assert_same_batches(want, got):
    want, got = list(want), list(got)
    assert len(want) == len(got) > 0
    for g, (a, b) in enumerate(zip(want, got)):
        assert list(a) == list(b), g
        for name in a:
            assert b[name].dtype == np.float32, name
            np.testing.assert_array_equal(np.asarray(a[name]), b[name], err_msg='batch %d, %s' % (g, name))


@pytest.mark.parametrize('flags, workers', [
    (('--warp_skip', 'mask'), 2),
    (('--warp_skip', 'mask', '--pose_map', 'smooth', '--use_bg', '1'), 0),
    (('--warp_skip', 'stn', '--pose_rep_type', 'stickman'), 0),
    (('--warp_skip', 'full', '--use_bg', '1'), 0),
    (('--warp_skip', 'none', '--pose_map', 'smooth', '--use_input_pose', '0'), 0),
])
def test_train_batches_are_the_tf_data_batches_across_a_pass(synthetic_root, tmp_path, flags, workers):
    dataset = _dataset(synthetic_root, tmp_path, *flags, workers=workers)
    per_pass = dataset.number_of_pairs('train') // dataset.batch_size
    first = per_pass - 1          # the last batch of pass 0, then pass 1
    with dataset.train_batches(first, 3) as got:
        _assert_same_batches(dataset.train_dataset(first, 3).as_numpy_iterator(), got)


def test_numpy_test_batches_are_the_tf_data_ones_with_the_tail(synthetic_root, tmp_path):
    dataset = _dataset(synthetic_root, tmp_path, '--warp_skip', 'mask', workers=2)
    total = dataset.number_of_pairs('test')
    batch_size = 3 if total % 3 else 5
    with dataset.numpy_test_batches(batch_size) as got:
        got = list(got)
    assert len(got[-1]['source_image']) == total % batch_size
    _assert_same_batches(dataset.test_dataset(batch_size).as_numpy_iterator(), got)


def test_workers_stop_on_close_and_when_left_unfinished(synthetic_root, tmp_path):
    dataset = _dataset(synthetic_root, tmp_path, '--warp_skip', 'none', workers=2)
    batches = dataset.train_batches(0, 6)
    next(batches)
    processes = list(batches._prefetcher.processes)
    assert len(processes) == 2 and all(p.poll() is None for p in processes)
    batches.close()
    assert all(p.returncode is not None for p in processes)   # ended and waited for
    assert list(OrderedPrefetcher(pose_batches.no_warp_inputs, [], 2)) == []   # no task: no worker
    iterator = iter(dataset.train_batches(0, 6))
    next(iterator)
    processes = list(iterator.processes)
    del iterator    # dropped half way: collected, its workers stop
    for process in processes:
        assert process.wait(timeout=subprocesses.scaled(10)) is not None


PROBE = '''
import sys
from input_pipeline import pose_batches


def frameworks(maker):
    """What a worker holds after making a batch with ``maker``."""
    maker([0])
    return sorted(name for name in ('keras', 'tensorflow', 'jax') if name in sys.modules)
'''


def test_a_worker_imports_no_framework(synthetic_root, tmp_path, monkeypatch):
    (tmp_path / 'probe_module.py').write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import probe_module
    maker = _dataset(synthetic_root, tmp_path, '--warp_skip', 'mask').batch_maker('train')
    with OrderedPrefetcher(probe_module.frameworks, [maker], 1) as results:
        assert list(results) == [[]]


def test_a_worker_error_names_the_file(copied_root, tmp_path):
    pairs = pose_utils.load_pairs(os.path.join(copied_root, 'synthetic-pairs-test.csv'))
    path = os.path.join(copied_root, 'synthetic-dataset', 'test', pairs[0][1])
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    dataset = PoseHMDataset.from_args(training_args(copied_root, tmp_path), check_images=False)
    dataset.workers = 1
    with pytest.raises(ValueError, match=r'%s: not a readable image \(image file is truncated' % pairs[0][1]):
        list(dataset.numpy_test_batches(2))


@pytest.fixture
def copied_root(synthetic_root, tmp_path):
    import shutil
    root = str(tmp_path / 'copy')
    shutil.copytree(synthetic_root, root)
    return root


KILLED_CONSUMER = '''
import os, signal, sys
sys.path.insert(0, {root!r})
import cmd
from pose_dataset import PoseHMDataset
from tests.fixtures_data import training_args
dataset = PoseHMDataset.from_args(training_args({data!r}, {out!r}, '--warp_skip', 'mask'))
dataset.workers = 2
batches = dataset.train_batches(0, 50)
next(batches)
print(' '.join(str(p.pid) for p in batches._prefetcher.processes), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
'''


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir('/proc'), reason='reads /proc')
def test_workers_end_when_the_consumer_is_killed(synthetic_root, tmp_path):
    script = KILLED_CONSUMER.format(root=ROOT, data=synthetic_root, out=str(tmp_path))
    result = subprocesses.run([sys.executable, '-c', script], 300, env={**os.environ, 'KERAS_BACKEND': 'jax'},
                              cwd=str(tmp_path))
    assert result.returncode == -signal.SIGKILL, result.stderr
    pids = [int(pid) for pid in result.stdout.split()]
    assert len(pids) == 2
    deadline = time.time() + subprocesses.scaled(20)
    while any(_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


JAX_PATH = '''
import sys
sys.path.insert(0, {root!r})
import cmd
import keras
import pose_dataset
from tests.fixtures_data import training_args
from warps import warp_types
assert keras.backend.backend() == 'jax'
dataset = pose_dataset.PoseHMDataset.from_args(training_args({data!r}, {out!r}, '--warp_skip', 'mask'))
dataset.workers = 1
with dataset.train_batches(0, 2) as batches:
    shapes = [batch['masks'].shape for batch in batches]
names, batch = next(dataset.test_batches(2))
assert len(names) == 2 and batch['target_pose'].shape == (2, 128, 64, 18)
assert 'tensorflow' not in sys.modules, 'tensorflow imported'
print(shapes)
'''


def test_the_numpy_pipeline_imports_no_tensorflow_on_jax(synthetic_root, tmp_path):
    script = JAX_PATH.format(root=ROOT, data=synthetic_root, out=str(tmp_path))
    result = subprocesses.run([sys.executable, '-c', script], 300, env={**os.environ, 'KERAS_BACKEND': 'jax'},
                              cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == '[(2, 10, 128, 64), (2, 10, 128, 64)]'


# ---- pose maps ------------------------------------------------------------------------------------------

def test_batched_numpy_maps_are_cords_to_map():
    rng = np.random.default_rng(3)
    kp = rng.integers(-30, 160, (5, 18, 2))
    kp[rng.random((5, 18)) < 0.2] = -1
    for pose_map in ('stepped', 'smooth'):
        maps = pose_batches.heatmaps(kp, (128, 64), pose_map)
        assert maps.dtype == np.float32 and maps.shape == (5, 128, 64, 18)
        for i in range(5):
            want = pose_utils.cords_to_map(kp[i], (128, 64), pose_map=pose_map)
            if pose_map == 'smooth':   # float32 subnormals are 0 (what TensorFlow's threads compute)
                tiny = np.finfo(np.float32).tiny
                assert np.all(maps[i][want < tiny] == 0) and np.any((want > 0) & (want < tiny))
                want = np.where(want <= tiny, maps[i], want)
            np.testing.assert_array_equal(maps[i], want)


# ---- image modes --------------------------------------------------------------------------------------

def _modes(tmp_path):
    """Files of each mode the readers accept: {name: (path, pixels of PIL's convert('RGB'))}."""
    rng = np.random.default_rng(4)
    rgb = np.asarray(Image.fromarray(rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)).resize((64, 128)))
    alpha = rng.integers(0, 256, (128, 64), dtype=np.uint8)
    images = {'grey.jpg': Image.fromarray(rgb).convert('L'), 'grey.png': Image.fromarray(rgb).convert('L'),
              'cmyk.jpg': Image.fromarray(rgb).convert('CMYK'),
              'rgba.png': Image.fromarray(np.dstack([rgb, alpha]), 'RGBA'),
              'grey-alpha.png': Image.fromarray(np.dstack([rgb[..., 0], alpha]), 'LA'),
              'palette.png': Image.fromarray(rgb).convert('P'), 'bilevel.png': Image.fromarray(rgb).convert('1')}
    files = {}
    for name, image in images.items():
        path = str(tmp_path / name)
        image.save(path)
        with Image.open(path) as written:
            assert written.mode == image.mode, name       # the file holds that mode
            files[name] = (path, np.asarray(written.convert('RGB')))
    return files


def test_every_image_mode_reads_as_pil_converts_it_in_both_pipelines(tmp_path):
    from input_pipeline.pose_tf_data import read_image_tf
    for name, (path, pixels) in _modes(tmp_path).items():
        check_image(path, (128, 64))
        want = pose_utils.preprocess_image(pixels)
        np.testing.assert_array_equal(pose_batches.read_image(path, (128, 64)), want, err_msg=name)
        np.testing.assert_array_equal(read_image_tf(path, (128, 64)).numpy(), want, err_msg=name)
    # alpha dropped, not composited; grey levels repeated
    rgba_path, rgba_pixels = _modes(tmp_path)['rgba.png']
    with Image.open(rgba_path) as image:
        np.testing.assert_array_equal(rgba_pixels, np.asarray(image)[..., :3])


def test_sixteen_bit_images_are_refused_naming_the_file(tmp_path):
    path = str(tmp_path / 'deep.png')
    Image.fromarray(np.full((128, 64), 40000, dtype=np.uint16)).save(path)
    with pytest.raises(ValueError, match=r'deep.png has 16-bit or floating-point pixels \(mode I;16'):
        check_image(path, (128, 64))
    with pytest.raises(ValueError, match=r'deep.png has 16-bit'):
        pose_batches.read_image(path, (128, 64))


# ---- keypoints outside the image ---------------------------------------------------------------------------

def test_a_keypoint_outside_the_image_is_present_with_an_empty_pose_map(tmp_path):
    """Rank at y = 500 in a 128-row image: accepted (the limit is 10 x 128); its pose-map channel is 0
    everywhere, as for a missing point, but it is a present point for the masks and transforms: the
    lower-leg mask runs from the knee to the bottom border and the part transform is fitted to it."""
    from input_pipeline.pose_tf_data import heatmaps_tf
    from tests.reference_transforms import TEMPLATE
    rank = pose_transform.KP['Rank']
    kp = TEMPLATE.copy()
    kp[rank, 0] = 500
    csv = tmp_path / 'annotations.csv'
    y, x = pose_utils.pose_cords_to_strings(kp)
    csv.write_text('%s\nfar.jpg: %s: %s\n' % (pose_utils.ANNOTATION_HEADER, y, x))
    np.testing.assert_array_equal(pose_utils.load_annotations(str(csv), (128, 64))['far.jpg'], kp)
    for pose_map in ('stepped', 'smooth'):
        numpy_maps = pose_batches.heatmaps(kp[None], (128, 64), pose_map)[0]
        np.testing.assert_array_equal(heatmaps_tf(kp[None].astype(np.int32), (128, 64), pose_map=pose_map)[0],
                                      numpy_maps)
        assert np.all(numpy_maps[..., rank] == 0) and np.all(numpy_maps[..., :rank].max(axis=(0, 1)) == 1)
    masks = pose_transform.pose_masks(kp, (128, 64))
    part = 2 + [to for _, to, _, _ in pose_transform.LIMBS].index('Rank')
    knee_row = TEMPLATE[pose_transform.KP['Rkne'], 0]
    rows = np.flatnonzero(masks[part].any(axis=1))
    assert rows.min() < knee_row and rows.max() == 127       # from above the knee to the border
    assert masks[part].sum() > 1.5 * pose_transform.pose_masks(TEMPLATE, (128, 64))[part].sum()
    transforms = pose_transform.affine_transforms(TEMPLATE, kp)
    assert np.all(np.isfinite(transforms[part])) and transforms[part][2] != 1000   # a fit, not "no point"
