"""pose_utils: annotation/pairs files, pose maps, drawings and the body mask, against independent
computations and hand-made cases."""
import os

import numpy as np
import pytest
import scipy.ndimage
import skimage.draw

import pose_utils
import skimage013

H, W = 32, 16


def random_pose(rng, size=(H, W), missing=0.2):
    cords = np.stack([rng.integers(0, size[0], 18), rng.integers(0, size[1], 18)], axis=1)
    cords[rng.random(18) < missing] = -1
    return cords


def test_labels_and_limbs():
    assert len(pose_utils.LABELS) == 18 and pose_utils.LABELS[8] == 'Rhip' and pose_utils.LABELS[17] == 'Rear'
    assert len(pose_utils.LIMB_SEQ) == 19 and len(pose_utils.COLORS) == 18
    assert pose_utils.MISSING_VALUE == -1


def test_cords_strings_round_trip():
    y_str, x_str = '[14, 24, -1' + ', 0' * 15 + ']', '[38, 33, -1' + ', 5' * 15 + ']'
    cords = pose_utils.load_pose_cords_from_strings(y_str, x_str)
    assert cords.shape == (18, 2) and cords[0].tolist() == [14, 38] and cords[2].tolist() == [-1, -1]
    assert pose_utils.pose_cords_to_strings(cords) == (y_str, x_str)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


ROW = '0161_c3s3_033053_04.jpg: [%s]: [%s]\n' % (', '.join(['10'] * 18), ', '.join(['-1'] + ['5'] * 17))


def test_annotations_round_trip_exact_format(tmp_path):
    path = str(tmp_path / 'a.csv')
    text = 'name:keypoints_y:keypoints_x\n' + ROW + ROW.replace('0161', '0162')
    write(path, text)
    annotations = pose_utils.load_annotations(path)
    assert list(annotations) == ['0161_c3s3_033053_04.jpg', '0162_c3s3_033053_04.jpg']
    assert annotations['0161_c3s3_033053_04.jpg'][0].tolist() == [10, -1]
    out = str(tmp_path / 'b.csv')
    pose_utils.save_annotations(out, annotations)
    assert open(out).read() == text
    pose_utils.save_annotations(out, {'x.jpg': annotations['0161_c3s3_033053_04.jpg']}, append=True)
    assert list(pose_utils.load_annotations(out)) == list(annotations) + ['x.jpg']
    assert not os.path.exists(out + '.tmp')


@pytest.mark.parametrize('bad_row', [
    'a.jpg: [1, 2]: [1, 2]\n',  # wrong count
    'a.jpg: [1, 2, oops]: [%s]\n' % ', '.join(['1'] * 18),  # not JSON
    'a.jpg: [%s]: [%s]\n' % (', '.join(['"x"'] * 18), ', '.join(['1'] * 18)),  # non-numeric
    'a.jpg: [%s]\n' % ', '.join(['1'] * 18),  # missing column
])
def test_malformed_annotation_row_names_file_and_line(tmp_path, bad_row):
    path = str(tmp_path / 'bad.csv')
    write(path, 'name:keypoints_y:keypoints_x\n' + ROW + bad_row)
    with pytest.raises(ValueError) as error:
        pose_utils.load_annotations(path)
    assert path in str(error.value) and 'line 3' in str(error.value)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        pose_utils.load_annotations(str(tmp_path / 'nope.csv'))


def test_pairs_round_trip_and_errors(tmp_path):
    path = str(tmp_path / 'p.csv')
    pose_utils.save_pairs(path, [('a.jpg', 'b.jpg'), ('b.jpg', 'a.jpg')])
    assert open(path).read() == 'from,to\na.jpg,b.jpg\nb.jpg,a.jpg\n'
    assert pose_utils.load_pairs(path) == [('a.jpg', 'b.jpg'), ('b.jpg', 'a.jpg')]
    with pytest.raises(ValueError) as error:
        pose_utils.load_pairs(path, known_names={'a.jpg': None})
    assert path in str(error.value) and 'line 2' in str(error.value) and 'b.jpg' in str(error.value)
    write(path, 'from,to\na.jpg,b.jpg\nc.jpg\n')
    with pytest.raises(ValueError, match='line 3'):
        pose_utils.load_pairs(path)


def test_smooth_cords_to_map_matches_direct_formula():
    rng = np.random.default_rng(0)
    cords = random_pose(rng)
    heat = pose_utils.cords_to_map(cords, (H, W), sigma=6, pose_map='smooth')
    assert heat.shape == (H, W, 18) and heat.dtype == np.float32
    yy, xx = np.mgrid[0:H, 0:W]
    for i, (y, x) in enumerate(cords):
        expected = np.zeros((H, W)) if y == -1 else np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 72.0)
        np.testing.assert_allclose(heat[..., i], expected, atol=1e-6)


def test_map_to_cord_inverts_cords_to_map():
    rng = np.random.default_rng(1)
    cords = random_pose(rng, missing=0.3)
    assert (pose_utils.map_to_cord(pose_utils.cords_to_map(cords, (H, W))) == cords).all()
    weak = np.full((H, W, 18), 0.05, dtype=np.float32)
    assert (pose_utils.map_to_cord(weak) == -1).all()


def test_draw_pose_hand_case():
    cords = np.full((18, 2), -1)
    cords[1] = [5, 5]   # neck
    cords[2] = [5, 12]  # Rsho: horizontal limb (1, 2)
    colors, mask = pose_utils.draw_pose_from_cords(cords, (H, W), radius=2)
    assert mask[5, 5:13].all() and colors.dtype == np.uint8
    rr, cc = skimage.draw.disk((5, 12), 2, shape=(H, W))
    assert (colors[rr, cc] == pose_utils.COLORS[2]).all()
    assert colors[5, 8].tolist() == [255, 255, 255]  # the line between the discs
    # The mask by hand: the line's row, and each radius-2 disc (distances under 2: a 3x3 square).
    expected = np.zeros((H, W), dtype=bool)
    expected[5, 5:13] = True
    expected[4:7, 4:7] = True
    expected[4:7, 11:14] = True
    np.testing.assert_array_equal(mask, expected)


