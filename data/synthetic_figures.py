"""Renderer of the synthetic pose-transfer dataset: clothed, articulated figures with exact keypoints.

A figure is a 3D skeleton in body units (height about 1; x = the person's left, y = up, z = forward)
posed by joint angles, turned by a view angle (yaw) about the vertical axis and projected
orthographically (camera: x = image right, y = up, z = towards the viewer). Its parts (torso, head,
limbs, hands, shoes, long hair, backpack) are painted back to front by depth at ``SUPERSAMPLE`` times
the image size and averaged down, so edges are anti-aliased. Clothing patterns are functions of each
part's own surface coordinates (along the limb or spine, around it), so they move with the part when the
pose changes, and a chest logo shows only from the front.

Keypoints follow docs/reference.md, "Keypoints and files" (18 OpenPose points, (y, x) ints, -1 missing). A point is kept when it
is inside the image and the part painted on top at its pixel is one the joint belongs to (so a far-side
joint hidden by the body is missing, as in OpenPose output); face points also need to face the camera.
"""
from dataclasses import dataclass

import numpy as np

from data.synthetic_backgrounds import background
from data.synthetic_people import sample_pose

SUPERSAMPLE = 2
(NOSE, NECK, RSHO, RELB, RWRI, LSHO, LELB, LWRI, RHIP, RKNE, RANK, LHIP, LKNE, LANK,
 LEYE, REYE, LEAR, REAR) = range(18)
NUMBER_OF_KEYPOINTS = 18

# Part ids painted into the id buffer (-1 = background). Index 0 of each pair is the right side.
TORSO, NECK_PART, HEAD, HAIR, BACKPACK = 0, 1, 2, 3, 4
UPPER_ARM, FOREARM, HAND, THIGH, SHIN, FOOT = (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)
RIGHT_PARTS = {UPPER_ARM[0], FOREARM[0], HAND[0], THIGH[0], SHIN[0], FOOT[0]}
LEFT_PARTS = {UPPER_ARM[1], FOREARM[1], HAND[1], THIGH[1], SHIN[1], FOOT[1]}
# Which parts show a keypoint; torso points (shoulders, hips) instead are hidden only by the other side's limbs.
KEYPOINT_PARTS = {
    NOSE: {HEAD}, LEYE: {HEAD}, REYE: {HEAD}, LEAR: {HEAD}, REAR: {HEAD},
    NECK: {TORSO, NECK_PART, HEAD, HAIR, BACKPACK, UPPER_ARM[0], UPPER_ARM[1]},
    RELB: {UPPER_ARM[0], FOREARM[0]}, LELB: {UPPER_ARM[1], FOREARM[1]},
    RWRI: {FOREARM[0], HAND[0]}, LWRI: {FOREARM[1], HAND[1]},
    RKNE: {THIGH[0], SHIN[0]}, LKNE: {THIGH[1], SHIN[1]},
    RANK: {SHIN[0], FOOT[0]}, LANK: {SHIN[1], FOOT[1]},
}
TORSO_POINTS_HIDDEN_BY = {RSHO: LEFT_PARTS, RHIP: LEFT_PARTS, LSHO: RIGHT_PARTS, LHIP: RIGHT_PARTS}
TORSO_POINT_INFERRED_RATE = 0.5  # OpenPose often still finds a hidden shoulder or hip

# Face points on the unit head sphere (head frame) and the facing a point needs to be seen.
HEAD_SHAPE = np.array([0.88, 1.0, 0.88])  # head ellipsoid radii / head radius (x, y, z)
FACE_DIRECTIONS = {NOSE: (0.0, -0.2, 0.98), LEYE: (0.33, 0.12, 0.93), REYE: (-0.33, 0.12, 0.93),
                   LEAR: (0.75, -0.05, -0.45), REAR: (-0.75, -0.05, -0.45)}
EAR_NORMALS = {LEAR: (1.0, 0.0, -0.15), REAR: (-1.0, 0.0, -0.15)}
FACING_THRESHOLD = {NOSE: -0.05, LEYE: 0.2, REYE: 0.2, LEAR: -0.25, REAR: -0.25}
DETECTOR_MISS_RATE = 0.03  # random misses of non-torso points, as OpenPose has
ARM_DEPTH_BIAS = 0.03  # body units: arms hanging beside the body are painted over the torso and thighs



