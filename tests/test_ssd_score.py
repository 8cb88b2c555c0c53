"""The SSD detection score: input preparation, parsing of the detector's rows, the PNG reading, the
error paths, and the whole scoring path on a tiny Caffe SSD written by the test (prototxt and a
hand-encoded caffemodel protobuf) that ends in a real DetectionOutput layer."""
import os

import cv2
import numpy as np
import pytest
from skimage.io import imsave

import pose_utils
from ssd_score.compute_ssd_score import (SSD_MEAN_BGR, SSDScorer, best_confidences, load_ssd, main,
                                         model_files, preprocess, read_images, triplets_of_pairs)
from tests import subprocesses

HAS_CAFFE_IMPORTER = hasattr(cv2.dnn, 'readNetFromCaffe')

# Global mean of the input -> 1x1 convolutions -> 21 class scores and 4 box offsets for one prior.
TINY_PROTOTXT = '''name: "TinySSD"
input: "data"
input_shape { dim: 1 dim: 3 dim: 300 dim: 300 }
layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "conf" type: "Convolution" bottom: "pool" top: "conf" convolution_param { num_output: 21 kernel_size: 1 } }
layer { name: "loc" type: "Convolution" bottom: "pool" top: "loc" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "conf_flat" type: "Flatten" bottom: "conf" top: "conf_flat" flatten_param { axis: 1 } }
layer { name: "loc_flat" type: "Flatten" bottom: "loc" top: "loc_flat" flatten_param { axis: 1 } }
layer { name: "conf_reshape" type: "Reshape" bottom: "conf_flat" top: "conf_reshape"
  reshape_param { shape { dim: 0 dim: -1 dim: 21 } } }
layer { name: "conf_softmax" type: "Softmax" bottom: "conf_reshape" top: "conf_softmax" softmax_param { axis: 2 } }
layer { name: "conf_softmax_flat" type: "Flatten" bottom: "conf_softmax" top: "conf_softmax_flat"
  flatten_param { axis: 1 } }
layer { name: "priorbox" type: "PriorBox" bottom: "pool" bottom: "data" top: "priorbox"
  prior_box_param { min_size: 150.0 clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2
                    step: 300 offset: 0.5 } }
layer { name: "detection_out" type: "DetectionOutput" bottom: "loc_flat" bottom: "conf_softmax_flat"
  bottom: "priorbox" top: "detection_out"
  detection_output_param { num_classes: 21 share_location: true background_label_id: 0
    nms_param { nms_threshold: 0.45 top_k: 400 } code_type: CENTER_SIZE keep_top_k: 200
    confidence_threshold: 0.01 } }
'''
PERSON_WEIGHT = 0.05  # person logit = 0.05 * (red - 123); the other 20 classes have logit 0


def _varint(value):
    out = b''
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _caffe_layer(name, layer_type, blobs):
    """LayerParameter {name=1, type=2, blobs=7: BlobProto {data=5 (packed float), shape=7: {dim=1}}}."""
    encoded = [_field(7, _field(7, _field(1, b''.join(_varint(d) for d in blob.shape)))
                      + _field(5, blob.astype('<f4').tobytes())) for blob in blobs]
    return _field(100, _field(1, name.encode()) + _field(2, layer_type.encode()) + b''.join(encoded))


def write_tiny_ssd(folder):
    conf_weights = np.zeros((21, 3, 1, 1))
    conf_weights[15, 2] = PERSON_WEIGHT  # channel 2 of the BGR input is red
    model = (_field(1, b'TinySSD')
             + _caffe_layer('conf', 'Convolution', [conf_weights, np.zeros(21)])
             + _caffe_layer('loc', 'Convolution', [np.zeros((4, 3, 1, 1)), np.zeros(4)]))
    (folder / 'deploy.prototxt').write_text(TINY_PROTOTXT)
    (folder / 'VGG_VOC0712_SSD_300x300_iter_120000.caffemodel').write_bytes(model)
    return str(folder / 'deploy.prototxt'), str(folder / 'VGG_VOC0712_SSD_300x300_iter_120000.caffemodel')


