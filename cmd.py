"""Every command-line flag of the project, with the reference defaults, and the dataset layout
that ``--dataset`` implies (docs/reference.md, "Keypoints and files", "Losses and training").

This file shares its name with the standard library's ``cmd`` module, which ``pdb`` imports (and
TensorFlow and pytest import ``pdb``). Python caches whichever ``cmd`` it imports first for the whole
process, so this module also re-exports the standard module's names: when it is the one cached,
``pdb`` still finds ``cmd.Cmd``. Every script therefore imports it before anything else, and
``tests/conftest.py`` loads it by path when the standard one got there first.
"""
import argparse
import importlib.util
import math
import os
import sysconfig


def _load_standard_cmd():
    path = os.path.join(sysconfig.get_paths()['stdlib'], 'cmd.py')
    spec = importlib.util.spec_from_file_location('_standard_cmd', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_standard_cmd = _load_standard_cmd()
Cmd = _standard_cmd.Cmd
IDENTCHARS = _standard_cmd.IDENTCHARS
PROMPT = _standard_cmd.PROMPT

IS_PROJECT_CMD = True

IMAGE_SIZES = {
    'market': (128, 64), 'prw': (128, 64), 'fasion128': (128, 64),
    'fasion': (256, 256), 'fasion128128': (128, 128),
    'synthetic': (128, 64), 'synthetic256': (256, 256),
}
SYNTHETIC_DATASETS = ('synthetic', 'synthetic256')

VGG19_LAYERS = tuple(
    ['block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1', 'block2_conv2', 'block2_pool']
    + ['block%d_conv%d' % (b, c) for b in (3, 4, 5) for c in (1, 2, 3, 4)]
    + ['block3_pool', 'block4_pool', 'block5_pool'])


def _whole_number(text, least):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise argparse.ArgumentTypeError('must be a whole number >= %d, got %s' % (least, text))
    return value


def _positive_int(text):
    return _whole_number(text, 1)


def _non_negative_int(text):
    return _whole_number(text, 0)


def finite_float(text):
    """A real number: NaN and the infinities are refused (argparse names the flag)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('must be a number, got %s' % text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError('must be a finite number, got %s' % text)
    return value


def _positive_float(text):
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError('must be positive, got %s' % text)
    return value


def cpu_count():
    """CPUs this process may run on (its affinity where the system has one), at least 1."""
    if hasattr(os, 'sched_getaffinity'):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _switch(text):
    """The reference's 0/1 flags."""
    if text not in ('0', '1', 'True', 'False', 'true', 'false'):
        raise argparse.ArgumentTypeError('must be 0 or 1, got %s' % text)
    return text in ('1', 'True', 'true')


def add_dataset_flags(parser):
    parser.add_argument('--dataset', default='market', choices=sorted(IMAGE_SIZES),
                        help='Dataset name; every path below data_root follows from it (docs/reference.md, '
                             '"Keypoints and files"). '
                             '"synthetic" (128x64) and "synthetic256" are built in and made on first use.')
    parser.add_argument('--data_root', default='data',
                        help='Folder holding NAME-dataset/, NAME-annotation-*.csv and NAME-pairs-*.csv.')
    parser.add_argument('--tmp_dir', default='tmp', help='Folder of the pose-map caches (tmp/NAME/).')
    return parser


def dataset_paths(data_root, name):
    """{attribute: path} of dataset ``name`` under ``data_root`` (docs/reference.md, "Keypoints and
    files"): images_dir_SPLIT, bg_images_dir_SPLIT, annotations_file_SPLIT and pairs_file_SPLIT for
    SPLIT train and test. Every script derives the dataset's file names here."""
    folder = os.path.join(data_root, name + '-dataset')
    paths = {}
    for split in ('train', 'test'):
        paths['images_dir_' + split] = os.path.join(folder, split)
        paths['bg_images_dir_' + split] = os.path.join(folder, split + '-bg')
        paths['annotations_file_' + split] = os.path.join(data_root, '%s-annotation-%s.csv' % (name, split))
        paths['pairs_file_' + split] = os.path.join(data_root, '%s-pairs-%s.csv' % (name, split))
    return paths


def dataset_parser(description):
    """An argument parser that shows every default, with the --dataset flags."""
    return add_dataset_flags(argparse.ArgumentParser(description=description,
                                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter))


def add_dataset_paths(args):
    """The reference's derived attributes (images_dir_train, annotations_file_test, ...)."""
    args.image_size = IMAGE_SIZES[args.dataset]
    vars(args).update(dataset_paths(args.data_root, args.dataset))
    args.tmp_pose_dir = os.path.join(args.tmp_dir, args.dataset)
    return args


# The flags that define a training run: its saved weights, optimiser states and data order only fit
# these values, so --resume must be given the saved ones. Every other flag (number_of_epochs, the
# ratios, folders, devices, validation) may change when a run is continued.
RUN_FLAGS = ('dataset', 'warp_skip', 'warp_agg', 'disc_type', 'use_input_pose', 'use_bg', 'pose_rep_type',
             'width_factor', 'warp_interpolation', 'pose_map', 'mixed_precision', 'batch_size',
             'training_ratio', 'batches_per_epoch', 'seed', 'start_epoch', 'l1_penalty_weight',
             'gan_penalty_weight', 'tv_penalty_weight', 'lstruct_penalty_weight', 'content_loss_layer',
             'nn_loss_area_size', 'skip_invalid_pairs')


def train_parser(description='Deformable GAN: training and testing (train.py, test.py, demo.py).'):
    # Imported here, not at the top: the data scripts' parsers stay free of TensorFlow.
    from warps import warp_types
    parser = dataset_parser(description)
    add = parser.add_argument
    # The reference's flags, with its defaults.
    add('--output_dir', default='output/displayed_samples', help='Where the sample sheets go.')
    add('--batch_size', default=4, type=_positive_int, help='Pairs per step (all replicas together).')
    add('--training_ratio', default=1, type=_positive_int,
        help='Discriminator updates per generator update.')
    add('--l1_penalty_weight', default=100.0, type=finite_float, help='Weight of the reconstruction loss.')
    add('--gan_penalty_weight', default=1.0, type=finite_float, help='Weight of the adversarial loss of the generator.')
    add('--tv_penalty_weight', default=0.0, type=finite_float, help='Weight of the total-variation loss.')
    add('--lstruct_penalty_weight', default=0.0, type=finite_float,
        help='Weight of the pose-structure loss (needs --pose_estimator).')
    add('--number_of_epochs', default=500, type=_positive_int, help='Epoch to stop after (counted from 0).')
    add('--content_loss_layer', default='none',
        help='"none" for pixel L1, else comma-separated VGG19 layer names (e.g. block1_conv2).')
    add('--checkpoints_dir', default='output/checkpoints', help='Where checkpoints go.')
    add('--checkpoint_ratio', default=30, type=_positive_int, help='Save checkpoints every this many epochs.')
    add('--generator_checkpoint', default=None, type=_none_or_path,
        help='Generator weights to start from (or to test): this project\'s file or the reference\'s Keras 2 h5.')
    add('--discriminator_checkpoint', default=None, type=_none_or_path, help='Discriminator weights to start from.')
    add('--nn_loss_area_size', default=1, type=_positive_int,
        help='Neighbourhood of the nearest-neighbour loss; 1 means a plain L1 (odd numbers only).')
    add('--use_validation', default=True, type=_switch,
        help='Report the generator losses over the test pairs on the first and checkpoint epochs.')
    add('--display_ratio', default=1, type=_positive_int, help='Save a sample sheet every this many epochs.')
    add('--start_epoch', default=0, type=_non_negative_int, help='Epoch number to start counting from.')
    add('--pose_estimator', default='pose_estimator.h5',
        help='Pose estimator weights (for the struct loss and compute_cordinates.py).')
    add('--images_for_test', default=12000, type=_positive_int, help='Number of test pairs to sample.')
    add('--use_input_pose', default=True, type=_switch, help='Feed the source pose to the generator.')
    add('--warp_skip', default='stn', choices=tuple(warp_types.WARP_TYPES),
        help='Skip connections: none (U-Net), full (one affine), mask (the paper\'s deformable skip), stn.')
    add('--warp_agg', default='max', choices=['max', 'avg'], help='How warped parts are aggregated.')
    add('--disc_type', default='call', choices=['call', 'sim', 'warp'], help='Discriminator type.')
    add('--use_bg', default=False, type=_switch, help='Give the background image to both networks.')
    add('--pose_rep_type', default='hm', choices=['hm', 'stickman'], help='Pose representation.')
    add('--cache_pose_rep', default=True, type=_switch,
        help='Accepted for compatibility: pose maps are computed from keypoints on the fly, so nothing '
             'is cached on disk (see README).')
    add('--generated_images_dir', default='output/generated_images', help='Where test.py writes its images.')
    add('--load_generated_images', default=False, type=_switch,
        help='test.py: score the images already in --generated_images_dir instead of generating them.')
    add('--use_dropout_test', default=False, type=_switch, help='Keep dropout on when testing.')
    add('--skip_invalid_pairs', action='store_true',
        help='Leave out (and count) the pairs whose pose lacks a torso point, which the pair builder '
             'drops, instead of refusing the pairs file.')
    # New flags.
    add('--batches_per_epoch', default=1000, type=_positive_int, help='Steps in one epoch.')
    add('--width_factor', default=1.0, type=_positive_float, help='Scales every filter count (1.0 = the paper).')
    add('--seed', default=0, type=int, help='Seed of weights, data order and dropout.')
    add('--mixed_precision', default=False, type=_switch, help='float16 compute with loss scaling (GPUs).')
    add('--tf32', default=False, type=_switch,
        help='GPUs of the Ampere generation and later: float32 convolutions and matrix products on the '
             'tensor cores in TensorFloat-32 (10-bit mantissa), faster but no longer float32 arithmetic. '
             '0: full float32, the reference\'s arithmetic, on every backend. No effect on CPUs.')
    add('--warp_interpolation', default='nearest', choices=['nearest', 'bilinear'],
        help='Sampling of the warped skips (--warp_skip mask/full, --disc_type warp): nearest is what the '
             'reference computed; bilinear is an extension of this project.')
    add('--pose_map', default='stepped', choices=['stepped', 'smooth'],
        help='hm pose maps: stepped is the reference\'s exp(floor(-d^2 / 72)) (Python 2 integer division); '
             'smooth, exp(-d^2 / 72), is an extension of this project.')
    add('--resume', action='store_true',
        help='Continue the run whose checkpoints are in --checkpoints_dir (weights, optimisers, epoch, '
             'data order), up to --number_of_epochs in all.')
    add('--overwrite', action='store_true',
        help='Start over in folders that hold a run: its files (weights, resume state, logs, sample sheets, '
             'options.json) are deleted first. Without it, train.py refuses such folders.')
    add('--save_every_steps', default=0, type=_non_negative_int,
        help='Also write the resume state every this many training steps inside an epoch (for machines '
             'that stop without a signal); 0: only at the end of each epoch.')
    add('--data_workers', default=min(4, cpu_count()), type=_non_negative_int,
        help='Background processes that prepare the batches of the numpy input pipeline (the backends '
             'other than TensorFlow); 0: prepared in the main process. One keeps a GPU at 200 128x64 '
             'pairs/s fed (benchmarks/README.md). Default: 4, or the CPUs of this process if fewer.')
    add('--log_dir', default='output/logs', help='CSV, TensorBoard and loss-curve logs.')
    add('--distribute', default='auto', choices=['auto', 'none', 'mirrored', 'multiworker'],
        help='auto: several devices when there are several (TensorFlow: MultiWorkerMirrored when TF_CONFIG '
             'is set, else Mirrored; JAX: keras.distribution.DataParallel over every device), else one '
             'device. none: one device. mirrored: every device of this machine. multiworker: TensorFlow\'s '
             'workers of TF_CONFIG.')
    add('--vgg_weights', default=None,
        help='VGG19 ImageNet weights file for --content_loss_layer (default: Keras\' cache).')
    add('--inception_weights', default=None,
        help='InceptionV3 ImageNet weights file for IS and FID (default: Keras\' cache).')
    add('--inception_graph', default=None,
        help='The 2015 Inception graph (.pb) the paper\'s Inception Score used; preferred over --inception_weights.')
    add('--lpips_weights', default=None,
        help='test.py: the folder of lpips_alex.npz / lpips_vgg.npz (made by evaluation/convert_lpips_weights.py) for '
             'LPIPS (default: Keras\' cache ~/.keras/models).')
    add('--pckh', default='auto', choices=['auto', '1', '0'],
        help='test.py: PCKh of the generated images with --pose_estimator: auto when that file exists, '
             '1 required, 0 off.')
    return parser


def _int_pair(text, separator, form):
    """Two integers written ``A<separator>B``; ``form`` says how, for the error."""
    try:
        first, second = (int(value) for value in text.split(separator))
    except ValueError:
        raise argparse.ArgumentTypeError('must be %s, got %s' % (form, text))
    return first, second


def _shard(text):
    index, count = _int_pair(text, '/', 'I/N (shard I of N, counted from 0)')
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError('shard I/N needs 0 <= I < N, got %s' % text)
    return index, count


def add_shard_flags(parser):
    """test.py's split of the test pairs over processes (README, "Several machines")."""
    parser.add_argument('--shard', default=None, type=_shard,
                        help='I/N: generate and score only shard I of N of the test pairs (a contiguous '
                             'block of whole 100-pair scoring blocks in pairs-file order); its scores go to a '
                             'partial file for --merge_shards.')
    parser.add_argument('--merge_shards', default=0, type=_non_negative_int,
                        help='N: write scores.json from the partial files of shards 0/N .. N-1/N in '
                             '--generated_images_dir (the same scores as one process).')
    return parser


def _none_or_path(text):
    return None if text in ('none', 'None', '') else text


def validate_training_args(args, parser):
    """Refuses flag values the run cannot use, before any model is built."""
    if args.nn_loss_area_size % 2 == 0:
        parser.error('--nn_loss_area_size must be odd (the neighbourhood is centred), got %d'
                     % args.nn_loss_area_size)
    if args.content_loss_layer != 'none':
        layers = args.content_loss_layer.split(',')
        unknown = [layer for layer in layers if layer not in VGG19_LAYERS]
        if unknown:
            parser.error('--content_loss_layer: VGG19 has no layer %s (it has: %s)'
                         % (', '.join(unknown), ', '.join(VGG19_LAYERS)))
    if args.resume and args.generator_checkpoint is not None:
        parser.error('--resume continues from --checkpoints_dir; do not also give --generator_checkpoint')
    if args.resume and args.overwrite:
        parser.error('--resume continues the run in --checkpoints_dir, --overwrite deletes it: give one of them')


def count_pairs(path):
    """Rows of a pairs CSV below its header (UTF-8, with or without a byte-order mark: the loader
    refuses other encodings naming the file)."""
    with open(path, encoding='utf-8-sig', errors='replace') as f:
        return max(sum(1 for line in f if line.strip()) - 1, 0)


def check_dataset_files(args, parser, needed=('images', 'annotations', 'pairs')):
    """Says which file of the dataset layout is missing, and refuses a batch the data cannot fill."""
    wanted = []
    if 'images' in needed:
        wanted += [args.images_dir_train, args.images_dir_test]
    if 'annotations' in needed:
        wanted += [args.annotations_file_train, args.annotations_file_test]
    if 'pairs' in needed:
        wanted += [args.pairs_file_train, args.pairs_file_test]
    missing = [path for path in wanted if not os.path.exists(path)]
    if missing:
        parser.error('dataset "%s" is incomplete: missing %s (see README, "Datasets")'
                     % (args.dataset, ', '.join(missing)))
    if 'pairs' in needed:
        for path in (args.pairs_file_train, args.pairs_file_test):
            if count_pairs(path) == 0:
                parser.error('%s holds no pairs: training needs training and test pairs (see README, '
                             '"Datasets")' % path)
        train_pairs = count_pairs(args.pairs_file_train)
        if train_pairs < args.batch_size:
            parser.error('--batch_size %d: %s holds only %d pairs'
                         % (args.batch_size, args.pairs_file_train, train_pairs))


def parse_args(argv=None, needed=('images', 'annotations', 'pairs'), prepare_dataset=None):
    """The flags of train.py, validated, with the dataset paths added and the dataset's files checked.
    ``prepare_dataset(args)`` runs before the check: the scripts pass
    data.make_synthetic_dataset.ensure_dataset, which makes a built-in dataset on first use."""
    parser = train_parser()
    args = add_dataset_paths(parser.parse_args(argv))
    validate_training_args(args, parser)
    if prepare_dataset is not None:
        prepare_dataset(args)
    check_dataset_files(args, parser, needed)
    return args


def parse_generator_args(parser, argv=None):
    """The flags of a script that runs a trained generator (demo.py, the Re-ID script): validated, with
    the dataset paths added and --generator_checkpoint required."""
    args = add_dataset_paths(parser.parse_args(argv))
    validate_training_args(args, parser)
    if args.generator_checkpoint is None:
        parser.error('--generator_checkpoint is required')
    return args


def changed_options(args, parser=None):
    """(name, value, default) for every flag, so a run can show what it changed."""
    defaults = vars((parser or train_parser()).parse_args([]))
    return [(name, value, defaults.get(name)) for name, value in sorted(vars(args).items())
            if name in defaults]


def format_options(args, parser=None):
    lines = ['----------------- Options ---------------']
    for name, value, default in changed_options(args, parser):
        mark = '' if value == default else '\t[default: %s]' % (default,)
        lines.append('%25s: %-30s%s' % (name, value, mark))
    lines.append('----------------- End -------------------')
    return '\n'.join(lines)


# ---- Flags of the data scripts -------------------------------------------------------------

def create_pairs_parser():
    parser = dataset_parser('Writes the train and test pair lists of a dataset from its annotation files '
                            '(docs/reference.md, "Pairs").')
    parser.add_argument('--images_for_test', default=12000, type=_positive_int,
                        help='Number of test pairs to sample (seed 0).')
    return parser


def split_fasion_parser():
    parser = argparse.ArgumentParser(
        description='Flattens the raw DeepFashion tree into fasion-dataset/{train,test} by the annotation CSVs.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--data_root', default='data', help='Folder of the annotation CSVs and the output.')
    parser.add_argument('--raw_dir', default=None,
                        help='The raw tree fasion/{MEN,WOMEN}/<Category>/id_<n>/<file>.jpg (default: DATA_ROOT/fasion).')
    return parser


def resize_fasion_parser():
    parser = argparse.ArgumentParser(
        description='Makes fasion128 (128x64) from fasion (256x256): crop 40 px off each side, resize, '
                    'map the keypoints.', formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--data_root', default='data', help='Folder holding fasion-dataset and its CSVs.')
    parser.add_argument('--source', default='fasion', help='Dataset name to read.')
    parser.add_argument('--target', default='fasion128', help='Dataset name to write.')
    return parser


def flip_train_parser():
    parser = dataset_parser('Horizontal-flip augmentation: writes NAMEr.jpg copies of the training images and their '
                            'mirrored keypoints.')
    return parser


def synthetic_parser():
    parser = argparse.ArgumentParser(
        description='Builds the built-in synthetic pose-transfer dataset in the reference layout.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--dataset', default='synthetic', choices=SYNTHETIC_DATASETS,
                        help='synthetic: 128x64; synthetic256: 256x256.')
    parser.add_argument('--data_root', default='data', help='Where the dataset is written.')
    parser.add_argument('--train_identities', default=200, type=_positive_int, help='Persons in the train split.')
    parser.add_argument('--test_identities', default=100, type=_positive_int, help='Persons in the test split.')
    parser.add_argument('--images_per_identity', default=8, type=_positive_int, help='Poses drawn per person.')
    parser.add_argument('--test_pairs', default=1000, type=_positive_int,
                        help='Held-out pairs sampled for the test pair list (seed 0).')
    parser.add_argument('--seed', default=0, type=int, help='Seed: the same seed gives the same files.')
    parser.add_argument('--force', action='store_true', help='Rebuild even when the dataset exists.')
    return parser


# ---- Flags of the keypoint scripts (compute_cordinates.py, demo.py, sup-mat/create_dataset_for_reid.py) ----

def _scale_list(text):
    try:
        scales = [float(value) for value in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError('must be comma-separated numbers, got %s' % text)
    if not all(math.isfinite(scale) and scale > 0 for scale in scales):
        raise argparse.ArgumentTypeError('scales must be positive, got %s' % text)
    return scales


def _add_pose_estimator_flags(parser, with_path=True):
    if with_path:
        parser.add_argument('--pose_estimator', default='pose_estimator.h5',
                            help='Pose estimator weights: the reference\'s converted Keras file (.h5), or the '
                                 'CMU Caffe file pose_iter_440000.caffemodel.')
    parser.add_argument('--scale_search', default=[0.5, 1.0, 1.5, 2.0], type=_scale_list,
                        help='Comma-separated scales of the multi-scale inference, times 368/image height.')


def compute_cordinates_parser():
    parser = dataset_parser('Estimates the 18 keypoints of every train and test image of a dataset with the OpenPose '
                            'COCO model and appends them to its annotation CSVs (names already there are skipped).')
    _add_pose_estimator_flags(parser)
    return parser


def demo_parser():
    parser = train_parser(description='Demo: a source image re-posed in the poses of a folder of frames; '
                                      'PNGs and an animated GIF go to --generated_images_dir.')
    add = parser.add_argument
    add('--source_image', default='data/source-image.jpg', help='The person to re-pose.')
    add('--target_images_dir', default='data/target-images', help='Folder of target frames, taken in name order.')
    add('--bg_image', default='data/bg-image.jpg', help='Background image (only with --use_bg 1).')
    add('--keypoints_csv', default=None,
        help='Annotation CSV with the keypoints of the source and the frames (by file name); without it '
             'they are estimated with --pose_estimator.')
    add('--frame_duration', default=100, type=_positive_int, help='Milliseconds per frame of the GIF.')
    _add_pose_estimator_flags(parser, with_path=False)
    return parser


def reid_parser():
    parser = train_parser(description='Re-ID data augmentation (sup-mat): for every training image, images '
                                      'generated in the poses of random other training images.')
    add = parser.add_argument
    add('--pairs_for_each', default=10, type=_positive_int, help='Generated images per training image.')
    add('--reid_pairs_file', default=None, help='Where the pairs are written (default DATA_ROOT/NAME-re-id-pairs.csv).')
    add('--store_train_images', default=True, type=_switch,
        help='Also copy the training images into --generated_images_dir.')
    add('--reid_train_list', default=None,
        help='Re-ID training list "bounding_box_train/NAME CLASS" (default GENERATED_IMAGES_DIR/train.txt).')
    add('--generated_as_separate', default=False, type=_switch,
        help='Give generated images classes of their own in the training list.')
    return parser


# ---- Flags of ssd_score/compute_ssd_score.py ------------------------------------------------

def _image_size(text):
    return _int_pair(text, ',', 'HEIGHT,WIDTH (e.g. 128,64)')


def ssd_score_parser():
    # --dataset names the test pairs whose PNGs are scored
    parser = dataset_parser('Detection score (DS): mean over images of the best "person" confidence of the SSD300 '
                            'VOC0712 Caffe detector (docs/reference.md, "Scores").')
    add = parser.add_argument
    add('--input_dir', default='../output/generated_images',
        help='Folder of the PNGs test.py wrote (source, target, generated side by side); only those of '
             'the test pairs of --dataset are scored, other PNGs there are counted and ignored.')
    add('--img_index', default=0, type=_non_negative_int,
        help='Which image of each PNG to score: 0 source, 1 target, 2 generated.')
    add('--image_size', default=None, type=_image_size,
        help='HEIGHT,WIDTH of one image of the PNGs (default: that of --dataset).')
    add('--model_dir', default=None,
        help='Folder of the SSD files (default: the ssd_score folder); relative --prototxt and --caffemodel '
             'are looked up there.')
    add('--prototxt', default='deploy.prototxt', help='SSD300 VOC0712 network definition (models_VGGNet_VOC0712_'
        'SSD_300x300.tar.gz: models/VGGNet/VOC0712/SSD_300x300/deploy.prototxt).')
    add('--caffemodel', default='VGG_VOC0712_SSD_300x300_iter_120000.caffemodel', help='SSD300 VOC0712 weights.')
    add('--batch_size', default=8, type=_positive_int, help='Images per forward pass of the detector.')
    return parser