def _unit(vector):
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def rot_x(degrees):
    """Rotation about the lateral axis; a positive angle turns 'down' (0, -1, 0) forwards (+z)."""
    a = np.radians(degrees)
    return np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])


def rot_y(degrees):
    """Rotation about the vertical axis: camera x = x cos + z sin (yaw 0 faces the camera)."""
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def rot_z(degrees):
    """Rotation in the frontal plane; a positive angle turns 'down' towards +x (the person's left)."""
    a = np.radians(degrees)
    return np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]])


DOWN = np.array([0.0, -1.0, 0.0])


# ---- Skeleton ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Skeleton:
    """Body-frame 3D points of a posed figure."""
    joints: np.ndarray  # (18, 3)
    head_centre: np.ndarray
    head_rotation: np.ndarray  # head frame -> body frame
    hand_tips: np.ndarray  # (2, 3)
    foot_tips: np.ndarray  # (2, 3)


def lean_rotation(pose):
    """The upper body's forward lean about the hips."""
    return rot_x(-pose.lean)


def pose_skeleton(appearance, pose):
    a = appearance
    joints = np.zeros((NUMBER_OF_KEYPOINTS, 3))
    leg = a.leg_length
    hip_centre = np.array([0.0, 0.5 * leg, 0.0])
    lean = lean_rotation(pose)
    joints[NECK] = hip_centre + lean @ [0, 0.32, 0]
    head_centre = hip_centre + lean @ [0, 0.32 + 0.03 + a.head_radius, 0.01]
    head_rotation = lean @ rot_y(pose.head_yaw)
    for index, direction in FACE_DIRECTIONS.items():
        joints[index] = head_centre + a.head_radius * HEAD_SHAPE * (head_rotation @ _unit(direction))
    hand_tips, foot_tips = np.zeros((2, 3)), np.zeros((2, 3))
    for side, sign in ((0, -1.0), (1, 1.0)):
        shoulder, elbow, wrist = ((RSHO, RELB, RWRI), (LSHO, LELB, LWRI))[side]
        hip, knee, ankle = ((RHIP, RKNE, RANK), (LHIP, LKNE, LANK))[side]
        joints[shoulder] = hip_centre + lean @ [sign * a.shoulder_half, 0.31, 0]
        upper = lean @ rot_x(pose.shoulder_flex[side]) @ rot_z(sign * pose.shoulder_abduction[side])
        fore = upper @ rot_x(pose.elbow[side])
        joints[elbow] = joints[shoulder] + 0.17 * (upper @ DOWN)
        joints[wrist] = joints[elbow] + 0.15 * (fore @ DOWN)
        hand_tips[side] = joints[wrist] + 0.055 * (fore @ DOWN)
        thigh = rot_x(pose.hip_flex[side]) @ rot_z(sign * pose.hip_abduction[side])
        shin = thigh @ rot_x(-pose.knee[side])
        joints[hip] = hip_centre + [sign * a.hip_half, 0, 0]
        joints[knee] = joints[hip] + 0.235 * leg * (thigh @ DOWN)
        joints[ankle] = joints[knee] + 0.235 * leg * (shin @ DOWN)
        foot_tips[side] = joints[ankle] + 0.075 * (shin @ _unit([0, -0.35, 0.94]))
    return Skeleton(joints, head_centre, head_rotation, hand_tips, foot_tips)


# ---- Painting ----------------------------------------------------------------------------------

def pattern_mask(pattern, u, s):
    """Where the second colour shows; u, s are surface coordinates in pattern periods."""
    if pattern == 'hstripes':
        return np.floor(u) % 2 == 1
    if pattern == 'vstripes':
        return np.floor(s) % 2 == 1
    if pattern == 'checks':
        return (np.floor(u) + np.floor(s)) % 2 == 1
    if pattern == 'dots':
        return (u % 1 - 0.5) ** 2 + (s % 1 - 0.5) ** 2 < 0.09
    if pattern == 'diagonal':
        return np.floor(u + s) % 2 == 1
    return np.zeros(np.shape(u), dtype=bool)


def clothing_colours(clothing, along, around, around_period):
    """(N, 3) colours of a piece of clothing; ``along`` in body units, ``around`` an angle in radians.

    The angle is turned into a whole number of periods round the body so a pattern closes on itself.
    """
    turns = max(1, round(around_period / clothing.period))
    second = pattern_mask(clothing.pattern, along / clothing.period, around * turns / (2 * np.pi))
    return np.where(second[:, None], clothing.colour2, clothing.colour)


