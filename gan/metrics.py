"""Pixel-level scores of generated images against their targets (docs/reference.md, "Scores").

Images are uint8 arrays (H, W, 3), as read from the PNGs that test.py writes. Every score is the
mean over the pairs of a per-pair value, as in the reference's test.py.
"""
import numpy as np
import scipy.ndimage

SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_CROP = 5  # (win_size 11 - 1) // 2 border pixels left out of the mean


def ssim(reference_image, generated_image):
    """SSIM of one pair as the paper's scores computed it: scikit-image 0.13's ``compare_ssim`` with
    Gaussian weights (sigma 1.5), population covariance, per colour channel then averaged, data range
    max - min of the generated image (docs/reference.md, "Scores").

    Written here because later scikit-image versions cannot reproduce it: 0.13 filtered with scipy's
    default truncate 4.0 (13 taps) where >= 0.19 uses 3.5 (11 taps). The mean of S skips 5 border
    pixels on each side, the half-width of the 11-pixel window 0.13 assumed."""
    x = np.asarray(reference_image, dtype=np.float64)
    y = np.asarray(generated_image, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError('images of shapes %s and %s' % (x.shape, y.shape))
    data_range = float(np.max(generated_image)) - float(np.min(generated_image))
    sigma = (SSIM_SIGMA, SSIM_SIGMA, 0)  # no filtering across channels: each channel on its own

    def weighted_mean(image):
        return scipy.ndimage.gaussian_filter(image, sigma)

    mean_x, mean_y = weighted_mean(x), weighted_mean(y)
    var_x = weighted_mean(x * x) - mean_x * mean_x
    var_y = weighted_mean(y * y) - mean_y * mean_y
    cov_xy = weighted_mean(x * y) - mean_x * mean_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
         / ((mean_x ** 2 + mean_y ** 2 + c1) * (var_x + var_y + c2)))
    return float(s[SSIM_CROP:-SSIM_CROP, SSIM_CROP:-SSIM_CROP].mean(axis=(0, 1)).mean())


def ssim_score(generated_images, reference_images):
    """Mean SSIM over the pairs (the paper's 'SSIM')."""
    _check_pairs(generated_images, reference_images)
    return float(np.mean([ssim(reference, generated)
                          for reference, generated in zip(reference_images, generated_images)]))


def l1(reference_image, generated_image):
    """Mean |2(ref/255 - 0.5) - 2(gen/255 - 0.5)| of one pair: the L1 distance in the networks'
    [-1, 1] scale."""
    return float(np.abs(_to_unit_range(reference_image) - _to_unit_range(generated_image)).mean())


def l1_score(generated_images, reference_images):
    """Mean L1 over the pairs (the reference's 'l1 score')."""
    _check_pairs(generated_images, reference_images)
    return float(np.mean([l1(reference, generated)
                          for reference, generated in zip(reference_images, generated_images)]))


def apply_masks(images, masks):
    """Each image multiplied by its (H, W) body mask, keeping uint8: the inputs of the masked
    scores ('mask-SSIM', 'mask-IS', and our masked L1)."""
    if len(images) != len(masks):
        raise ValueError('%d images but %d masks' % (len(images), len(masks)))
    return [image * mask[..., np.newaxis].astype(image.dtype) for image, mask in zip(images, masks)]


def _to_unit_range(image):
    return 2 * (image / 255.0 - 0.5)


def _check_pairs(generated_images, reference_images):
    if len(generated_images) != len(reference_images):
        raise ValueError('%d generated images but %d reference images'
                         % (len(generated_images), len(reference_images)))
    if len(generated_images) == 0:
        raise ValueError('no images to score')
