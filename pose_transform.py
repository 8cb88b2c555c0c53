"""Part transforms and masks of the deformable skip connections (docs/reference.md, "Part transforms and masks"), and the Keras
layers that apply them to feature maps (docs/reference.md, "Networks").

Coordinates are (x, y) = (column, row) inside the transform fits, and keypoints are stored as
(y, x) as everywhere else in the project.
"""

import numpy as np
import polygons

from pose_utils import LABELS, MISSING_VALUE, has_torso

KP = {name: index for index, name in enumerate(LABELS)}
TORSO = [KP['Rhip'], KP['Lhip'], KP['Lsho'], KP['Rsho']]
HEAD = [KP['nose'], KP['Leye'], KP['Reye'], KP['Lear'], KP['Rear']]
SHOULDERS = [KP['Lsho'], KP['Rsho']]
# Parts 2-9 (docs/reference.md, "Part transforms and masks"): (from, to, inc_to of the fit, inc_to of the mask).
LIMBS = [('Rhip', 'Rkne', 0.1, 0.1), ('Lhip', 'Lkne', 0.1, 0.1),
         ('Rkne', 'Rank', 0.3, 0.5), ('Lkne', 'Lank', 0.3, 0.5),
         ('Rsho', 'Relb', 0.1, 0.1), ('Lsho', 'Lelb', 0.1, 0.1),
         ('Relb', 'Rwri', 0.3, 0.5), ('Lelb', 'Lwri', 0.3, 0.5)]
NUMBER_OF_PARTS = 2 + len(LIMBS)
LIMB_FROM = np.array([KP[fr] for fr, _, _, _ in LIMBS])
LIMB_TO = np.array([KP[to] for _, to, _, _ in LIMBS])
LIMB_FIT_INC_TO = np.array([inc for _, _, inc, _ in LIMBS])
LIMB_MASK_INC_TO = np.array([inc for _, _, _, inc in LIMBS])
LIMB_INC_FROM = 0.1
LIMB_HALF_WIDTH = 0.2  # times the torso size
HEAD_BOX_HALF_SIZE = 0.40  # times the torso size
NO_POINT_TRANSFORM = np.array([[1, 0, 1000], [0, 1, 1000], [0, 0, 1]], dtype=np.float64)
FULL_TRANSFORM_CANDIDATES = [KP['Rkne'], KP['Lkne']]


def _mirror(name):
    return {'R': 'L', 'L': 'R'}[name[0]] + name[1:]


MIRROR_FROM = np.array([KP[_mirror(fr)] for fr, _, _, _ in LIMBS])
MIRROR_TO = np.array([KP[_mirror(to)] for _, to, _, _ in LIMBS])


def _xy_and_present(kp):
    """(..., 18, 2) float (x, y) points and the (..., 18) bool mask of present ones, from (y, x) keypoints."""
    kp = np.asarray(kp)
    present = (kp[..., 0] != MISSING_VALUE) & (kp[..., 1] != MISSING_VALUE)
    return kp[..., ::-1].astype(np.float64), present


def check_valid(kp):
    """True when the torso points Rhip, Lhip, Lsho and Rsho are all present (docs/reference.md, "Pairs")."""
    return has_torso(kp)


def _require_valid(kp, role):
    if not check_valid(kp):
        raise ValueError('%s pose lacks a torso point (Rhip, Lhip, Lsho, Rsho): %s'
                         % (role, np.asarray(kp).tolist()))


def _require_valid_batch(kp, present, role):
    """ValueError naming the first pose of the batch whose torso is incomplete."""
    bad = np.flatnonzero(~present[:, TORSO].all(axis=1))
    if len(bad):
        raise ValueError('%s pose %d of the batch lacks a torso point (Rhip, Lhip, Lsho, Rsho): %s'
                         % (role, bad[0], np.asarray(kp)[bad[0]].tolist()))


def torso_size(xy):
    """st = sqrt((|Rhip-Rsho|^2 + |Lhip-Lsho|^2) / 2) (docs/reference.md, "Part transforms and masks") of (..., 18, 2) (x, y) points."""
    right = np.sum((xy[..., KP['Rhip'], :] - xy[..., KP['Rsho'], :]) ** 2, axis=-1)
    left = np.sum((xy[..., KP['Lhip'], :] - xy[..., KP['Lsho'], :]) ** 2, axis=-1)
    return np.sqrt((right + left) / 2.0)


