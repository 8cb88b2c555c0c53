"""Re-ID data augmentation (the paper's supplementary material).

For every usable training image (torso present, not junk), --pairs_for_each images generated in the
poses of as many random other training images (seeded by --seed), saved as ``<name>g<number>.jpg`` in
--generated_images_dir (the numbering runs over all generated images, as in the reference), with the
training images themselves copied beside them (--store_train_images), and a Re-ID training list
``dataset/bounding_box_train/<file> <class>`` where the class is the person id (generated images
get classes of their own with --generated_as_separate 1).

    python sup-mat/create_dataset_for_reid.py --dataset market --warp_skip mask \\
        --generator_checkpoint output/checkpoints/epoch_089_generator.weights.h5
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402  (first, see cmd.py)

import shutil  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

import pose_utils  # noqa: E402
from create_pairs_dataset import person_id, usable_names  # noqa: E402
from data.make_synthetic_dataset import ensure_dataset  # noqa: E402
from gan import atomic, devices  # noqa: E402
from script_errors import run_script  # noqa: E402

TRAIN_LIST_PREFIX = 'dataset/bounding_box_train/'
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def make_reid_pairs(names, pairs_for_each, seed=0):
    """(from, to) rows: each name followed by pairs_for_each random other names (without repeats when
    there are enough others)."""
    if len(names) < 2:
        raise ValueError('at least two usable training images are needed, got %d' % len(names))
    rng = np.random.default_rng(seed)
    pairs = []
    for index, name in enumerate(names):
        others = np.delete(np.arange(len(names)), index)
        chosen = rng.choice(others, size=pairs_for_each, replace=len(others) < pairs_for_each)
        pairs += [(name, names[j]) for j in chosen]
    return pairs


def generated_name(from_name, number):
    stem, extension = os.path.splitext(from_name)
    return '%sg%d%s' % (stem, number, extension or '.jpg')


def generate_reid_images(generator, pairs, annotations, args, out_dir):
    """Generates every pair into out_dir (skipping files already there); returns the file names."""
    from pose_dataset import background_name, find_image, make_pair_inputs
    from gan.inference import compiled_forward
    input_names = list(generator.input)
    forward = compiled_forward(generator, training=bool(args.use_dropout_test))
    folders = [args.images_dir_train]
    names = [generated_name(from_name, number) for number, (from_name, _) in enumerate(pairs, start=1)]
    todo = [i for i, name in enumerate(names) if not os.path.exists(os.path.join(out_dir, name))]
    os.makedirs(out_dir, exist_ok=True)
    for start in tqdm(range(0, len(todo), args.batch_size), desc='generating'):
        block = todo[start:start + args.batch_size]
        inputs = []
        for i in block:
            from_name, to_name = pairs[i]
            source = pose_utils.load_image(find_image(from_name, folders))
            background = None
            if args.use_bg:
                background = pose_utils.load_image(find_image(background_name(to_name), [args.bg_images_dir_train],
                                                              'background image'))
            inputs.append(make_pair_inputs(source, annotations[from_name], annotations[to_name], args.image_size,
                                           args.pose_rep_type, args.warp_skip, args.use_input_pose, args.use_bg,
                                           background=background, pose_map=args.pose_map))
        batch = {name: np.stack([pair[name] for pair in inputs]) for name in input_names}
        output = forward(batch)
        for i, image in zip(block, output):
            path = os.path.join(out_dir, names[i])
            with atomic.atomic_path(path) as tmp:   # PIL's default JPEG quality, as the reference
                Image.fromarray(pose_utils.deprocess_image(image)).save(tmp, format='JPEG')
    return names


def write_train_list(images_dir, list_path, generated_as_separate=False):
    """``dataset/bounding_box_train/<file> <class>`` for every image of images_dir; classes are the person
    ids numbered in name order, generated images (a 'g' in the last name field) offset by the number of
    persons when generated_as_separate."""
    names = sorted(name for name in os.listdir(images_dir) if name.lower().endswith(IMAGE_EXTENSIONS))
    persons = sorted({person_id(name) for name in names})
    class_of = {person: number for number, person in enumerate(persons)}
    lines = []
    for name in names:
        index = name.replace('.', '_').split('_')[-2]
        number = class_of[person_id(name)]
        if generated_as_separate and 'g' in index:
            number += len(class_of)
        lines.append('%s%s %d\n' % (TRAIN_LIST_PREFIX, name, number))
    atomic.write_text(list_path, ''.join(lines))
    return len(lines)


def main(argv=None):
    args = cmd.parse_generator_args(cmd.reid_parser(), argv)
    ensure_dataset(args)
    pairs_file = args.reid_pairs_file or os.path.join(args.data_root, args.dataset + '-re-id-pairs.csv')
    train_list = args.reid_train_list or os.path.join(args.generated_images_dir, 'train.txt')
    import conv_layers
    import weight_files

    def work():
        devices.prepare_backend(args.tf32)
        # The checkpoint first: a wrong or damaged one stops the run before anything is written.
        generator = conv_layers.make_generator(**conv_layers.network_options(args))
        weight_files.load_weights(generator, args.generator_checkpoint)
        annotations = pose_utils.load_annotations(args.annotations_file_train, args.image_size)
        pairs = make_reid_pairs(usable_names(annotations), args.pairs_for_each, args.seed)
        pose_utils.save_pairs(pairs_file, pairs)
        print('Number of pairs: %d (written to %s)' % (len(pairs), pairs_file))
        generate_reid_images(generator, pairs, annotations, args, args.generated_images_dir)
        if args.store_train_images:
            for name in sorted(os.listdir(args.images_dir_train)):
                shutil.copy(os.path.join(args.images_dir_train, name), args.generated_images_dir)
        count = write_train_list(args.generated_images_dir, train_list, args.generated_as_separate)
        return 'Wrote %d training list rows to %s' % (count, train_list)
    return run_script('create_dataset_for_reid.py', work)


if __name__ == '__main__':
    sys.exit(main())
