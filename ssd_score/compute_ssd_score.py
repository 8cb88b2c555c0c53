"""Detection score (DS; docs/reference.md, "Scores"): the mean over images of the best 'person' confidence
(VOC class 15) of the SSD300 detector trained on VOC0712, 0 for an image without a person box.

The Caffe model runs through OpenCV's dnn module (no Caffe build). Its input is prepared as the
reference's caffe.io.Transformer did: the image as floats in [0, 1], resized to 300x300 (bilinear),
scaled to [0, 255], RGB to BGR, minus the mean (104, 117, 123). The detector's output rows are
[image_id, label, confidence, x1, y1, x2, y2].

Only the PNGs of the test pairs of --dataset (``<from>_<to>.png``, as test.py names them) are scored;
other PNGs in the folder (left by a run on another pairs file) are counted and ignored, and a pair
without its PNG is an error.

    python ssd_score/compute_ssd_score.py --input_dir output/generated_images --img_index 2
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import numpy as np  # noqa: E402
from skimage.transform import resize  # noqa: E402
from tqdm import tqdm  # noqa: E402

import pose_utils  # noqa: E402
from evaluation.triplets import other_pngs, triplet_name  # noqa: E402  (as test.py writes the PNGs)

PERSON_CLASS = 15
SSD_INPUT_SIZE = 300
SSD_MEAN_BGR = np.array([104.0, 117.0, 123.0])
MODEL_SOURCE = ('models_VGGNet_VOC0712_SSD_300x300.tar.gz of the SSD project (https://github.com/weiliu89/caffe/'
                'tree/ssd, README "Models", PASCAL VOC 07+12 SSD300); it holds models/VGGNet/VOC0712/SSD_300x300/'
                'deploy.prototxt and VGG_VOC0712_SSD_300x300_iter_120000.caffemodel')


def model_files(model_dir, prototxt, caffemodel):
    """The two model paths; relative names are looked up in model_dir (default: this folder).
    A missing file raises FileNotFoundError saying where to get it and where to put it."""
    model_dir = model_dir or os.path.dirname(os.path.abspath(__file__))
    paths = os.path.join(model_dir, prototxt), os.path.join(model_dir, caffemodel)
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError('SSD model file(s) not found: %s. Get %s, and put both files in %s (or give '
                                '--model_dir, --prototxt, --caffemodel).' % (', '.join(missing), MODEL_SOURCE, model_dir))
    return paths


def load_ssd(prototxt_path, caffemodel_path):
    """The Caffe network through cv2.dnn.readNetFromCaffe (OpenCV 4: OpenCV 5 removed the importer)."""
    import cv2
    if not hasattr(cv2.dnn, 'readNetFromCaffe'):
        raise RuntimeError('OpenCV %s has no Caffe importer (removed in OpenCV 5); the SSD score needs '
                           'OpenCV 4: pip install "opencv-python-headless>=4.8,<5"' % cv2.__version__)
    try:
        return cv2.dnn.readNetFromCaffe(prototxt_path, caffemodel_path)
    except cv2.error as error:
        raise ValueError('%s and %s are not a readable Caffe model (expected %s): %s'
                         % (prototxt_path, caffemodel_path, MODEL_SOURCE, error)) from error


def preprocess(image):
    """uint8 RGB (H, W, 3) -> float32 (3, 300, 300) BGR minus the mean, as caffe.io.Transformer
    (set_raw_scale 255, set_channel_swap (2, 1, 0), set_mean (104, 117, 123)) prepared it;
    its resize_image stretches to [0, 1] around skimage's bilinear resize, kept here."""
    image = image.astype(np.float64) / 255.0
    low, high = image.min(), image.max()
    if high > low:
        stretched = resize((image - low) / (high - low), (SSD_INPUT_SIZE, SSD_INPUT_SIZE), order=1,
                           mode='constant', anti_aliasing=False)
        image = stretched * (high - low) + low
    else:
        image = np.full((SSD_INPUT_SIZE, SSD_INPUT_SIZE, 3), low)
    return (image[..., ::-1] * 255.0 - SSD_MEAN_BGR).transpose(2, 0, 1).astype(np.float32)


