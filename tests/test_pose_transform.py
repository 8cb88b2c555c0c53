"""pose_transform numpy part against an independent computation: the reference's per-part loop over
named keypoints with ``skimage.transform.estimate_transform`` and scikit-image 0.13's polygon
rasterisation (tests/skimage013.py)."""
import numpy as np
import pytest
import skimage
import skimage.measure
import skimage.transform

import pose_transform as pt
import polygons
import skimage013
from reference_transforms import (NO_POINT, TEMPLATE, fit, named, polygon, random_skeleton, reference_masks,
                                  reference_transforms, st_distance)

H, W = 128, 64


# ---- Tests ---------------------------------------------------------------------------------------

def test_check_valid():
    pose = TEMPLATE.copy()
    assert pt.check_valid(pose)
    pose[11] = -1  # Lhip
    assert not pt.check_valid(pose)
    with pytest.raises(ValueError, match='torso'):
        pt.affine_transforms(TEMPLATE, pose)


def test_transforms_match_reference_on_random_skeletons():
    rng = np.random.default_rng(0)
    for _ in range(150):
        source, target = random_skeleton(rng), random_skeleton(rng)
        ours = pt.affine_transforms(source, target)
        assert ours.shape == (10, 8) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, reference_transforms(source, target), rtol=1e-5, atol=1e-4)


def test_identity_pose_gives_identity_transforms():
    transforms = pt.affine_transforms(TEMPLATE, TEMPLATE)
    np.testing.assert_allclose(transforms, np.tile([1, 0, 0, 0, 1, 0, 0, 0], (10, 1)), atol=1e-4)


def test_transform_maps_target_points_to_source_points():
    # A pure translation of the whole pose: every part transform is that translation, target -> source.
    source = TEMPLATE.copy()
    target = TEMPLATE + [5, -3]  # (dy, dx)
    transforms = pt.affine_transforms(source, target)
    np.testing.assert_allclose(transforms[:, 2], 3, atol=1e-4)   # x_src = x_tgt + 3
    np.testing.assert_allclose(transforms[:, 5], -5, atol=1e-4)  # y_src = y_tgt - 5


