"""Keypoints of every image of a dataset with the OpenPose COCO model (docs/reference.md, "Keypoint estimation").

For each image: multi-scale inference, peaks of the heatmaps, limbs scored along the part affinity
fields, people assembled greedily, the best-scoring person written as one annotation row. Rows are
appended to data/NAME-annotation-{train,test}.csv and names already there are skipped, so a stopped
run resumes.

The assembly follows the reference (CMU's realtime multi-person demo code) step by step, with the
per-pair loops replaced by array operations. Two reference behaviours are kept on purpose:
the part affinity fields of the scales are summed while the heatmaps are averaged (the thresholds
below were used on that sum), and the best person is picked even when several are found.
Usage: python compute_cordinates.py --dataset market --pose_estimator pose_estimator.h5
"""
import cmd  # noqa: I001  (first: see cmd.py)
import os
import sys

import numpy as np
import skimage.transform
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

import pose_utils
from script_errors import run_script

# The 19 limbs are pose_utils.LIMB_SEQ (0-based keypoint pairs), taken in that order when people are
# assembled; the part-affinity channels (x, y) of each limb, in the same order:
PAF_CHANNELS = [[12, 13], [20, 21], [14, 15], [16, 17], [22, 23], [24, 25], [0, 1], [2, 3],
                [4, 5], [6, 7], [8, 9], [10, 11], [28, 29], [30, 31], [34, 35], [32, 33],
                [36, 37], [18, 19], [26, 27]]
LIMBS_THAT_START_PEOPLE = 17   # the last two limbs (ear-shoulder) only extend existing people
SCALE_SEARCH = (0.5, 1, 1.5, 2)
BOXSIZE = 368                  # the network's nominal input height
PAF_SAMPLES = 10               # points sampled along a candidate limb
MIN_PARTS, MIN_MEAN_SCORE = 4, 0.4
NUMBER_OF_KEYPOINTS = 18


def find_peaks(heatmap_avg, th1=0.1):
    """Peaks of the 18 keypoint heatmaps: (N, 4) array of (x, y, score, id), sorted by part, then y, x.

    A peak is a pixel of the Gaussian-blurred (sigma 3) map that is >= its 4 neighbours (zero outside
    the image) and > th1; its score is the unblurred value. Also returns the (18,) peak count per part.
    """
    maps = gaussian_filter(heatmap_avg[:, :, :NUMBER_OF_KEYPOINTS], sigma=(3, 3, 0))
    padded = np.pad(maps, ((1, 1), (1, 1), (0, 0)))
    centre = padded[1:-1, 1:-1]
    peaks_binary = ((centre >= padded[:-2, 1:-1]) & (centre >= padded[2:, 1:-1])
                    & (centre >= padded[1:-1, :-2]) & (centre >= padded[1:-1, 2:]) & (centre > th1))
    part, y, x = np.nonzero(np.transpose(peaks_binary, (2, 0, 1)))
    scores = heatmap_avg[y, x, part]
    peaks = np.stack([x, y, scores, np.arange(len(x))], axis=1).astype(np.float64)
    counts = np.bincount(part, minlength=NUMBER_OF_KEYPOINTS)
    return peaks, counts


def limb_connections(cand_a, cand_b, paf_xy, image_height, th2=0.05):
    """Greedy one-to-one limb matches between two peak sets: (M, 5) array (id_a, id_b, score, i, j).

    Every pair is scored by the PAF projected on the unit vector a->b at 10 points (rounded to
    pixels); kept when more than 80% of the samples exceed th2 and mean + min(0.5*H/length - 1, 0) > 0.
    Pairs are then taken by decreasing score, each peak at most once.
    """
    start = cand_a[:, None, :2]                                     # (nA, 1, 2) (x, y)
    end = cand_b[None, :, :2]                                       # (1, nB, 2)
    start, end = np.broadcast_arrays(start, end)                    # (nA, nB, 2)
    vec = end - start
    with np.errstate(divide='ignore', invalid='ignore'):
        norm = np.sqrt(np.sum(vec ** 2, axis=-1))                   # (nA, nB)
        unit = vec / norm[..., None]
        points = np.linspace(start, end, num=PAF_SAMPLES, axis=2)   # (nA, nB, 10, 2)
        # Round half away from zero (Python 2's round, as the reference).
        columns = np.floor(points[..., 0] + 0.5).astype(int)
        rows = np.floor(points[..., 1] + 0.5).astype(int)
        samples = paf_xy[rows, columns]                             # (nA, nB, 10, 2)
        score_midpts = np.sum(samples * unit[:, :, None, :], axis=-1)  # (nA, nB, 10)
        score_with_dist_prior = (score_midpts.mean(axis=-1)
                                 + np.minimum(0.5 * image_height / norm - 1, 0))
        criterion1 = np.sum(score_midpts > th2, axis=-1) > 0.8 * PAF_SAMPLES
        criterion2 = score_with_dist_prior > 0
    i_kept, j_kept = np.nonzero(criterion1 & criterion2)            # i-major order, as the loops
    scores = score_with_dist_prior[i_kept, j_kept]
    connection = []
    used_a, used_b = set(), set()
    for index in np.argsort(-scores, kind='stable'):
        i, j = i_kept[index], j_kept[index]
        if i not in used_a and j not in used_b:
            connection.append([cand_a[i, 3], cand_b[j, 3], scores[index], i, j])
            used_a.add(i)
            used_b.add(j)
            if len(connection) >= min(len(cand_a), len(cand_b)):
                break
    return np.array(connection, dtype=np.float64).reshape(-1, 5)


