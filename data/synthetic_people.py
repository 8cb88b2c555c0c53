"""Who the synthetic dataset's people are and how they stand: appearances (skin, hair, clothing colours
and patterns, accessories) that stay the same across one person's images, and poses (a family, joint
angles, a view angle) drawn for each image. data/synthetic_figures.py paints them."""
import colorsys
from dataclasses import dataclass

import numpy as np

PATTERNS = ('plain', 'plain', 'hstripes', 'vstripes', 'checks', 'dots', 'diagonal')
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 156], [224, 172, 125], [198, 134, 86],
                       [141, 85, 54], [95, 60, 40]]) / 255.0
HAIR_COLOURS = np.array([[20, 16, 14], [60, 38, 24], [110, 70, 40], [200, 160, 90], [150, 60, 30],
                         [170, 170, 165], [40, 30, 30]]) / 255.0

@dataclass(frozen=True)
class Clothing:
    colour: np.ndarray
    colour2: np.ndarray
    pattern: str
    period: float  # body units


@dataclass(frozen=True)
class Appearance:
    """Everything that stays the same across the images of one person."""
    skin: np.ndarray
    hair: np.ndarray
    hairline: float  # head-frame height above which the head is hair (0.9: almost bald)
    hair_length: float  # long hair below the head centre, body units (0: short)
    shirt: Clothing
    sleeve: float  # fraction of the arm covered by the shirt
    trousers: Clothing
    leg_cover: float  # fraction of the leg covered by the trousers
    waist: float  # fraction of the torso (neck to hips) that is shirt
    shoes: np.ndarray
    logo: tuple  # (shape, colour) on the chest, or None
    backpack: np.ndarray  # colour, or None
    shoulder_half: float
    hip_half: float
    thickness: float
    leg_length: float
    head_radius: float


def random_colour(rng, grey_chance=0.3):
    saturation = rng.uniform(0, 0.15) if rng.random() < grey_chance else rng.uniform(0.35, 0.95)
    return np.array(colorsys.hsv_to_rgb(rng.random(), saturation, rng.uniform(0.12, 0.95)))


def _contrasting_colour(rng, colour):
    for _ in range(20):
        other = random_colour(rng)
        if np.abs(other - colour).sum() > 0.6:
            return other
    return 1.0 - colour


def _clothing(rng, plain_chance):
    colour = random_colour(rng)
    pattern = 'plain' if rng.random() < plain_chance else str(rng.choice(PATTERNS[2:]))
    return Clothing(colour, _contrasting_colour(rng, colour), pattern, rng.uniform(0.035, 0.08))


def sample_appearance(rng):
    long_hair = rng.random() < 0.35
    logo = None
    if rng.random() < 0.35:
        logo = (str(rng.choice(['disc', 'square', 'band'])), random_colour(rng, grey_chance=0.1))
    return Appearance(
        skin=SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.05),
        hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
        hairline=0.9 if rng.random() < 0.05 else rng.uniform(0.15, 0.45),
        hair_length=rng.uniform(0.12, 0.3) if long_hair else 0.0,
        shirt=_clothing(rng, plain_chance=0.35),
        sleeve=float(rng.choice([1.0, 1.0, 0.45, 0.3, 0.0])),
        trousers=_clothing(rng, plain_chance=0.7),
        leg_cover=float(rng.choice([1.0, 1.0, 1.0, 0.45])),
        waist=rng.uniform(0.72, 0.9),
        shoes=random_colour(rng, grey_chance=0.6) * rng.uniform(0.3, 1.0),
        logo=logo,
        backpack=random_colour(rng) if rng.random() < 0.25 else None,
        shoulder_half=rng.uniform(0.095, 0.115),
        hip_half=rng.uniform(0.05, 0.065),
        thickness=rng.uniform(0.85, 1.2),
        leg_length=rng.uniform(0.95, 1.05),
        head_radius=rng.uniform(0.056, 0.064),
    )


@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees; arrays are (right, left)."""
    yaw: float
    head_yaw: float
    lean: float
    shoulder_flex: np.ndarray  # forwards
    shoulder_abduction: np.ndarray  # sideways, away from the body
    elbow: np.ndarray
    hip_flex: np.ndarray
    hip_abduction: np.ndarray
    knee: np.ndarray


POSE_FAMILIES = ('stand', 'walk', 'walk', 'walk', 'arms_up', 'arms_bent', 'crouch', 'reach', 'stride')


def _sample_yaw(rng):
    view = rng.choice(['front', 'back', 'three_quarter', 'side'], p=[0.32, 0.25, 0.28, 0.15])
    if view == 'front':
        return rng.normal(0, 12)
    if view == 'back':
        return 180 + rng.normal(0, 12)
    if view == 'three_quarter':
        return rng.choice([45, -45, 135, -135]) + rng.normal(0, 8)
    return rng.choice([90, -90]) + rng.normal(0, 6)


def sample_pose(rng, family=None):
    """A random pose of one of ``POSE_FAMILIES`` (walking, raised or bent arms, crouching, ...)."""
    family = family or str(rng.choice(POSE_FAMILIES))
    uniform = rng.uniform
    flex, abduction, elbow = uniform(-10, 10, 2), uniform(6, 16, 2), uniform(0, 20, 2)
    hip_flex, hip_abduction, knee = uniform(-5, 5, 2), uniform(0, 5, 2), uniform(0, 10, 2)
    lean = uniform(-4, 6)
    if family in ('walk', 'stride'):
        phase = uniform(0, 2 * np.pi)
        leg_amplitude = uniform(15, 32) if family == 'walk' else uniform(35, 45)
        swing = np.sin(phase) * np.array([1.0, -1.0])
        hip_flex = leg_amplitude * swing
        knee = 8 + uniform(20, 45) * np.maximum(0, -swing) + 10 * np.maximum(0, swing)
        flex = -uniform(10, 35) * swing
        elbow = uniform(5, 35, 2)
    elif family == 'arms_up':
        raised = [0, 1] if rng.random() < 0.5 else [int(rng.integers(2))]
        for side in raised:
            if rng.random() < 0.5:
                abduction[side] = uniform(70, 170)
            else:
                flex[side] = uniform(80, 170)
            elbow[side] = uniform(0, 60)
    elif family == 'arms_bent':
        elbow = uniform(70, 140, 2)
        flex = uniform(-20, 60, 2)
        abduction = uniform(5, 45, 2)
    elif family == 'crouch':
        hip_flex = uniform(40, 85, 2)
        knee = hip_flex + uniform(10, 40, 2)
        lean = uniform(10, 35)
        flex = uniform(20, 70, 2)
        elbow = uniform(10, 60, 2)
    elif family == 'reach':
        side = int(rng.integers(2))
        flex[side], elbow[side] = uniform(60, 100), uniform(0, 25)
    return Pose(yaw=float(_sample_yaw(rng)), head_yaw=float(rng.normal(0, 12)), lean=float(lean),
                shoulder_flex=flex, shoulder_abduction=abduction, elbow=elbow,
                hip_flex=hip_flex, hip_abduction=hip_abduction, knee=knee)
