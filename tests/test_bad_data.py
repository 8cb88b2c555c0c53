"""Bad data refused where it is read, naming the file and line: keypoints that are not whole pixel
numbers, pairs whose pose lacks a torso, and damaged image files."""
import os
import re
import shutil

import numpy as np
import pytest

import pose_utils
from pose_dataset import PoseHMDataset, check_image
from tests.fixtures_data import training_args

GOOD_Y = '[10, 20, 20, 40, 60, 20, 40, 60, 60, 90, 120, 60, 90, 120, 8, 8, 9, 9]'
GOOD_X = '[30, 30, 20, 15, 12, 40, 45, 48, 25, 24, 23, 38, 39, 40, 28, 32, 26, 34]'


def write_annotations(path, x_list):
    path.write_text('name:keypoints_y:keypoints_x\nok.jpg: %s: %s\nbad.jpg: %s: %s\n' % (GOOD_Y, GOOD_X, GOOD_Y, x_list))
    return str(path)


@pytest.mark.parametrize('value, shown', [('NaN', 'nan'), ('Infinity', 'inf'), ('-Infinity', '-inf'),
                                          ('1e300', '1e+300'), ('12.5', '12.5'), ('123456789', '123456789')])
def test_keypoints_that_are_not_whole_pixels_are_refused_with_file_and_line(tmp_path, value, shown):
    path = write_annotations(tmp_path / 'a.csv', GOOD_X.replace('[30,', '[%s,' % value))
    with pytest.raises(ValueError, match=r'a.csv, line 3 \(bad.jpg\): keypoint nose = ' + re.escape(shown)):
        pose_utils.load_annotations(path)


def test_keypoints_far_outside_the_image_are_refused_at_its_size(tmp_path):
    path = write_annotations(tmp_path / 'a.csv', GOOD_X.replace('[30,', '[2000,'))
    assert pose_utils.load_annotations(path)['bad.jpg'][0, 1] == 2000   # size unknown: 2000 px may be real
    with pytest.raises(ValueError, match=r'line 3 \(bad.jpg\): keypoint nose = 2000: .* within \+-1280'):
        pose_utils.load_annotations(path, image_size=(128, 64))
    # a few pixels outside the image (the reference's fasion128 resizing made some) are kept
    near = write_annotations(tmp_path / 'b.csv', GOOD_X.replace('[30,', '[-5,'))
    assert pose_utils.load_annotations(near, image_size=(128, 64))['bad.jpg'][0, 1] == -5
    whole = write_annotations(tmp_path / 'c.csv', GOOD_X.replace('[30,', '[30.0,'))
    assert pose_utils.load_annotations(whole)['bad.jpg'].dtype.kind == 'i'


# ---- pairs whose pose lacks a torso ------------------------------------------------------------