def assemble_people(peaks, connections):
    """People from limb matches: (P, 20) rows of 18 peak ids (-1 missing), total score, part count.

    Limbs are taken in pose_utils.LIMB_SEQ order; a match joins the person holding either end, merges two
    disjoint people it links, or starts a new person (first 17 limbs only).
    """
    subset = -1 * np.ones((0, NUMBER_OF_KEYPOINTS + 2))
    for k, connection in enumerate(connections):
        index_a, index_b = pose_utils.LIMB_SEQ[k]
        for id_a, id_b, limb_score, _, _ in connection:
            found = np.nonzero((subset[:, index_a] == id_a) | (subset[:, index_b] == id_b))[0][:2]
            if len(found) == 1:
                j = found[0]
                if subset[j, index_b] != id_b:
                    subset[j, index_b] = id_b
                    subset[j, -1] += 1
                    subset[j, -2] += peaks[int(id_b), 2] + limb_score
            elif len(found) == 2:
                j1, j2 = found
                membership = ((subset[j1] >= 0).astype(int) + (subset[j2] >= 0).astype(int))[:-2]
                if not np.any(membership == 2):  # disjoint: merge j2 into j1
                    subset[j1, :-2] += subset[j2, :-2] + 1
                    subset[j1, -2:] += subset[j2, -2:]
                    subset[j1, -2] += limb_score
                    subset = np.delete(subset, j2, axis=0)
                else:
                    subset[j1, index_b] = id_b
                    subset[j1, -1] += 1
                    subset[j1, -2] += peaks[int(id_b), 2] + limb_score
            elif k < LIMBS_THAT_START_PEOPLE:
                row = -1 * np.ones(NUMBER_OF_KEYPOINTS + 2)
                row[index_a], row[index_b] = id_a, id_b
                row[-1] = 2
                row[-2] = peaks[int(id_a), 2] + peaks[int(id_b), 2] + limb_score
                subset = np.vstack([subset, row])
    keep = (subset[:, -1] >= MIN_PARTS) & (subset[:, -2] / np.maximum(subset[:, -1], 1) >= MIN_MEAN_SCORE)
    return subset[keep]


def compute_cordinates(heatmap_avg, paf_avg, oriImg, th1=0.1, th2=0.05):
    """The best-scoring person of averaged network maps: (18, 2) int (y, x), -1 for missing (docs/reference.md, "Keypoint estimation").

    heatmap_avg: (H, W, 19) heatmaps, paf_avg: (H, W, 38) part affinity fields, both at the size of
    oriImg (only its height is used, for the limb-length prior).
    """
    peaks, counts = find_peaks(heatmap_avg, th1)
    peaks_of_part = np.split(peaks, np.cumsum(counts)[:-1])
    connections = []
    for (part_a, part_b), channels in zip(pose_utils.LIMB_SEQ, PAF_CHANNELS):
        cand_a, cand_b = peaks_of_part[part_a], peaks_of_part[part_b]
        if len(cand_a) == 0 or len(cand_b) == 0:
            connections.append(np.zeros((0, 5)))
        else:
            connections.append(limb_connections(cand_a, cand_b, paf_avg[:, :, channels], oriImg.shape[0], th2))
    people = assemble_people(peaks, connections)
    cordinates = np.full((NUMBER_OF_KEYPOINTS, 2), pose_utils.MISSING_VALUE, dtype=int)
    if len(people) == 0:
        return cordinates
    best = people[np.argmax(people[:, -2]), :NUMBER_OF_KEYPOINTS].astype(int)
    present = best >= 0
    cordinates[present] = peaks[best[present]][:, [1, 0]].astype(int)  # (x, y) -> (y, x)
    return cordinates


