"""Pixel scores (SSIM, L1, masks) and the FID formula against independent computations."""
import numpy as np
import pytest
import scipy.ndimage
from scipy import linalg
from skimage.metrics import structural_similarity

from gan.fid import activation_statistics, fid_from_features, frechet_distance
from gan.metrics import apply_masks, l1_score, ssim, ssim_score
import skimage013


def random_images(count, seed, size=(32, 16)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(count)]


def blurred_copy(image, seed):
    """A related image (SSIM well away from 0 and 1)."""
    noise = np.random.default_rng(seed).integers(-40, 40, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def natural_pair(seed, size=(128, 64)):
    """A real-looking image (smooth regions, edges, texture) and a generated-looking guess of it
    (shifted, blurred, with a colour cast and noise)."""
    rng = np.random.default_rng(seed)
    image = scipy.ndimage.gaussian_filter(rng.normal(128, 60, size + (3,)), (4, 4, 0))
    image[size[0] // 4:size[0] * 3 // 4, size[1] // 3:size[1] * 2 // 3] += 50       # a figure
    image += rng.normal(0, 6, image.shape)
    guess = scipy.ndimage.gaussian_filter(np.roll(image, 2, axis=1), (1.2, 1.2, 0)) * 0.9 + 12
    guess += rng.normal(0, 10, image.shape)
    return (np.clip(image, 0, 255).astype(np.uint8), np.clip(guess, 0, 255).astype(np.uint8))


def reference_ssim(reference, generated):
    """The reference's call: compare_ssim(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, multichannel=True, data_range=generated.max() - generated.min())."""
    return skimage013.compare_ssim(reference, generated, data_range=generated.max() - generated.min())


def test_ssim_matches_scikit_image_013_on_real_looking_pairs():
    largest = 0.0
    for seed in range(6):
        reference, generated = natural_pair(seed)
        value = ssim(reference, generated)
        assert 0.1 < value < 0.95
        assert value == pytest.approx(reference_ssim(reference, generated), abs=1e-12)
        largest = max(largest, abs(value - reference_ssim(reference, generated)))
        # Today's scikit-image (11-tap window) gives another number.
        today = structural_similarity(reference, generated, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, channel_axis=2,
                                      data_range=float(np.ptp(generated)))
        assert abs(today - value) > 1e-5
    masked_reference, masked_generated = apply_masks(list(natural_pair(9)), [np.eye(128, 64, dtype=bool)] * 2)
    assert ssim(masked_reference, masked_generated) == pytest.approx(
        reference_ssim(masked_reference, masked_generated), abs=1e-12)


def test_ssim_uses_the_generated_images_range():
    reference = random_images(1, 2)[0]
    generated = (blurred_copy(reference, 3) // 4 + 60).astype(np.uint8)  # a narrow range
    expected = reference_ssim(reference, generated)
    with_reference_range = skimage013.compare_ssim(reference, generated, data_range=np.ptp(reference))
    assert ssim(reference, generated) == pytest.approx(expected, abs=1e-12)
    assert abs(expected - with_reference_range) > 1e-3


def test_ssim_score_is_the_mean_over_pairs_and_identity_gives_one():
    references = random_images(3, 4)
    generated = [blurred_copy(image, i) for i, image in enumerate(references)]
    expected = np.mean([reference_ssim(r, g) for r, g in zip(references, generated)])
    assert ssim_score(generated, references) == pytest.approx(expected, abs=1e-10)
    assert ssim_score(references, references) == pytest.approx(1.0, abs=1e-12)


def test_l1_by_hand():
    white = np.full((4, 2, 3), 255, np.uint8)
    black = np.zeros((4, 2, 3), np.uint8)
    grey = np.full((4, 2, 3), 51, np.uint8)
    assert l1_score([black], [white]) == pytest.approx(2.0)
    assert l1_score([grey], [black]) == pytest.approx(0.4)
    # Half the pixels differ by 255 (2.0), the other half agree: 1.0; mean with a perfect pair: 0.5.
    half = black.copy()
    half[:2] = 255
    assert l1_score([half, black], [white, black]) == pytest.approx(0.5)


def test_masked_scores_equal_scores_of_masked_images():
    references = random_images(2, 5)
    generated = [blurred_copy(image, 9) for image in references]
    masks = [np.zeros((32, 16), bool) for _ in references]
    masks[0][5:20, 3:12] = True
    masks[1][10:30, 0:8] = True
    masked_generated = apply_masks(generated, masks)
    masked_references = apply_masks(references, masks)
    assert masked_generated[0].dtype == np.uint8
    assert np.array_equal(masked_generated[1], np.where(masks[1][..., None], generated[1], 0))
    expected = np.mean([reference_ssim(np.where(m[..., None], r, 0), np.where(m[..., None], g, 0))
                        for r, g, m in zip(references, generated, masks)])
    assert ssim_score(masked_generated, masked_references) == pytest.approx(expected, abs=1e-10)
    # Outside the mask both images are 0, so the masked L1 is the unmasked one scaled by the area.
    difference = np.abs(references[0].astype(float) - generated[0]) * 2 / 255
    assert l1_score(masked_generated[:1], masked_references[:1]) == pytest.approx(
        difference[masks[0]].sum() / difference.size)


def test_scores_refuse_unmatched_lists():
    images = random_images(2, 6)
    with pytest.raises(ValueError, match='2 generated images but 1 reference'):
        ssim_score(images, images[:1])
    with pytest.raises(ValueError, match='2 images but 1 masks'):
        apply_masks(images, [np.ones((32, 16), bool)])


def test_fid_of_identical_feature_sets_is_zero():
    features = np.random.default_rng(0).normal(size=(200, 8))
    assert fid_from_features(features, features.copy()) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_shifted_features_is_the_squared_shift():
    features = np.random.default_rng(1).normal(size=(300, 6))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert fid_from_features(features, features + shift) == pytest.approx(shift.dot(shift), rel=1e-7)


def test_frechet_distance_of_gaussians_in_closed_form():
    # Diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(s1) - sqrt(s2))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 5.0 + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    # Commuting full covariances C and 4C: sqrt(4 C^2) = 2C, so the trace term is Tr(C).
    a = np.random.default_rng(2).normal(size=(5, 5))
    covariance = a @ a.T + np.eye(5)
    assert frechet_distance(np.zeros(5), covariance, np.zeros(5), 4 * covariance) == pytest.approx(
        np.trace(covariance))


def test_frechet_distance_matches_the_standard_sqrtm_formula():
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(100, 7)), rng.normal(size=(80, 7)) * 1.5 + 0.3
    mu1, sigma1 = first.mean(0), np.cov(first.T)
    mu2, sigma2 = second.mean(0), np.cov(second.T)
    # The standard implementation: the real part of the trace of the matrix square root of C1 C2.
    trace_sqrt = np.trace(np.real(linalg.sqrtm(sigma1 @ sigma2)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    assert fid_from_features(first, second) == pytest.approx(expected, rel=1e-9)
    mean, covariance = activation_statistics(first)
    assert np.allclose(mean, mu1) and np.allclose(covariance, sigma1)


def exact_fid(first, second):
    """FID in 50-digit arithmetic from the feature vectors: the eigenvalues of C_1 C_2 without float64
    rounding, whose noise on the zero eigenvalues of a singular product becomes ~1e-8 under a root."""
    import mpmath

    def statistics(features):
        rows = mpmath.matrix(features.tolist())
        mean = [mpmath.fsum(rows[i, j] for i in range(rows.rows)) / rows.rows for j in range(rows.cols)]
        centred = mpmath.matrix([[rows[i, j] - mean[j] for j in range(rows.cols)] for i in range(rows.rows)])
        return mean, centred.T * centred / (rows.rows - 1)
    with mpmath.workdps(50):
        (mu1, sigma1), (mu2, sigma2) = statistics(first), statistics(second)
        eigenvalues, _ = mpmath.eig(sigma1 * sigma2)
        size = len(mu1)
        value = (mpmath.fsum((a - b) ** 2 for a, b in zip(mu1, mu2))
                 + mpmath.fsum(sigma1[i, i] + sigma2[i, i] for i in range(size))
                 - 2 * mpmath.re(mpmath.fsum(mpmath.sqrt(e) for e in eigenvalues)))
        return float(value)


@pytest.mark.parametrize('counts', [(5, 80), (80, 5), (3, 4)])
def test_fid_of_fewer_vectors_than_features_is_exact(counts):
    """Fewer vectors than features (singular covariances): FID from the vectors' singular values equals
    the 50-digit value, closer than the float64 sqrtm formula (within 1e-8 of it)."""
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(counts[0], 7)), rng.normal(size=(counts[1], 7)) * 1.5 + 0.3
    exact = exact_fid(first, second)
    ours = fid_from_features(first, second)
    assert ours == pytest.approx(exact, rel=1e-13)
    sigma1, sigma2 = np.cov(first.T), np.cov(second.T)
    standard = (np.sum((first.mean(0) - second.mean(0)) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                - 2 * np.trace(np.real(linalg.sqrtm(sigma1 @ sigma2))))
    assert standard == pytest.approx(exact, rel=1e-8)
    assert abs(ours - exact) <= abs(standard - exact)


def test_fid_names_a_feature_vector_that_is_not_finite():
    features = np.random.default_rng(4).normal(size=(6, 5))
    features[3, 2] = np.nan
    with pytest.raises(ValueError, match='feature vector 3 of 6 is not finite'):
        fid_from_features(features, np.ones((6, 5)))


def test_fid_refuses_too_few_or_mismatched_features():
    with pytest.raises(ValueError, match='at least 2'):
        fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match='differ in dimension'):
        fid_from_features(np.random.rand(4, 3), np.random.rand(4, 2))
