"""Pixel-level scores of generated images against their targets (SPEC section 7).

Images are uint8 arrays (H, W, 3), as read from the PNGs that test.py writes. Every score is the
mean over the pairs of a per-pair value, as in the reference's test.py.
"""
import numpy as np
from skimage.metrics import structural_similarity


def ssim(reference_image, generated_image):
    """SSIM of one pair, with the reference's settings: Gaussian weights (sigma 1.5), no sample
    covariance, over the colour channels, data range taken from the generated image."""
    return structural_similarity(
        reference_image, generated_image, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, channel_axis=-1,
        data_range=float(generated_image.max()) - float(generated_image.min()))


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