def expected_person_confidence(image):
    """Softmax of the tiny net: the person logit is the weight times the mean of the red input
    channel; below the 0.01 threshold there is no box. (The resize's zero padding darkens the
    borders of small images, as Caffe's Transformer did, so the mean is taken of the blob.)"""
    logit = PERSON_WEIGHT * preprocess(image)[2].mean()
    confidence = np.exp(logit) / (np.exp(logit) + 20)
    return confidence if confidence > 0.01 else 0.0


def uniform(red, green=90, blue=30, size=(16, 8)):
    return np.tile(np.array([red, green, blue], np.uint8), size + (1,))


def write_triplets(folder, generated_reds, size=(16, 8), first=0):
    """PNGs a<i>.jpg_b<i>.jpg.png, i from ``first``, and (the first time) data/market-pairs-test.csv
    beside the folder listing them: the current test pairs."""
    folder.mkdir(exist_ok=True)
    for i, red in enumerate(generated_reds, start=first):
        triplet = np.concatenate([uniform(0, size=size), uniform(10, size=size), uniform(red, size=size)], axis=1)
        imsave(str(folder / ('a%d.jpg_b%d.jpg.png' % (i, i))), triplet, check_contrast=False)
    pairs_file = folder.parent / 'data' / 'market-pairs-test.csv'
    if not pairs_file.exists():
        pose_utils.save_pairs(str(pairs_file), [('a%d.jpg' % i, 'b%d.jpg' % i) for i in range(len(generated_reds))])
    return str(pairs_file)


def test_best_confidences_by_hand():
    rows = np.array([[0, 15, 0.30, 0, 0, 1, 1],
                     [0, 15, 0.70, 0, 0, 1, 1],
                     [0, 7, 0.90, 0, 0, 1, 1],    # a car: not counted
                     [2, 15, 0.20, 0, 0, 1, 1],
                     [0, 0, 0.00, 0, 0, 0, 0],    # padding rows of OpenCV
                     [-1, 15, 0.99, 0, 0, 0, 0]])  # Caffe's "no detection" row
    scores = best_confidences(rows[np.newaxis, np.newaxis], image_count=3)
    assert np.allclose(scores, [0.70, 0.0, 0.20])


def test_preprocess_matches_caffe_transformer_arithmetic():
    image = uniform(200, 100, 50)
    blob = preprocess(image)
    assert blob.shape == (3, 300, 300) and blob.dtype == np.float32
    assert np.allclose(blob[:, 150, 150], [50 - 104, 100 - 117, 200 - 123], atol=1e-3)
    # Away from the borders skimage's bilinear resize is OpenCV's (half-pixel centres).
    textured = np.random.default_rng(0).integers(0, 256, (128, 64, 3), dtype=np.uint8)
    resized = cv2.resize(textured.astype(np.float64), (300, 300), interpolation=cv2.INTER_LINEAR)
    expected = (resized[..., ::-1] - SSD_MEAN_BGR).transpose(2, 0, 1)
    assert np.allclose(preprocess(textured)[:, 10:-10, 10:-10], expected[:, 10:-10, 10:-10], atol=1e-3)


def test_read_images_takes_the_chosen_third(tmp_path):
    pairs_file = write_triplets(tmp_path / 'images', [220, 5])
    (tmp_path / 'images' / 'scores.json').write_text('{}')  # not an image: ignored
    names, ignored = triplets_of_pairs(str(tmp_path / 'images'), pairs_file)
    assert names == ['a0.jpg_b0.jpg.png', 'a1.jpg_b1.jpg.png'] and ignored == []
    images = read_images(str(tmp_path / 'images'), 2, (16, 8), names)
    assert len(images) == 2 and all(image.shape == (16, 8, 3) for image in images)
    assert np.array_equal(images[0], uniform(220)) and np.array_equal(images[1], uniform(5))
    with pytest.raises(ValueError, match=r'a0.jpg_b0.jpg.png is .*check --dataset, --image_size'):
        read_images(str(tmp_path / 'images'), 2, (16, 16), names)


def test_only_the_triplets_of_the_current_pairs_are_scored(tmp_path):
    """A folder that test.py filled for an older pairs file keeps those PNGs: they are counted and
    left out; a current pair without its PNG is an error."""
    folder = tmp_path / 'images'
    pairs_file = write_triplets(folder, [220, 5])
    write_triplets(folder, [90, 91, 92], first=2)   # a0..a4: the old run's extra pairs
    names, ignored = triplets_of_pairs(str(folder), pairs_file)
    assert names == ['a0.jpg_b0.jpg.png', 'a1.jpg_b1.jpg.png'] and len(ignored) == 3
    os.remove(folder / 'a1.jpg_b1.jpg.png')
    with pytest.raises(FileNotFoundError, match=r'1 of the 2 pairs of .*market-pairs-test.csv have no PNG .*a1.jpg_b1'):
        triplets_of_pairs(str(folder), pairs_file)


