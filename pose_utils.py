"""Keypoints: the annotation and pairs files, pose maps, drawings and the body mask (docs/reference.md,
"Keypoints and files", "Pose maps", "Scores").

A pose is an (18, 2) int array of (y, x) pixel positions in the order of ``LABELS``; a missing
point is ``MISSING_VALUE`` in both coordinates.
"""
import csv
import io
import json
import os

import numpy as np
import skimage.draw
import skimage.morphology
from PIL import Image

import polygons
from gan import atomic

LABELS = ['nose', 'neck', 'Rsho', 'Relb', 'Rwri', 'Lsho', 'Lelb', 'Lwri',
          'Rhip', 'Rkne', 'Rank', 'Lhip', 'Lkne', 'Lank', 'Leye', 'Reye', 'Lear', 'Rear']
MISSING_VALUE = -1
NUMBER_OF_KEYPOINTS = len(LABELS)

# OpenPose drawing pairs (0-based keypoint indices), docs/reference.md, "Pose maps".
LIMB_SEQ = [[1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9],
            [9, 10], [1, 11], [11, 12], [12, 13], [1, 0], [0, 14], [14, 16],
            [0, 15], [15, 17], [2, 16], [5, 17]]

# One colour per keypoint.
COLORS = [[255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
          [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
          [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85]]

# Body mask limbs: the drawing pairs with (2,16), (5,17) replaced by (1,16), (1,17), plus the torso.
MASK_LIMB_SEQ = ([pair for pair in LIMB_SEQ if pair not in ([2, 16], [5, 17])]
                 + [[1, 16], [1, 17], [8, 11], [11, 5], [8, 2], [16, 17]])

ANNOTATION_HEADER = 'name:keypoints_y:keypoints_x'
PAIRS_HEADER = ['from', 'to']


# ---- Keypoint strings and annotation files -------------------------------------------------

def _parse_cord_list(text, limit=100000):
    """The 18 values of a JSON list: whole numbers of pixels (12.0 counts as 12), -1 when missing.

    NaN, infinities and fractions are refused (``astype(int)`` would turn NaN into INT64_MIN and
    truncate fractions silently), and so is a value beyond +-``limit``: garbage, not a position (the
    default is far beyond any photograph; load_annotations tightens it to the images' size)."""
    values = json.loads(text)
    if not isinstance(values, list) or len(values) != NUMBER_OF_KEYPOINTS:
        raise ValueError('expected a JSON list of %d numbers, got %r' % (NUMBER_OF_KEYPOINTS, text.strip()))
    for label, value in zip(LABELS, values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError('non-numeric keypoint %s = %r in %r' % (label, value, text.strip()))
        if not (isinstance(value, int) or value.is_integer()) or abs(value) > limit:
            raise ValueError('keypoint %s = %r: expected a whole number of pixels within +-%d (-1 when missing)'
                             % (label, value, limit))
    return values


def load_pose_cords_from_strings(y_str, x_str):
    """The (18, 2) int (y, x) array of two JSON lists ``"[1, 2, ...]"``; ValueError if malformed."""
    y_cords = _parse_cord_list(y_str)
    x_cords = _parse_cord_list(x_str)
    return np.stack([y_cords, x_cords], axis=1).astype(int)


def pose_cords_to_strings(cords):
    """Inverse of ``load_pose_cords_from_strings``: ``("[y0, y1, ...]", "[x0, x1, ...]")``."""
    cords = np.asarray(cords).astype(int)
    return json.dumps(cords[:, 0].tolist()), json.dumps(cords[:, 1].tolist())


def read_csv_text(csv_path):
    """The text of a CSV file: UTF-8, with or without the byte-order mark spreadsheet programs write
    first; ValueError naming the file when it is not UTF-8 (e.g. UTF-16 "Unicode text")."""
    try:
        with open(csv_path, encoding='utf-8-sig') as f:
            return f.read()
    except UnicodeDecodeError as error:
        raise ValueError('%s: not UTF-8 text (%s); save it as CSV UTF-8' % (csv_path, error)) from None


def load_annotations(csv_path, image_size=None):
    """dict image name -> (18, 2) int array, in file order (docs/reference.md, "Keypoints and files").

    Every malformed row raises ValueError naming the file and its 1-based line number. With the
    images' ``image_size`` (H, W), a keypoint beyond 10 times its larger side is refused too; points
    a little outside the image are kept (the reference's fasion128 resizing made some).
    """
    limit = 10 * max(image_size) if image_size else None
    limits = {'limit': limit} if limit else {}
    if not os.path.isfile(csv_path):
        raise FileNotFoundError('annotation file not found: %s' % csv_path)
    annotations = {}
    lines = read_csv_text(csv_path).splitlines()
    if not lines or lines[0].replace(' ', '') != ANNOTATION_HEADER:
        raise ValueError('%s, line 1: expected the header "%s", got %r'
                         % (csv_path, ANNOTATION_HEADER, lines[0] if lines else ''))
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(':')
        if len(fields) != 3:
            raise ValueError('%s, line %d: expected 3 ":"-separated columns (name, keypoints_y, keypoints_x), '
                             'got %d' % (csv_path, number, len(fields)))
        name = fields[0].strip()
        if not name:
            raise ValueError('%s, line %d: empty image name' % (csv_path, number))
        try:
            cords = [_parse_cord_list(text, **limits) for text in fields[1:]]
            annotations[name] = np.stack(cords, axis=1).astype(int)
        except ValueError as error:
            raise ValueError('%s, line %d (%s): %s' % (csv_path, number, name, error)) from None
    return annotations


def _annotation_line(name, cords):
    y_str, x_str = pose_cords_to_strings(cords)
    return '%s: %s: %s\n' % (name, y_str, x_str)


def save_annotations(csv_path, annotations, append=False):
    """Writes ``name: [y...]: [x...]`` rows (the reference format) under the header, atomically.

    With ``append=True`` the rows are added after those already in the file (a new file gets the
    header); the file is still replaced in one rename, so a stopped writer leaves it whole.
    """
    text = ''
    if append and os.path.exists(csv_path):
        text = read_csv_text(csv_path)
        if text and not text.endswith('\n'):
            text += '\n'
    if not text:
        text = ANNOTATION_HEADER + '\n'
    text += ''.join(_annotation_line(name, cords) for name, cords in annotations.items())
    atomic.write_text(csv_path, text)


def load_pairs(csv_path, known_names=None, keypoints=None, skipped=None):
    """list of (from_name, to_name) of a pairs CSV (header ``from,to``), in file order.

    With ``known_names`` (e.g. the annotations dict), a pair naming another image is refused,
    naming the file, the line and the image. ``keypoints`` (name -> (18, 2)) does the same and also
    refuses the pairs whose pose lacks a torso point (``has_torso``): the pair builder drops such
    images (docs/reference.md, "Pairs"), so a file holding them is stale or hand-made, and the part transforms
    cannot be fitted. With a ``skipped`` list such pairs are appended to it as (line, pair) and left
    out instead.
    """
    known_names = keypoints if keypoints is not None else known_names
    if not os.path.isfile(csv_path):
        raise FileNotFoundError('pairs file not found: %s' % csv_path)
    rows = list(csv.reader(io.StringIO(read_csv_text(csv_path), newline='')))
    if not rows or [cell.strip() for cell in rows[0]] != PAIRS_HEADER:
        raise ValueError('%s, line 1: expected the header "from,to", got %r'
                         % (csv_path, ','.join(rows[0]) if rows else ''))
    pairs, invalid = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError('%s, line %d: expected two image names "from,to", got %r'
                             % (csv_path, number, ','.join(row)))
        pair = (row[0].strip(), row[1].strip())
        if known_names is not None:
            unknown = [name for name in pair if name not in known_names]
            if unknown:
                raise ValueError('%s, line %d: image %s has no keypoints in the annotation file'
                                 % (csv_path, number, unknown[0]))
        if keypoints is not None and not all(has_torso(keypoints[name]) for name in pair):
            invalid.append((number, pair))
        else:
            pairs.append(pair)
    if invalid and skipped is None:
        number, pair = invalid[0]
        name = next(name for name in pair if not has_torso(keypoints[name]))
        what = 'has no keypoints (all missing)' if not present_mask(keypoints[name]).any() else \
            'lacks a torso point (Rhip, Lhip, Lsho and Rsho are all needed)'
        raise ValueError('%s, line %d: image %s %s; %d such pairs in all (lines %s). The pair builder drops '
                         'such images: remake the pairs (create_pairs_dataset.py) or leave them out with '
                         '--skip_invalid_pairs' % (csv_path, number, name, what, len(invalid),
                                                   ', '.join(str(line) for line, _ in invalid[:10])
                                                   + (', ...' if len(invalid) > 10 else '')))
    if skipped is not None:
        skipped.extend(invalid)
    return pairs


def save_pairs(csv_path, pairs):
    """Writes the pairs CSV (header ``from,to``) atomically."""
    lines = ['from,to\n'] + ['%s,%s\n' % (fr, to) for fr, to in pairs]
    atomic.write_text(csv_path, ''.join(lines))


# ---- Pose representations --------------------------------------------------------------------

def present_mask(cords):
    """(18,) bool: which keypoints are present."""
    cords = np.asarray(cords)
    return (cords[:, 0] != MISSING_VALUE) & (cords[:, 1] != MISSING_VALUE)


TORSO_INDICES = [LABELS.index(name) for name in ('Rhip', 'Lhip', 'Lsho', 'Rsho')]


def has_torso(cords):
    """True when Rhip, Lhip, Lsho and Rsho are all present (the usability check of docs/reference.md, "Pairs")."""
    return bool(present_mask(cords)[TORSO_INDICES].all())


HM_SIGMA = 6
POSE_MAPS = ('stepped', 'smooth')
# exp(-k) in float32 for k = 0 .. 104; from k = 104 on it rounds to 0.
STEP_VALUES = np.exp(-np.arange(105, dtype=np.float64)).astype(np.float32)


def hm_exponent_steps(squared_distance, sigma=HM_SIGMA):
    """-floor(-d2 / (2 sigma^2)) for integer squared distances: the reference's exponent, written in
    Python 2 where ``/`` of two integers floors (docs/reference.md, "Pose maps"), as a non-negative
    index into STEP_VALUES (clipped where the value is 0 anyway)."""
    return np.minimum(-np.floor_divide(-squared_distance, 2 * sigma ** 2), len(STEP_VALUES) - 1)


def cords_to_map(cords, img_size, sigma=HM_SIGMA, pose_map='stepped'):
    """The ``hm`` pose representation: (H, W, 18) float32, a zero channel for a missing point.

    ``stepped`` (the reference's maps): exp(floor(-d2 / (2 sigma^2))) with d2 = (y - yi)^2 + (x - xi)^2
    of integer keypoints, a staircase: 1 at the point, e^-1 for 0 < d2 <= 72, e^-2 up to 144, ...
    ``smooth``: the Gaussian exp(-d2 / (2 sigma^2)) the formula describes (an extension).
    """
    if pose_map not in POSE_MAPS:
        raise ValueError('pose_map must be one of %s, got %r' % (POSE_MAPS, pose_map))
    height, width = img_size[:2]
    present = present_mask(cords)
    if pose_map == 'stepped':
        cords = np.asarray(cords).astype(np.int64)
        squared = ((np.arange(height)[:, None, None] - cords[:, 0]) ** 2
                   + (np.arange(width)[None, :, None] - cords[:, 1]) ** 2)           # (H, W, 18)
        return STEP_VALUES[hm_exponent_steps(squared, sigma)] * present.astype(np.float32)
    cords = np.asarray(cords, dtype=np.float64)
    # exp(-(dy^2 + dx^2)/2s^2) separates into a row factor times a column factor.
    rows = np.exp(-(np.arange(height)[:, None] - cords[None, :, 0]) ** 2 / (2.0 * sigma ** 2))  # (H, 18)
    cols = np.exp(-(np.arange(width)[:, None] - cords[None, :, 1]) ** 2 / (2.0 * sigma ** 2))  # (W, 18)
    rows = (rows * present).astype(np.float32)
    return rows[:, None, :] * cols.astype(np.float32)[None, :, :]


def map_to_cord(pose_map, threshold=0.1):
    """(18, 2) int: per channel the (y, x) of the maximum when it exceeds ``threshold``, else missing."""
    pose_map = np.asarray(pose_map)
    height, width, channels = pose_map.shape
    flat = pose_map.reshape(height * width, channels)
    best = np.argmax(flat, axis=0)
    found = flat[best, np.arange(channels)] > threshold
    cords = np.stack([best // width, best % width], axis=1)
    cords[~found] = MISSING_VALUE
    return cords.astype(int)


def draw_pose_from_cords(cords, img_size, radius=2, draw_joints=True):
    """Coloured skeleton for people: (colors uint8 (H, W, 3), mask bool (H, W)).

    Limbs are antialiased grey lines (intensity * 255), joints discs of ``radius`` in COLORS.
    """
    cords = np.asarray(cords).astype(int)
    img_size = tuple(img_size[:2])
    colors = np.zeros(img_size + (3,), dtype=np.uint8)
    mask = np.zeros(img_size, dtype=bool)
    present = present_mask(cords)
    if draw_joints:
        for fr, to in LIMB_SEQ:
            if not (present[fr] and present[to]):
                continue
            yy, xx, val = skimage.draw.line_aa(cords[fr, 0], cords[fr, 1], cords[to, 0], cords[to, 1])
            inside = (yy >= 0) & (yy < img_size[0]) & (xx >= 0) & (xx < img_size[1])
            yy, xx, val = yy[inside], xx[inside], val[inside]
            colors[yy, xx] = (val[:, None] * 255).astype(np.uint8)
            mask[yy, xx] = True
    for i in np.flatnonzero(present):
        yy, xx = skimage.draw.disk((cords[i, 0], cords[i, 1]), radius=radius, shape=img_size)
        colors[yy, xx] = COLORS[i]
        mask[yy, xx] = True
    return colors, mask


def produce_ma_mask(cords, img_size, limb_half_width=4, joint_radius=4, closing_size=5):
    """Body mask of the masked metrics (docs/reference.md, "Scores"): (H, W) bool.

    Polygons of half-width 4 px along MASK_LIMB_SEQ, discs of radius 4 at present joints, then a
    closing with a 5x5 square (dilate, then erode). Coincident limb ends draw no polygon.
    """
    cords = np.asarray(cords, dtype=np.float64)
    img_size = tuple(img_size[:2])
    mask = np.zeros(img_size, dtype=bool)
    present = present_mask(cords)
    for fr, to in MASK_LIMB_SEQ:
        if not (present[fr] and present[to]):
            continue
        start, end = cords[fr], cords[to]
        direction = end - start
        length = np.linalg.norm(direction)
        if length == 0:
            continue
        normal = np.array([-direction[1], direction[0]]) / length * limb_half_width
        vertices = np.array([start + normal, start - normal, end - normal, end + normal])
        yy, xx = polygons.polygon(vertices[:, 0], vertices[:, 1], img_size)
        mask[yy, xx] = True
    for i in np.flatnonzero(present):
        yy, xx = skimage.draw.disk((cords[i, 0], cords[i, 1]), radius=joint_radius, shape=img_size)
        mask[yy, xx] = True
    # Grey-level dilation then erosion, as the reference (their border handling differs from
    # binary_closing's).
    footprint = np.ones((closing_size, closing_size), dtype=bool)
    return skimage.morphology.erosion(skimage.morphology.dilation(mask, footprint), footprint)


# ---- Pixels ------------------------------------------------------------------------------------

def preprocess_image(image):
    """uint8 pixels -> float32 network input in [-1, 1]: (pixel/255 - 0.5) * 2 (docs/reference.md,
    "Keypoints and files")."""
    return ((np.asarray(image, dtype=np.float32) / 255.0 - 0.5) * 2.0).astype(np.float32)


def deprocess_image(image):
    """Network output in [-1, 1] -> uint8: 255*(x+1)/2, clipped to [0, 255] and truncated (as the reference)."""
    pixels = 255.0 * (np.asarray(image, dtype=np.float32) + 1.0) / 2.0
    return np.clip(pixels, 0, 255).astype(np.uint8)


def load_image(path):
    """uint8 (H, W, 3) RGB pixels of an image file: PIL's ``convert('RGB')`` (grey levels repeated,
    alpha dropped, palette and CMYK converted), the one numpy image reader of the project.
    FileNotFoundError/ValueError name the file; 16-bit and floating-point images are refused (convert
    would clip them to 255)."""
    if not os.path.isfile(path):
        raise FileNotFoundError('image not found: %s' % path)
    try:
        with Image.open(path) as image:
            if image.mode.startswith(('I', 'F')):
                raise ValueError('%s has 16-bit or floating-point pixels (mode %s): save it as 8-bit RGB'
                                 % (path, image.mode))
            return np.asarray(image.convert('RGB'))
    except (OSError, SyntaxError) as error:
        raise ValueError('%s: not a readable image (%s)' % (path, error)) from None


def save_image(path, image, quality=95):
    """Writes uint8 pixels atomically (``path.tmp`` then rename); the format follows the extension."""
    extension = os.path.splitext(path)[1].lower()
    image_format = {'.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG'}.get(extension, 'PNG')
    options = {'quality': quality} if image_format == 'JPEG' else {}
    with atomic.atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format=image_format, **options)