def vector_lengths(vectors):
    """(..., 1) float64: ``np.linalg.norm`` of each (x, y) vector of (..., 2) ``vectors``, one call per
    vector, as the reference measured a limb's normal.

    For a single vector ``np.linalg.norm`` takes the square root of a dot product, which the BLAS
    computes: with fused multiply-adds (OpenBLAS' AVX-512 kernels) the sum x*x + y*y is rounded once,
    not twice, and the last bit can differ from squares summed along an axis. One vector at a time
    the lengths are the reference's on every machine, batched or not."""
    vectors = np.asarray(vectors, dtype=np.float64)
    flat = vectors.reshape(-1, 2)
    lengths = np.array([np.linalg.norm(vector) for vector in flat], dtype=np.float64)
    return lengths.reshape(vectors.shape[:-1] + (1,))


def limb_polygon(fr, to, st, inc_to, inc_from=LIMB_INC_FROM, half_width=LIMB_HALF_WIDTH):
    """(..., 4, 2) (x, y) vertices of limb rectangles (docs/reference.md, "Part transforms and masks"); ``to`` moves from the moved ``fr``.

    ``fr`` and ``to`` are (..., 2) (x, y) points, ``st`` and ``inc_to`` scalars or (...,) arrays.
    The arithmetic is the reference's, operation by operation (the normal's length included, see
    ``vector_lengths``), so the vertices are the same floats.
    """
    fr, to = np.asarray(fr, dtype=np.float64), np.asarray(to, dtype=np.float64)
    st, inc_to = np.asarray(st, dtype=np.float64)[..., None], np.asarray(inc_to, dtype=np.float64)[..., None]
    fr = fr + (fr - to) * inc_from
    to = to + (to - fr) * inc_to
    along = fr - to
    normal = np.stack([-along[..., 1], along[..., 0]], axis=-1)
    length = vector_lengths(normal)
    with np.errstate(divide='ignore', invalid='ignore'):
        offset = st * half_width * (normal / length)
    offset = np.where(length == 0, 1.0, offset)  # fr' == to': the vertices fr'+1, fr'-1, to'-1, to'+1
    return np.stack([fr + offset, fr - offset, to - offset, to + offset], axis=-2)