def _resize(array, size, order):
    # mode='constant', no anti-aliasing: the scikit-image defaults the reference ran with.
    return skimage.transform.resize(array, size, order=order, mode='constant', preserve_range=True,
                                    anti_aliasing=False)


def multiscale_maps(model, bgr_image, scale_search=SCALE_SEARCH, boxsize=BOXSIZE):
    """Heatmaps averaged and PAFs summed over the scales s * boxsize / H, at the image's size.

    bgr_image: (H, W, 3) uint8 in B, G, R order. Each scale: cubic resize, pixel/255 - 0.5, network,
    bilinear resize of its outputs back to (H, W).
    """
    from pose_estimator import estimate_maps
    size = bgr_image.shape[:2]
    heatmap_avg = np.zeros(size + (19,))
    paf_avg = np.zeros(size + (38,))
    for scale in [s * boxsize / size[0] for s in scale_search]:
        new_size = tuple(np.maximum((np.array(size) * scale).astype(np.int32), 1))
        image = _resize(bgr_image, new_size, order=3)
        pafs, heatmaps = estimate_maps(model, image[np.newaxis] / 255.0 - 0.5)
        heatmap_avg += _resize(heatmaps[0], size, order=1)
        paf_avg += _resize(pafs[0], size, order=1)
    heatmap_avg /= len(scale_search)
    return heatmap_avg, paf_avg


def cordinates_from_image_file(image_name, model, scale_search=SCALE_SEARCH):
    """(18, 2) int (y, x) keypoints of the best person of an image file (or an RGB uint8 array)."""
    image = pose_utils.load_image(image_name) if isinstance(image_name, str) else np.asarray(image_name)
    oriImg = image[:, :, ::-1]  # B, G, R order
    heatmap_avg, paf_avg = multiscale_maps(model, oriImg, scale_search)
    return compute_cordinates(heatmap_avg, paf_avg, oriImg)


def pending_images(images_dir, annotations_file):
    """The image names of images_dir (name order) that annotations_file does not list yet."""
    if not os.path.isdir(images_dir):
        raise FileNotFoundError('image folder not found: %s' % images_dir)
    done = set(pose_utils.load_annotations(annotations_file)) if os.path.exists(annotations_file) else set()
    return [name for name in sorted(os.listdir(images_dir)) if name not in done
            and os.path.isfile(os.path.join(images_dir, name)) and not name.startswith('.')]


def annotate_folder(model, images_dir, annotations_file, scale_search=SCALE_SEARCH, save_every=100):
    """Appends a row for every image of images_dir not yet in annotations_file (saved every save_every
    images, so a stopped run loses little); returns how many."""
    names = pending_images(images_dir, annotations_file)
    rows = {}
    for name in tqdm(names, desc=os.path.basename(annotations_file)):
        rows[name] = cordinates_from_image_file(os.path.join(images_dir, name), model, scale_search)
        if len(rows) >= save_every:
            pose_utils.save_annotations(annotations_file, rows, append=True)
            rows = {}
    if rows or not os.path.exists(annotations_file):
        pose_utils.save_annotations(annotations_file, rows, append=True)
    return len(names)


def main(argv=None):
    parser = cmd.compute_cordinates_parser()
    args = cmd.add_dataset_paths(parser.parse_args(argv))
    from pose_estimator import load_pose_estimator

    def work():
        splits = [(getattr(args, 'images_dir_' + split), getattr(args, 'annotations_file_' + split))
                  for split in ('train', 'test')]
        # The network is built only when some image is left (a finished run resumes at once).
        model = None
        for images_dir, annotations_file in splits:
            if model is None and pending_images(images_dir, annotations_file):
                model = load_pose_estimator(args.pose_estimator)
            written = annotate_folder(model, images_dir, annotations_file, args.scale_search)
            print('%s: %d new rows' % (annotations_file, written))
    return run_script('compute_cordinates.py', work)


if __name__ == '__main__':
    sys.exit(main())
