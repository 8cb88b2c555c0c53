"""The built-in synthetic dataset: layout, determinism, exact keypoints, clothing, atomic builds."""
import filecmp
import os
import re
import sys

import numpy as np
import pytest
import skimage.draw
import skimage.io

import cmd
import pose_utils
from data import make_synthetic_dataset as make
from data import synthetic_figures as figures
from data import synthetic_people as people
from tests import subprocesses

SMALL = dict(train_identities=4, test_identities=2, images_per_identity=3)
NAME = re.compile(r'^(\d{4})_c[1-6]s[1-6]_\d{6}_01\.jpg$')
ROW = re.compile(r'^(\S+\.jpg): (\[-?\d+(, -?\d+){17}\]): (\[-?\d+(, -?\d+){17}\])$')
TORSO = [figures.RSHO, figures.LSHO, figures.RHIP, figures.LHIP]


def _relative_files(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data'))
    assert make.ensure_synthetic_dataset(root, 'synthetic', **SMALL)
    return root


def test_layout_and_file_formats(built):
    assert _relative_files(built) == sorted(
        ['synthetic-annotation-test.csv', 'synthetic-annotation-train.csv', 'synthetic-pairs-test.csv',
         'synthetic-pairs-train.csv']
        + [os.path.join('synthetic-dataset', split, name) for split in ('train', 'test')
           for name in os.listdir(os.path.join(built, 'synthetic-dataset', split))])
    for split, persons in (('train', 4), ('test', 2)):
        folder = os.path.join(built, 'synthetic-dataset', split)
        names = sorted(os.listdir(folder))
        assert len(names) == persons * 3 and all(NAME.match(name) for name in names)
        with open(os.path.join(built, 'synthetic-annotation-%s.csv' % split)) as f:
            lines = f.read().splitlines()
        assert lines[0] == 'name:keypoints_y:keypoints_x'
        assert all(ROW.match(line) for line in lines[1:]), lines[1:]
        annotations = pose_utils.load_annotations(os.path.join(built, 'synthetic-annotation-%s.csv' % split))
        assert sorted(annotations) == names
        for name, cords in annotations.items():
            image = skimage.io.imread(os.path.join(folder, name))
            assert image.shape == (128, 64, 3) and image.dtype == np.uint8
            present = (cords >= 0).all(axis=1)
            assert ((cords == -1).all(axis=1) | present).all()
            assert (cords[present] < [128, 64]).all()
        pairs = pose_utils.load_pairs(os.path.join(built, 'synthetic-pairs-%s.csv' % split))
        assert pairs and all(a != b and a.split('_')[0] == b.split('_')[0] for a, b in pairs)
        assert all((annotations[name][TORSO] >= 0).all() for pair in pairs for name in pair)


def test_train_and_test_hold_different_persons(built):
    persons = {split: {NAME.match(name).group(1) for name in
                       os.listdir(os.path.join(built, 'synthetic-dataset', split))} for split in ('train', 'test')}
    assert len(persons['train']) == 4 and len(persons['test']) == 2
    assert not persons['train'] & persons['test']
    assert '0000' not in persons['train'] | persons['test']


def test_same_seed_gives_identical_files_and_another_seed_does_not(built, tmp_path):
    again, other = str(tmp_path / 'again'), str(tmp_path / 'other')
    make.ensure_synthetic_dataset(again, 'synthetic', **SMALL)
    make.ensure_synthetic_dataset(other, 'synthetic', seed=1, **SMALL)
    files = _relative_files(built)
    assert _relative_files(again) == files
    assert all(filecmp.cmp(os.path.join(built, f), os.path.join(again, f), shallow=False) for f in files)
    assert _relative_files(other) != files


def test_complete_dataset_is_a_no_op_and_force_rebuilds(built):
    marker = os.path.join(built, 'synthetic-pairs-train.csv')
    before = os.stat(marker).st_mtime_ns
    assert not make.ensure_synthetic_dataset(built, 'synthetic', **SMALL)
    assert os.stat(marker).st_mtime_ns == before
    files = {f: open(os.path.join(built, f), 'rb').read() for f in _relative_files(built)}
    assert make.ensure_synthetic_dataset(built, 'synthetic', force=True, **SMALL)
    assert os.stat(marker).st_mtime_ns != before   # rebuilt, to the same files
    assert {f: open(os.path.join(built, f), 'rb').read() for f in _relative_files(built)} == files


def test_interrupted_builds_are_not_taken_as_complete(built, tmp_path):
    root = tmp_path / 'data'
    # A killed build leaves its hidden work folder, and maybe the first outputs moved into place.
    (root / '.synthetic-building-dead' / 'synthetic-dataset' / 'train').mkdir(parents=True)
    (root / 'synthetic-dataset' / 'train').mkdir(parents=True)
    (root / 'synthetic-dataset' / 'train' / '0001_c1s1_000001_01.jpg').write_bytes(b'half')
    (root / 'synthetic-annotation-train.csv').write_text('name:keypoints_y:keypoints_x\n')
    assert not make.is_complete(str(root), 'synthetic')
    assert make.ensure_synthetic_dataset(str(root), 'synthetic', **SMALL)
    assert make.is_complete(str(root), 'synthetic')
    files = [f for f in _relative_files(str(root)) if not f.startswith('.synthetic-building-dead')]
    assert files == _relative_files(built)
    assert all(filecmp.cmp(os.path.join(root, f), os.path.join(built, f), shallow=False) for f in files)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match='market'):
        make.ensure_synthetic_dataset(str(tmp_path), 'market')
    with pytest.raises(ValueError, match='images_per_identity'):
        make.ensure_synthetic_dataset(str(tmp_path), 'synthetic', images_per_identity=1)


