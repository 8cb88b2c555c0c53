"""Converts the LPIPS weights (gan/lpips.py) from their PyTorch files into the .npz that test.py reads;
torch is needed for this conversion only.

    python evaluation/convert_lpips_weights.py alex alex.pth alexnet-owt-7be5be79.pth ~/.keras/models/lpips_alex.npz
    python evaluation/convert_lpips_weights.py vgg vgg.pth vgg16-397923af.pth ~/.keras/models/lpips_vgg.npz

Arguments: the variant (alex or vgg); the lpips package's learned weights (weights/v0.1/alex.pth or
vgg.pth, from https://github.com/richzhang/PerceptualSimilarity); torchvision's ImageNet backbone
(https://download.pytorch.org/models/alexnet-owt-7be5be79.pth or vgg16-397923af.pth); the output file.
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402,F401  (first, see cmd.py)

from gan.lpips import NETWORKS, convert_torch_weights  # noqa: E402
from script_errors import run_script  # noqa: E402

USAGE = 'usage: python evaluation/convert_lpips_weights.py {alex,vgg} LIN.pth BACKBONE.pth OUT.npz'


def main(argv=None):
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 4 or arguments[0] not in NETWORKS:
        print(USAGE, file=sys.stderr)
        return 2
    net, lins_path, backbone_path, out_path = arguments

    def work():
        for path in (lins_path, backbone_path):
            if not os.path.isfile(path):
                raise FileNotFoundError('%s does not exist' % path)
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ValueError('the conversion reads PyTorch files: pip install torch (only for this step)') from None
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        return 'Wrote %s' % convert_torch_weights(net, lins_path, backbone_path, out_path)
    return run_script('convert_lpips_weights.py', work)


if __name__ == '__main__':
    sys.exit(main())
