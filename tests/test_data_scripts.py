"""The data scripts end to end on tiny made-up datasets: their real command lines (subprocess),
bad input, re-runs."""
import os
import sys

import numpy as np
import pandas as pd
import pytest

import create_pairs_dataset
import pose_utils
from data import flip_train_data, resize_fasion, split_fasion_data
from tests import subprocesses

POSE = np.array([[14, 32], [26, 32], [26, 22], [44, 19], [60, 18], [26, 42], [44, 45], [60, 46],
                 [64, 26], [90, 26], [116, 26], [64, 38], [90, 38], [116, 38], [12, 35], [12, 29],
                 [14, 38], [14, 26]])
NO_TORSO = POSE.copy()
NO_TORSO[8] = -1


def run(script, *args):
    return subprocesses.run([sys.executable, script] + list(args), 120)


def leftovers(folder):
    return [os.path.join(root, name) for root, _, files in os.walk(folder) for name in files
            if name.endswith('.tmp')]


# ---- create_pairs_dataset.py --------------------------------------------------------------------

def make_market_annotations(root):
    train = {'0001_c1_a.jpg': POSE, '0001_c2_b.jpg': POSE + 1, '0001_c3_c.jpg': POSE + 2,
             '0001_c4_d.jpg': NO_TORSO, '-1_c1_x.jpg': POSE, '0000_c1_y.jpg': POSE,
             '0002_c1_a.jpg': POSE, '0002_c1_b.jpg': POSE, '0003_c1_alone.jpg': POSE}
    test = {'%04d_c1_%d.jpg' % (person, image): POSE for person in (5, 6, 7) for image in range(3)}
    pose_utils.save_annotations(os.path.join(root, 'market-annotation-train.csv'), train)
    pose_utils.save_annotations(os.path.join(root, 'market-annotation-test.csv'), test)
    return test


def test_create_pairs_command_line(tmp_path):
    root = str(tmp_path)
    test = make_market_annotations(root)
    result = run('create_pairs_dataset.py', '--dataset', 'market', '--data_root', root, '--images_for_test', '5')
    assert result.returncode == 0, result.stderr
    train_pairs = pose_utils.load_pairs(os.path.join(root, 'market-pairs-train.csv'))
    assert train_pairs == [('0001_c1_a.jpg', '0001_c2_b.jpg'), ('0001_c1_a.jpg', '0001_c3_c.jpg'),
                           ('0001_c2_b.jpg', '0001_c1_a.jpg'), ('0001_c2_b.jpg', '0001_c3_c.jpg'),
                           ('0001_c3_c.jpg', '0001_c1_a.jpg'), ('0001_c3_c.jpg', '0001_c2_b.jpg'),
                           ('0002_c1_a.jpg', '0002_c1_b.jpg'), ('0002_c1_b.jpg', '0002_c1_a.jpg')]
    # The test sample is the reference's pandas DataFrame.sample(n, random_state=0) of all pairs.
    names = list(test)
    everything = pd.DataFrame([(a, b) for a in names for b in names if a != b and a[:4] == b[:4]],
                              columns=['from', 'to'])
    expected = everything.sample(n=5, replace=False, random_state=0)
    written = pd.read_csv(os.path.join(root, 'market-pairs-test.csv'))
    assert (written.values == expected.values).all() and len(written) == 5
    before = open(os.path.join(root, 'market-pairs-test.csv')).read()
    assert create_pairs_dataset.main(['--dataset', 'market', '--data_root', root, '--images_for_test', '5']) == 0
    assert open(os.path.join(root, 'market-pairs-test.csv')).read() == before  # deterministic re-run
    assert create_pairs_dataset.write_pairs_files(root, 'market', images_for_test=100) == (8, 18)


def test_create_pairs_bad_input(tmp_path, capsys):
    root = str(tmp_path)
    make_market_annotations(root)
    with open(os.path.join(root, 'market-annotation-test.csv'), 'a') as f:
        f.write('0009_c1_z.jpg: [1, 2]: [3, 4]\n')
    result = run('create_pairs_dataset.py', '--dataset', 'market', '--data_root', root)
    assert result.returncode != 0
    assert 'market-annotation-test.csv' in result.stderr and 'line 11' in result.stderr
    assert not os.path.exists(os.path.join(root, 'market-pairs-train.csv'))  # nothing half-done
    assert not os.path.exists(os.path.join(root, 'market-pairs-test.csv')) and not leftovers(root)
    os.remove(os.path.join(root, 'market-annotation-test.csv'))
    assert create_pairs_dataset.main(['--dataset', 'market', '--data_root', root]) == 1
    assert os.path.join(root, 'market-annotation-test.csv') in capsys.readouterr().err


