"""Backgrounds of the synthetic dataset's images: solid, gradient or wall-and-floor colours with
low-frequency noise and a few flat shapes, one drawn for every image."""
import numpy as np
import scipy.ndimage
import skimage.draw

from data.synthetic_people import random_colour

def _interpolation_matrix(size, knots):
    """(size, knots) weights of linear interpolation between ``knots`` evenly spaced values."""
    return np.stack([np.interp(np.linspace(0, knots - 1, size), np.arange(knots), row)
                     for row in np.eye(knots)], axis=1)


def _smooth_noise(coarse, image_size):
    """A (ky, kx, 3) grid of values interpolated bilinearly over the image."""
    rows = _interpolation_matrix(image_size[0], coarse.shape[0])
    columns = _interpolation_matrix(image_size[1], coarse.shape[1])
    return columns @ np.tensordot(rows, coarse, axes=(1, 0))  # (W, kx) @ (H, kx, 3) -> (H, W, 3)


def background(rng, image_size):
    """Solid, gradient or wall-and-floor colours, low-frequency noise and a few shapes, blurred."""
    height, width = image_size
    first, second = random_colour(rng, 0.5), random_colour(rng, 0.5)
    rows = np.linspace(0, 1, height)[:, None, None]
    columns = np.linspace(0, 1, width)[None, :, None]
    kind = rng.choice(['solid', 'vertical', 'horizontal', 'floor'], p=[0.25, 0.3, 0.15, 0.3])
    weight = {'solid': np.zeros((height, 1, 1)), 'vertical': rows + 0 * columns[:, :1],
              'horizontal': columns + 0 * rows[:1], 'floor': (rows > rng.uniform(0.55, 0.85)) * 1.0}[kind]
    image = (1 - weight) * first + weight * second
    image = np.broadcast_to(image, (height, width, 3)).copy()
    if rng.random() < 0.5:
        image += _smooth_noise(rng.normal(0, rng.uniform(0.04, 0.12), (4, 3, 3)), image_size)
    for _ in range(rng.integers(0, 5)):
        centre = rng.uniform(0, 1, 2) * image_size
        half = rng.uniform(0.05, 0.4, 2) * image_size
        if rng.random() < 0.5:
            yy, xx = skimage.draw.rectangle(centre - half, centre + half, shape=image_size)
        else:
            yy, xx = skimage.draw.ellipse(centre[0], centre[1], half[0], half[1], shape=image_size)
        image[yy, xx] = random_colour(rng, 0.4)
    image += rng.normal(0, rng.uniform(0.005, 0.03), image.shape)
    sigma = rng.uniform(0.4, 1.2) * height / 128
    return scipy.ndimage.gaussian_filter(image, (sigma, sigma, 0))
