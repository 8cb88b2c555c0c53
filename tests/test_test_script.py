"""test.py: the PNG triplets (evaluation/triplets.py), the scoring function, and the real command line on a
tiny synthetic dataset with a freshly initialised narrow generator."""
import json
import os
import sys

import numpy as np
import pytest

import pose_utils
from gan.fid import fid_from_features
from gan.inception_score import GraphInception, inception_score
from gan.metrics import l1_score, ssim_score
from test_inception import write_fake_2015_graph

import test as test_script
from evaluation import triplets
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SIZE = (128, 64)
WIDTH = '0.0625'


def random_image(seed, size=IMAGE_SIZE):
    return np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)


def test_png_triplet_round_trip(tmp_path):
    source, target, generated = random_image(0), random_image(1), random_image(2)
    triplets.save_triplet(str(tmp_path), 'a_c1.jpg', 'a_c2.jpg', source, target, generated)
    assert os.listdir(tmp_path) == ['a_c1.jpg_a_c2.jpg.png']  # no temporary file left
    loaded = triplets.load_triplet(str(tmp_path / 'a_c1.jpg_a_c2.jpg.png'), IMAGE_SIZE)
    for original, read_back in zip((source, target, generated), loaded):
        assert read_back.dtype == np.uint8 and np.array_equal(original, read_back)


def test_missing_or_wrong_size_png_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='x.jpg_y.jpg.png is missing'):
        triplets.load_triplet(str(tmp_path / 'x.jpg_y.jpg.png'), IMAGE_SIZE)
    small = random_image(3, (64, 32))
    triplets.save_triplet(str(tmp_path), 'x.jpg', 'y.jpg', small, small, small)
    with pytest.raises(ValueError, match=r'x.jpg_y.jpg.png is \(64, 96, 3\), expected 128x192'):
        triplets.load_triplet(str(tmp_path / 'x.jpg_y.jpg.png'), IMAGE_SIZE)


def person_keypoints(seed):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(10, 118, 18), rng.integers(5, 59, 18)], axis=1)


@pytest.mark.slow
def test_score_generated_images_against_the_metrics(tmp_path):
    pairs = [('f%d.jpg' % i, 't%d.jpg' % i) for i in range(12)]
    keypoints = {to: person_keypoints(i) for i, (_, to) in enumerate(pairs)}
    targets = [random_image(10 + i) for i in range(12)]
    generated = [np.clip(t.astype(int) + np.random.default_rng(i).integers(-60, 60, t.shape), 0, 255).astype(np.uint8)
                 for i, t in enumerate(targets)]
    graph_path = str(tmp_path / 'graph.pb')
    write_fake_2015_graph(graph_path)
    inception = GraphInception(graph_path, batch_size=5)
    scores = test_script.score_generated_images(pairs, targets, generated, keypoints, IMAGE_SIZE, inception)

    masks = [pose_utils.produce_ma_mask(keypoints[to], IMAGE_SIZE) for _, to in pairs]
    masked = [[np.where(m[..., None], image, 0).astype(np.uint8) for image, m in zip(images, masks)]
              for images in (targets, generated)]
    assert scores['ssim'] == pytest.approx(ssim_score(generated, targets), abs=1e-12)
    assert scores['ssim_masked'] == pytest.approx(ssim_score(masked[1], masked[0]), abs=1e-12)
    assert scores['l1'] == pytest.approx(l1_score(generated, targets), abs=1e-12)
    assert scores['l1_masked'] == pytest.approx(l1_score(masked[1], masked[0]), abs=1e-12)
    assert scores['ssim_masked'] != pytest.approx(scores['ssim'])
    probabilities, generated_features = inception.predict(generated, progress=False)
    assert scores['inception_score'] == pytest.approx(list(inception_score(probabilities, splits=10)))
    masked_probabilities, _ = inception.predict(masked[1], progress=False)
    assert scores['inception_score_masked'][0] == pytest.approx(inception_score(masked_probabilities, 10)[0])
    # FID of the generated images' features against the targets' (gan/fid.py has its own tests)
    _, target_features = inception.predict(targets, progress=False)
    assert scores['fid'] == pytest.approx(fid_from_features(generated_features, target_features), rel=1e-6)
    assert scores['fid'] > 0