# ---- data/split_fasion_data.py --------------------------------------------------------------

def test_flat_name():
    assert (split_fasion_data.flat_name('WOMEN/Dresses/id_00005537/05_4_full.jpg')
            == 'fasionWOMENDressesid0000553705_4full.jpg')
    assert (split_fasion_data.flat_name('MEN/Shirts_Polos/id_00000001/01_1_front.jpg')
            == 'fasionMENShirtsPolosid0000000101_1front.jpg')
    with pytest.raises(ValueError, match='Dresses/05_4_full.jpg'):
        split_fasion_data.flat_name('WOMEN/Dresses/05_4_full.jpg')


def write_image(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pose_utils.save_image(path, image)


def test_split_fasion_command_line(tmp_path, capsys):
    root = str(tmp_path)
    raw = os.path.join(root, 'fasion')
    rng = np.random.default_rng(0)
    images = {'WOMEN/Dresses/id_00005537/05_4_full.jpg': 'test', 'MEN/Tees_Tanks/id_00000002/01_1_front.jpg': 'train',
              'MEN/Tees_Tanks/id_00000002/02_2_side.jpg': None}
    for relative in images:
        write_image(os.path.join(raw, relative), rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    for split in ('train', 'test'):
        pose_utils.save_annotations(os.path.join(root, 'fasion-annotation-%s.csv' % split),
                                    {split_fasion_data.flat_name(r): POSE for r, s in images.items() if s == split})
    result = run('data/split_fasion_data.py', '--data_root', root)
    assert result.returncode == 0, result.stderr
    for relative, split in images.items():
        copied = os.path.join(root, 'fasion-dataset', split or 'train', split_fasion_data.flat_name(relative))
        assert os.path.exists(copied) == (split is not None)
        if split:
            assert open(copied, 'rb').read() == open(os.path.join(raw, relative), 'rb').read()
    assert split_fasion_data.split_fasion(root) == (0, 2, 1)  # re-run: everything already there
    write_image(os.path.join(raw, 'WOMEN', 'stray.jpg'), np.zeros((4, 4, 3), dtype=np.uint8))
    result = run('data/split_fasion_data.py', '--data_root', root)
    assert result.returncode != 0 and 'stray.jpg' in result.stderr
    assert split_fasion_data.main(['--data_root', root, '--raw_dir', os.path.join(root, 'nowhere')]) == 1
    assert os.path.join(root, 'nowhere') in capsys.readouterr().err


# ---- data/resize_fasion.py -------------------------------------------------------------------

def test_resize_cords_hand_cases():
    cords = np.full((18, 2), -1)
    cords[0] = [100, 128]  # -> (50, int(88*64/176) = 32)
    cords[1] = [255, 215]  # -> (127, int(175*64/176) = 63)
    cords[2] = [10, 39]    # cropped off: missing
    cords[3] = [10, 216]   # cropped off: missing
    resized = resize_fasion.resize_cords(cords)
    assert resized[0].tolist() == [50, 32] and resized[1].tolist() == [127, 63]
    assert resized[2].tolist() == [-1, -1] and resized[3].tolist() == [-1, -1] and (resized[4:] == -1).all()


def test_resize_fasion_command_line(tmp_path):
    root = str(tmp_path)
    image = np.zeros((256, 256, 3), dtype=np.uint8)
    image[:, 40:128] = 200  # the left half of the kept 176 columns
    names = {'train': 'fasionMENPantsid0000000101_1front.jpg', 'test': 'fasionWOMENDressesid0000000202_2side.jpg'}
    for split, name in names.items():
        write_image(os.path.join(root, 'fasion-dataset', split, name), image)
        cords = np.full((18, 2), -1)
        cords[0] = [100, 128]
        pose_utils.save_annotations(os.path.join(root, 'fasion-annotation-%s.csv' % split), {name: cords})
    result = run('data/resize_fasion.py', '--data_root', root)
    assert result.returncode == 0, result.stderr
    for split, name in names.items():
        small = pose_utils.load_image(os.path.join(root, 'fasion128-dataset', split, name))
        assert small.shape == (128, 64, 3)
        assert np.abs(small[:, :30].astype(int) - 200).max() < 12 and small[:, 34:].max() < 12
        annotations = pose_utils.load_annotations(os.path.join(root, 'fasion128-annotation-%s.csv' % split))
        assert annotations[name][0].tolist() == [50, 32] and (annotations[name][1:] == -1).all()
    assert resize_fasion.resize_fasion(root) == (0, 2)  # re-run skips the images
    write_image(os.path.join(root, 'fasion-dataset', 'test', 'wrong.jpg'), np.zeros((100, 80, 3), dtype=np.uint8))
    result = run('data/resize_fasion.py', '--data_root', root)
    assert result.returncode != 0 and 'wrong.jpg' in result.stderr and '100x80' in result.stderr
    assert not os.path.exists(os.path.join(root, 'fasion128-dataset', 'test', 'wrong.jpg')) and not leftovers(root)


# ---- data/flip_train_data.py -----------------------------------------------------------------

def test_flip_cords_hand_case():
    cords = np.full((18, 2), -1)
    cords[2] = [10, 5]   # Rsho
    cords[0] = [3, 0]    # nose
    flipped = flip_train_data.flip_cords(cords, width=64)
    assert flipped[5].tolist() == [10, 58]  # becomes Lsho, x' = 63 - 5
    assert flipped[2].tolist() == [-1, -1] and flipped[0].tolist() == [3, 63]
    assert (flip_train_data.flip_cords(flipped, 64) == cords).all()


def test_flip_command_line(tmp_path):
    root = str(tmp_path)
    rng = np.random.default_rng(1)
    image = np.zeros((128, 64, 3), dtype=np.uint8)
    image[:, :20] = 255
    image[40:50] = rng.integers(0, 255, (10, 64, 3))
    write_image(os.path.join(root, 'market-dataset', 'train', '0001_c1_a.jpg'), image)
    annotations_path = os.path.join(root, 'market-annotation-train.csv')
    pose_utils.save_annotations(annotations_path, {'0001_c1_a.jpg': POSE})
    result = run('data/flip_train_data.py', '--dataset', 'market', '--data_root', root)
    assert result.returncode == 0, result.stderr
    flipped = pose_utils.load_image(os.path.join(root, 'market-dataset', 'train', '0001_c1_ar.jpg'))
    original = pose_utils.load_image(os.path.join(root, 'market-dataset', 'train', '0001_c1_a.jpg'))
    assert np.abs(flipped.astype(int) - original[:, ::-1]).mean() < 3  # the same pixels, JPEG aside
    annotations = pose_utils.load_annotations(annotations_path)
    assert list(annotations) == ['0001_c1_a.jpg', '0001_c1_ar.jpg']
    # Mirrored by hand: the point of label 'R...' becomes the point of 'L...' (and back), x -> 63 - x.
    expected = np.full((18, 2), -1)
    for index, label in enumerate(pose_utils.LABELS):
        partner = {'R': 'L' + label[1:], 'L': 'R' + label[1:]}.get(label[0], label)
        if POSE[index][0] != -1:
            expected[pose_utils.LABELS.index(partner)] = [POSE[index][0], 63 - POSE[index][1]]
    np.testing.assert_array_equal(annotations['0001_c1_ar.jpg'], expected)
    assert annotations['0001_c1_ar.jpg'][5].tolist() == [POSE[2][0], 63 - POSE[2][1]]  # Rsho -> Lsho
    assert flip_train_data.flip_train_data(root, 'market') == (0, 0)  # re-run: nothing new, no duplicates
    assert len(open(annotations_path).read().splitlines()) == 3
    pose_utils.save_annotations(annotations_path, {'0002_c1_b.jpg': POSE}, append=True)
    write_image(os.path.join(root, 'market-dataset', 'train', '0002_c1_b.jpg'), np.zeros((64, 64, 3), np.uint8))
    result = run('data/flip_train_data.py', '--dataset', 'market', '--data_root', root)
    assert result.returncode != 0 and '0002_c1_b.jpg' in result.stderr and '64x64' in result.stderr
    assert '0002_c1_br.jpg' not in open(annotations_path).read() and not leftovers(root)