class Canvas:
    """The high-resolution figure layer: colours, coverage and the id of the part on top."""

    def __init__(self, height, width):
        self.colour = np.zeros((height, width, 3), np.float32)
        self.covered = np.zeros((height, width), bool)
        self.part = np.full((height, width), -1, np.int16)

    def window(self, low, high):
        """Pixel-centre grids (y, x) of the box [low, high) clipped to the canvas, or None if empty."""
        y0, x0 = np.maximum(np.floor(low).astype(int), 0)
        y1, x1 = np.minimum(np.ceil(high).astype(int) + 1, self.part.shape)
        if y0 >= y1 or x0 >= x1:
            return None
        return np.mgrid[y0:y1, x0:x1].astype(np.float32), (slice(y0, y1), slice(x0, x1))

    def paint(self, box, inside, colours, part_id):
        self.colour[box][inside] = colours
        self.covered[box][inside] = True
        self.part[box][inside] = part_id


def paint_limb(canvas, part_id, p0, p1, r0, r1, colour_fn):
    """A tapered capsule from p0 (radius r0) to p1 (r1), (y, x) pixels; ``colour_fn(t, across)`` gives
    the colours from the position along (0..1) and across (-1..1) the limb."""
    grid = canvas.window(np.minimum(p0 - r0, p1 - r1), np.maximum(p0 + r0, p1 + r1))
    if grid is None:
        return
    (yy, xx), box = grid
    d = p1 - p0
    length2 = max(float(d @ d), 1e-6)
    t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / length2, 0, 1)
    dy, dx = yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1])
    radius = r0 + (r1 - r0) * t
    inside = dy * dy + dx * dx <= radius * radius
    across = ((xx - p0[1]) * d[0] - (yy - p0[0]) * d[1]) / np.sqrt(length2) / radius
    across = np.clip(across[inside], -1, 1)
    shade = 0.72 + 0.28 * np.sqrt(1 - across ** 2)
    canvas.paint(box, inside, colour_fn(t[inside], across) * shade[:, None], part_id)


def paint_torso(canvas, appearance, neck, hip_centre, half_widths, scale, yaw):
    """Torso from the neck to below the hips, rounded shoulders; shirt above the waist, trousers below.

    ``half_widths`` (shoulder, waist, hip) in pixels as seen from this view.
    """
    axis = hip_centre - neck
    length = max(float(np.linalg.norm(axis)), 1e-3)
    along_unit = axis / length
    across_unit = np.array([-along_unit[1], along_unit[0]])  # image right for an upright torso
    shoulder_cap = 0.05 * scale / length
    ends = np.stack([neck - along_unit * shoulder_cap * length, neck + axis * 1.15])
    reach = max(half_widths)
    grid = canvas.window(ends.min(0) - reach, ends.max(0) + reach)
    if grid is None:
        return
    (yy, xx), box = grid
    tau = ((yy - neck[0]) * along_unit[0] + (xx - neck[1]) * along_unit[1]) / length
    v = (yy - neck[0]) * across_unit[0] + (xx - neck[1]) * across_unit[1]
    half = np.interp(tau, [0, 0.55, 1, 1.15], [half_widths[0], half_widths[1], half_widths[2], half_widths[2]])
    half = np.where(tau < 0, half_widths[0] * np.sqrt(np.clip(1 - (tau / shoulder_cap) ** 2, 0, 1)), half)
    inside = (tau >= -shoulder_cap) & (tau <= 1.15) & (np.abs(v) <= half)
    tau, v, half = tau[inside], v[inside], np.maximum(half[inside], 1e-3)
    view_angle = np.arcsin(np.clip(v / half, -1, 1))
    body_angle = view_angle - np.radians(yaw)
    along = tau * 0.32
    colours = np.where((tau < appearance.waist)[:, None],
                       clothing_colours(appearance.shirt, along, body_angle, 2 * np.pi * 0.1),
                       clothing_colours(appearance.trousers, along, body_angle, 2 * np.pi * 0.1))
    if appearance.logo is not None:
        shape, logo_colour = appearance.logo
        wrapped = (body_angle + np.pi) % (2 * np.pi) - np.pi
        dy, dx = (tau - 0.3) / 0.12, wrapped / 0.45
        on_logo = {'disc': dy ** 2 + dx ** 2 < 1, 'square': (np.abs(dy) < 0.9) & (np.abs(dx) < 0.9),
                   'band': np.abs(dy) < 0.35}[shape] & (np.abs(wrapped) < np.pi / 2) & (tau < appearance.waist)
        colours = np.where(on_logo[:, None], logo_colour, colours)
    shade = 0.7 + 0.3 * np.cos(view_angle)
    canvas.paint(box, inside, colours * shade[:, None], TORSO)


