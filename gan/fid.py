"""Fréchet Inception Distance (Heusel et al. 2017) between two sets of Inception pool features.

Not a score of the paper; reported by test.py beside the paper's scores (generated images against
their targets), computed with the standard formula
    d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 sqrt(C_1 C_2)).
"""
import numpy as np
from scipy import linalg


def checked_features(features):
    """(N, D) float64 features, N >= 2, all finite; otherwise a ValueError naming the first bad vector."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError('FID needs at least 2 feature vectors as an (N, D) array, got shape %s'
                         % (features.shape,))
    if not np.isfinite(features).all():
        bad = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
        raise ValueError('FID: feature vector %d of %d is not finite (the Inception network gave NaN or inf)'
                         % (bad, features.shape[0]))
    return features


def activation_statistics(features):
    """Mean (D,) and covariance (D, D) of (N, D) features, N-1 normalised as in the standard FID."""
    features = checked_features(features)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def trace_of_sqrt_product(sigma1, sigma2):
    """Tr sqrt(C_1 C_2), real part: the sum of the principal square roots of the eigenvalues of C_1 C_2.

    This is the trace of scipy.linalg.sqrtm(C_1 C_2), which the standard implementation takes, without
    the square root matrix itself: at the 2048 pool features the eigenvalues take a fifth of sqrtm's
    time (benchmarks/README.md, "FID"). Rounding leaves tiny negative or complex eigenvalues, whose roots
    are (nearly) imaginary, as in sqrtm."""
    eigenvalues = linalg.eigvals(sigma1.dot(sigma2))
    return float(np.sum(np.sqrt(eigenvalues.astype(np.complex128))).real)


def trace_of_sqrt_product_of_samples(centred1, centred2):
    """Tr sqrt(C_1 C_2) from the centred feature vectors themselves, A (N_1, D) and B (N_2, D), where
    C_i is X^T X / (N_i - 1): the nonzero eigenvalues of C_1 C_2 = A^T (A B^T B) / c are those of
    (A B^T B) A^T = K K^T / c with K = A B^T, the squared singular values of K / sqrt(c), so the trace is
    the sum of those singular values. An (N_1, N_2) problem instead of a (D, D) one: with fewer feature
    vectors than features (test.py on a few hundred pairs, 2048 pool features) it takes a fraction of
    the eigenvalues' time (benchmarks/README.md, "FID")."""
    product = centred1.dot(centred2.T)
    scale = np.sqrt((centred1.shape[0] - 1) * (centred2.shape[0] - 1))
    return float(np.sum(linalg.svdvals(product)) / scale)


def check_dimensions(mu1, mu2):
    if mu1.shape != mu2.shape:
        raise ValueError('the two feature sets differ in dimension: %s and %s' % (mu1.shape, mu2.shape))


def distance(mu1, mu2, trace1, trace2, trace_sqrt):
    """||mu_1 - mu_2||^2 + Tr C_1 + Tr C_2 - 2 Tr sqrt(C_1 C_2), given the three traces."""
    difference = mu1 - mu2
    return float(difference.dot(difference) + trace1 + trace2 - 2 * trace_sqrt)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance of the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    The eigenvalues of a singular C_1 C_2 (fewer feature vectors than features) are as finite as any:
    the standard implementation's retry of sqrtm with eps added to both diagonals has nothing to retry."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    check_dimensions(mu1, mu2)
    if sigma1.shape != sigma2.shape:
        raise ValueError('the two covariances differ in shape: %s and %s' % (sigma1.shape, sigma2.shape))
    return distance(mu1, mu2, np.trace(sigma1), np.trace(sigma2), trace_of_sqrt_product(sigma1, sigma2))


def fid_from_features(features1, features2):
    """FID of two (N, D) feature sets (e.g. Inception pool features of generated and real images).
    When either set has fewer vectors than features, every trace comes from the centred vectors (Tr C
    is their sum of squares over N - 1) and no D x D covariance is formed; otherwise from the
    covariances."""
    features1, features2 = checked_features(features1), checked_features(features2)
    mu1, mu2 = features1.mean(axis=0), features2.mean(axis=0)
    check_dimensions(mu1, mu2)
    if min(len(features1), len(features2)) >= features1.shape[1]:
        return frechet_distance(mu1, np.cov(features1, rowvar=False), mu2, np.cov(features2, rowvar=False))
    centred1, centred2 = features1 - mu1, features2 - mu2
    trace1, trace2 = (np.sum(centred ** 2) / (len(centred) - 1) for centred in (centred1, centred2))
    return distance(mu1, mu2, trace1, trace2, trace_of_sqrt_product_of_samples(centred1, centred2))
