"""Prototype (issue #7, item 2): the deformable skip's inputs for a whole BATCH of pairs in one
vectorised numpy pass, and a tf.data pipeline that batches first and then computes every input of the
batch at once (one numpy_function call per batch instead of one per pair).

Same arithmetic as pose_transform.affine_transforms / pose_masks (it calls the project's own
``limb_polygon`` and ``fit_affine_batch``, with the fit points in the same order), so the results are
the same numbers; ``benchmarks/data_pipeline.py`` checks that and measures the speed. Proposed for
pose_transform.py / pose_dataset.py, see benchmarks/README.md.
"""
import numpy as np

import pose_transform as pt

HEAD = np.array(pt.HEAD)
LSHO, RSHO = pt.KP['Lsho'], pt.KP['Rsho']
SLOTS = len(pt.HEAD) + len(pt.SHOULDERS)   # 7 fit points at most (head part)


def _xy_present(kp):
    kp = np.asarray(kp)
    present = (kp[..., 0] != pt.MISSING_VALUE) & (kp[..., 1] != pt.MISSING_VALUE)
    return kp[..., ::-1].astype(np.float64), present


def _torso_size(xy):
    right = np.sum((xy[:, pt.KP['Rhip']] - xy[:, pt.KP['Rsho']]) ** 2, axis=-1)
    left = np.sum((xy[:, pt.KP['Lhip']] - xy[:, pt.KP['Lsho']]) ** 2, axis=-1)
    return np.sqrt((right + left) / 2.0)


def batch_affine_transforms(kp_source, kp_target):
    """(N, 10, 8) float32: ``pose_transform.affine_transforms`` of N pairs ((N, 18, 2) (y, x) each)."""
    src, src_present = _xy_present(kp_source)
    tgt, tgt_present = _xy_present(kp_target)
    if not (src_present[:, pt.TORSO].all() and tgt_present[:, pt.TORSO].all()):
        raise ValueError('a pose of the batch lacks a torso point (Rhip, Lhip, Lsho, Rsho)')
    count = len(src)
    rows = np.arange(count)[:, None]
    fit_from = np.zeros((count, pt.NUMBER_OF_PARTS, SLOTS, 2))
    fit_to = np.zeros((count, pt.NUMBER_OF_PARTS, SLOTS, 2))
    weights = np.zeros((count, pt.NUMBER_OF_PARTS, SLOTS), dtype=bool)

    fit_from[:, 0, :4], fit_to[:, 0, :4], weights[:, 0, :4] = tgt[:, pt.TORSO], src[:, pt.TORSO], True

    # Head: the shared head points in HEAD order, then Lsho, Rsho, then padding (as the per-pair code).
    shared = src_present[:, HEAD] & tgt_present[:, HEAD]                  # (N, 5)
    order = HEAD[np.argsort(~shared, axis=1, kind='stable')]             # shared ones first
    k = shared.sum(axis=1)[:, None]                                      # (N, 1)
    slots = np.arange(SLOTS)[None]
    points = np.where(slots < k, np.pad(order, ((0, 0), (0, SLOTS - len(HEAD))))[:, :SLOTS],
                      np.where(slots == k, LSHO, RSHO))                   # (N, 7)
    head_weights = slots < k + 2
    fit_from[:, 1] = np.where(head_weights[..., None], tgt[rows, points], 0)
    fit_to[:, 1] = np.where(head_weights[..., None], src[rows, points], 0)
    weights[:, 1] = head_weights

    in_target = tgt_present[:, pt.LIMB_FROM] & tgt_present[:, pt.LIMB_TO]          # (N, 8)
    same = src_present[:, pt.LIMB_FROM] & src_present[:, pt.LIMB_TO]
    mirror = src_present[:, pt.MIRROR_FROM] & src_present[:, pt.MIRROR_TO]
    src_from = np.where(same, pt.LIMB_FROM, pt.MIRROR_FROM)
    src_to = np.where(same, pt.LIMB_TO, pt.MIRROR_TO)
    fit_from[:, 2:, :4] = pt.limb_polygon(tgt[:, pt.LIMB_FROM], tgt[:, pt.LIMB_TO],
                                          _torso_size(tgt)[:, None], pt.LIMB_FIT_INC_TO)
    fit_to[:, 2:, :4] = pt.limb_polygon(src[rows, src_from], src[rows, src_to],
                                        _torso_size(src)[:, None], pt.LIMB_FIT_INC_TO)
    weights[:, 2:, :4] = True

    fitted = np.ones((count, pt.NUMBER_OF_PARTS), dtype=bool)
    fitted[:, 1] = k[:, 0] > 0
    fitted[:, 2:] = in_target & (same | mirror)
    matrices = np.tile(pt.NO_POINT_TRANSFORM, (count, pt.NUMBER_OF_PARTS, 1, 1))
    with np.errstate(all='ignore'):
        matrices[fitted] = pt._usable_or_no_point(
            pt.fit_affine_batch(fit_from[fitted], fit_to[fitted], weights[fitted]))
    return matrices.reshape(count, pt.NUMBER_OF_PARTS, 9)[..., :8].astype(np.float32)