def reference_ma_mask(cords, size):
    """The reference's loop (polygon per limb, disc per joint, dilation then erosion), with scipy."""
    mask = np.zeros(size, dtype=bool)
    limbs = np.array([[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
                      [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [2, 17], [2, 18],
                      [9, 12], [12, 6], [9, 3], [17, 18]]) - 1
    for f, t in limbs:
        if -1 in cords[f] or -1 in cords[t] or (cords[f] == cords[t]).all():
            continue
        n = (cords[f] - cords[t]).astype(float)
        n = 4 * np.array([-n[1], n[0]]) / np.linalg.norm(n)
        v = np.array([cords[f] + n, cords[f] - n, cords[t] - n, cords[t] + n])
        rr, cc = skimage013.polygon(v[:, 0], v[:, 1], size)
        mask[rr, cc] = True
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    for y, x in cords:
        if y != -1:
            mask |= (yy - y) ** 2 + (xx - x) ** 2 < 16
    grown = scipy.ndimage.grey_dilation(mask.astype(np.uint8), size=(5, 5), mode='reflect')
    return scipy.ndimage.grey_erosion(grown, size=(5, 5), mode='reflect').astype(bool)


def test_produce_ma_mask_matches_reference_loop():
    rng = np.random.default_rng(2)
    for _ in range(20):
        cords = random_pose(rng, size=(64, 32))
        mask = pose_utils.produce_ma_mask(cords, (64, 32))
        assert mask.dtype == bool
        assert (mask == reference_ma_mask(cords, (64, 32))).all()


def test_pixel_scaling():
    pixels = np.array([[0, 255, 51]], dtype=np.uint8)
    scaled = pose_utils.preprocess_image(pixels)
    np.testing.assert_allclose(scaled, [[-1, 1, -0.6]], atol=1e-6)
    assert scaled.dtype == np.float32
    # Truncation to uint8, as the reference: 255*(0+1)/2 = 127.5 -> 127.
    assert (pose_utils.deprocess_image(np.array([-1.0, 1.0, 0.0])) == [0, 255, 127]).all()
    assert np.abs(pose_utils.deprocess_image(scaled).astype(int) - pixels).max() <= 1
    assert (pose_utils.deprocess_image(np.array([-3.0, 3.0])) == [0, 255]).all()


def test_save_and_load_image(tmp_path):
    image = np.zeros((8, 4, 3), dtype=np.uint8)
    image[:, :2] = 200
    path = str(tmp_path / 'x.png')
    pose_utils.save_image(path, image)
    assert (pose_utils.load_image(path) == image).all() and not os.path.exists(path + '.tmp')
    write(str(tmp_path / 'broken.jpg'), 'not an image')
    with pytest.raises(ValueError, match='broken.jpg'):
        pose_utils.load_image(str(tmp_path / 'broken.jpg'))


# ---- What spreadsheet programs write ------------------------------------------------------------

BOM = '\ufeff'


def write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def test_annotations_with_a_byte_order_mark_and_crlf(tmp_path):
    """Excel's "CSV UTF-8" starts with the byte-order mark EF BB BF and ends lines with CR LF."""
    path = str(tmp_path / 'a.csv')
    text = 'name:keypoints_y:keypoints_x\n' + ROW + ROW.replace('0161', '0162')
    write_bytes(path, (BOM + text).replace('\n', '\r\n').encode('utf-8'))
    assert open(path, 'rb').read(3) == b'\xef\xbb\xbf'
    annotations = pose_utils.load_annotations(path)
    assert list(annotations) == ['0161_c3s3_033053_04.jpg', '0162_c3s3_033053_04.jpg']
    assert annotations['0161_c3s3_033053_04.jpg'][0].tolist() == [10, -1]
    # Appending keeps the rows; the file is rewritten without the mark.
    pose_utils.save_annotations(path, {'x.jpg': annotations['0161_c3s3_033053_04.jpg']}, append=True)
    assert list(pose_utils.load_annotations(path)) == list(annotations) + ['x.jpg']
    assert open(path, encoding='utf-8').read().startswith('name:keypoints_y:keypoints_x\n')


def test_pairs_with_a_byte_order_mark(tmp_path):
    path = str(tmp_path / 'p.csv')
    write_bytes(path, (BOM + 'from,to\r\na.jpg,b.jpg\r\nb.jpg,a.jpg\r\n').encode('utf-8'))
    assert pose_utils.load_pairs(path, known_names={'a.jpg': 0, 'b.jpg': 0}) == [('a.jpg', 'b.jpg'),
                                                                                 ('b.jpg', 'a.jpg')]


@pytest.mark.parametrize('load', [pose_utils.load_annotations, pose_utils.load_pairs])
def test_a_mark_inside_a_name_is_not_dropped_and_utf16_is_refused(tmp_path, load):
    path = str(tmp_path / 'x.csv')
    header = 'name:keypoints_y:keypoints_x' if load is pose_utils.load_annotations else 'from,to'
    write_bytes(path, (BOM + BOM + header + '\n').encode('utf-8'))     # only the first mark is the file's
    with pytest.raises(ValueError, match='line 1: expected the header'):
        load(path)
    write_bytes(path, (header + '\n').encode('utf-16'))
    with pytest.raises(ValueError) as error:
        load(path)
    assert str(error.value).startswith(path + ': not UTF-8 text')