def _renderings(count, image_size=(128, 64)):
    for person in range(count):
        rng = np.random.default_rng([7, person])
        appearance = people.sample_appearance(rng)
        yield appearance, figures.render(rng, appearance, image_size)


def test_present_keypoints_lie_on_the_figure_and_missing_ones_are_minus_one():
    present_counts = np.zeros(18)
    for _, rendering in _renderings(60):
        cords = rendering.keypoints
        present = (cords >= 0).all(axis=1)
        assert ((cords == -1).all(axis=1) | present).all()
        y, x = cords[present].T
        assert ((y < 128) & (x < 64)).all()
        assert (rendering.figure_alpha[y, x] > 0.25).all()
        present_counts += present
    assert (present_counts > 0).all()  # every keypoint type occurs
    assert present_counts[TORSO].min() > 45  # most images pass the torso check


def _project(appearance, pose, image_size=(128, 64)):
    """The projection written out independently: orthographic, camera x = x cos(yaw) + z sin(yaw)."""
    skeleton = figures.pose_skeleton(appearance, pose)
    yaw = np.radians(pose.yaw)
    x = skeleton.joints[:, 0] * np.cos(yaw) + skeleton.joints[:, 2] * np.sin(yaw)
    return skeleton, np.stack([-skeleton.joints[:, 1], x], axis=1)


def _still_pose(yaw, **angles):
    zero = np.zeros(2)
    values = dict(shoulder_flex=zero, shoulder_abduction=zero + 10, elbow=zero, hip_flex=zero,
                  hip_abduction=zero, knee=zero)
    values.update(angles)
    return people.Pose(yaw=yaw, head_yaw=0.0, lean=0.0, **values)


@pytest.mark.parametrize('yaw', [0.0, 180.0, 45.0])
def test_keypoints_are_the_projected_joints_with_openpose_visibility(yaw):
    rng = np.random.default_rng(3)
    appearance = people.sample_appearance(rng)
    pose = _still_pose(yaw)
    skeleton, projected = _project(appearance, pose)
    placement = figures.Placement(scale=100.0, offset=np.array([112.0, 32.0]))
    canvas = figures.Canvas(256, 128)
    joints = figures.draw_figure(appearance, pose, skeleton, placement, canvas, 2)
    np.testing.assert_allclose(joints, placement.offset + 100.0 * projected, atol=1e-9)
    cords = figures.visible_keypoints(np.random.default_rng(0), skeleton, pose, joints, canvas, (128, 64), 2,
                                      miss_rate=0.0)
    body = [figures.NECK, figures.RSHO, figures.LSHO, figures.RHIP, figures.LHIP, figures.RKNE, figures.LKNE]
    np.testing.assert_array_equal(cords[body], np.round(joints[body]).astype(int))
    right_on_image_left = cords[figures.RSHO, 1] < cords[figures.LSHO, 1]
    assert right_on_image_left == (yaw != 180.0)  # OpenPose's R is the person's right
    face = [figures.NOSE, figures.LEYE, figures.REYE]
    if yaw == 180.0:
        assert (cords[face] == -1).all()  # no face from behind
    elif yaw == 0.0:
        assert (cords[face] >= 0).all()


