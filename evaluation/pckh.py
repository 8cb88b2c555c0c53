"""PCKh of generated images (docs/evaluation.md, "PCKh"): the share of the target's annotated
keypoints that the pose estimator finds in the generated image within half the head size.

The protocol of the pose-transfer papers that report PCKh (Zhu et al. 2019, "Progressive Pose
Attention Transfer", and later ones), on the 18 COCO keypoints of pose_utils.LABELS in (y, x) order:
- head size: the bounding box of the target's present head keypoints (nose, neck, both eyes, both
  ears), its width (x extent) and height (y extent); a target with fewer than two of them present
  has no head size and its pair is left out;
- a keypoint is correct when it is present in both the target and the estimate and
  |x_est - x_target| < 0.5 * width and |y_est - y_target| < 0.5 * height (each axis on its own);
- it counts over every present keypoint of the target (18 at most per pair); a keypoint the
  estimator misses counts as wrong;
- PCKh = correct keypoints / counted keypoints over all pairs together.
Per pair, ``pckh_counts`` gives (correct, counted), so that shards add up to the same figure.
"""
import numpy as np

import pose_utils

HEAD_KEYPOINTS = tuple(pose_utils.LABELS.index(name) for name in ('nose', 'neck', 'Reye', 'Leye', 'Rear', 'Lear'))
ALPHA = 0.5


def head_size(target):
    """(height, width) of the box around the present head keypoints of (18, 2) (y, x) keypoints, or
    None with fewer than two present."""
    head = np.asarray(target)[list(HEAD_KEYPOINTS)]
    head = head[pose_utils.present_mask(head)]
    if len(head) < 2:
        return None
    return tuple(float(extent) for extent in head.max(axis=0) - head.min(axis=0))


def pckh_counts(estimated, target, alpha=ALPHA):
    """(correct, counted) keypoints of one pair: estimated and target (18, 2) (y, x) keypoints, -1
    where missing. (0, 0) when the target has no head size."""
    size = head_size(target)
    if size is None:
        return 0, 0
    estimated, target = np.asarray(estimated), np.asarray(target)
    counted = pose_utils.present_mask(target)
    both = counted & pose_utils.present_mask(estimated)
    close = np.all(np.abs(estimated - target) < alpha * np.array(size), axis=1)
    return int(np.sum(both & close)), int(np.sum(counted))


def pckh_score(correct, counted):
    """PCKh over pairs from their per-pair counts, or None when no keypoint was counted."""
    total = int(np.sum(counted))
    return float(np.sum(correct)) / total if total else None


def keypoint_estimator(pose_estimator_path, scale_search=None):
    """image (uint8 RGB) -> (18, 2) (y, x) keypoints of its best person, by the OpenPose assembly of
    compute_cordinates.py with the weights of ``pose_estimator_path``."""
    from compute_cordinates import SCALE_SEARCH, cordinates_from_image_file
    from pose_estimator import load_pose_estimator
    model = load_pose_estimator(pose_estimator_path)
    scales = scale_search or SCALE_SEARCH
    return lambda image: cordinates_from_image_file(image, model, scales)