def paint_head(canvas, appearance, centre, radius, rotation_to_camera):
    """Ellipsoid head: skin face with eyes, mouth and nose shading, hair above the hairline and behind."""
    radii = radius * HEAD_SHAPE[[1, 0]]  # (y, x) pixels
    grid = canvas.window(centre - radii, centre + radii)
    if grid is None:
        return
    (yy, xx), box = grid
    a, b = (xx - centre[1]) / radii[1], (yy - centre[0]) / radii[0]
    inside = a * a + b * b <= 1
    a, b = a[inside], b[inside]
    normal = np.stack([a, -b, np.sqrt(np.clip(1 - a * a - b * b, 0, 1))], axis=1)
    head_normal = normal @ rotation_to_camera  # rows: camera normal -> head frame
    hair_limit = 0.35 if appearance.hair_length > 0 else -0.25
    is_face = (head_normal[:, 2] > hair_limit) & (head_normal[:, 1] < appearance.hairline)
    colours = np.where(is_face[:, None], appearance.skin, appearance.hair)
    for direction, size, colour in (((0.33, 0.12, 0.93), 0.15, (0.1, 0.07, 0.06)),
                                    ((-0.33, 0.12, 0.93), 0.15, (0.1, 0.07, 0.06)),
                                    ((0.0, -0.5, 0.87), 0.12, appearance.skin * (0.7, 0.45, 0.45)),
                                    ((0.0, -0.2, 0.98), 0.1, appearance.skin * 0.85)):
        near = (head_normal @ _unit(direction) > np.cos(size)) & is_face
        colours[near] = colour
    shade = 0.75 + 0.25 * normal[:, 2]
    canvas.paint(box, inside, colours * shade[:, None], HEAD)


# ---- Whole images --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Body units -> image pixels: pixel (y, x) = offset + scale * (-camera y, camera x)."""
    scale: float
    offset: np.ndarray


def figure_extent(appearance, skeleton, yaw):
    """(top-left, bottom-right) of the projected figure, body units in image axes (y down)."""
    camera = rot_y(yaw)
    points = np.concatenate([skeleton.joints, skeleton.hand_tips, skeleton.foot_tips,
                             [skeleton.head_centre + [0, appearance.head_radius, 0]]]) @ camera.T
    image = np.stack([-points[:, 1], points[:, 0]], axis=1)
    margin = 0.045 * appearance.thickness
    return image.min(0) - margin, image.max(0) + margin


def sample_placement(rng, appearance, skeleton, yaw, image_size):
    """Fits the figure to the image like a person detector's box, with scale and shift jitter;
    sometimes (8%) too close or shifted, so part of the figure is out of the frame."""
    height, width = image_size
    low, high = figure_extent(appearance, skeleton, yaw)
    extent = high - low
    scale = height * rng.uniform(0.8, 0.94) / extent[0]
    scale = min(scale, width * rng.uniform(0.95, 1.25) / extent[1])
    centre = np.array([height / 2 + rng.normal(0, 0.02 * height), width / 2 + rng.normal(0, 0.05 * width)])
    if rng.random() < 0.08:
        scale *= rng.uniform(1.1, 1.4)
        centre += rng.choice([-1, 1]) * np.array([rng.uniform(0.08, 0.2) * height, rng.uniform(0, 0.2) * width])
    offset = centre - scale * (low + high) / 2
    return Placement(scale, offset)


def _limb_colours(appearance, clothing, cover, start, length, total):
    """Colours along an arm or leg: clothing up to ``cover`` of the limb's length, skin after."""
    def colour_fn(t, across):
        along = start + t * length
        cloth = clothing_colours(clothing, along, np.arcsin(across), 2 * np.pi * 0.04)
        return np.where((along < cover * total)[:, None], cloth, appearance.skin)
    return colour_fn


def _solid(colour):
    return lambda t, across: np.broadcast_to(colour, (len(t), 3))