def test_an_unreadable_png_is_named(tmp_path):
    pairs_file = write_triplets(tmp_path / 'images', [220, 5])
    (tmp_path / 'images' / 'a1.jpg_b1.jpg.png').write_bytes(b'')
    names, _ = triplets_of_pairs(str(tmp_path / 'images'), pairs_file)
    with pytest.raises(ValueError, match='a1.jpg_b1.jpg.png: not a readable image'):
        read_images(str(tmp_path / 'images'), 2, (16, 8), names)


def test_missing_model_files_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        model_files(str(tmp_path), 'deploy.prototxt', 'VGG_VOC0712_SSD_300x300_iter_120000.caffemodel')
    assert 'models_VGGNet_VOC0712_SSD_300x300.tar.gz' in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_command_line_fails_clearly_without_the_model(tmp_path):
    write_triplets(tmp_path / 'images', [200])
    # saying at exit whether Keras was imported: the DS score needs OpenCV alone
    script = subprocesses.reporting_import('ssd_score/compute_ssd_score.py', 'keras', stream='stderr')
    result = subprocesses.run(script + ['--input_dir',
                               str(tmp_path / 'images'), '--model_dir', str(tmp_path / 'no-model'),
                               '--image_size', '16,8', '--img_index', '2'], 120)
    assert result.returncode != 0
    assert 'SSD model file(s) not found' in result.stderr and 'deploy.prototxt' in result.stderr
    assert 'keras imported: False' in result.stderr


@pytest.mark.skipif(HAS_CAFFE_IMPORTER, reason='this OpenCV still has the Caffe importer')
def test_opencv_without_caffe_importer_says_which_version_to_install(tmp_path):
    with pytest.raises(RuntimeError, match='opencv-python-headless>=4.8,<5'):
        load_ssd(*write_tiny_ssd(tmp_path))


@pytest.mark.skipif(not HAS_CAFFE_IMPORTER, reason='OpenCV 5 removed the Caffe importer (needs OpenCV 4)')
def test_tiny_caffe_ssd_scores_the_generated_third(tmp_path):
    prototxt, caffemodel = write_tiny_ssd(tmp_path)
    reds = [250, 180, 0]  # the last one is below the detection threshold: 0
    images = [uniform(250, size=(300, 300))] + [uniform(red) for red in reds]
    confidences = SSDScorer(prototxt, caffemodel, batch_size=2).confidences(images, progress=False)
    logit = PERSON_WEIGHT * (250 - 123)  # a 300x300 image is not resized
    assert confidences[0] == pytest.approx(np.exp(logit) / (np.exp(logit) + 20), abs=1e-5)
    assert np.allclose(confidences, [expected_person_confidence(image) for image in images], atol=1e-5)
    assert confidences[1] > confidences[2] > 0.05 and confidences[3] == 0.0
    write_triplets(tmp_path / 'images', reds)
    write_triplets(tmp_path / 'images', [255] * 5, first=3)   # stale: not pairs of the pairs file
    score = main(['--input_dir', str(tmp_path / 'images'), '--model_dir', str(tmp_path), '--data_root',
                  str(tmp_path / 'data'), '--image_size', '16,8', '--img_index', '2', '--batch_size', '2'])
    assert score == pytest.approx(np.mean(confidences[1:]), abs=1e-5)


@pytest.mark.skipif(not HAS_CAFFE_IMPORTER, reason='OpenCV 5 removed the Caffe importer (needs OpenCV 4)')
def test_wrong_model_files_are_refused(tmp_path):
    (tmp_path / 'deploy.prototxt').write_text('layer { this is not a network')
    (tmp_path / 'weights.caffemodel').write_bytes(b'\x00\x01')
    with pytest.raises(ValueError, match='not a readable Caffe model'):
        load_ssd(str(tmp_path / 'deploy.prototxt'), str(tmp_path / 'weights.caffemodel'))
