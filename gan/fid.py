"""Fréchet Inception Distance (Heusel et al. 2017) between two sets of Inception pool features.

Not a score of the paper; reported by test.py beside the paper's scores (generated images against
their targets), computed with the standard formula
    d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 sqrt(C_1 C_2)).
"""
import numpy as np
from scipy import linalg


def activation_statistics(features):
    """Mean (D,) and covariance (D, D) of (N, D) features, N-1 normalised as in the standard FID."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError('FID needs at least 2 feature vectors as an (N, D) array, got shape %s'
                         % (features.shape,))
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Fréchet distance of the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    sqrt(C_1 C_2) is scipy.linalg.sqrtm's, real part taken (rounding leaves tiny imaginary parts);
    when the product is singular enough to give non-finite values, eps is added to both diagonals,
    as in the standard implementation."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError('the two feature sets differ in dimension: %s and %s' % (mu1.shape, mu2.shape))
    covariance_mean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covariance_mean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covariance_mean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    difference = mu1 - mu2
    return float(difference.dot(difference) + np.trace(sigma1) + np.trace(sigma2)
                 - 2 * np.trace(np.real(covariance_mean)))


def fid_from_features(features1, features2):
    """FID of two (N, D) feature sets (e.g. Inception pool features of generated and real images)."""
    return frechet_distance(*activation_statistics(features1), *activation_statistics(features2))