def make_dataset_and_checkpoint(root, warp_skip='mask'):
    """A 12-pair synthetic test set and a fresh 1/16-width generator checkpoint."""
    import conv_layers
    import weight_files
    from data.make_synthetic_dataset import ensure_synthetic_dataset
    ensure_synthetic_dataset(str(root / 'data'), 'synthetic', train_identities=2, test_identities=2,
                             images_per_identity=3)
    generator = conv_layers.make_generator(IMAGE_SIZE, True, warp_skip, 'call', 'max', False, 'hm',
                                           width_factor=float(WIDTH))
    path = str(root / ('generator-%s.weights.h5' % warp_skip))
    weight_files.save_weights(generator, path)
    return path


def run_test_script(*flags):
    return subprocesses.run([sys.executable, 'test.py'] + list(flags), 300)


@pytest.mark.slow
def test_command_line_generates_scores_and_reloads(tmp_path, monkeypatch):
    checkpoint = make_dataset_and_checkpoint(tmp_path)
    images_dir = tmp_path / 'generated'
    flags = ['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
             '--width_factor', WIDTH, '--generated_images_dir', str(images_dir)]
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'no-keras-cache'))
    result = subprocesses.run([sys.executable, 'test.py', '--generator_checkpoint', checkpoint] + flags, 300,
                              env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Skipping inception_score, inception_score_masked, fid' in result.stdout
    assert 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5' in result.stdout
    assert 'Inception score = skipped, masked = skipped; SSIM score = ' in result.stdout

    pairs = pose_utils.load_pairs(str(tmp_path / 'data' / 'synthetic-pairs-test.csv'))
    assert sorted(os.listdir(images_dir)) == sorted(['%s_%s.png' % pair for pair in pairs] + ['scores.json'])
    report = json.loads((images_dir / 'scores.json').read_text())
    assert report['pairs'] == len(pairs) and report['generator_checkpoint'] == os.path.abspath(checkpoint)
    assert report['test_flags']['width_factor'] == float(WIDTH) and 'fid' in report['skipped']
    # test.py's defaults of training flags are not recorded as if they had made the checkpoint
    assert 'number_of_epochs' not in report['test_flags'] and report['training_flags'] is None
    assert report['skipped_pairs'] == 0 and report['ignored_pngs'] == 0
    # The saved scores are those of the saved PNGs: sources and targets are the dataset's images.
    images = [triplets.load_triplet(str(images_dir / ('%s_%s.png' % pair)), IMAGE_SIZE) for pair in pairs]
    targets, generated = [t[1] for t in images], [t[2] for t in images]
    assert report['scores']['ssim'] == pytest.approx(ssim_score(generated, targets), abs=1e-12)
    assert report['scores']['l1'] == pytest.approx(l1_score(generated, targets), abs=1e-12)
    from skimage.io import imread
    target_file = os.path.join(str(tmp_path / 'data'), 'synthetic-dataset', 'test', pairs[0][1])
    assert np.abs(targets[0].astype(int) - imread(target_file)).max() <= 1  # [-1, 1] and back

    # --load_generated_images 1 reads the PNGs back, here with an Inception graph given by flag.
    graph_path = str(tmp_path / 'graph.pb')
    write_fake_2015_graph(graph_path)
    reloaded = test_script.main(flags + ['--load_generated_images', '1', '--inception_graph', graph_path])
    for name in ('ssim', 'ssim_masked', 'l1', 'l1_masked'):
        assert reloaded['scores'][name] == pytest.approx(report['scores'][name], abs=1e-12)
    assert len(reloaded['scores']['inception_score']) == 2
    # Only the scores whose weights are absent are skipped, each with its reason.
    assert sorted(reloaded['skipped']) == ['lpips_alex', 'lpips_vgg', 'pckh']
    assert 'pose_estimator.h5' in reloaded['skipped']['pckh'] and 'alex.pth' in reloaded['skipped']['lpips_alex']
    assert 'Skipping pckh: pose estimator weights not found' in result.stdout
    assert reloaded['inception_model'] == graph_path
    assert reloaded['inception_network'] == {'name': '2015 Inception graph', 'comparable_to_paper': True,
                                             'note': test_script.inception_provenance(
                                                 test_script.load_inception(graph_path=graph_path))['note']}
    assert report['inception_network'] is None

    os.remove(images_dir / ('%s_%s.png' % pairs[3]))
    with pytest.raises(FileNotFoundError, match='%s_%s.png is missing' % pairs[3]):
        test_script.main(flags + ['--load_generated_images', '1'])


def test_a_checkpoint_of_another_architecture_or_none_is_refused(tmp_path):
    checkpoint = make_dataset_and_checkpoint(tmp_path, warp_skip='none')
    flags = ['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
             '--width_factor', WIDTH, '--generated_images_dir', str(tmp_path / 'generated')]
    with pytest.raises(ValueError, match=checkpoint):
        test_script.main(flags + ['--generator_checkpoint', checkpoint])
    no_checkpoint = run_test_script(*flags)
    assert no_checkpoint.returncode == 2 and '--generator_checkpoint is required' in no_checkpoint.stderr


# ---- LPIPS and PCKh, whole and in shards -----------------------------------------------------------

def stand_in_estimator(typical_pose):
    """A stand-in pose estimator: a typical pose moved by up to 4 pixels as the image's colours say,
    one keypoint never found."""
    def estimate(image):
        kp = np.round(typical_pose).astype(int) + int(image.mean()) % 9 - 4
        kp[5] = -1
        return kp
    return estimate


@pytest.mark.slow
def test_lpips_and_pckh_per_pair_and_in_shards(tmp_path, monkeypatch):
    from evaluation import pckh
    from gan.lpips import LPIPS
    from test_lpips import write_random_weights
    checkpoint = make_dataset_and_checkpoint(tmp_path)
    lpips_dir = tmp_path / 'keras-home' / 'models'   # Keras' cache folder, where LPIPS weights are looked for
    lpips_dir.mkdir(parents=True)
    write_random_weights(str(lpips_dir / 'lpips_alex.npz'), 'alex')
    from pose_dataset import load_keypoints
    keypoints = load_keypoints([str(tmp_path / 'data' / ('synthetic-annotation-%s.csv' % split))
                                for split in ('train', 'test')], IMAGE_SIZE)
    fake_keypoints = stand_in_estimator(np.mean([kp for kp in keypoints.values()], axis=0))
    estimator = tmp_path / 'pose_estimator.h5'
    estimator.write_bytes(b'weights')   # only its existence is looked at: the estimator is a stand-in
    monkeypatch.setattr(pckh, 'keypoint_estimator', lambda path, scales=None: fake_keypoints)
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-home'))

    def run(folder, *extra):
        return test_script.main(['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip',
                                 'mask', '--width_factor', WIDTH, '--generator_checkpoint', checkpoint,
                                 '--pose_estimator', str(estimator),
                                 '--generated_images_dir', str(tmp_path / folder)] + list(extra))
    monkeypatch.setattr(test_script, 'SCORING_BLOCK', 2)   # below: shards of one batch (4 pairs) and two
    whole = run('whole')
    scores = whole['scores']
    assert 'lpips_vgg' in whole['skipped'] and 'lpips_vgg.npz' in whole['skipped']['lpips_vgg']
    assert 'pckh' not in whole['skipped'] and whole['pose_estimator'] == str(estimator)
    assert whole['lpips_weights'] == {'alex': str(lpips_dir / 'lpips_alex.npz')}
    # Against the saved PNGs: LPIPS per pair averaged, PCKh over all counted keypoints.
    pairs = pose_utils.load_pairs(str(tmp_path / 'data' / 'synthetic-pairs-test.csv'))
    images = [triplets.load_triplet(str(tmp_path / 'whole' / ('%s_%s.png' % pair)), IMAGE_SIZE)
              for pair in pairs]
    targets, generated = [t[1] for t in images], [t[2] for t in images]
    model = LPIPS(str(lpips_dir / 'lpips_alex.npz'), 'alex')
    assert scores['lpips_alex'] == pytest.approx(model.distances(generated, targets).mean(), rel=1e-6)
    counts = np.array([pckh.pckh_counts(fake_keypoints(image), keypoints[to])
                       for image, (_, to) in zip(generated, pairs)])
    assert scores['pckh'] == counts[:, 0].sum() / counts[:, 1].sum() and scores['pckh_keypoints'] == counts[:, 1].sum()
    assert 0 < scores['pckh'] < 1

    for index in range(2):
        run('sharded', '--shard', '%d/2' % index)
    merged = run('sharded', '--merge_shards', '2')
    assert merged['scores'] == scores    # exactly: per-pair values in the shard files
    # shards cut by another --batch_size are refused
    shard = tmp_path / 'sharded' / 'scores.shard-1-of-2.npz'
    with np.load(shard) as data:
        arrays = {name: data[name] for name in data.files}
    report = json.loads(str(arrays['report']))
    report['test_flags']['batch_size'] = 3
    arrays['report'] = np.array(json.dumps(report))
    with open(shard, 'wb') as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match='different --batch_size'):
        run('sharded', '--merge_shards', '2')