@pytest.fixture
def copied_root(synthetic_root, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(synthetic_root, root)
    return root


def break_torso(root, split, rows, all_missing=False):
    """Removes Rhip (or every point) of the target image of the given pairs-file rows (0-based)."""
    annotations_path = os.path.join(root, 'synthetic-annotation-%s.csv' % split)
    annotations = pose_utils.load_annotations(annotations_path)
    pairs = pose_utils.load_pairs(os.path.join(root, 'synthetic-pairs-%s.csv' % split))
    for row in rows:
        kp = annotations[pairs[row][1]]
        if all_missing:
            kp[:] = -1
        else:
            kp[pose_utils.LABELS.index('Rhip')] = -1
    pose_utils.save_annotations(annotations_path, annotations)
    broken = {pairs[row][1] for row in rows}
    return [line for line, pair in enumerate(pairs, start=2) if pair[0] in broken or pair[1] in broken]


def test_a_pair_without_torso_is_refused_with_file_and_line(copied_root, tmp_path):
    lines = break_torso(copied_root, 'test', [2])
    with pytest.raises(ValueError, match=r'synthetic-pairs-test.csv, line %d: image .* lacks a torso point.*'
                                         r'%d such pairs in all.*--skip_invalid_pairs' % (lines[0], len(lines))):
        PoseHMDataset.from_args(training_args(copied_root, tmp_path))


def test_a_pose_with_every_point_missing_is_named_so(copied_root, tmp_path):
    lines = break_torso(copied_root, 'train', [0], all_missing=True)
    with pytest.raises(ValueError, match=r'synthetic-pairs-train.csv, line %d: .* has no keypoints \(all missing\)'
                                         % lines[0]):
        PoseHMDataset.from_args(training_args(copied_root, tmp_path))


def test_skip_invalid_pairs_leaves_them_out_and_counts_them(copied_root, tmp_path, capsys):
    lines = break_torso(copied_root, 'test', [2])
    total = len(pose_utils.load_pairs(os.path.join(copied_root, 'synthetic-pairs-test.csv')))
    dataset = PoseHMDataset.from_args(training_args(copied_root, tmp_path, '--skip_invalid_pairs',
                                                    '--warp_skip', 'mask'))
    assert [line for line, _ in dataset.skipped_pairs['test']] == lines
    assert dataset.number_of_pairs('test') == total - len(lines)
    assert 'Skipped %d of the %d pairs of' % (len(lines), total) in capsys.readouterr().out
    # the part transforms of the mask warp are fitted for every pair left: no torso is missing
    assert sum(len(batch['masks']) for _, batch in dataset.test_batches(4)) == total - len(lines)


# ---- damaged image files ---------------------------------------------------------------------

def first_test_image(copied_root, split='test'):
    pairs = pose_utils.load_pairs(os.path.join(copied_root, 'synthetic-pairs-%s.csv' % split))
    return os.path.join(copied_root, 'synthetic-dataset', split, pairs[0][1])


@pytest.mark.parametrize('damage, message', [
    (lambda data: data[:len(data) // 2], 'is cut short'),
    (lambda data: data[:-2], 'is cut short'),
    (lambda data: b'', 'is not a readable image'),
    (lambda data: b'name: not an image\n', 'is not a readable image'),
])
def test_damaged_images_are_refused_when_the_dataset_opens(copied_root, tmp_path, damage, message):
    path = first_test_image(copied_root)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(damage(data))
    with pytest.raises(ValueError, match='%s %s' % (os.path.basename(path), message)):
        PoseHMDataset.from_args(training_args(copied_root, tmp_path))


def test_cut_short_png_and_other_formats_are_refused(tmp_path):
    from PIL import Image
    image = Image.fromarray(np.zeros((128, 64, 3), np.uint8))
    image.save(tmp_path / 'whole.png')
    check_image(str(tmp_path / 'whole.png'), (128, 64))
    data = (tmp_path / 'whole.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[:-12])   # no IEND chunk: TensorFlow's decoder refuses it
    with pytest.raises(ValueError, match='cut.png is cut short'):
        check_image(str(tmp_path / 'cut.png'), (128, 64))
    image.save(tmp_path / 'image.bmp')
    with pytest.raises(ValueError, match='image.bmp is a BMP image; the pipeline reads JPEG and PNG only'):
        check_image(str(tmp_path / 'image.bmp'), (128, 64))
    padded = tmp_path / 'padded.jpg'
    image.save(padded)
    padded.write_bytes(padded.read_bytes() + b'\x00' * 10)   # zeros after the end marker: still whole
    check_image(str(padded), (128, 64))


def test_an_image_the_decoder_refuses_in_the_pipeline_is_named(copied_root, tmp_path):
    path = first_test_image(copied_root)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    dataset = PoseHMDataset.from_args(training_args(copied_root, tmp_path), check_images=False)
    with pytest.raises(ValueError, match=r'%s cannot be read \(jpeg::Uncompress failed' % os.path.basename(path)):
        list(dataset.test_batches(2))