def draw_figure(appearance, pose, skeleton, placement, canvas, supersample):
    """Paints every part back to front; returns the projected joints in image pixels (float (y, x))."""
    camera = rot_y(pose.yaw)
    s = placement.scale

    def project(points):
        cam = np.asarray(points) @ camera.T
        pixels = placement.offset + s * np.stack([-cam[..., 1], cam[..., 0]], axis=-1)
        return pixels, cam[..., 2]

    def hi(pixels):  # final-image pixel -> supersampled pixel centre
        return (pixels + 0.5) * supersample - 0.5

    joints, _ = project(skeleton.joints)
    a, k = appearance, supersample * s
    thick = a.thickness * k
    parts = []  # (depth, priority, painter)

    def limb(part_id, start, end, r0, r1, colour_fn, priority=2, depth_bias=0.0, depth=None):
        (p0, p1), end_depths = project([start, end])
        depth = end_depths.mean() + depth_bias if depth is None else depth
        parts.append((depth, priority, lambda: paint_limb(
            canvas, part_id, hi(p0), hi(p1), r0, r1, colour_fn)))

    j = skeleton.joints
    arm_total, leg_total = 0.32, 0.47 * a.leg_length
    for side in (0, 1):
        shoulder, elbow, wrist = ((RSHO, RELB, RWRI), (LSHO, LELB, LWRI))[side]
        hip, knee, ankle = ((RHIP, RKNE, RANK), (LHIP, LKNE, LANK))[side]
        sleeve = a.sleeve if a.sleeve > 0 else -1
        limb(UPPER_ARM[side], j[shoulder], j[elbow], 0.036 * thick, 0.03 * thick,
             _limb_colours(a, a.shirt, sleeve, 0, 0.17, arm_total), depth_bias=ARM_DEPTH_BIAS)
        limb(FOREARM[side], j[elbow], j[wrist], 0.03 * thick, 0.022 * thick,
             _limb_colours(a, a.shirt, sleeve, 0.17, 0.15, arm_total), depth_bias=ARM_DEPTH_BIAS)
        limb(HAND[side], j[wrist], skeleton.hand_tips[side], 0.022 * thick, 0.02 * thick, _solid(a.skin), 3,
             depth_bias=ARM_DEPTH_BIAS)
        limb(THIGH[side], j[hip], j[knee], 0.058 * thick, 0.043 * thick,
             _limb_colours(a, a.trousers, a.leg_cover, 0, leg_total / 2, leg_total))
        limb(SHIN[side], j[knee], j[ankle], 0.043 * thick, 0.031 * thick,
             _limb_colours(a, a.trousers, a.leg_cover, leg_total / 2, leg_total / 2, leg_total))
        limb(FOOT[side], j[ankle] + [0, -0.01, 0], skeleton.foot_tips[side], 0.03 * thick, 0.026 * thick,
             _solid(a.shoes), 3)
    back = skeleton.head_rotation @ [0, 0, -1.0]
    if a.hair_length > 0:
        top = skeleton.head_centre + 0.03 * back
        (p0, p1), _ = project([top, top + [0, -a.hair_length, 0]])
        _, depth = project(skeleton.head_centre + 0.08 * back)
        r = a.head_radius * k
        parts.append((depth, 0.5, lambda: paint_limb(canvas, HAIR, hi(p0), hi(p1), 0.95 * r, 0.8 * r,
                                                     _solid(a.hair))))
    if a.backpack is not None:
        lean = lean_rotation(pose)
        centre = lean @ [0, 0.18, -0.11] + [0, 0.5 * a.leg_length, 0]
        (p0, p1), _ = project([centre + lean @ [0, 0.07, 0], centre - lean @ [0, 0.06, 0]])
        _, depth = project(centre + lean @ [0, 0, -0.05])
        half = np.hypot(0.08 * np.cos(np.radians(pose.yaw)), 0.05 * np.sin(np.radians(pose.yaw))) * k
        parts.append((depth, -0.5, lambda: paint_limb(canvas, BACKPACK, hi(p0), hi(p1), half, half * 0.95,
                                                      _solid(a.backpack))))
    yaw_radians = np.radians(pose.yaw)

    def seen_half_width(lateral, depth=0.07):
        return np.hypot(lateral * np.cos(yaw_radians), depth * np.sin(yaw_radians)) * k

    hip_centre = (j[RHIP] + j[LHIP]) / 2
    (neck_px, hip_px), torso_depth = project([j[NECK], hip_centre])
    widths = [seen_half_width(a.shoulder_half + 0.01), seen_half_width(0.08 * a.thickness ** 0.5),
              seen_half_width(a.hip_half + 0.04)]
    parts.append((torso_depth.mean(), 0, lambda: paint_torso(
        canvas, a, hi(neck_px), hi(hip_px), widths, k, pose.yaw)))
    (head_px,), head_depth = project([skeleton.head_centre])
    rotation_to_camera = camera @ skeleton.head_rotation
    parts.append((head_depth[0], 4, lambda: paint_head(canvas, a, hi(head_px), a.head_radius * k,
                                                        rotation_to_camera)))
    neck_depth = min(head_depth[0], torso_depth.mean()) - 0.001  # under the head, whatever the view
    limb(NECK_PART, j[NECK], skeleton.head_centre, 0.03 * thick, 0.028 * thick, _solid(a.skin * 0.92), 1,
         depth=neck_depth)
    for _, _, painter in sorted(parts, key=lambda part: part[0] + 1e-3 * part[1]):
        painter()
    return joints


