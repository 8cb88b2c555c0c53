"""Test oracles of the part transforms and masks: the reference's per-part loop over named keypoints
with ``skimage.transform.estimate_transform`` and scikit-image 0.13's polygon rasterisation
(tests/skimage013.py), and random skeletons to feed them (docs/reference.md, "Part transforms and masks")."""
import warnings

import numpy as np
import skimage
import skimage.measure
import skimage.transform

import skimage013
from pose_utils import LABELS

H, W = 128, 64   # the image size of the random skeletons
NO_POINT = np.array([1, 0, 1000, 0, 1, 1000, 0, 0], dtype=np.float32)
# A standing person, (y, x), in LABELS order.
TEMPLATE = np.array([[14, 32], [26, 32], [26, 22], [44, 19], [60, 18], [26, 42], [44, 45], [60, 46],
                     [64, 26], [90, 26], [116, 26], [64, 38], [90, 38], [116, 38], [12, 35], [12, 29],
                     [14, 38], [14, 26]])


def random_skeleton(rng, missing=0.15):
    cords = TEMPLATE + rng.normal(0, 4, TEMPLATE.shape)
    cords = np.clip(np.round(cords), 0, [H - 1, W - 1]).astype(int)
    drop = rng.random(18) < missing
    drop[[2, 5, 8, 11]] = False  # keep the torso
    cords[drop] = -1
    return cords


# ---- The independent reference ---------------------------------------------------------------

def named(array):
    return {name: array[i][::-1].astype(float) for i, name in enumerate(LABELS) if -1 not in array[i]}


def st_distance(kp):
    return np.sqrt((np.sum((kp['Rhip'] - kp['Rsho']) ** 2) + np.sum((kp['Lhip'] - kp['Lsho']) ** 2)) / 2.0)


def polygon(fr, to, st, inc_to):
    fr = fr + (fr - to) * 0.1
    to = to + (to - fr) * inc_to
    n = fr - to
    n = np.array([-n[1], n[0]])
    if np.linalg.norm(n) == 0:
        return np.array([fr + 1, fr - 1, to - 1, to + 1])
    n = n / np.linalg.norm(n)
    return np.array([fr + st * 0.2 * n, fr - st * 0.2 * n, to - st * 0.2 * n, to + st * 0.2 * n])


def checked(params):
    if not np.isfinite(params).all() or abs(np.linalg.det(params[:2, :2])) <= 1e-10:
        return NO_POINT
    return params.reshape(9)[:8]


def fit(src, dst):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        estimate = skimage.transform.estimate_transform('affine', src=src, dst=dst)
    if not estimate:  # skimage's failed estimation (e.g. coincident points)
        return NO_POINT
    return checked(estimate.params)


def reference_transforms(array1, array2):
    kp1, kp2 = named(array1), named(array2)
    st1, st2 = st_distance(kp1), st_distance(kp2)
    torso = ['Rhip', 'Lhip', 'Lsho', 'Rsho']
    out = [fit(np.array([kp2[n] for n in torso]), np.array([kp1[n] for n in torso]))]
    head = [n for n in ['nose', 'Leye', 'Reye', 'Lear', 'Rear'] if n in kp1 and n in kp2]
    if head:
        head += ['Lsho', 'Rsho']
        out.append(fit(np.array([kp2[n] for n in head]), np.array([kp1[n] for n in head])))
    else:
        out.append(NO_POINT)
    for fr, to, inc in [('Rhip', 'Rkne', 0.1), ('Lhip', 'Lkne', 0.1), ('Rkne', 'Rank', 0.3), ('Lkne', 'Lank', 0.3),
                        ('Rsho', 'Relb', 0.1), ('Lsho', 'Lelb', 0.1), ('Relb', 'Rwri', 0.3), ('Lelb', 'Lwri', 0.3)]:
        if fr not in kp2 or to not in kp2:
            out.append(NO_POINT)
            continue
        poly2 = polygon(kp2[fr], kp2[to], st2, inc)
        if fr not in kp1 or to not in kp1:
            swap = {'R': 'L', 'L': 'R'}
            fr, to = swap[fr[0]] + fr[1:], swap[to[0]] + to[1:]
            if fr not in kp1 or to not in kp1:
                out.append(NO_POINT)
                continue
        out.append(fit(poly2, polygon(kp1[fr], kp1[to], st1, inc)))
    return np.array(out, dtype=np.float32)


def reference_masks(array2, size):
    kp2 = named(array2)
    st2 = st_distance(kp2)
    masks = [np.ones(size)]
    head = [kp2[n] for n in ['Leye', 'Reye', 'Lear', 'Rear', 'nose'] if n in kp2]
    head_mask = np.zeros(size)
    if head:
        centre = np.mean(head, axis=0).astype(int)
        lo = np.maximum(centre - int(0.4 * st2), 0)
        hi = np.minimum(centre + int(0.4 * st2), size[::-1])
        head_mask[lo[1]:hi[1], lo[0]:hi[0]] = 1
    masks.append(head_mask)
    for fr, to, inc in [('Rhip', 'Rkne', 0.1), ('Lhip', 'Lkne', 0.1), ('Rkne', 'Rank', 0.5), ('Lkne', 'Lank', 0.5),
                        ('Rsho', 'Relb', 0.1), ('Lsho', 'Lelb', 0.1), ('Relb', 'Rwri', 0.5), ('Lelb', 'Lwri', 0.5)]:
        if fr in kp2 and to in kp2:
            masks.append(skimage013.grid_points_in_poly(size, polygon(kp2[fr], kp2[to], st2, inc)[:, ::-1]))
        else:
            masks.append(np.zeros(size))
    return np.array(masks, dtype=np.float32)
