"""Demo: one source image re-posed in the poses of a folder of target frames, by the generator of
docs/reference.md, "Networks".

Every image is resized to the dataset's size (--dataset); keypoints come from the pose estimator
(--pose_estimator) or from an annotation CSV (--keypoints_csv, by file name, in the coordinates of
the files as stored). A frame's missing points are taken from the previous frame; the frames whose
torso (both hips and shoulders) is then complete are generated from the source with the generator of
the training flags and --generator_checkpoint. Output in --generated_images_dir: one PNG per frame
(source | target frame | generated) and demo.gif, the same strips animated.

    python demo.py --generator_checkpoint output/checkpoints/epoch_089_generator.weights.h5 \\
        --warp_skip mask --source_image data/source-image.jpg --target_images_dir data/target-images
"""
import cmd  # noqa: I001  (first: see cmd.py)
import os
import sys

import numpy as np
import skimage.transform
from PIL import Image

import pose_transform
import pose_utils
from gan import atomic, devices
from script_errors import run_script

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.tif', '.tiff', '.webp')
GIF_NAME = 'demo.gif'


def frame_names(folder):
    """The image files of a folder, in name order."""
    if not os.path.isdir(folder):
        raise FileNotFoundError('target frame folder not found: %s' % folder)
    names = sorted(name for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise ValueError('no images in the target frame folder %s' % folder)
    return names


def resize_image(image, image_size):
    """uint8 image resized to image_size (H, W), as the reference did before estimating keypoints."""
    if image.shape[:2] == tuple(image_size):
        return image
    resized = skimage.transform.resize(image, image_size, order=1, preserve_range=True, anti_aliasing=True)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def scale_keypoints(kp, from_size, to_size):
    """(18, 2) (y, x) keypoints of an image of from_size mapped onto to_size; -1 stays -1."""
    kp = np.asarray(kp)
    scale = np.array(to_size, dtype=float) / np.array(from_size[:2], dtype=float)
    scaled = np.floor(kp * scale).astype(int)
    scaled = np.minimum(scaled, np.array(to_size) - 1)
    return np.where(kp == pose_utils.MISSING_VALUE, pose_utils.MISSING_VALUE, scaled)


def fill_missing_from_previous(keypoints):
    """Each frame's missing points taken from the previous frame (after its own filling)."""
    filled = []
    for kp in keypoints:
        kp = np.array(kp)
        if filled:
            missing = ~pose_utils.present_mask(kp)
            kp[missing] = filled[-1][missing]
        filled.append(kp)
    return filled


def keypoints_from_csv(csv_path, names, original_sizes, image_size):
    annotations = pose_utils.load_annotations(csv_path)
    absent = [name for name in names if name not in annotations]
    if absent:
        raise ValueError('%s has no keypoints for %s' % (csv_path, ', '.join(absent)))
    return [scale_keypoints(annotations[name], size, image_size) for name, size in zip(names, original_sizes)]


def keypoints_from_estimator(images, pose_estimator_path, scale_search):
    from compute_cordinates import cordinates_from_image_file
    from pose_estimator import load_pose_estimator
    from tqdm import tqdm
    model = load_pose_estimator(pose_estimator_path)
    return [cordinates_from_image_file(image, model, scale_search) for image in tqdm(images, desc='keypoints')]


def generate(generator, source_image, source_kp, target_kps, args, background=None):
    """uint8 generated images of the source in each target pose, --batch_size at a time."""
    from pose_dataset import make_pair_inputs
    from gan.inference import compiled_forward
    input_names = list(generator.input)
    forward = compiled_forward(generator, training=bool(args.use_dropout_test))
    generated = []
    for start in range(0, len(target_kps), args.batch_size):
        pairs = [make_pair_inputs(source_image, source_kp, kp, args.image_size, args.pose_rep_type, args.warp_skip,
                                  args.use_input_pose, args.use_bg, background=background, pose_map=args.pose_map)
                 for kp in target_kps[start:start + args.batch_size]]
        batch = {name: np.stack([pair[name] for pair in pairs]) for name in input_names}
        output = forward(batch)
        generated += [pose_utils.deprocess_image(image) for image in output]
    return generated


def _save_atomic(image, path, **options):
    with atomic.atomic_path(path) as tmp:
        image.save(tmp, **options)


def save_demo(out_dir, names, source, frames, generated, frame_duration):
    """One PNG strip (source | frame | generated) per frame and the animated GIF of the strips."""
    os.makedirs(out_dir, exist_ok=True)
    strips = [Image.fromarray(np.concatenate([source, frame, image], axis=1))
              for frame, image in zip(frames, generated)]
    paths = []
    for name, strip in zip(names, strips):
        paths.append(os.path.join(out_dir, os.path.splitext(name)[0] + '.png'))
        _save_atomic(strip, paths[-1], format='PNG')
    gif_path = os.path.join(out_dir, GIF_NAME)
    _save_atomic(strips[0], gif_path, format='GIF', save_all=True, append_images=strips[1:],
                 duration=frame_duration, loop=0)
    return paths, gif_path


def run_demo(args):
    """Keypoints, pairs, generation and output files; returns (frame PNG paths, GIF path)."""
    import conv_layers
    import weight_files
    devices.prepare_backend(args.tf32)
    names = frame_names(args.target_images_dir)
    if not os.path.isfile(args.source_image):
        raise FileNotFoundError('source image not found: %s' % args.source_image)
    originals = [pose_utils.load_image(path) for path in
                 [args.source_image] + [os.path.join(args.target_images_dir, name) for name in names]]
    images = [resize_image(image, args.image_size) for image in originals]
    if args.keypoints_csv:
        all_names = [os.path.basename(args.source_image)] + names
        keypoints = keypoints_from_csv(args.keypoints_csv, all_names, [im.shape for im in originals], args.image_size)
    else:
        keypoints = keypoints_from_estimator(images, args.pose_estimator, args.scale_search)
    source_image, source_kp = images[0], keypoints[0]
    if not pose_transform.check_valid(source_kp):
        raise ValueError('the source image %s has no complete torso (Rhip, Lhip, Lsho, Rsho): %s'
                         % (args.source_image, source_kp.tolist()))
    frame_kps = fill_missing_from_previous(keypoints[1:])
    valid = [i for i, kp in enumerate(frame_kps) if pose_transform.check_valid(kp)]
    if not valid:
        raise ValueError('no target frame in %s has a complete torso' % args.target_images_dir)
    print('Number of pairs: %d (of %d frames)' % (len(valid), len(names)))
    background = None
    if args.use_bg:
        background = resize_image(pose_utils.load_image(args.bg_image), args.image_size)
    generator = conv_layers.make_generator(**conv_layers.network_options(args))
    weight_files.load_weights(generator, args.generator_checkpoint)
    generated = generate(generator, source_image, source_kp, [frame_kps[i] for i in valid], args, background)
    return save_demo(args.generated_images_dir, [names[i] for i in valid], source_image,
                     [images[1 + i] for i in valid], generated, args.frame_duration)


def main(argv=None):
    args = cmd.parse_generator_args(cmd.demo_parser(), argv)

    def work():
        paths, gif_path = run_demo(args)
        return 'Saved %d frames and %s' % (len(paths), gif_path)
    return run_script('demo.py', work)


if __name__ == '__main__':
    sys.exit(main())
