"""Filled polygons with the pixel rule of scikit-image 0.13, which the reference's part masks, stickmen
and body masks were drawn with (docs/reference.md, "Polygons").

scikit-image 0.13 tested every pixel with W. R. Franklin's PNPOLY crossing test: a point is inside
when a ray from it crosses the polygon's edges an odd number of times, an edge counting when the
point's second coordinate lies in [low end, high end) of the edge. Points on the left or bottom
edges may be in, points on the right or top edges and on most vertices are out. scikit-image 0.16
and later count every point on an edge or vertex in, so they cannot reproduce the reference's masks.

Two entry points keep 0.13's two orientations: ``grid_points_in_poly`` (measure: the ray runs along
the rows) and ``polygon`` (draw: the ray runs along the columns).
"""
import numpy as np


def pnpoly(xp, yp, x, y):
    """bool array: PNPOLY of the points (x, y) for polygons of vertices (xp, yp).

    ``xp``/``yp`` have the vertex axis first; the rest broadcasts against ``x``/``y``. The crossing
    abscissa is computed with 0.13's operations in its order, in float64, so that the points on the
    boundary fall the same side."""
    inside = False
    xj, yj = xp[-1], yp[-1]
    for xi, yi in zip(xp, yp):
        spans = ((yi <= y) & (y < yj)) | ((yj <= y) & (y < yi))
        with np.errstate(divide='ignore', invalid='ignore'):
            crossing = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside = inside ^ (spans & (x < crossing))
        xj, yj = xi, yi
    return inside


def grid_points_in_poly(shape, verts):
    """(H, W) bool: scikit-image 0.13's ``measure.grid_points_in_poly``: (V, 2) (row, col) vertices,
    pixel (m, n) tested as the point (m, n) against vertices (row, col)."""
    verts = np.asarray(verts, dtype=np.float64)
    rows = np.arange(shape[0], dtype=np.float64)[:, None]
    cols = np.arange(shape[1], dtype=np.float64)[None, :]
    return pnpoly(verts[:, 0, None, None], verts[:, 1, None, None], rows, cols)


def polygon(r, c, shape):
    """(rr, cc) int arrays: scikit-image 0.13's ``draw.polygon(r, c, shape)``: pixel (row, col) tested
    as the point (col, row) against vertices (c, r), over the polygon's bounding box cut to ``shape``,
    in row-major order."""
    r, c = np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64)
    min_row, min_col = int(max(0, r.min())), int(max(0, c.min()))
    max_row = min(shape[0] - 1, int(np.ceil(r.max())))
    max_col = min(shape[1] - 1, int(np.ceil(c.max())))
    rows = np.arange(min_row, max_row + 1, dtype=np.float64)[:, None]
    cols = np.arange(min_col, max_col + 1, dtype=np.float64)[None, :]
    rr, cc = np.nonzero(pnpoly(c[:, None, None], r[:, None, None], cols, rows))
    return rr + min_row, cc + min_col


def fill_convex_polygons(vertices, img_size):
    """(P, H, W) bool: ``grid_points_in_poly(img_size, v[:, ::-1])`` of each of the (P, V, 2) (x, y)
    CONVEX polygons, the reference's limb masks.

    The ray of a pixel runs down its column; a convex polygon's edges span each column 0 or 2 times,
    at rows low <= high, so the pixels inside are the rows low <= m < high: P*W*V crossings instead of
    the P*H*W*V of the pixel test, the same float64 crossings, hence the same pixels. A polygon where
    some column has another count (not convex) gets the pixel test."""
    height, width = img_size[:2]
    vertices = np.asarray(vertices, dtype=np.float64)
    count = len(vertices)
    if count == 0:
        return np.zeros((0, height, width), dtype=bool)
    rows_v = np.moveaxis(vertices[..., 1], 1, 0)[..., None]        # (V, P, 1): 0.13's xp
    cols_v = np.moveaxis(vertices[..., 0], 1, 0)[..., None]        # (V, P, 1): 0.13's yp
    column = np.arange(width, dtype=np.float64)                    # (W,)
    spans, crossings = [], []
    prev_r, prev_c = rows_v[-1], cols_v[-1]
    for r, c in zip(rows_v, cols_v):
        spans.append(((c <= column) & (column < prev_c)) | ((prev_c <= column) & (column < c)))
        with np.errstate(divide='ignore', invalid='ignore'):
            crossings.append((prev_r - r) * (column - c) / (prev_c - c) + r)
        prev_r, prev_c = r, c
    spans, crossings = np.array(spans), np.array(crossings)        # (V, P, W)
    low = np.where(spans, crossings, np.inf).min(axis=0)           # (P, W)
    high = np.where(spans, crossings, -np.inf).max(axis=0)
    row = np.arange(height, dtype=np.float64)[:, None]             # (H, 1)
    masks = (row[None] >= low[:, None, :]) & (row[None] < high[:, None, :])  # (P, H, W)
    irregular = ~np.isin(spans.sum(axis=0), (0, 2)).all(axis=1)
    for p in np.flatnonzero(irregular):
        masks[p] = grid_points_in_poly(img_size, vertices[p, :, ::-1])
    return masks
