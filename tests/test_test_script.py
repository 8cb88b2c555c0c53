"""test.py: the PNG triplets, the scoring function, and the real command line on a tiny synthetic
dataset with a freshly initialised narrow generator."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pose_utils
from gan.inception_score import GraphInception, inception_score
from gan.metrics import l1_score, ssim_score
from test_inception import write_fake_2015_graph

import test as test_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SIZE = (128, 64)
WIDTH = '0.0625'


def random_image(seed, size=IMAGE_SIZE):
    return np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)


def test_png_triplet_round_trip(tmp_path):
    source, target, generated = random_image(0), random_image(1), random_image(2)
    test_script.save_triplet(str(tmp_path), 'a_c1.jpg', 'a_c2.jpg', source, target, generated)
    assert os.listdir(tmp_path) == ['a_c1.jpg_a_c2.jpg.png']  # no temporary file left
    loaded = test_script.load_triplet(str(tmp_path / 'a_c1.jpg_a_c2.jpg.png'), IMAGE_SIZE)
    for original, read_back in zip((source, target, generated), loaded):
        assert read_back.dtype == np.uint8 and np.array_equal(original, read_back)


def test_missing_or_wrong_size_png_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='x.jpg_y.jpg.png is missing'):
        test_script.load_triplet(str(tmp_path / 'x.jpg_y.jpg.png'), IMAGE_SIZE)
    small = random_image(3, (64, 32))
    test_script.save_triplet(str(tmp_path), 'x.jpg', 'y.jpg', small, small, small)
    with pytest.raises(ValueError, match=r'x.jpg_y.jpg.png is \(64, 96, 3\), expected 128x192'):
        test_script.load_triplet(str(tmp_path / 'x.jpg_y.jpg.png'), IMAGE_SIZE)


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
    probabilities, _ = inception.predict(generated, progress=False)
    assert scores['inception_score'] == pytest.approx(list(inception_score(probabilities, splits=10)))
    masked_probabilities, _ = inception.predict(masked[1], progress=False)
    assert scores['inception_score_masked'][0] == pytest.approx(inception_score(masked_probabilities, 10)[0])
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
    return subprocess.run([sys.executable, 'test.py'] + list(flags), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_command_line_generates_scores_and_reloads(tmp_path, monkeypatch):
    checkpoint = make_dataset_and_checkpoint(tmp_path)
    images_dir = tmp_path / 'generated'
    flags = ['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
             '--width_factor', WIDTH, '--generated_images_dir', str(images_dir)]
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'no-keras-cache'))
    result = subprocess.run([sys.executable, 'test.py', '--generator_checkpoint', checkpoint] + flags, cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
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
    triplets = [test_script.load_triplet(str(images_dir / ('%s_%s.png' % pair)), IMAGE_SIZE) for pair in pairs]
    targets, generated = [t[1] for t in triplets], [t[2] for t in triplets]
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
    assert len(reloaded['scores']['inception_score']) == 2 and reloaded['skipped'] == {}
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
