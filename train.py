"""Trains the deformable GAN (SPEC section 6), called as in the reference README, e.g.

    python train.py --output_dir output/full --checkpoints_dir output/full --warp_skip mask \
        --dataset fasion --l1_penalty_weight 0.01 --nn_loss_area_size 5 --batch_size 2 \
        --content_loss_layer block1_conv2 --number_of_epochs 90

``--resume`` continues the run of --checkpoints_dir (weights, optimisers, epoch, data order).
"""
import cmd  # first: see cmd.py

import os
import sys


def main(argv=None):
    args = cmd.parse_args(argv)
    print(cmd.format_options(args), flush=True)
    cmd.save_options(args, os.path.join(args.checkpoints_dir, 'options.json'))
    from gan.trainer import NonFiniteLossError, train
    try:
        train(args)
    except (NonFiniteLossError, FileNotFoundError, ValueError) as error:
        print('train.py: error: %s' % error, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