def convex_polygon_rows(vertices, img_size):
    """(first, last) int32 (P, H): the columns each row of each (P, V, 2) (x, y) CONVEX polygon covers
    (empty rows have first > last), the same pixels as ``pose_transform.fill_polygons``.

    Along a row, a convex polygon covers one interval of columns, found from the (P, H, V) crossings
    of the row with the edges: P x H x V numbers instead of the P x H x W x V of the per-pixel
    crossing test. Where floating-point rounding can decide (an interval end within 1e-6 of a pixel
    centre; whole rows within 1e-4 of a vertex, which covers horizontal and nearly horizontal edges)
    the pixels are re-tested with the per-pixel test of pose_transform.fill_polygons and the interval
    set from that test.
    """
    height, width = img_size[:2]
    vertices = np.asarray(vertices, dtype=np.float64)
    px, py = vertices[..., 1], vertices[..., 0]               # (P, V) rows, columns
    qx, qy = np.roll(px, 1, axis=1), np.roll(py, 1, axis=1)   # previous vertex
    r = np.arange(height, dtype=np.float64)[None, :, None]    # (1, H, 1)
    spans = (px[:, None] > r) != (qx[:, None] > r)            # (P, H, V): edge crosses row r
    with np.errstate(divide='ignore', invalid='ignore'):
        column = qy[:, None] + (r - qx[:, None]) / (px - qx)[:, None] * (py - qy)[:, None]
    low = np.min(np.where(spans, column, np.inf), axis=2)     # (P, H)
    high = np.max(np.where(spans, column, -np.inf), axis=2)
    first = np.clip(np.ceil(low), 0, width).astype(np.int32)
    last = np.clip(np.floor(high), -1, width - 1).astype(np.int32)
    eps = 1e-6
    with np.errstate(invalid='ignore'):
        for end, bound, inward in ((low, first, 1), (high, last, -1)):
            nearest = np.round(end)
            p, h = np.nonzero((np.abs(end - nearest) < eps) & (nearest >= 0) & (nearest < width))
            if len(p):
                pixel = nearest[p, h]
                inside = _exact_test(vertices[p], h.astype(np.float64), pixel)
                # The pixel at the rounded end is in exactly when the exact test says so.
                bound[p, h] = np.where(inside, pixel, pixel + inward).astype(np.int32)
    p, h = np.nonzero((np.abs(px[:, None, :] - r) < 1e-4).any(axis=2))   # rows through a vertex
    if len(p):
        cols = np.arange(width, dtype=np.float64)
        inside = _exact_test(np.repeat(vertices[p], width, axis=0), np.repeat(h, width).astype(np.float64),
                             np.tile(cols, len(p))).reshape(len(p), width)
        any_inside = inside.any(axis=1)
        first[p, h] = np.where(any_inside, inside.argmax(axis=1), width)
        last[p, h] = np.where(any_inside, width - 1 - inside[:, ::-1].argmax(axis=1), -1)
    return first, last


