"""Keypoint estimation (docs/reference.md, "Keypoint estimation"): peak finding, limb scoring and people assembly on maps
rendered from known skeletons, the OpenPose network and its weight files, and the script."""
import struct
import sys

import h5py
import numpy as np
import pytest
import skimage.io
from scipy.ndimage import gaussian_filter

import compute_cordinates as cc
import pose_estimator as pe
import pose_utils
from tests import subprocesses


# A standing person in a 128x64 image, (y, x) per keypoint index (OpenPose COCO order: index 2, 14,
# 16 on one side, 5, 15, 17 on the other).
SKELETON = np.array([[20, 32], [30, 32], [30, 22], [48, 18], [64, 16], [30, 42], [48, 46], [64, 48],
                     [66, 26], [90, 25], [114, 24], [66, 38], [90, 39], [114, 40], [17, 29], [17, 35],
                     [19, 25], [19, 39]])


# ---- Rendering maps from skeletons ---------------------------------------------------------------

# The reference's limb table: 1-based keypoint pairs in assembly order.
REFERENCE_LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13],
                      [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]


def test_one_limb_table_counting_from_zero():
    assert pose_utils.LIMB_SEQ == [[a - 1, b - 1] for a, b in REFERENCE_LIMB_SEQ]

def render_maps(people, size, sigma=2.0, limb_half_width=2.0):
    """Heatmaps (H, W, 19) and PAFs (H, W, 38) of skeletons (each (18, 2) float (y, x), NaN = absent).

    Gaussian peaks at the joints inside the image, background = 1 - max; unit vectors a->b (x, y)
    on the pixels within limb_half_width of each limb (and up to 1 px past its ends), clipped to the
    image (a limb may leave it).
    """
    height, width = size
    yy, xx = np.mgrid[:height, :width].astype(float)
    heatmaps = np.zeros((height, width, 19))
    pafs = np.zeros((height, width, 38))
    for person in people:
        for k, (y, x) in enumerate(person):
            if np.isnan(y) or not (0 <= y < height and 0 <= x < width):
                continue
            peak = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma ** 2))
            heatmaps[:, :, k] = np.maximum(heatmaps[:, :, k], peak)
        for (a, b), (cx, cy) in zip(REFERENCE_LIMB_SEQ, cc.PAF_CHANNELS):
            start, end = person[a - 1], person[b - 1]
            if np.isnan(start).any() or np.isnan(end).any():
                continue
            direction = (end - start) / np.linalg.norm(end - start)  # (dy, dx)
            along = (yy - start[0]) * direction[0] + (xx - start[1]) * direction[1]
            across = np.abs((yy - start[0]) * direction[1] - (xx - start[1]) * direction[0])
            on_limb = (along >= -1) & (along <= np.linalg.norm(end - start) + 1) & (across <= limb_half_width)
            pafs[on_limb, cx] = direction[1]
            pafs[on_limb, cy] = direction[0]
    heatmaps[:, :, 18] = 1 - heatmaps[:, :, :18].max(axis=-1)
    return heatmaps, pafs


def expected_cords(person, size):
    inside = ~np.isnan(person).any(axis=1) & (person[:, 0] >= 0) & (person[:, 0] < size[0]) \
        & (person[:, 1] >= 0) & (person[:, 1] < size[1])
    return inside


def assert_recovers(person, size, found):
    inside = expected_cords(person, size)
    assert np.all(found[~inside] == -1), found[~inside]
    assert np.all(found[inside] >= 0)
    assert np.abs(found[inside] - person[inside]).max() <= 1, np.c_[found, person]


def run_assembly(people, size):
    heatmaps, pafs = render_maps(people, size)
    return cc.compute_cordinates(heatmaps, pafs, np.zeros(size + (3,), np.uint8))


def test_one_person_all_points():
    person = SKELETON.astype(float)
    found = run_assembly([person], (128, 64))
    assert found.shape == (18, 2) and found.dtype.kind == 'i'
    assert_recovers(person, (128, 64), found)


@pytest.mark.parametrize('full_first', [True, False])
def test_two_people_the_best_one_is_written(full_first):
    full = SKELETON.astype(float)
    partial = SKELETON.astype(float) + [4, 64]
    partial[[8, 9, 10, 11, 12, 13, 3, 4]] = np.nan  # no legs, no right arm: fewer parts, lower score
    people = [full, partial] if full_first else [partial - [0, 64], full + [0, 64]]
    best = people[0] if full_first else people[1]
    found = run_assembly(people, (128, 128))
    assert_recovers(best, (128, 128), found)


