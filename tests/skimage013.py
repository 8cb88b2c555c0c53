"""scikit-image 0.13's polygon rasterisation, transcribed pixel by pixel from its Cython (the
``point_in_polygon`` of ``skimage/_shared/geometry.pyx``, the loops of ``measure/_pnpoly.pyx`` and
``draw/_draw.pyx``): the independent reference for the project's polygons.

Newer scikit-image versions count points on edges and vertices in; 0.13 used W. R. Franklin's PNPOLY
test, with which the reference's masks and stickmen were made.
"""
import math

import numpy as np


def point_in_polygon(xp, yp, x, y):
    c = False
    j = len(xp) - 1
    for i in range(len(xp)):
        if (((yp[i] <= y) and (y < yp[j])) or ((yp[j] <= y) and (y < yp[i]))) \
                and (x < (xp[j] - xp[i]) * (y - yp[i]) / (yp[j] - yp[i]) + xp[i]):
            c = not c
        j = i
    return c


def grid_points_in_poly(shape, verts):
    """measure.grid_points_in_poly: out[m, n] = point_in_polygon(rows, cols, m, n). Only the pixels of
    the vertices' bounding box are tested: outside it no edge spans the point's column, or the point
    crosses every spanning edge or none (an even count), so the answer there is False anyway."""
    verts = np.asarray(verts, dtype=np.float64)
    xp, yp = [float(v) for v in verts[:, 0]], [float(v) for v in verts[:, 1]]
    out = np.zeros(shape, dtype=bool)
    for m in range(max(0, math.floor(min(xp))), min(shape[0], math.ceil(max(xp)) + 1)):
        for n in range(max(0, math.floor(min(yp))), min(shape[1], math.ceil(max(yp)) + 1)):
            out[m, n] = point_in_polygon(xp, yp, float(m), float(n))
    return out


def polygon(r, c, shape):
    """draw.polygon(r, c, shape): rows int(max(0, min r)) .. min(H-1, int(ceil(max r))), columns
    likewise; pixel (r_i, c_i) kept when point_in_polygon(c, r, c_i, r_i)."""
    r, c = np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64)
    minr, maxr = int(max(0, r.min())), min(shape[0] - 1, int(math.ceil(r.max())))
    minc, maxc = int(max(0, c.min())), min(shape[1] - 1, int(math.ceil(c.max())))
    xp, yp = [float(v) for v in c], [float(v) for v in r]
    rr, cc = [], []
    for r_i in range(minr, maxr + 1):
        for c_i in range(minc, maxc + 1):
            if point_in_polygon(xp, yp, float(c_i), float(r_i)):
                rr.append(r_i)
                cc.append(c_i)
    return np.array(rr, dtype=np.intp), np.array(cc, dtype=np.intp)


def compare_ssim(X, Y, data_range, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                 multichannel=True):
    """measure.compare_ssim of 0.13.1 with the arguments the reference's test.py gave it: one grey-level
    SSIM per channel, averaged; scipy.ndimage.gaussian_filter with its default truncate (4.0); the mean
    of S over the image cropped by (win_size - 1) // 2 = 5 pixels on every side."""
    import scipy.ndimage
    if multichannel:
        return np.mean([compare_ssim(X[..., ch], Y[..., ch], data_range, gaussian_weights, sigma,
                                     use_sample_covariance, False) for ch in range(X.shape[-1])])
    K1, K2 = 0.01, 0.03
    win_size = 11 if gaussian_weights else 7
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    NP = win_size ** X.ndim
    cov_norm = NP / (NP - 1) if use_sample_covariance else 1.0

    def filter_func(image):
        return scipy.ndimage.gaussian_filter(image, sigma=sigma)

    ux, uy = filter_func(X), filter_func(Y)
    uxx, uyy, uxy = filter_func(X * X), filter_func(Y * Y), filter_func(X * Y)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    R = data_range
    C1 = (K1 * R) ** 2
    C2 = (K2 * R) ** 2
    A1, A2, B1, B2 = 2 * ux * uy + C1, 2 * vxy + C2, ux ** 2 + uy ** 2 + C1, vx + vy + C2
    S = (A1 * A2) / (B1 * B2)
    pad = (win_size - 1) // 2
    return S[pad:-pad, pad:-pad].mean()