def fill_rows(first, last, width):
    """(..., H, W) bool from the (..., H) column intervals of ``convex_polygon_rows``."""
    columns = np.arange(width, dtype=np.int32)
    return (columns >= first[..., None]) & (columns <= last[..., None])


def fill_convex_polygons(vertices, img_size):
    """(P, H, W) bool: ``pose_transform.fill_polygons`` of (P, V, 2) convex polygons."""
    if len(vertices) == 0:
        return np.zeros((0,) + tuple(img_size[:2]), dtype=bool)
    return fill_rows(*convex_polygon_rows(vertices, img_size), img_size[1])


def _exact_test(vertices, rows, cols):
    """The per-pixel crossing test of pose_transform.fill_polygons for (M, V, 2) polygons and M pixels."""
    rows_v, cols_v = vertices[..., 1], vertices[..., 0]
    x0, y0 = rows_v - rows[:, None], cols_v - cols[:, None]    # (M, V)
    x1, y1 = np.roll(x0, 1, axis=1), np.roll(y0, 1, axis=1)
    on_vertex = ((np.abs(x0) < 1e-12) & (np.abs(y0) < 1e-12)).any(axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        crossing = (x0 * y1 - x1 * y0) / (y1 - y0)
    right = (((y0 > 0) != (y1 > 0)) & (crossing > 0)).sum(axis=1) & 1
    left = (((y0 < 0) != (y1 < 0)) & (crossing < 0)).sum(axis=1) & 1
    return on_vertex | (right == 1) | (left == 1)


def batch_mask_rows(kp_target, img_size):
    """(first, last) int32 (N, 10, H): the 10 part masks of ``pose_transform.pose_masks`` as one column
    interval per row (5 KB per pair at 128x64 instead of 328 KB of float32 masks)."""
    tgt, present = _xy_present(kp_target)
    if not present[:, pt.TORSO].all():
        raise ValueError('a target pose of the batch lacks a torso point (Rhip, Lhip, Lsho, Rsho)')
    count = len(tgt)
    height, width = img_size[:2]
    st = _torso_size(tgt)
    first = np.full((count, pt.NUMBER_OF_PARTS, height), width, dtype=np.int32)
    last = np.full((count, pt.NUMBER_OF_PARTS, height), -1, dtype=np.int32)
    first[:, 0], last[:, 0] = 0, width - 1                                  # torso: the whole image
    head_present = present[:, HEAD]                                        # (N, 5)
    has_head = head_present.any(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
        centre = (tgt[:, HEAD] * head_present[..., None]).sum(axis=1) / head_present.sum(axis=1)[:, None]
    centre = np.where(has_head[:, None], centre, 0).astype(int)             # truncation, as .astype(int)
    border = (pt.HEAD_BOX_HALF_SIZE * st).astype(int)[:, None]
    low = np.clip(centre - border, 0, [width, height])
    high = np.clip(centre + border, 0, [width, height])
    ys = np.arange(height)[None]
    in_rows = (ys >= low[:, 1:2]) & (ys < high[:, 1:2]) & has_head[:, None] & (high[:, 0:1] > low[:, 0:1])
    first[:, 1] = np.where(in_rows, low[:, 0:1], width)
    last[:, 1] = np.where(in_rows, high[:, 0:1] - 1, -1)
    in_target = present[:, pt.LIMB_FROM] & present[:, pt.LIMB_TO]                          # (N, 8)
    pair, limb = np.nonzero(in_target)
    if len(pair):
        polygons = pt.limb_polygon(tgt[pair, pt.LIMB_FROM[limb]], tgt[pair, pt.LIMB_TO[limb]], st[pair],
                                   pt.LIMB_MASK_INC_TO[limb])
        first[pair, 2 + limb], last[pair, 2 + limb] = convex_polygon_rows(polygons, img_size)
    return first, last


def batch_pose_masks(kp_target, img_size):
    """(N, 10, H, W) float32: ``pose_transform.pose_masks`` of N target poses."""
    first, last = batch_mask_rows(kp_target, img_size)
    return fill_rows(first, last, img_size[1]).astype(np.float32)


def batch_heatmaps(kp, image_size, sigma=6):
    """(N, H, W, 18) float32 ``hm`` maps, as pose_utils.cords_to_map, for a batch (numpy)."""
    kp = np.asarray(kp, dtype=np.float64)
    height, width = image_size
    present = (kp[..., 0] != pt.MISSING_VALUE) & (kp[..., 1] != pt.MISSING_VALUE)
    rows = np.exp(-(np.arange(height)[None, :, None] - kp[:, None, :, 0]) ** 2 / (2.0 * sigma ** 2)) * present[:, None]
    cols = np.exp(-(np.arange(width)[None, :, None] - kp[:, None, :, 1]) ** 2 / (2.0 * sigma ** 2))
    return (rows[:, :, None, :] * cols[:, None, :, :]).astype(np.float32)


def heatmaps_tf(kp, size, sigma=6):
    """(B, 18, 2) (y, x) keypoints -> (B, H, W, 18) ``hm`` maps in TF ops (the batch twin of
    pose_dataset.heatmaps_tf)."""
    import tensorflow as tf
    kp = tf.cast(kp, tf.float32)
    present = tf.cast(tf.reduce_all(kp != pt.MISSING_VALUE, axis=-1), tf.float32)[:, None, :]
    scale = 2.0 * sigma ** 2
    rows = tf.exp(-tf.square(tf.range(size[0], dtype=tf.float32)[None, :, None] - kp[:, None, :, 0]) / scale)
    cols = tf.exp(-tf.square(tf.range(size[1], dtype=tf.float32)[None, :, None] - kp[:, None, :, 1]) / scale)
    return (rows * present)[:, :, None, :] * cols[:, None, :, :]


def masks_tf(first, last, width):
    """(B, 10, H) column intervals -> (B, 10, H, W) float32 0/1 masks in TF ops."""
    import tensorflow as tf
    columns = tf.range(width, dtype=tf.int32)
    inside = (columns >= first[..., None]) & (columns <= last[..., None])
    return tf.cast(inside, tf.float32)


def expand_in_graph(batch, size):
    """The maps_in_graph batch -> the model's inputs: what a first, weightless layer of the networks
    (or the training step) would do on the batch if the pipeline shipped keypoints and mask rows."""
    out = {k: v for k, v in batch.items() if k not in ('source_keypoints', 'target_keypoints', 'mask_first',
                                                       'mask_last')}
    out['source_pose'] = heatmaps_tf(batch['source_keypoints'], size)
    out['target_pose'] = heatmaps_tf(batch['target_keypoints'], size)
    out['masks'] = masks_tf(batch['mask_first'], batch['mask_last'], size[1])
    return out


def batched_dataset(dataset, indices, split='train', maps_in_graph=False):
    """A tf.data pipeline equivalent to ``PoseHMDataset._pipeline`` (hm poses, mask warp) that batches
    the pair indices FIRST, then makes the whole batch: images decoded per pair inside the batch map,
    heatmaps as broadcast TF ops over the batch, transforms and masks in one numpy call per batch.

    ``maps_in_graph``: ship keypoints (18, 2) and mask rows (10, H) x 2 instead of the (H, W, 18) maps
    and (10, H, W) masks; ``expand_in_graph`` makes them where the batch is consumed."""
    import tensorflow as tf
    import pose_dataset
    size = dataset.image_size
    pairs = tf.constant(dataset.pair_index[split])
    keypoints = tf.constant(dataset.keypoints)
    paths = tf.constant(dataset.image_paths)

    def warp(src, tgt):
        if maps_in_graph:
            return (batch_affine_transforms(src, tgt),) + batch_mask_rows(tgt, size)
        return batch_affine_transforms(src, tgt), batch_pose_masks(tgt, size)

    def load(pair_ids):
        pair = tf.gather(pairs, pair_ids)
        source_kp, target_kp = tf.gather(keypoints, pair[:, 0]), tf.gather(keypoints, pair[:, 1])
        read = lambda index: pose_dataset._read_image_tf(paths[index], size)   # noqa: E731
        spec = tf.TensorSpec(size + (3,), tf.float32)
        batch_size = tf.shape(pair_ids)[0]
        batch = {'source_image': tf.map_fn(read, pair[:, 0], fn_output_signature=spec),
                 'target_image': tf.map_fn(read, pair[:, 1], fn_output_signature=spec)}
        if maps_in_graph:
            transforms, first, last = tf.numpy_function(warp, [source_kp, target_kp],
                                                        [tf.float32, tf.int32, tf.int32])
            batch.update(source_keypoints=source_kp, target_keypoints=target_kp,
                         mask_first=tf.reshape(first, (batch_size, pt.NUMBER_OF_PARTS, size[0])),
                         mask_last=tf.reshape(last, (batch_size, pt.NUMBER_OF_PARTS, size[0])))
        else:
            transforms, masks = tf.numpy_function(warp, [source_kp, target_kp], [tf.float32, tf.float32])
            batch.update(source_pose=heatmaps_tf(source_kp, size), target_pose=heatmaps_tf(target_kp, size),
                         masks=tf.reshape(masks, (batch_size, pt.NUMBER_OF_PARTS) + size))
        batch['transforms'] = tf.reshape(transforms, (batch_size, pt.NUMBER_OF_PARTS, 8))
        return batch

    data = tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
    data = data.batch(dataset.batch_size, drop_remainder=True)
    data = data.map(load, num_parallel_calls=dataset.parallel_calls, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def hybrid_dataset(dataset, indices, split='train'):
    """The project's per-pair map for what is cheap per pair (JPEG decoding, ``hm`` maps), then
    ``batch``, then ONE numpy call per batch for the transforms and masks (the per-pair Python and
    numpy_function overheads are what the batched numpy saves)."""
    import tensorflow as tf
    import pose_dataset
    size = dataset.image_size
    pairs = tf.constant(dataset.pair_index[split])
    keypoints = tf.constant(dataset.keypoints)
    paths = tf.constant(dataset.image_paths)

    def load(pair_id):
        source, target = pairs[pair_id][0], pairs[pair_id][1]
        return {'source_image': pose_dataset._read_image_tf(paths[source], size),
                'target_image': pose_dataset._read_image_tf(paths[target], size),
                'source_pose': pose_dataset.heatmaps_tf(keypoints[source], size),
                'target_pose': pose_dataset.heatmaps_tf(keypoints[target], size),
                'source_kp': keypoints[source], 'target_kp': keypoints[target]}

    def warp(batch):
        source_kp, target_kp = batch.pop('source_kp'), batch.pop('target_kp')
        transforms, masks = tf.numpy_function(
            lambda s, t: (batch_affine_transforms(s, t), batch_pose_masks(t, size)),
            [source_kp, target_kp], [tf.float32, tf.float32])
        batch_size = tf.shape(source_kp)[0]
        batch['transforms'] = tf.reshape(transforms, (batch_size, pt.NUMBER_OF_PARTS, 8))
        batch['masks'] = tf.reshape(masks, (batch_size, pt.NUMBER_OF_PARTS) + size)
        return batch

    data = tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
    data = data.map(load, num_parallel_calls=dataset.parallel_calls, deterministic=True)
    data = data.batch(dataset.batch_size, drop_remainder=True)
    data = data.map(warp, num_parallel_calls=dataset.parallel_calls, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)
