"""The batched pipeline work: pose_transform's batch functions give exactly the per-pair results (and
the per-pair ones exactly scikit-image 0.13's pixels), the batched TF pose maps equal cords_to_map, and
the batched tf.data pipeline keeps the data order."""
import numpy as np
import pytest

import polygons as polygons_module
import pose_transform as pt
import skimage013
import pose_utils
from input_pipeline.pose_tf_data import heatmaps_tf
from reference_transforms import TEMPLATE, random_skeleton, reference_masks, reference_transforms

H, W = 128, 64


def special_skeletons():
    """Poses that take the rare branches: no head point, mirrored limbs, zero-length and degenerate limbs."""
    poses = []
    no_head = TEMPLATE.copy()
    no_head[[0, 14, 15, 16, 17]] = -1
    poses.append(no_head)
    one_side = TEMPLATE.copy()
    one_side[[3, 4, 9, 10]] = -1          # right arm and leg missing: mirrored from the left
    poses.append(one_side)
    zero_limb = TEMPLATE.copy()
    zero_limb[9] = zero_limb[8]            # Rhip == Rkne: the +-1 polygon
    poses.append(zero_limb)
    collinear = TEMPLATE.copy()
    collinear[[2, 5, 8, 11]] = [[30, 20], [30, 20], [60, 20], [60, 20]]   # singular torso fit
    poses.append(collinear)
    off_image = TEMPLATE + [0, 40]          # limbs and head box partly outside the image
    poses.append(off_image)
    return poses


def test_batched_transforms_equal_per_pair_and_reference():
    rng = np.random.default_rng(10)
    sources = [random_skeleton(rng, missing=0.35) for _ in range(120)] + special_skeletons()
    # (Each special pose meets another one: a zero-length limb in BOTH poses is a rank-deficient fit
    # whose solution is arbitrary, for skimage as for us.)
    targets = [random_skeleton(rng, missing=0.35) for _ in range(120)] + special_skeletons()[1:] + \
        special_skeletons()[:1]
    batch = pt.affine_transforms_batch(np.array(sources), np.array(targets))
    assert batch.shape == (len(sources), 10, 8) and batch.dtype == np.float32
    for i, (source, target) in enumerate(zip(sources, targets)):
        np.testing.assert_array_equal(batch[i], pt.affine_transforms(source, target))
        np.testing.assert_allclose(batch[i], reference_transforms(source, target), rtol=1e-5, atol=1e-4)
    # the batch's composition does not change a pair's result
    np.testing.assert_array_equal(pt.affine_transforms_batch(np.array(sources[5:9]), np.array(targets[5:9])),
                                  batch[5:9])


def test_batched_masks_equal_per_pair_and_skimage():
    rng = np.random.default_rng(11)
    targets = [random_skeleton(rng, missing=0.35) for _ in range(80)] + special_skeletons()
    batch = pt.pose_masks_batch(np.array(targets), (H, W))
    assert batch.shape == (len(targets), 10, H, W) and batch.dtype == np.float32
    for i, target in enumerate(targets):
        np.testing.assert_array_equal(batch[i], pt.pose_masks(target, (H, W)))
        np.testing.assert_array_equal(batch[i], reference_masks(target, (H, W)))


def test_convex_rows_give_the_pixels_of_the_crossing_test():
    """Rectangles of any orientation, with corners on pixels, half pixels and anywhere, zero-length and
    zero-width ones included: exactly scikit-image 0.13's grid_points_in_poly pixels."""
    rng = np.random.default_rng(12)
    polygons = []
    for trial in range(400):
        fr, to = rng.uniform(-6, 40, (2, 2))
        if trial % 7 == 0:
            to = fr.copy()                       # zero length
        elif trial % 7 == 1:
            to[1] = fr[1]                        # horizontal limb
        elif trial % 7 == 2:
            to[0] = fr[0]                        # vertical limb
        vertices = pt.limb_polygon(fr, to, rng.uniform(0, 30), rng.choice([0.1, 0.5]))
        if trial % 3 == 0:
            vertices = np.round(vertices)
        elif trial % 3 == 1:
            vertices = np.round(vertices * 2) / 2
        polygons.append(vertices)
    masks = polygons_module.fill_convex_polygons(np.array(polygons), (32, 24))
    for vertices, mask in zip(polygons, masks):
        np.testing.assert_array_equal(mask, skimage013.grid_points_in_poly((32, 24), vertices[:, ::-1]))


def test_batch_functions_name_the_bad_pose():
    poses = np.array([TEMPLATE, TEMPLATE, TEMPLATE])
    poses[2, 8] = -1
    with pytest.raises(ValueError, match='target pose 2 of the batch lacks a torso point'):
        pt.pose_masks_batch(poses, (H, W))
    with pytest.raises(ValueError, match='source pose 2 of the batch'):
        pt.affine_transforms_batch(poses, poses[[0, 0, 0]])


def test_batched_heatmaps_and_masks_in_tf():
    rng = np.random.default_rng(13)
    kp = np.array([random_skeleton(rng, missing=0.3) for _ in range(6)], dtype=np.int32)
    maps = heatmaps_tf(kp, (H, W)).numpy()
    assert maps.shape == (6, H, W, 18) and maps.dtype == np.float32
    for i in range(6):
        np.testing.assert_allclose(maps[i], pose_utils.cords_to_map(kp[i], (H, W)), rtol=1e-6, atol=1e-7)
    masks = pt.pose_masks_batch(kp, (H, W), dtype=bool)
    assert masks.dtype == bool
    np.testing.assert_array_equal(masks, pt.pose_masks_batch(kp, (H, W)))


def test_batched_pipeline_order_does_not_depend_on_parallelism(synthetic_root, tmp_path):
    """Batch g of the stream is the same whatever the parallelism and the window it is read in
    (the basis of --resume), and its pairs are those of stream_indices."""
    from gan.dataset import stream_indices
    from pose_dataset import PoseHMDataset
    from tests.fixtures_data import training_args
    args = training_args(synthetic_root, tmp_path, '--warp_skip', 'mask')
    serial = PoseHMDataset.from_args(args)
    serial.parallel_calls = 1
    parallel = PoseHMDataset.from_args(args)
    parallel.parallel_calls = None   # AUTOTUNE
    whole = list(serial.train_dataset(0, 5))
    window = list(parallel.train_dataset(2, 3))
    for name in whole[0]:
        for a, b in zip(whole[2:], window):
            np.testing.assert_array_equal(a[name].numpy(), b[name].numpy(), err_msg=name)
    pairs = serial.pair_index['train'][stream_indices(serial.number_of_pairs('train'), 2, args.seed, 0, 5)]
    kp = serial.keypoints
    for g, batch in enumerate(whole):
        np.testing.assert_array_equal(batch['transforms'].numpy(),
                                      pt.affine_transforms_batch(kp[pairs[2 * g:2 * g + 2, 0]],
                                                                 kp[pairs[2 * g:2 * g + 2, 1]]))