def test_shards_are_whole_scoring_blocks_of_whole_batches():
    for total, batch_size, count in [(12000, 4, 4), (12000, 3, 7), (11, 4, 2), (1, 1, 3), (250, 7, 3)]:
        unit = -(-test_script.SCORING_BLOCK // batch_size) * batch_size
        bounds = [test_script.shard_bounds((index, count), total, batch_size) for index in range(count)]
        assert bounds[0][0] == 0 and bounds[-1][1] == total
        assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
        assert all((start % unit == 0 or start == total) and start <= stop for start, stop in bounds)
        assert unit % batch_size == 0 and unit >= test_script.SCORING_BLOCK
        sizes = [stop - start for start, stop in bounds[:-1]]
        assert max(sizes, default=0) - min(sizes, default=0) <= unit   # as even as whole blocks allow
    assert test_script.shard_bounds((0, 4), 12000, 4) == (0, 3000)
    assert test_script.shard_bounds((1, 2), 11, 4) == (11, 11)   # fewer blocks than shards: an empty shard


# ---- The same scores on the JAX backend ------------------------------------------------------------

RUN_ON_BACKEND = '''
import json, sys
import test
report = test.main(sys.argv[1:])
print(json.dumps({'scores': report['scores'], 'backend': report['keras_backend'],
                  'tensorflow_imported': 'tensorflow' in sys.modules}))
'''


@pytest.mark.slow
def test_jax_backend_gives_the_tensorflow_scores_without_importing_tensorflow(tmp_path, monkeypatch):
    """test.py on JAX in a process of its own against test.main on TensorFlow in this one."""
    pytest.importorskip('jax')
    import keras
    from test_inception import KERAS_WEIGHTS_NAME, save_random_keras_inception
    from test_lpips import write_random_weights
    assert keras.backend.backend() == 'tensorflow'
    checkpoint = make_dataset_and_checkpoint(tmp_path)
    models = tmp_path / 'keras-home' / 'models'
    models.mkdir(parents=True)
    save_random_keras_inception(str(models / KERAS_WEIGHTS_NAME))
    write_random_weights(str(models / 'lpips_alex.npz'), 'alex')
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-home'))

    def flags(backend):
        return ['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
                '--width_factor', WIDTH, '--generator_checkpoint', checkpoint,
                '--generated_images_dir', str(tmp_path / backend)]
    result = subprocesses.run([sys.executable, '-c', RUN_ON_BACKEND] + flags('jax'), 600,
                              env=dict(os.environ, KERAS_BACKEND='jax'))
    assert result.returncode == 0, result.stderr[-3000:]
    jax_run = json.loads(result.stdout.strip().splitlines()[-1])
    assert jax_run['backend'] == 'jax' and jax_run['tensorflow_imported'] is False
    tensorflow, jax = test_script.main(flags('tensorflow'))['scores'], jax_run['scores']
    assert sorted(jax) == sorted(tensorflow) and 'inception_score' in jax and 'lpips_alex' in jax
    for name, value in tensorflow.items():
        assert jax[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name