def test_side_view_hides_far_side_points():
    hidden = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        appearance = people.sample_appearance(rng)
        pose = _still_pose(90.0)  # turned to the image right: the person's left side is away
        rendering = figures.render(rng, appearance, (128, 64), pose=pose)
        cords = rendering.keypoints
        far = [figures.LEYE, figures.LEAR]
        assert (cords[far] == -1).all()
        hidden += (cords[[figures.LSHO, figures.LHIP]] == -1).any()
    assert hidden > 0


def test_clothing_is_the_same_within_a_person_and_differs_between_persons():
    def torso_colour(rendering):
        cords = rendering.keypoints[[figures.RSHO, figures.LSHO, figures.LHIP, figures.RHIP]]
        yy, xx = skimage.draw.polygon(cords[:, 0], cords[:, 1], (128, 64))
        return rendering.image[yy, xx].reshape(-1, 3).mean(axis=0)

    colours = []
    for person in range(8):
        rng = np.random.default_rng([11, person])
        appearance = people.sample_appearance(rng)
        colours.append([torso_colour(figures.render(rng, appearance, (128, 64), pose=_still_pose(yaw)))
                        for yaw in (0.0, 10.0)])
    colours = np.array(colours)  # (person, image, rgb)
    within = np.abs(colours[:, 0] - colours[:, 1]).sum(axis=1)
    between = np.abs(colours[:, None, 0] - colours[None, :, 0]).sum(axis=2)[np.triu_indices(8, 1)]
    assert np.median(within) * 3 < np.median(between)


def test_clothing_pattern_moves_with_the_limb():
    clothing = people.Clothing(np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), 'hstripes', 0.05)

    def centre_line(p0, p1):
        canvas = figures.Canvas(120, 120)
        figures.paint_limb(canvas, 5, np.array(p0, float), np.array(p1, float), 6.0, 6.0,
                           lambda t, across: figures.clothing_colours(clothing, t * 0.5, across, 0.25))
        t = np.linspace(0.02, 0.98, 200)
        points = np.round(np.array(p0) + t[:, None] * (np.array(p1) - np.array(p0))).astype(int)
        return canvas.colour[points[:, 0], points[:, 1]].argmax(axis=1)

    straight = centre_line((60, 10), (60, 110))
    turned = centre_line((10, 20), (90, 80))  # the same length, rotated and moved
    assert 5 <= np.count_nonzero(np.diff(straight)) <= 20  # stripes across the limb (0.5 / 0.05 = 10)
    assert np.mean(straight == turned) > 0.9


def test_larger_dataset_size_renders():
    (_, rendering), = _renderings(1, (256, 256))
    assert rendering.image.shape == (256, 256, 3)
    cords = rendering.keypoints
    assert (cords[(cords >= 0).all(axis=1)] < 256).all()
    assert (cords[TORSO, 0] >= 0).any()


@pytest.mark.slow
def test_command_line_end_to_end(tmp_path):
    command = [sys.executable, 'data/make_synthetic_dataset.py', '--data_root', str(tmp_path),
               '--train_identities', '3', '--test_identities', '2', '--images_per_identity', '3']
    first = subprocesses.run(command, 300)
    assert first.returncode == 0, first.stderr
    assert 'training pairs' in first.stdout
    assert make.is_complete(str(tmp_path), 'synthetic')
    assert len(os.listdir(tmp_path / 'synthetic-dataset' / 'test')) == 6
    second = subprocesses.run(command, 300)
    assert second.returncode == 0 and 'already complete' in second.stdout
    bad = subprocesses.run(command + ['--dataset', 'market'], 300)
    assert bad.returncode != 0 and 'market' in bad.stderr


def test_cmd_builds_it_on_first_use(tmp_path, monkeypatch):
    args = cmd.synthetic_parser().parse_args(['--data_root', str(tmp_path)])
    assert args.dataset == 'synthetic' and args.train_identities == 200
    # ensure_dataset asks for the flags' dataset with the defaults (the build itself is tested above);
    # a dataset on disk (market) is left alone.
    calls = []
    monkeypatch.setattr(make, 'ensure_synthetic_dataset', lambda **kwargs: calls.append(kwargs))
    make.ensure_dataset(args)
    assert calls == [{'data_root': str(tmp_path), 'dataset': 'synthetic'}]
    make.ensure_dataset(cmd.synthetic_parser().parse_args(['--data_root', str(tmp_path), '--dataset', 'synthetic256']))
    assert calls[-1] == {'data_root': str(tmp_path), 'dataset': 'synthetic256'}
    args.dataset = 'market'
    make.ensure_dataset(args)
    assert len(calls) == 2