def fit_affine_batch(src_points, dst_points, weights):
    """Least-squares affine maps src -> dst for a batch of point sets, as a (B, 3, 3) array.

    The algorithm of ``skimage.transform.estimate_transform('affine', src, dst)`` (the reference's
    fit), batched: both point sets centred and scaled to rms sqrt(2), the smallest right singular
    vector of the homogeneous system, then de-normalised. ``weights`` (B, N) in {0, 1} marks the
    points used (padding rows are zero, which leaves the singular vectors unchanged). A fit that
    fails (coincident points, degenerate system) comes back as NaN.
    """
    weights = weights.astype(np.float64)
    count = weights.sum(axis=1)[:, None]  # (B, 1)

    def normalisation(points):
        centroid = (points * weights[..., None]).sum(axis=1) / count  # (B, 2)
        squared = (((points - centroid[:, None]) ** 2).sum(axis=2) * weights).sum(axis=1)
        with np.errstate(divide='ignore', invalid='ignore'):
            scale = 1.0 / np.sqrt(squared / (2.0 * count[:, 0]))  # (B,)
        matrix = np.zeros((len(points), 3, 3))
        matrix[:, 0, 0] = matrix[:, 1, 1] = scale
        matrix[:, :2, 2] = -scale[:, None] * centroid
        matrix[:, 2, 2] = 1
        normalised = (points - centroid[:, None]) * scale[:, None, None]
        return matrix, np.nan_to_num(normalised) * weights[..., None]

    src_matrix, src = normalisation(src_points)
    dst_matrix, dst = normalisation(dst_points)
    batch, n = weights.shape
    # Rows [sx, sy, 1, 0, 0, 0, dx] and [0, 0, 0, sx, sy, 1, dy], unknowns (a0 a1 a2 b0 b1 b2 -1/v).
    system = np.zeros((batch, 2 * n, 7))
    homogeneous = np.concatenate([src, weights[..., None]], axis=2)  # (B, N, 3)
    system[:, :n, 0:3] = homogeneous
    system[:, n:, 3:6] = homogeneous
    system[:, :n, 6] = dst[..., 0]
    system[:, n:, 6] = dst[..., 1]
    smallest = np.linalg.svd(system)[2][:, -1, :]  # (B, 7)
    finite = np.isfinite(src_matrix).all(axis=(1, 2)) & np.isfinite(dst_matrix).all(axis=(1, 2))
    finite &= ~np.isclose(smallest[:, -1], 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        coefficients = -smallest[:, :6] / smallest[:, 6:]
    normalised_fit = np.zeros((batch, 3, 3))
    normalised_fit[:, :2, :] = coefficients.reshape(batch, 2, 3)
    normalised_fit[:, 2, 2] = 1
    with np.errstate(invalid='ignore'):
        fit = np.linalg.inv(np.where(finite[:, None, None], dst_matrix, np.eye(3))) @ normalised_fit @ src_matrix
        fit /= fit[:, 2:, 2:]
    fit[~finite] = np.nan
    return fit


def _usable_or_no_point(fits):
    """Replaces failed or singular fits by the "no point" transform (docs/reference.md, "Part transforms and masks")."""
    with np.errstate(invalid='ignore'):
        determinant = fits[:, 0, 0] * fits[:, 1, 1] - fits[:, 0, 1] * fits[:, 1, 0]
        usable = np.isfinite(fits).all(axis=(1, 2)) & (np.abs(determinant) > 1e-10)
    return np.where(usable[:, None, None], fits, NO_POINT_TRANSFORM)


def _as_eight(matrices):
    return matrices.reshape(-1, 9)[:, :8].astype(np.float32)


def _head_fit_points(src_present, tgt_present):
    """The head part's fit points for (N, 18) presence masks: (N, 7) keypoint indices, (N, 7) bool
    weights and (N,) whether there is a fit. The head points present in both poses in HEAD order, then
    Lsho and Rsho (the order of the reference's point lists), then unused slots (weight 0)."""
    shared = src_present[:, HEAD] & tgt_present[:, HEAD]                       # (N, 5)
    shared_first = np.array(HEAD)[np.argsort(~shared, axis=1, kind='stable')]  # (N, 5)
    count = shared.sum(axis=1, keepdims=True)                                  # (N, 1)
    slots = np.arange(len(HEAD) + len(SHOULDERS))
    padded = np.pad(shared_first, ((0, 0), (0, len(SHOULDERS))))
    points = np.where(slots < count, padded, np.where(slots == count, SHOULDERS[0], SHOULDERS[1]))
    return points, slots < count + len(SHOULDERS), count[:, 0] > 0


def affine_transforms_batch(kp_source, kp_target):
    """(N, 10, 8) float32: ``affine_transforms`` of N pairs, (N, 18, 2) (y, x) keypoints each, in one
    vectorised pass (the N * 10 fits go through one batched SVD)."""
    src, src_present = _xy_and_present(kp_source)
    tgt, tgt_present = _xy_and_present(kp_target)
    _require_valid_batch(kp_source, src_present, 'source')
    _require_valid_batch(kp_target, tgt_present, 'target')
    count = len(src)
    pair = np.arange(count)[:, None]
    st_src, st_tgt = torso_size(src)[:, None], torso_size(tgt)[:, None]   # (N, 1)

    max_points = len(HEAD) + len(SHOULDERS)
    fit_from = np.zeros((count, NUMBER_OF_PARTS, max_points, 2))  # target points
    fit_to = np.zeros((count, NUMBER_OF_PARTS, max_points, 2))    # source points
    weights = np.zeros((count, NUMBER_OF_PARTS, max_points), dtype=bool)
    fitted = np.ones((count, NUMBER_OF_PARTS), dtype=bool)

    fit_from[:, 0, :4], fit_to[:, 0, :4], weights[:, 0, :4] = tgt[:, TORSO], src[:, TORSO], True

    head_points, weights[:, 1], fitted[:, 1] = _head_fit_points(src_present, tgt_present)
    fit_from[:, 1], fit_to[:, 1] = tgt[pair, head_points], src[pair, head_points]

    # Limbs: the same limb in the source, else its mirror (R <-> L), else "no point".
    in_target = tgt_present[:, LIMB_FROM] & tgt_present[:, LIMB_TO]           # (N, 8)
    same_in_source = src_present[:, LIMB_FROM] & src_present[:, LIMB_TO]
    mirror_in_source = src_present[:, MIRROR_FROM] & src_present[:, MIRROR_TO]
    src_from = np.where(same_in_source, LIMB_FROM, MIRROR_FROM)
    src_to = np.where(same_in_source, LIMB_TO, MIRROR_TO)
    fitted[:, 2:] = in_target & (same_in_source | mirror_in_source)
    fit_from[:, 2:, :4] = limb_polygon(tgt[:, LIMB_FROM], tgt[:, LIMB_TO], st_tgt, LIMB_FIT_INC_TO)
    fit_to[:, 2:, :4] = limb_polygon(src[pair, src_from], src[pair, src_to], st_src, LIMB_FIT_INC_TO)
    weights[:, 2:, :4] = True

    matrices = np.tile(NO_POINT_TRANSFORM, (count, NUMBER_OF_PARTS, 1, 1))
    if fitted.any():
        matrices[fitted] = _usable_or_no_point(
            fit_affine_batch(fit_from[fitted], fit_to[fitted], weights[fitted]))
    return _as_eight(matrices).reshape(count, NUMBER_OF_PARTS, 8)


def affine_transforms(kp_source, kp_target):
    """(10, 8) float32: the part transforms mapping TARGET (x, y) to SOURCE (x, y) (docs/reference.md, "Part transforms and masks").

    Part 0 torso, 1 head, 2-9 the limbs of ``LIMBS``; each row is the first 8 entries of the 3x3
    matrix, row-major. Parts that cannot be fitted get the "no point" transform.
    """
    _require_valid(kp_source, 'source')
    _require_valid(kp_target, 'target')
    return affine_transforms_batch(np.asarray(kp_source)[None], np.asarray(kp_target)[None])[0]


def estimate_uniform_transform(kp_source, kp_target):
    """(1, 8) float32: one affine TARGET -> SOURCE from the torso points plus Rkne and Lkne when both
    poses have them (the ``full`` variant)."""
    _require_valid(kp_source, 'source')
    _require_valid(kp_target, 'target')
    src, src_present = _xy_and_present(kp_source)
    tgt, tgt_present = _xy_and_present(kp_target)
    points = TORSO + [i for i in FULL_TRANSFORM_CANDIDATES if src_present[i] and tgt_present[i]]
    fit = fit_affine_batch(tgt[points][None], src[points][None], np.ones((1, len(points)), dtype=bool))
    return _as_eight(_usable_or_no_point(fit))


def pose_masks_batch(kp_target, img_size, dtype=np.float32):
    """(N, 10, H, W) ``pose_masks`` of N target poses ((N, 18, 2) (y, x)), vectorised, as ``dtype``
    (bool keeps them 4 times smaller until they are used)."""
    tgt, present = _xy_and_present(kp_target)
    _require_valid_batch(kp_target, present, 'target')
    count = len(tgt)
    height, width = img_size[:2]
    st = torso_size(tgt)                                                     # (N,)
    masks = np.zeros((count, NUMBER_OF_PARTS, height, width), dtype=bool)
    masks[:, 0] = True

    head_present = present[:, HEAD]                                          # (N, 5)
    has_head = head_present.any(axis=1)
    # The mean of the present head points (absent ones add exact zeros), truncated as .astype(int).
    with np.errstate(invalid='ignore', divide='ignore'):
        centre = (tgt[:, HEAD] * head_present[..., None]).sum(axis=1) / head_present.sum(axis=1)[:, None]
    centre = np.where(has_head[:, None], centre, 0).astype(int)              # (N, 2) (x, y)
    border = (HEAD_BOX_HALF_SIZE * st).astype(int)[:, None]
    x0, y0 = np.clip(centre - border, 0, [width, height]).T
    x1, y1 = np.clip(centre + border, 0, [width, height]).T
    in_rows = (np.arange(height) >= y0[:, None]) & (np.arange(height) < y1[:, None]) & has_head[:, None]
    in_cols = (np.arange(width) >= x0[:, None]) & (np.arange(width) < x1[:, None])
    masks[:, 1] = in_rows[:, :, None] & in_cols[:, None, :]

    pose, limb = np.nonzero(present[:, LIMB_FROM] & present[:, LIMB_TO])
    if len(pose):
        limbs = limb_polygon(tgt[pose, LIMB_FROM[limb]], tgt[pose, LIMB_TO[limb]], st[pose],
                             LIMB_MASK_INC_TO[limb])
        masks[pose, 2 + limb] = polygons.fill_convex_polygons(limbs, img_size)
    return masks.astype(dtype, copy=False)


def pose_masks(kp_target, img_size):
    """(10, H, W) float32 0/1 masks of the parts in the target pose (docs/reference.md, "Part transforms and masks").

    Torso: the whole image. Head: a box of half-size 0.40*st around the (truncated) mean of the
    present head points, clipped. Limbs: the filled target limb polygon (inc_to 0.1 upper, 0.5 lower).
    """
    _require_valid(kp_target, 'target')
    return pose_masks_batch(np.asarray(kp_target)[None], img_size)[0]


STICKMAN_RIGHT = [('Rank', 'Rkne'), ('Rkne', 'Rhip'), ('Rhip', 'Rsho'), ('Rsho', 'Relb'), ('Relb', 'Rwri')]
STICKMAN_LEFT = [(_mirror(fr), _mirror(to)) for fr, to in STICKMAN_RIGHT]


def _thick_line(fr, to, half_thickness, img_size):
    """(rows, cols) of the rectangle of half-thickness around the segment fr -> to ((x, y) points)."""
    along = fr - to
    length = np.linalg.norm(along)
    if length == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    normal = half_thickness * np.array([-along[1], along[0]]) / length
    vertices = np.array([fr + normal, fr - normal, to - normal, to + normal])
    return polygons.polygon(vertices[:, 1], vertices[:, 0], img_size)


def make_stickman(kp, img_size):
    """(H, W, 3) float32 ``stickman`` pose representation (docs/reference.md, "Pose maps"), channels (right, left, centre).

    As the reference (adapted from VUnet): torso polygon 1 in the centre channel; limbs as lines of
    half-thickness int(3*W/128) with 1; neck (mid-shoulders to nose) 0.5 in both side channels; the
    nose-to-eye lines 0.5 in the matching side channel (drawn only when both eyes are present).
    """
    img_size = tuple(img_size[:2])
    xy, present = _xy_and_present(kp)
    half_thickness = int(3 * img_size[1] / 128.0)
    channels = np.zeros((3,) + img_size, dtype=np.float32)
    if present[TORSO].all():
        body = xy[[KP['Lhip'], KP['Lsho'], KP['Rsho'], KP['Rhip']]].astype(int)
        rr, cc = polygons.polygon(body[:, 1], body[:, 0], img_size)
        channels[2, rr, cc] = 1
    for channel, lines in ((0, STICKMAN_RIGHT), (1, STICKMAN_LEFT)):
        for fr, to in lines:
            if present[KP[fr]] and present[KP[to]]:
                rr, cc = _thick_line(xy[KP[fr]], xy[KP[to]], half_thickness, img_size)
                channels[channel, rr, cc] = 1
    if present[[KP['Rsho'], KP['Lsho'], KP['nose']]].all():
        neck = 0.5 * (xy[KP['Rsho']] + xy[KP['Lsho']])
        rr, cc = _thick_line(neck, xy[KP['nose']], half_thickness, img_size)
        channels[0:2, rr, cc] = 0.5
    if present[[KP['Reye'], KP['Leye'], KP['nose']]].all():
        for channel, eye in ((0, 'Reye'), (1, 'Leye')):
            rr, cc = _thick_line(xy[KP['nose']], xy[KP[eye]], half_thickness, img_size)
            channels[channel, rr, cc] = 0.5
    return np.moveaxis(channels, 0, -1)
