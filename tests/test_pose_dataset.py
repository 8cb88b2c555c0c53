"""pose_dataset.py and gan/dataset.py: inputs of each flag combination, data order, bad files."""
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import pose_transform
import pose_utils
from gan.dataset import stream_indices
from input_pipeline.pose_tf_data import heatmaps_tf
from pose_dataset import PoseHMDataset, make_pair_inputs
from reference_transforms import reference_masks
from test_pose_maps import reference_cords_to_map
from tests.fixtures_data import training_args


def _dataset(root, tmp_path, *flags, **kwargs):
    return PoseHMDataset.from_args(training_args(root, tmp_path, *flags), **kwargs)


@pytest.mark.parametrize('pose_map', ['stepped', 'smooth'])
def test_heatmaps_tf_match_the_formula(pose_map):
    """stepped: Python 2's integer division floors -d2 / 72; smooth: the Gaussian itself."""
    kp = np.array([[5, 3], [-1, -1], [0, 7]] + [[-1, -1]] * 15, dtype=np.int32)
    got = heatmaps_tf(kp, (12, 9), pose_map=pose_map).numpy()
    want = np.zeros((12, 9, 18))
    for c in (0, 2):
        for y in range(12):
            for x in range(9):
                d2 = (y - int(kp[c, 0])) ** 2 + (x - int(kp[c, 1])) ** 2
                want[y, x, c] = np.exp(-d2 // 72 if pose_map == 'stepped' else -d2 / 72)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert got.dtype == np.float32 and np.all(got[..., 1] == 0)


def test_stream_is_a_reshuffled_pass_after_pass_and_reproducible():
    indices = stream_indices(10, 3, seed=4, first_batch=0, number_of_batches=9).reshape(9, 3)
    for p in range(3):   # 3 batches per pass (the tail pair of each pass is dropped)
        one_pass = indices[3 * p:3 * p + 3].ravel()
        assert len(set(one_pass)) == 9
    assert not np.array_equal(indices[:3], indices[3:6])
    # any window of the stream is the same slice of the whole stream: the basis of --resume
    window = stream_indices(10, 3, seed=4, first_batch=4, number_of_batches=4).reshape(4, 3)
    np.testing.assert_array_equal(window, indices[4:8])
    assert not np.array_equal(stream_indices(10, 3, 5, 0, 9), indices.ravel())


def _read(path):
    return np.asarray(Image.open(path).convert('RGB'))


@pytest.mark.parametrize('flags', [
    ('--warp_skip', 'mask'),
    ('--warp_skip', 'full', '--pose_rep_type', 'stickman'),
    ('--warp_skip', 'stn', '--use_input_pose', '0'),
    ('--warp_skip', 'none', '--use_bg', '1'),
])
def test_train_batch_equals_make_pair_inputs_of_the_stream_pairs(synthetic_root, tmp_path, flags):
    args = training_args(synthetic_root, tmp_path, *flags)
    dataset = PoseHMDataset.from_args(args)
    batch = next(iter(dataset.train_dataset(first_batch=1, number_of_batches=1)))
    pair_ids = stream_indices(dataset.number_of_pairs('train'), 2, args.seed, 1, 1)
    annotations = {**pose_utils.load_annotations(args.annotations_file_train),
                   **pose_utils.load_annotations(args.annotations_file_test)}
    for row, pair_id in enumerate(pair_ids):
        source, target = dataset.pairs['train'][pair_id]
        background = None
        if args.use_bg:
            background = _read(os.path.join(args.bg_images_dir_train, target.replace('.jpg', '_BG.jpg')))
        want = make_pair_inputs(_read(os.path.join(args.images_dir_train, source)), annotations[source],
                                annotations[target], args.image_size, args.pose_rep_type, args.warp_skip,
                                args.use_input_pose, args.use_bg, background=background,
                                target_image=_read(os.path.join(args.images_dir_train, target)))
        assert sorted(want) == sorted(batch)
        for name, value in want.items():
            assert batch[name].dtype.name == 'float32'
            np.testing.assert_allclose(batch[name][row].numpy(), value, atol=1e-5, err_msg=name)


def test_make_pair_inputs_shapes_for_the_paper_model(synthetic_root):
    annotations = pose_utils.load_annotations(os.path.join(synthetic_root, 'synthetic-annotation-train.csv'))
    (_, kp_a), (_, kp_b) = list(annotations.items())[:2]
    source_image = np.zeros((128, 64, 3), np.uint8)
    target_image = np.full((128, 64, 3), 255, np.uint8)
    inputs = make_pair_inputs(source_image, kp_a, kp_b, (128, 64), 'hm', 'mask', True, False,
                              target_image=target_image)
    shapes = {name: value.shape for name, value in inputs.items()}
    assert shapes == {'source_image': (128, 64, 3), 'source_pose': (128, 64, 18), 'target_pose': (128, 64, 18),
                      'target_image': (128, 64, 3), 'transforms': (10, 8), 'masks': (10, 128, 64)}
    # Each input from its own pair member (docs/reference.md, "Networks"): images scaled to [-1, 1],
    # pose maps of each keypoint set by the reference's loop, masks of the target.
    assert (inputs['source_image'] == -1).all() and (inputs['target_image'] == 1).all()
    np.testing.assert_array_equal(inputs['source_pose'], reference_cords_to_map(kp_a, (128, 64)))
    np.testing.assert_array_equal(inputs['target_pose'], reference_cords_to_map(kp_b, (128, 64)))
    np.testing.assert_array_equal(inputs['masks'], reference_masks(kp_b, (128, 64)))
    assert not np.array_equal(inputs['source_pose'], inputs['target_pose'])
    np.testing.assert_allclose(inputs['transforms'], pose_transform.affine_transforms(kp_a, kp_b))


def test_test_batches_follow_the_pairs_file_and_keep_the_tail(synthetic_root, tmp_path):
    dataset = _dataset(synthetic_root, tmp_path, '--warp_skip', 'mask')
    total = dataset.number_of_pairs('test')
    batch_size = 3 if total % 3 else 5
    seen, sizes = [], []
    for names, batch in dataset.test_batches(batch_size):
        seen += names
        sizes.append(len(batch['source_image']))
        assert len(names) == len(batch['target_image'])
    assert seen == pose_utils.load_pairs(os.path.join(synthetic_root, 'synthetic-pairs-test.csv'))
    assert sum(sizes) == total and sizes[-1] == total % batch_size
    first_name = seen[0][1]
    folder = os.path.join(synthetic_root, 'synthetic-dataset', 'test')
    want = pose_utils.preprocess_image(_read(os.path.join(folder, first_name)))
    np.testing.assert_allclose(next(dataset.test_batches(batch_size))[1]['target_image'][0], want, atol=1e-6)


def test_nothing_is_cached_on_disk(synthetic_root, tmp_path):
    dataset = _dataset(synthetic_root, tmp_path, '--warp_skip', 'mask', '--cache_pose_rep', '1')
    next(iter(dataset.train_dataset(0, 1)))
    cache = os.path.join(str(tmp_path), 'tmp')
    assert not os.path.exists(cache) or not os.listdir(cache)


@pytest.fixture
def copied_root(synthetic_root, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(synthetic_root, root)
    return root


def test_missing_image_is_named(copied_root, tmp_path):
    pairs = pose_utils.load_pairs(os.path.join(copied_root, 'synthetic-pairs-train.csv'))
    os.remove(os.path.join(copied_root, 'synthetic-dataset', 'train', pairs[0][0]))
    with pytest.raises(FileNotFoundError, match=pairs[0][0]):
        _dataset(copied_root, tmp_path, '--warp_skip', 'none')


def test_wrong_image_size_is_named_with_the_expected_size(copied_root, tmp_path):
    pairs = pose_utils.load_pairs(os.path.join(copied_root, 'synthetic-pairs-test.csv'))
    path = os.path.join(copied_root, 'synthetic-dataset', 'test', pairs[0][1])
    Image.new('RGB', (32, 64)).save(path)
    with pytest.raises(ValueError, match=r'%s is 64x32 \(HxW\), expected 128x64' % pairs[0][1]):
        _dataset(copied_root, tmp_path, '--warp_skip', 'none')
    # the pipeline itself refuses it too, naming the file, when the check at build time is skipped
    dataset = _dataset(copied_root, tmp_path, '--warp_skip', 'none', check_images=False)
    with pytest.raises(Exception, match=pairs[0][1]):
        list(dataset.test_batches(2))


def test_missing_background_is_named(copied_root, tmp_path):
    shutil.rmtree(os.path.join(copied_root, 'synthetic-dataset', 'test-bg'))
    with pytest.raises(FileNotFoundError, match=r'background \S+_BG\.jpg not found in \S+train-bg or \S+test-bg'):
        _dataset(copied_root, tmp_path, '--warp_skip', 'none', '--use_bg', '1')