def visible_keypoints(rng, skeleton, pose, joints, canvas, image_size, supersample,
                      miss_rate=DETECTOR_MISS_RATE, inferred_rate=TORSO_POINT_INFERRED_RATE):
    """Rounded (y, x) keypoints of the points that are seen (see the module docstring), -1 elsewhere."""
    camera = rot_y(pose.yaw)
    keypoints = np.full((NUMBER_OF_KEYPOINTS, 2), -1, dtype=int)
    rounded = np.round(joints).astype(int)
    high_res = np.round((joints + 0.5) * supersample - 0.5).astype(int)
    for index in range(NUMBER_OF_KEYPOINTS):
        y, x = rounded[index]
        if not (0 <= y < image_size[0] and 0 <= x < image_size[1]):
            continue
        hy, hx = np.clip(high_res[index], 0, np.array(canvas.part.shape) - 1)
        on_top = canvas.part[hy, hx]
        if index in TORSO_POINTS_HIDDEN_BY:
            seen = on_top >= 0 and (on_top not in TORSO_POINTS_HIDDEN_BY[index]
                                    or rng.random() < inferred_rate)
        else:
            seen = on_top in KEYPOINT_PARTS[index]
        if index in FACING_THRESHOLD:
            normal = _unit(EAR_NORMALS.get(index, FACE_DIRECTIONS[index]))
            seen = seen and (camera @ skeleton.head_rotation @ normal)[2] > FACING_THRESHOLD[index]
        if index not in TORSO_POINTS_HIDDEN_BY and rng.random() < miss_rate:
            seen = False
        if seen:
            keypoints[index] = y, x
    return keypoints


@dataclass(frozen=True)
class Rendering:
    image: np.ndarray  # (H, W, 3) uint8
    keypoints: np.ndarray  # (18, 2) int (y, x), -1 missing
    figure_alpha: np.ndarray  # (H, W) float in [0, 1]: the figure's coverage
    part: np.ndarray  # (H*S, W*S) int16: id of the part on top, -1 background


def _block_mean(array, factor):
    """Mean over factor x factor blocks (the anti-aliasing down-sampling)."""
    total = sum(array[dy::factor, dx::factor] for dy in range(factor) for dx in range(factor))
    return total / factor ** 2


def render(rng, appearance, image_size, pose=None, supersample=SUPERSAMPLE):
    """One image of the person ``appearance`` in a random (or the given) pose, view, place and background."""
    pose = pose or sample_pose(rng)
    skeleton = pose_skeleton(appearance, pose)
    placement = sample_placement(rng, appearance, skeleton, pose.yaw, image_size)
    height, width = image_size
    canvas = Canvas(height * supersample, width * supersample)
    joints = draw_figure(appearance, pose, skeleton, placement, canvas, supersample)
    keypoints = visible_keypoints(rng, skeleton, pose, joints, canvas, image_size, supersample)
    alpha = _block_mean(canvas.covered.astype(np.float32), supersample)
    figure = _block_mean(canvas.colour, supersample)
    scene = background(rng, image_size)
    image = scene * (1 - alpha[..., None]) + figure
    image *= rng.uniform(0.9, 1.1) * rng.uniform(0.95, 1.05, 3)  # camera exposure and white balance
    image = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    return Rendering(image, keypoints, alpha, canvas.part)