def test_missing_parts_mirror_fallback_and_no_head():
    source, target = TEMPLATE.copy(), TEMPLATE.copy()
    source[[0, 14, 15, 16, 17]] = -1  # no head point in the source
    source[10] = -1                   # Rank missing in the source only: mirrored to Lkne-Lank
    source[[6, 7]] = target[[3, 4]] = -1  # Lelb/Lwri missing in source; Relb/Rwri missing in target
    ours = pt.affine_transforms(source, target)
    np.testing.assert_allclose(ours, reference_transforms(source, target), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(ours[1], NO_POINT)        # head
    np.testing.assert_array_equal(ours[6], NO_POINT)        # Rsho-Relb missing in the target
    np.testing.assert_array_equal(ours[8], NO_POINT)        # Relb-Rwri missing in the target
    assert not np.allclose(ours[4], NO_POINT)                # Rkne-Rank fitted on the mirrored Lkne-Lank
    assert not np.allclose(ours[7], NO_POINT)                # Lsho-Lelb fitted on the mirrored Rsho-Relb
    assert not np.allclose(ours[9], NO_POINT)                # Lelb-Lwri fitted on the mirrored Relb-Rwri
    source[3] = -1                                           # now neither Lelb-Lwri nor Relb-Rwri in the source
    np.testing.assert_array_equal(pt.affine_transforms(source, target)[9], NO_POINT)
    np.testing.assert_allclose(pt.affine_transforms(source, target), reference_transforms(source, target),
                               rtol=1e-5, atol=1e-4)


def test_singular_fit_becomes_no_point():
    source = TEMPLATE.copy()
    target = TEMPLATE.copy()
    target[[2, 5, 8, 11]] = [[30, 20], [30, 20], [60, 20], [60, 20]]  # a degenerate (collinear) torso
    target[9] = target[8]  # a zero-length limb: the +-1 polygon, collinear
    ours = pt.affine_transforms(source, target)
    np.testing.assert_array_equal(ours[0], NO_POINT)
    np.testing.assert_allclose(ours, reference_transforms(source, target), rtol=1e-5, atol=1e-4)


def test_uniform_transform_matches_skimage():
    rng = np.random.default_rng(3)
    for _ in range(30):
        source, target = random_skeleton(rng, missing=0.4), random_skeleton(rng, missing=0.4)
        names = [8, 11, 5, 2] + [i for i in (9, 12) if -1 not in source[i] and -1 not in target[i]]
        expected = fit(target[names][:, ::-1].astype(float), source[names][:, ::-1].astype(float))
        ours = pt.estimate_uniform_transform(source, target)
        assert ours.shape == (1, 8)
        np.testing.assert_allclose(ours[0], expected, rtol=1e-5, atol=1e-4)


def test_masks_match_reference():
    rng = np.random.default_rng(4)
    for _ in range(60):
        target = random_skeleton(rng, missing=0.3)
        masks = pt.pose_masks(target, (H, W))
        assert masks.shape == (10, H, W) and masks.dtype == np.float32
        np.testing.assert_array_equal(masks, reference_masks(target, (H, W)))


def test_head_mask_hand_case():
    target = TEMPLATE.copy()
    target[[14, 15, 16, 17]] = -1
    target[0] = [10, 30]  # nose only
    st = np.sqrt(((64 - 26) ** 2 + 4 ** 2 + (64 - 26) ** 2 + 4 ** 2) / 2.0)
    border = int(0.4 * st)  # 15
    masks = pt.pose_masks(target, (H, W))
    expected = np.zeros((H, W))
    expected[0:10 + border, 30 - border:30 + border] = 1
    np.testing.assert_array_equal(masks[1], expected)
    target[0] = -1
    assert pt.pose_masks(target, (H, W))[1].sum() == 0
    assert pt.pose_masks(target, (H, W))[0].all()


def test_polygons_match_skimage_013_rasterisation():
    rng = np.random.default_rng(5)
    differs_from_today = 0
    for trial in range(300):
        # Limb-like rectangles (convex, any orientation), some with integer or half-integer corners so
        # that pixels fall exactly on edges and vertices.
        fr, to = rng.uniform(-4, 36, (2, 2))
        vertices = pt.limb_polygon(fr, to, rng.uniform(0, 30), rng.choice([0.1, 0.5]))
        if trial % 3 == 0:
            vertices = np.round(vertices)
        elif trial % 3 == 1:
            vertices = np.round(vertices * 2) / 2
        want = skimage013.grid_points_in_poly((32, 24), vertices[:, ::-1])
        np.testing.assert_array_equal(polygons.grid_points_in_poly((32, 24), vertices[:, ::-1]), want)
        np.testing.assert_array_equal(polygons.fill_convex_polygons(vertices[None], (32, 24))[0], want)
        for got, expected in zip(polygons.polygon(vertices[:, 1], vertices[:, 0], (32, 24)),
                                 skimage013.polygon(vertices[:, 1], vertices[:, 0], (32, 24))):
            np.testing.assert_array_equal(got, expected)
        # Any quadrilateral, self-intersecting ones included.
        quad = np.round(rng.uniform(-4, 36, (4, 2)) * 2) / 2
        np.testing.assert_array_equal(polygons.grid_points_in_poly((32, 24), quad[:, ::-1]),
                                      skimage013.grid_points_in_poly((32, 24), quad[:, ::-1]))
        np.testing.assert_array_equal(polygons.fill_convex_polygons(quad[None], (32, 24))[0],
                                      skimage013.grid_points_in_poly((32, 24), quad[:, ::-1]))
        today = skimage.measure.grid_points_in_poly((32, 24), vertices[:, ::-1])
        differs_from_today += int((today != want).any())
    # Points on edges and vertices: scikit-image >= 0.16 counts them in, 0.13 (the reference) did not.
    assert differs_from_today > 50
    # A zero-length limb: the +-1 polygon is a diagonal segment with no pixel inside.
    segment = pt.limb_polygon([1, 1], [1, 1], 10, 0.1)
    assert not polygons.fill_convex_polygons(segment[None], (32, 24)).any()
    assert not skimage013.grid_points_in_poly((32, 24), segment[:, ::-1]).any()


def reference_stickman(array, size):
    kp = named(array)
    thickness = int(3 * size[1] / 128.0)
    imgs = np.zeros((3,) + size, dtype=np.float32)

    def line(a, b):
        n = a - b
        n = thickness * np.array([-n[1], n[0]]) / np.linalg.norm(n)
        v = np.array([a + n, a - n, b - n, b + n])
        return skimage013.polygon(v[:, 1], v[:, 0], size)

    body = np.int_([kp[n] for n in ['Lhip', 'Lsho', 'Rsho', 'Rhip']])
    rr, cc = skimage013.polygon(body[:, 1], body[:, 0], size)
    imgs[2][rr, cc] = 1
    for channel, side in ((0, 'R'), (1, 'L')):
        for a, b in [('ank', 'kne'), ('kne', 'hip'), ('hip', 'sho'), ('sho', 'elb'), ('elb', 'wri')]:
            if side + a in kp and side + b in kp:
                imgs[channel][line(kp[side + a], kp[side + b])] = 1
    if 'nose' in kp:
        imgs[0:2][(slice(None),) + line(0.5 * (kp['Rsho'] + kp['Lsho']), kp['nose'])] = 0.5
        if 'Reye' in kp and 'Leye' in kp:
            imgs[0][line(kp['nose'], kp['Reye'])] = 0.5
            imgs[1][line(kp['nose'], kp['Leye'])] = 0.5
    return np.moveaxis(imgs, 0, -1)


def test_stickman_matches_reference_drawing():
    rng = np.random.default_rng(6)
    for _ in range(20):
        pose = random_skeleton(rng, missing=0.2)
        ours = pt.make_stickman(pose, (H, W))
        assert ours.shape == (H, W, 3) and ours.dtype == np.float32
        np.testing.assert_array_equal(ours, reference_stickman(pose, (H, W)))
    assert set(np.unique(pt.make_stickman(TEMPLATE, (H, W)))) == {0.0, 0.5, 1.0}


@pytest.mark.slow
def test_masks_and_stickmen_of_every_reference_row_match_scikit_image_013():
    """Every usable pose of the real annotation samples: the ten part masks and the stickman, pixel for
    pixel, against the reference's per-part loops drawn with scikit-image 0.13's rule. Also counts the
    pixels that today's scikit-image would draw differently (they must exist, or this test shows nothing)."""
    from reference_data import annotation_sets
    poses = 0
    differ_today = 0
    for name, size, rows in annotation_sets():
        usable = [kp for _, kp in sorted(rows.items()) if pt.check_valid(kp)]
        if size == (256, 256):
            usable = usable[:60]
        batch = pt.pose_masks_batch(np.array(usable), size)
        for kp, masks in zip(usable, batch):
            np.testing.assert_array_equal(masks, reference_masks(kp, size), err_msg=name)
            np.testing.assert_array_equal(pt.make_stickman(kp, size), reference_stickman(kp, size), err_msg=name)
            kp2 = named(kp)
            st2 = st_distance(kp2)
            for (fr, to, inc), mask in zip([('Rhip', 'Rkne', 0.1), ('Lhip', 'Lkne', 0.1), ('Rkne', 'Rank', 0.5),
                                            ('Lkne', 'Lank', 0.5), ('Rsho', 'Relb', 0.1), ('Lsho', 'Lelb', 0.1),
                                            ('Relb', 'Rwri', 0.5), ('Lelb', 'Lwri', 0.5)], masks[2:]):
                if fr in kp2 and to in kp2:
                    today = skimage.measure.grid_points_in_poly(size, polygon(kp2[fr], kp2[to], st2, inc)[:, ::-1])
                    differ_today += int((today != mask.astype(bool)).sum())
            poses += 1
    assert poses > 1000
    assert differ_today > 0
    print('%d poses; %d mask pixels differ with scikit-image %s' % (poses, differ_today, skimage.__version__))


# ---- The length of a limb's normal -------------------------------------------------------------

LIMB_NAMES = [('Rhip', 'Rkne'), ('Lhip', 'Lkne'), ('Rkne', 'Rank'), ('Lkne', 'Lank'),
              ('Rsho', 'Relb'), ('Lsho', 'Lelb'), ('Relb', 'Rwri'), ('Lelb', 'Lwri')]
# A synthetic pose (y, x) whose limb normals have x*x + y*y rounded once (a fused multiply-add) differ
# from x*x and y*y rounded, then summed, enough to move 5 pixels of its limb masks.
FMA_ROW = np.array([[14, 35], [24, 28], [24, 15], [42, 25], [54, 12], [27, 45], [-1, -1], [-1, -1], [63, 32],
                    [91, 18], [112, 26], [65, 40], [87, 44], [113, 34], [16, 40], [18, 26], [14, 33], [19, 33]])


def _fused_norm(original):
    """np.linalg.norm whose dot product of one 2-vector rounds x*x + y*y once after rounding x*x, as
    OpenBLAS' AVX-512 ddot does (exact arithmetic in Fractions, then one rounding)."""
    from fractions import Fraction

    def norm(x, *args, **kwargs):
        x = np.asarray(x)
        if args or kwargs or x.shape != (2,):
            return original(x, *args, **kwargs)
        first = float(x[0]) * float(x[0])
        return np.sqrt(float(Fraction(float(x[1])) ** 2 + Fraction(first)))
    return norm


def _limb_vertices(poses, inc_to):
    """Every limb polygon of (N, 18, 2) poses, ours (one batched call) and the transcription's (one
    call per limb); (ours, theirs) as (L, 4, 2) arrays."""
    xy, present = pt._xy_and_present(poses)
    pose, limb = np.nonzero(present[:, pt.LIMB_FROM] & present[:, pt.LIMB_TO])
    ours = pt.limb_polygon(xy[pose, pt.LIMB_FROM[limb]], xy[pose, pt.LIMB_TO[limb]], pt.torso_size(xy)[pose],
                           inc_to[limb])
    theirs = []
    for p, l in zip(pose, limb):
        kp = named(poses[p])
        fr, to = LIMB_NAMES[l]
        theirs.append(polygon(kp[fr], kp[to], st_distance(kp), inc_to[l]))
    return ours, np.array(theirs)


def _assert_bit_identical(ours, theirs):
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float64
    differ = np.flatnonzero((ours.view(np.int64) != theirs.view(np.int64)).any(axis=(1, 2)))
    assert not len(differ), 'limb %d: %r != %r' % (differ[0], ours[differ[0]].tolist(), theirs[differ[0]].tolist())


def test_limb_normal_length_is_numpy_norm_of_each_vector(monkeypatch):
    """Whatever np.linalg.norm of one 2-vector computes (here the fused dot product of AVX-512 BLAS),
    the vertices are the transcription's, bit for bit, one limb at a time and batched."""
    original = np.linalg.norm
    monkeypatch.setattr(np.linalg, 'norm', lambda x: np.sqrt(np.sum(np.asarray(x) ** 2)))
    summed = reference_masks(FMA_ROW, (H, W))
    monkeypatch.setattr(np.linalg, 'norm', _fused_norm(original))
    fused = reference_masks(FMA_ROW, (H, W))
    assert (summed != fused).sum() == 5, 'the row shows nothing'
    np.testing.assert_array_equal(pt.pose_masks(FMA_ROW, (H, W)), fused)
    np.testing.assert_array_equal(pt.pose_masks_batch(np.array([TEMPLATE, FMA_ROW]), (H, W))[1], fused)
    for inc_to in (pt.LIMB_MASK_INC_TO, pt.LIMB_FIT_INC_TO):
        _assert_bit_identical(*_limb_vertices(FMA_ROW[None], inc_to))
        rng = np.random.default_rng(7)
        _assert_bit_identical(*_limb_vertices(np.array([random_skeleton(rng) for _ in range(40)]), inc_to))


def test_limb_vertices_of_real_rows_are_the_transcriptions(monkeypatch):
    """Every limb of the real annotation samples, with this machine's np.linalg.norm and with the
    fused one."""
    from reference_data import annotation_sets
    poses = np.array([kp for _, _, rows in annotation_sets() for kp in rows.values() if pt.check_valid(kp)])
    for norm in (np.linalg.norm, _fused_norm(np.linalg.norm)):
        monkeypatch.setattr(np.linalg, 'norm', norm)
        for inc_to in (pt.LIMB_MASK_INC_TO, pt.LIMB_FIT_INC_TO):
            ours, theirs = _limb_vertices(poses, inc_to)
            assert len(ours) > 5000
            _assert_bit_identical(ours, theirs)


AVX512_BLAS_CHECK = '''
import numpy as np
import pose_transform as pt
from test_pose_transform import FMA_ROW, _fused_norm, _limb_vertices, _assert_bit_identical, reference_masks
rng = np.random.default_rng(0)
vectors = rng.uniform(-50, 50, (200, 2))
fused = sum(np.linalg.norm(v) != np.sqrt(np.sum(v ** 2)) for v in vectors)
print('fused', fused)
if fused:
    emulated = _fused_norm(np.linalg.norm)
    assert all(np.linalg.norm(v) == emulated(v) for v in vectors), 'the emulation is not this BLAS'
    for inc_to in (pt.LIMB_MASK_INC_TO, pt.LIMB_FIT_INC_TO):
        _assert_bit_identical(*_limb_vertices(FMA_ROW[None], inc_to))
    np.testing.assert_array_equal(pt.pose_masks(FMA_ROW, (128, 64)), reference_masks(FMA_ROW, (128, 64)))
    print('identical')
'''


def test_limb_vertices_with_the_avx512_blas():
    """The same row with OpenBLAS' own AVX-512 kernels (where the CPU has them): their dot product is
    the fused one the test above emulates."""
    import os
    from tests import subprocesses
    import sys
    with open('/proc/cpuinfo') if os.path.exists('/proc/cpuinfo') else open(os.devnull) as f:
        if 'avx512f' not in f.read():
            pytest.skip('no AVX-512 on this CPU')
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, OPENBLAS_CORETYPE='SkylakeX',
               PYTHONPATH=os.pathsep.join([os.path.dirname(here), here, os.environ.get('PYTHONPATH', '')]))
    result = subprocesses.run([sys.executable, '-c', AVX512_BLAS_CHECK], 120, env=env, cwd=os.path.dirname(here))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    if 'fused 0' in result.stdout:
        pytest.skip('this BLAS computes the dot product of two numbers unfused')
    assert 'identical' in result.stdout