def best_confidences(detections, image_count, class_id=PERSON_CLASS):
    """Per image, the highest confidence among the detection rows [image_id, label, confidence,
    x1, y1, x2, y2] of class ``class_id``; 0 for an image with none."""
    rows = np.asarray(detections, dtype=np.float64).reshape(-1, 7)
    image_ids = rows[:, 0].astype(int)
    chosen = (rows[:, 1] == class_id) & (image_ids >= 0) & (image_ids < image_count)
    best = np.zeros(image_count)
    np.maximum.at(best, image_ids[chosen], rows[chosen, 2])
    return best


class SSDScorer:
    """The SSD300 VOC0712 detector, scoring images by their best 'person' confidence."""

    def __init__(self, prototxt_path, caffemodel_path, batch_size=8):
        self.net = load_ssd(prototxt_path, caffemodel_path)
        self.batch_size = batch_size

    def confidences(self, images, class_id=PERSON_CLASS, progress=True):
        """Best confidence of class ``class_id`` for each uint8 RGB image."""
        scores = []
        for start in tqdm(range(0, len(images), self.batch_size), desc='SSD', disable=not progress):
            batch = images[start:start + self.batch_size]
            self.net.setInput(np.stack([preprocess(image) for image in batch]))
            scores.append(best_confidences(self.net.forward(), len(batch), class_id))
        return np.concatenate(scores)

    def get_score_image_set(self, images, class_id=PERSON_CLASS):
        """The detection score: mean over the images of their best confidence."""
        return float(np.mean(self.confidences(images, class_id)))


def read_images(input_dir, img_index, image_size, names):
    """Image ``img_index`` (0 source, 1 target, 2 generated) of the PNGs ``names`` of input_dir."""
    height, width = image_size
    images = []
    for name in names:
        path = os.path.join(input_dir, name)
        image = pose_utils.load_image(path)
        if image.shape[0] != height or image.shape[1] < (img_index + 1) * width:
            raise ValueError('%s is %s, too small for image %d of width %d and height %d (check --dataset, '
                             '--image_size and --img_index)' % (path, image.shape, img_index, width, height))
        images.append(image[:, img_index * width:(img_index + 1) * width])
    return images


def triplets_of_pairs(input_dir, pairs_file):
    """(the PNG names test.py wrote for the pairs of pairs_file, the other PNGs of input_dir). A pair
    without its PNG raises: the folder is not a test.py run on these pairs."""
    if not os.path.isdir(input_dir):
        raise FileNotFoundError('--input_dir %s is not a folder (run test.py first)' % input_dir)
    pairs = pose_utils.load_pairs(pairs_file)
    if not pairs:
        raise ValueError('%s holds no test pairs' % pairs_file)
    names = [triplet_name(*pair) for pair in pairs]
    missing = [name for name in names if not os.path.isfile(os.path.join(input_dir, name))]
    if missing:
        raise FileNotFoundError('%d of the %d pairs of %s have no PNG in %s (%s, ...): run test.py on these '
                                'pairs, or give the --dataset and --data_root it used'
                                % (len(missing), len(names), pairs_file, input_dir, missing[0]))
    return names, other_pngs(input_dir, pairs)


def main(argv=None):
    args = cmd.ssd_score_parser().parse_args(argv)
    image_size = args.image_size   # add_dataset_paths sets the dataset's
    args = cmd.add_dataset_paths(args)
    image_size = image_size or args.image_size
    print(args)
    prototxt_path, caffemodel_path = model_files(args.model_dir, args.prototxt, args.caffemodel)
    names, ignored = triplets_of_pairs(args.input_dir, args.pairs_file_test)
    if ignored:
        print('Ignored %d PNGs of %s that are not pairs of %s (%s, ...)'
              % (len(ignored), args.input_dir, args.pairs_file_test, ignored[0]))
    images = read_images(args.input_dir, args.img_index, image_size, names)
    score = SSDScorer(prototxt_path, caffemodel_path, args.batch_size).get_score_image_set(images)
    print('SSD score %s over the %d pairs of %s (%d other PNGs ignored)'
          % (score, len(images), args.pairs_file_test, len(ignored)))
    return score


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        sys.exit('compute_ssd_score.py: error: %s' % error)