def test_missing_limbs_are_minus_one():
    person = SKELETON.astype(float)
    person[[6, 7, 17]] = np.nan  # one arm and one ear not visible
    found = run_assembly([person], (128, 64))
    assert_recovers(person, (128, 64), found)
    assert np.all(found[[6, 7, 17]] == -1)


def test_person_cut_by_the_border():
    person = SKELETON.astype(float) + [18, 0]  # ankles below the image
    person[[3, 4]] = [[48, 10], [48, -3]]  # an arm stretched out of the image to the left
    size = (128, 64)
    assert not expected_cords(person, size)[[4, 10, 13]].any()
    found = run_assembly([person], size)
    assert_recovers(person, size, found)


def test_no_person_gives_all_missing():
    heatmaps, pafs = render_maps([], (64, 32))
    found = cc.compute_cordinates(heatmaps, pafs, np.zeros((64, 32, 3)))
    assert np.all(found == -1)


def test_too_few_parts_are_dropped():
    person = np.full((18, 2), np.nan)
    person[[1, 2, 3]] = SKELETON[[1, 2, 3]]  # 3 parts < 4
    found = run_assembly([person], (128, 64))
    assert np.all(found == -1)


# ---- The vectorised steps against the reference's loops --------------------------------------------

def loop_peaks(heatmap_avg, th1):
    peaks = []
    for part in range(18):
        blurred = gaussian_filter(heatmap_avg[:, :, part], sigma=3)
        for y in range(blurred.shape[0]):
            for x in range(blurred.shape[1]):
                neighbours = [blurred[y + dy, x + dx] if 0 <= y + dy < blurred.shape[0]
                              and 0 <= x + dx < blurred.shape[1] else 0.0
                              for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
                if blurred[y, x] > th1 and all(blurred[y, x] >= n for n in neighbours):
                    peaks.append((x, y, heatmap_avg[y, x, part], len(peaks)))
    return np.array(peaks)


def loop_connections(cand_a, cand_b, paf, height, th2):
    candidates = []
    for i in range(len(cand_a)):
        for j in range(len(cand_b)):
            vec = cand_b[j, :2] - cand_a[i, :2]
            norm = np.hypot(*vec)
            if norm == 0:
                continue
            vec = vec / norm
            xs = np.linspace(cand_a[i, 0], cand_b[j, 0], 10)
            ys = np.linspace(cand_a[i, 1], cand_b[j, 1], 10)
            samples = [paf[int(round(y)), int(round(x))] for x, y in zip(xs, ys)]
            score = np.array([s[0] * vec[0] + s[1] * vec[1] for s in samples])
            prior = score.mean() + min(0.5 * height / norm - 1, 0)
            if np.count_nonzero(score > th2) > 8 and prior > 0:
                candidates.append((i, j, prior))
    candidates.sort(key=lambda c: c[2], reverse=True)
    chosen = []
    for i, j, s in candidates:
        if all(i != c[3] and j != c[4] for c in chosen):
            chosen.append((cand_a[i, 3], cand_b[j, 3], s, i, j))
            if len(chosen) >= min(len(cand_a), len(cand_b)):
                break
    return np.array(chosen).reshape(-1, 5)


def test_peaks_match_a_pixel_loop():
    rng = np.random.default_rng(0)
    heatmaps = gaussian_filter(rng.random((24, 20, 19)), sigma=(1, 1, 0)) * 0.6
    peaks, counts = cc.find_peaks(heatmaps, 0.1)
    expected = loop_peaks(heatmaps, 0.1)
    assert len(expected) > 18
    np.testing.assert_allclose(peaks, expected)
    assert counts.sum() == len(peaks)


def test_limb_scores_match_the_pairwise_loop():
    rng = np.random.default_rng(1)
    size = (40, 30)
    paf = gaussian_filter(rng.normal(size=size + (2,)), sigma=(2, 2, 0)) * 3
    for trial in range(5):
        cand_a = np.c_[rng.integers(0, 30, 6), rng.integers(0, 40, 6), rng.random(6), np.arange(6)].astype(float)
        cand_b = np.c_[rng.integers(0, 30, 5), rng.integers(0, 40, 5), rng.random(5), 6 + np.arange(5)].astype(float)
        found = cc.limb_connections(cand_a, cand_b, paf, size[0], 0.05)
        expected = loop_connections(cand_a, cand_b, paf, size[0], 0.05)
        np.testing.assert_allclose(found, expected)


# ---- The network and its weight files --------------------------------------------------------------

def expected_conv_shapes():
    shapes = {}
    previous = 3
    for name, filters in [('conv1_1', 64), ('conv1_2', 64), ('conv2_1', 128), ('conv2_2', 128),
                          ('conv3_1', 256), ('conv3_2', 256), ('conv3_3', 256), ('conv3_4', 256),
                          ('conv4_1', 512), ('conv4_2', 512), ('conv4_3_CPM', 256), ('conv4_4_CPM', 128)]:
        shapes[name] = [(3, 3, previous, filters), (filters,)]
        previous = filters
    for branch, outputs in ((1, 38), (2, 19)):
        shapes['conv5_1_CPM_L%d' % branch] = [(3, 3, 128, 128), (128,)]
        shapes['conv5_2_CPM_L%d' % branch] = [(3, 3, 128, 128), (128,)]
        shapes['conv5_3_CPM_L%d' % branch] = [(3, 3, 128, 128), (128,)]
        shapes['conv5_4_CPM_L%d' % branch] = [(1, 1, 128, 512), (512,)]
        shapes['conv5_5_CPM_L%d' % branch] = [(1, 1, 512, outputs), (outputs,)]
        for stage in range(2, 7):
            shapes['Mconv1_stage%d_L%d' % (stage, branch)] = [(7, 7, 38 + 19 + 128, 128), (128,)]
            for i in (2, 3, 4, 5):
                shapes['Mconv%d_stage%d_L%d' % (i, stage, branch)] = [(7, 7, 128, 128), (128,)]
            shapes['Mconv6_stage%d_L%d' % (stage, branch)] = [(1, 1, 128, 128), (128,)]
            shapes['Mconv7_stage%d_L%d' % (stage, branch)] = [(1, 1, 128, outputs), (outputs,)]
    return shapes


@pytest.fixture(scope='module')
def estimator():
    import keras
    keras.utils.set_random_seed(0)
    return pe.make_pose_estimator()


def write_keras2_h5(path, shapes, full_model, random_layers=(), seed=0):
    """A Keras 2 h5 with h5py: every layer's weights constant and different per layer (stored as an
    unwritten dataset's fill value, so the file stays small), random for random_layers. Returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    with h5py.File(path, 'w') as f:
        if full_model:
            f.attrs['keras_version'] = b'2.0.8'
            f.attrs['backend'] = b'tensorflow'
            f.attrs['model_config'] = b'{"class_name": "Model"}'
            root = f.create_group('model_weights')
        else:
            root = f
        names = ['input_1'] + list(shapes)
        root.attrs['layer_names'] = np.array([n.encode() for n in names])
        root.create_group('input_1').attrs['weight_names'] = np.array([], dtype='S1')
        for index, (name, (kernel_shape, bias_shape)) in enumerate(shapes.items()):
            group = root.create_group(name)
            group.attrs['weight_names'] = np.array([(name + '/kernel:0').encode(), (name + '/bias:0').encode()])
            sub = group.create_group(name)
            if name in random_layers:
                kernel = rng.normal(size=kernel_shape).astype(np.float32)
                bias = rng.normal(size=bias_shape).astype(np.float32)
                sub['kernel:0'], sub['bias:0'] = kernel, bias
            else:
                # About 1 / fan-in, so that activations neither vanish nor explode through 92 layers.
                value = np.float32((1 + index / 1000) / np.prod(kernel_shape[:3]))
                bias_value = np.float32(index / 1000)
                sub.create_dataset('kernel:0', shape=kernel_shape, dtype='f4', fillvalue=value)
                sub.create_dataset('bias:0', shape=bias_shape, dtype='f4', fillvalue=bias_value)
                kernel, bias = np.full(kernel_shape, value), np.full(bias_shape, bias_value)
            arrays[name] = (kernel, bias)
    return arrays


def test_network_layer_names_and_weight_shapes(estimator):
    layers = pe.weighted_convolutions(estimator)
    expected = expected_conv_shapes()
    assert sorted(layers) == sorted(expected)
    assert len(layers) == 92
    for name, layer in layers.items():
        assert [tuple(w.shape) for w in layer.get_weights()] == expected[name], name
    paf, heatmap = pe.estimate_maps(estimator, np.zeros((1, 64, 40, 3)))
    assert paf.shape == (1, 8, 5, 38) and heatmap.shape == (1, 8, 5, 19)


@pytest.mark.parametrize('full_model', [True, False])
def test_loads_the_reference_keras2_h5(tmp_path, estimator, full_model):
    path = str(tmp_path / 'pose_estimator.h5')
    random_layers = ('conv1_1', 'conv5_5_CPM_L2', 'Mconv7_stage6_L1')
    arrays = write_keras2_h5(path, expected_conv_shapes(), full_model, random_layers)
    pe.load_pose_estimator_weights(estimator, path)
    layers = pe.weighted_convolutions(estimator)
    for name in ('conv1_1', 'conv1_2', 'conv4_4_CPM', 'conv5_5_CPM_L2', 'Mconv1_stage2_L1', 'Mconv7_stage6_L1',
                 'Mconv7_stage6_L2'):
        kernel, bias = layers[name].get_weights()
        np.testing.assert_allclose(kernel, arrays[name][0], rtol=1e-6)
        np.testing.assert_allclose(bias, arrays[name][1], rtol=1e-6)


def test_refuses_a_file_of_another_shape(tmp_path, estimator):
    shapes = expected_conv_shapes()
    shapes['conv5_5_CPM_L2'] = [(1, 1, 512, 15), (15,)]
    path = str(tmp_path / 'other.h5')
    write_keras2_h5(path, shapes, True)
    with pytest.raises(ValueError, match='conv5_5_CPM_L2') as refused:
        pe.load_pose_estimator_weights(estimator, path)
    assert path in str(refused.value)
    with pytest.raises(FileNotFoundError, match='pose_iter_440000.caffemodel') as missing:
        pe.load_pose_estimator(str(tmp_path / 'absent.h5'))
    assert str(tmp_path / 'absent.h5') in str(missing.value)


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_caffemodel(path, blobs_by_layer):
    """A .caffemodel written by hand: NetParameter.layer (100) = LayerParameter(name 1, type 2, blobs 7),
    BlobProto(shape 7 = BlobShape(dim 1, packed), data 5 packed floats)."""
    net = _field(1, b'pose')
    for name, blobs in blobs_by_layer.items():
        layer = _field(1, name.encode()) + _field(2, b'Convolution')
        for blob in blobs:
            shape = _field(1, b''.join(_varint(d) for d in blob.shape))
            layer += _field(7, _field(7, shape) + _field(5, struct.pack('<%df' % blob.size, *blob.ravel())))
        net += _field(100, layer)
    net += _field(100, _field(1, b'relu1_1') + _field(2, b'ReLU'))
    with open(path, 'wb') as f:
        f.write(net)


def test_loads_the_cmu_caffemodel(tmp_path):
    import keras
    model = pe.make_pose_estimator(stages=1)
    shapes = {name: shape for name, shape in expected_conv_shapes().items() if 'stage' not in name}
    rng = np.random.default_rng(3)
    blobs = {name: [rng.normal(size=(k[3], k[2], k[0], k[1])).astype(np.float32) * 0.05,
                    rng.normal(size=b).astype(np.float32)] for name, (k, b) in shapes.items()}
    path = str(tmp_path / 'pose_iter_440000.caffemodel')
    write_caffemodel(path, blobs)
    pe.load_pose_estimator_weights(model, path)
    # Caffe and Keras convolutions are both cross-correlations: conv1_1 of an image, by hand.
    image = rng.normal(size=(1, 6, 5, 3)).astype(np.float32)
    conv1_1 = keras.Model(model.input, model.get_layer('conv1_1').output)
    got = keras.ops.convert_to_numpy(conv1_1(image))[0]
    weights, bias = blobs['conv1_1']
    padded = np.pad(image[0], ((1, 1), (1, 1), (0, 0)))
    expected = np.zeros((6, 5, 64))
    for y in range(6):
        for x in range(5):
            patch = padded[y:y + 3, x:x + 3]                     # (3, 3, in)
            expected[y, x] = np.einsum('hwi,oihw->o', patch, weights) + bias
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_struct_loss_heatmaps_match_the_estimator_input(estimator):
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, size=(2, 32, 24, 3)).astype(np.float32)
    images = pixels / 127.5 - 1  # RGB in [-1, 1]
    got = np.asarray(pe.pose_heatmaps(estimator, images))
    _, expected = pe.estimate_maps(estimator, pixels[..., ::-1] / 255 - 0.5)
    assert got.shape == (2, 4, 3, 18)
    np.testing.assert_allclose(got, expected[..., :18], rtol=1e-4, atol=1e-5)


def test_full_image_through_cordinates_from_image_file(tmp_path, estimator):
    rng = np.random.default_rng(5)
    for layer in pe.weighted_convolutions(estimator).values():  # random (He) weights, whatever ran before
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(size=kernel.shape, scale=np.sqrt(2 / np.prod(kernel.shape[:3]))),
                           rng.normal(size=bias.shape, scale=0.1)])
    path = str(tmp_path / 'person.png')
    skimage.io.imsave(path, rng.integers(0, 256, size=(50, 30), dtype=np.uint8))  # grey, odd size
    heatmap_avg, paf_avg = cc.multiscale_maps(estimator, np.zeros((50, 30, 3), np.uint8), (0.1, 0.15))
    assert heatmap_avg.shape == (50, 30, 19) and paf_avg.shape == (50, 30, 38)
    assert np.isfinite(heatmap_avg).all() and np.isfinite(paf_avg).all() and np.ptp(heatmap_avg) > 0
    cords = cc.cordinates_from_image_file(path, estimator, scale_search=(0.1, 0.15))
    assert cords.shape == (18, 2) and cords.dtype.kind == 'i'
    missing = cords[:, 0] == -1
    assert np.all(cords[missing] == -1)
    assert np.all((cords[~missing] >= 0) & (cords[~missing] < [50, 30]))


# ---- The script ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_script_appends_and_resumes(tmp_path, capsys):
    rng = np.random.default_rng(6)
    for split, names in (('train', ['0001_a.jpg', '0001_b.jpg']), ('test', ['0002_a.png'])):
        folder = tmp_path / 'market-dataset' / split
        folder.mkdir(parents=True)
        for name in names:
            skimage.io.imsave(str(folder / name), rng.integers(0, 256, (40, 20, 3), dtype=np.uint8),
                              check_contrast=False)
    train_csv = str(tmp_path / 'market-annotation-train.csv')
    kept = np.arange(36).reshape(18, 2)
    pose_utils.save_annotations(train_csv, {'0001_a.jpg': kept})  # already done: must be skipped
    weights = str(tmp_path / 'pose_estimator.h5')
    write_keras2_h5(weights, expected_conv_shapes(), True)
    command = [sys.executable, 'compute_cordinates.py', '--dataset', 'market', '--data_root', str(tmp_path),
               '--pose_estimator', weights, '--scale_search', '0.25']
    result = subprocesses.run(command, 300)
    assert result.returncode == 0, result.stderr
    train = pose_utils.load_annotations(train_csv)
    test = pose_utils.load_annotations(str(tmp_path / 'market-annotation-test.csv'))
    assert list(train) == ['0001_a.jpg', '0001_b.jpg'] and list(test) == ['0002_a.png']
    np.testing.assert_array_equal(train['0001_a.jpg'], kept)
    assert train['0001_b.jpg'].shape == (18, 2)
    before = open(train_csv).read()
    assert cc.main(command[2:]) == 0  # again, in-process: nothing new
    assert open(train_csv).read() == before
    assert '0 new rows' in capsys.readouterr().out


def test_script_says_where_to_get_missing_weights(tmp_path, capsys):
    for split in ('train', 'test'):
        (tmp_path / 'market-dataset' / split).mkdir(parents=True)
    skimage.io.imsave(str(tmp_path / 'market-dataset' / 'train' / 'a.png'), np.zeros((8, 4, 3), np.uint8),
                      check_contrast=False)
    status = cc.main(['--dataset', 'market', '--data_root', str(tmp_path),
                      '--pose_estimator', str(tmp_path / 'pose_estimator.h5')])
    assert status == 1
    error = capsys.readouterr().err
    assert 'pose-gan' in error and str(tmp_path / 'pose_estimator.h5') in error
