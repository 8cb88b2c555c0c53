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
    if not np.isfinite(features).all():
        bad = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
        raise ValueError('FID: feature vector %d of %d is not finite (the Inception network gave NaN or inf)'
                         % (bad, features.shape[0]))
    return features.mean(axis=0), np.cov(features, rowvar=False)


def trace_of_sqrt_product(sigma1, sigma2):
    """Tr sqrt(C_1 C_2), real part: the sum of the principal square roots of the eigenvalues of C_1 C_2.

    This is the trace of scipy.linalg.sqrtm(C_1 C_2), which the standard implementation takes, without
    the square root matrix itself: at the 2048 pool features the eigenvalues take a fifth of sqrtm's
    time (5 s against 21 to 27 s on 2 cores of an AMD EPYC; benchmarks/README.md, "FID"). Rounding leaves
    tiny negative or complex eigenvalues, whose roots are (nearly) imaginary, as in sqrtm."""
    eigenvalues = linalg.eigvals(sigma1.dot(sigma2))
    return float(np.sum(np.sqrt(eigenvalues.astype(np.complex128))).real)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance of the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    The eigenvalues of a singular C_1 C_2 (fewer feature vectors than features) are as finite as any:
    the standard implementation's retry of sqrtm with eps added to both diagonals has nothing to retry."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError('the two feature sets differ in dimension: %s and %s' % (mu1.shape, mu2.shape))
    trace_sqrt = trace_of_sqrt_product(sigma1, sigma2)
    difference = mu1 - mu2
    return float(difference.dot(difference) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid_from_features(features1, features2):
    """FID of two (N, D) feature sets (e.g. Inception pool features of generated and real images)."""
    return frechet_distance(*activation_statistics(features1), *activation_statistics(features2))
