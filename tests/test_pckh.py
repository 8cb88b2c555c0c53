"""evaluation/pckh.py against a transcription of the protocol written as plain loops over keypoints (x, y lists
as the pose-transfer evaluation scripts keep them), on keypoints made by hand."""
import numpy as np
import pytest

from evaluation import pckh

MISSING = -1
HEAD = [0, 1, 14, 15, 16, 17]   # nose, neck, Reye, Leye, Rear, Lear


def loop_pckh(estimates, targets, alpha=0.5):
    """(correct, counted) over pairs; keypoints as separate x and y lists per image."""
    correct = counted = 0
    for (ex, ey), (tx, ty) in zip(estimates, targets):
        head = [(tx[k], ty[k]) for k in HEAD if tx[k] != MISSING and ty[k] != MISSING]
        if len(head) < 2:
            continue
        width = max(x for x, _ in head) - min(x for x, _ in head)
        height = max(y for _, y in head) - min(y for _, y in head)
        for k in range(18):
            if ty[k] != MISSING:
                counted += 1
            if MISSING in (ex[k], ey[k], tx[k], ty[k]):
                continue
            if abs(ex[k] - tx[k]) < width * alpha and abs(ey[k] - ty[k]) < height * alpha:
                correct += 1
    return correct, counted


def as_xy_lists(keypoints):
    keypoints = np.asarray(keypoints)
    return list(keypoints[:, 1]), list(keypoints[:, 0])


def target_person():
    """(y, x) keypoints: head box 10 wide (x 20..30) and 8 high (y 4..12)."""
    kp = np.full((18, 2), MISSING)
    kp[0], kp[1], kp[14], kp[15], kp[16], kp[17] = [8, 25], [12, 25], [6, 23], [6, 27], [4, 20], [5, 30]
    kp[2:14] = [[20 + 5 * i, 10 + 3 * i] for i in range(12)]
    return kp


def test_hand_made_pair_by_hand():
    target = target_person()
    assert pckh.head_size(target) == (8.0, 10.0)
    estimate = target.copy()
    estimate[2] += [3, 4]         # within (4, 5): correct
    estimate[3] += [4, 0]         # |dy| = 4 is not < 4: wrong
    estimate[4] += [0, -5]        # |dx| = 5 is not < 5: wrong
    estimate[5] = MISSING         # missed by the estimator: wrong
    estimate[6] += [-3, -4]       # correct
    assert pckh.pckh_counts(estimate, target) == (15, 18)
    partial = target.copy()
    partial[7:9] = MISSING        # not annotated: not counted
    assert pckh.pckh_counts(estimate, partial) == (13, 16)
    assert pckh.pckh_counts(estimate, partial) == loop_pckh([as_xy_lists(estimate)], [as_xy_lists(partial)])


def test_a_target_with_fewer_than_two_head_points_is_left_out():
    target = target_person()
    target[[1, 14, 15, 16, 17]] = MISSING     # nose only
    assert pckh.head_size(target) is None
    assert pckh.pckh_counts(target, target) == (0, 0)
    assert pckh.pckh_score([0], [0]) is None


def test_random_pairs_against_the_loops():
    rng = np.random.default_rng(0)
    estimates, targets, per_pair = [], [], []
    for i in range(200):
        target = np.stack([rng.integers(0, 128, 18), rng.integers(0, 64, 18)], axis=1)
        target[rng.random(18) < 0.2] = MISSING
        estimate = target + rng.integers(-8, 9, (18, 2))
        estimate[rng.random(18) < 0.15] = MISSING
        if i % 10 == 0:   # a head keypoint on top of another: zero width, nothing can be correct in x
            target[HEAD] = [target[0][0], target[0][1]]
        estimates.append(estimate)
        targets.append(target)
        per_pair.append(pckh.pckh_counts(estimate, target))
    correct, counted = np.array(per_pair).T
    expected = loop_pckh([as_xy_lists(e) for e in estimates], [as_xy_lists(t) for t in targets])
    assert (correct.sum(), counted.sum()) == expected
    assert 0.1 < pckh.pckh_score(correct, counted) < 0.9
    # Shards add up: the counts of two shards, each scored on its own pairs, give the score of all pairs.
    shards = [np.array([pckh.pckh_counts(e, t) for e, t in zip(estimates[part], targets[part])]).sum(axis=0)
              for part in (slice(0, 70), slice(70, None))]
    assert pckh.pckh_score(*np.sum(shards, axis=0)) == pytest.approx(expected[0] / expected[1], abs=0)
    zero_width = targets[0]
    assert pckh.pckh_counts(zero_width, zero_width)[0] == 0
