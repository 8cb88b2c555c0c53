"""The same training step in PyTorch, with the networks of the PyTorch port of the paper
(github.com/ssfootball04/pose-transfer, ``src_deformable/models/networks.py``), beside this
project's step, alternately in fresh processes: market ``mask``, batch 4, full width, data in memory.

    git clone https://github.com/ssfootball04/pose-transfer /path/to/pose-transfer
    pip install torch                      # a CPU build; not needed by the project itself
    python benchmarks/pytorch_port.py --port_dir /path/to/pose-transfer [--isa native,avx2]

The port's ``encoder``, ``decoder`` (with its ``Block``: convolution or transposed convolution with
the 1-px crop, instance norm over channels and pixels together, dropout) and ``Discriminator`` are
imported from the checkout as they are. Its two helpers that cannot run on a CPU or with today's
libraries are replaced here: ``utils.pose_utils`` (only ``get_imgpose``, a split of the input
channels, is used) and ``utils.pose_transform.AffineTransformLayer``, which calls ``.cuda()``: here the
ten part transforms sample each feature map with ``F.grid_sample`` (nearest, as the reference), the
part masks (resized per level) multiply them, and the maximum over parts aggregates them, as the port
does. The step is this project's: a discriminator update on fakes from a generator pass
(-mean log D(real) - mean log(1 - D(fake))), then a generator update (adversarial term + 100 * L1),
each followed by Adam (lr 2e-4, betas 0.5 and 0.999, epsilon 1e-8), ``torch.set_num_threads`` = the
usable cores. The FLOPs per pair are this project's (the port's networks have the same convolutions;
their parameter counts are printed beside the project's).
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cmd  # noqa: E402,F401  (first, see cmd.py)

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import types  # noqa: E402

from benchmarks import common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.abspath(__file__)
ENCODER_FILTERS = [64, 128, 256, 512, 512, 512]
DECODER_FILTERS = [512, 512, 512, 256, 128, 3]
POSE = 18
PARTS = 10
IMAGE_SIZE = (128, 64)


def port_modules(port_dir):
    """The port's networks module, loaded with the two CPU stand-ins described above."""
    import torch
    import torch.nn.functional as F

    def get_imgpose(inputs, use_input_pose, pose_dim):
        return inputs[:, :3], inputs[:, 3:3 + pose_dim], inputs[:, 3 + pose_dim:]

    class AffineTransformLayer(torch.nn.Module):
        """Warps (N, C, h, w) by the (N, parts, 2, 3) transforms of the level in ``warps[h]`` (inverse
        maps in affine_grid's normalised coordinates), masks each part, takes the maximum over parts."""

        def __init__(self, number_of_transforms, init_image_size, warp_skip):
            super().__init__()

        def forward(self, features, warps, masks):
            n, c, h, w = features.shape
            parts = warps[h].shape[0] // n
            repeated = features.unsqueeze(1).expand(n, parts, c, h, w).reshape(n * parts, c, h, w)
            grid = F.affine_grid(warps[h], (n * parts, c, h, w), align_corners=False)
            warped = F.grid_sample(repeated, grid, mode='nearest', align_corners=False).view(n, parts, c, h, w)
            return (warped * masks[h].unsqueeze(2)).max(dim=1)[0]

    utils = types.ModuleType('utils')
    utils.__path__ = []
    utils.pose_utils = types.ModuleType('utils.pose_utils')
    utils.pose_utils.get_imgpose = get_imgpose
    utils.pose_transform = types.ModuleType('utils.pose_transform')
    utils.pose_transform.AffineTransformLayer = AffineTransformLayer
    sys.modules.update({'utils': utils, 'utils.pose_utils': utils.pose_utils,
                        'utils.pose_transform': utils.pose_transform})
    path = os.path.join(port_dir, 'src_deformable', 'models', 'networks.py')
    if not os.path.exists(path):
        raise SystemExit('--port_dir %s: no src_deformable/models/networks.py there (a checkout of '
                         'ssfootball04/pose-transfer is expected)' % port_dir)
    spec = importlib.util.spec_from_file_location('port_networks', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_port(port_dir, steps, warmup, batch_size):
    """Seconds per step of the port's networks (a fresh process runs this)."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    networks = port_modules(port_dir)
    generator = networks.Deformable_Generator(3 + 2 * POSE, POSE, IMAGE_SIZE, ENCODER_FILTERS, DECODER_FILTERS,
                                              'mask', use_input_pose=True)
    discriminator = networks.Discriminator(2 * (3 + POSE), use_input_pose=True)
    adam = dict(lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    g_optimizer = torch.optim.Adam(generator.parameters(), **adam)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), **adam)

    def batch(seed):
        generator_seed = torch.Generator().manual_seed(seed)
        n, (h, w) = batch_size, IMAGE_SIZE
        images = torch.rand(n, 3, h, w, generator=generator_seed) * 2 - 1
        target = torch.rand(n, 3, h, w, generator=generator_seed) * 2 - 1
        poses = torch.rand(n, 2 * POSE, h, w, generator=generator_seed)
        theta = torch.eye(2, 3).repeat(n * PARTS, 1, 1) + 0.1 * torch.randn(n * PARTS, 2, 3, generator=generator_seed)
        masks = (torch.rand(n, PARTS, h, w, generator=generator_seed) > 0.5).float()
        warps, level_masks = {}, {}
        for level in range(4):
            size = (h >> level, w >> level)
            warps[size[0]] = theta
            level_masks[size[0]] = F.interpolate(masks, size=size, mode='nearest')
        return {'input': torch.cat([images, poses], 1), 'target': target, 'poses': poses,
                'images': images, 'warps': warps, 'masks': level_masks}

    def discriminator_input(b, image):
        return torch.cat([b['images'], b['poses'][:, :POSE], image, b['poses'][:, POSE:]], 1)

    def step(real, fake, b):
        eps = 1e-7
        with torch.no_grad():
            generated = generator(fake['input'], fake['warps'], fake['masks'])
        d_loss = (-torch.log(discriminator(discriminator_input(real, real['target'])) + eps).mean()
                  - torch.log(1 - discriminator(discriminator_input(fake, generated)) + eps).mean())
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()
        generated = generator(b['input'], b['warps'], b['masks'])
        g_loss = (-torch.log(discriminator(discriminator_input(b, generated)) + eps).mean()
                  + 100 * (generated - b['target']).abs().mean())
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()
        return d_loss.detach().item(), g_loss.detach().item()

    batches = [batch(seed) for seed in range(3)]
    generator.train(), discriminator.train()
    times = common.time_calls(lambda: step(*batches), steps, warmup)
    return {'step': common.summary(times), 'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'generator_parameters': sum(p.numel() for p in generator.parameters()),
            'discriminator_parameters': sum(p.numel() for p in discriminator.parameters())}


def run(command, isa_env):
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, 'result.json')
        completed = subprocess.run(command + ['--out', out], cwd=ROOT, env=isa_env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        if completed.returncode:
            raise RuntimeError('%s failed:\n%s' % (' '.join(command), completed.stderr[-3000:]))
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    from benchmarks import train_step
    parser = common.parser('pytorch_port', __doc__.split('\n\n')[0])
    parser.add_argument('--port_dir', required=True, help='A checkout of github.com/ssfootball04/pose-transfer.')
    parser.add_argument('--isa', default='native', help='Comma-separated: native, avx2 (as train_step.py --isa; '
                                                        'PyTorch reads ATEN_CPU_CAPABILITY=avx2).')
    parser.add_argument('--rounds', default=3, type=int, help='Fresh processes per implementation, alternated.')
    parser.add_argument('--steps', default=5, type=int)
    parser.add_argument('--warmup', default=2, type=int)
    parser.add_argument('--measure_port', action='store_true', help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.measure_port:
        common.write_json(options.out, measure_port(options.port_dir, options.steps, options.warmup, 4))
        return
    if not os.path.exists(os.path.join(options.port_dir, 'src_deformable', 'models', 'networks.py')):
        parser.error('--port_dir %s: no src_deformable/models/networks.py there (a checkout of '
                     'ssfootball04/pose-transfer is expected)' % options.port_dir)
    for isa in options.isa.split(','):
        if isa not in train_step.ISAS:
            parser.error('--isa %s: choose from %s' % (isa, ', '.join(train_step.ISAS)))
    probe_options = argparse.Namespace(batch_size=4, width_factor=1.0, steps=options.steps, warmup=options.warmup,
                                       matmul_repeats=7, warp_interpolation=None)
    results = {'machine': common.machine(), 'load_before': common.load_average(), 'runs': []}
    port_command = [sys.executable, HERE, '--port_dir', options.port_dir, '--measure_port',
                    '--steps', str(options.steps), '--warmup', str(options.warmup)]
    for round_index in range(options.rounds):
        for isa in options.isa.split(','):
            env = dict(train_step.isa_environment(isa))
            if isa == 'avx2':
                env['ATEN_CPU_CAPABILITY'] = 'avx2'
            project = train_step.run_probe(ROOT, isa, 'mask', probe_options)
            port = run(port_command, env)
            results['runs'].append({'isa': isa, 'project': project, 'port': port})
            print('round %d, %s: project %.3f s, PyTorch port %.3f s per step (load %s)'
                  % (round_index + 1, isa, project['step']['median_s'], port['step']['median_s'],
                     common.load_average()), flush=True)
    results['load_after'] = common.load_average()
    rows = []
    for isa in options.isa.split(','):
        runs = [run for run in results['runs'] if run['isa'] == isa]
        flops = runs[0]['project']['gflop_per_pair'] * 4
        matmul = statistics.median(run['project']['matmul_gflops'] for run in runs)
        for name in ('project', 'port'):
            seconds = statistics.median(run[name]['step']['median_s'] for run in runs)
            rows.append({'isa': isa, 'implementation': 'this project (TensorFlow)' if name == 'project' else
                         'PyTorch port networks, torch %s' % runs[0]['port']['torch'],
                         'step_s': seconds, 'of_matmul': flops / seconds / matmul, 'matmul_GFLOP/s': matmul,
                         'generator_parameters': runs[0][name]['generator_parameters'],
                         'discriminator_parameters': runs[0][name]['discriminator_parameters']})
        rows[-1]['vs_project'] = rows[-1]['step_s'] / rows[-2]['step_s']
        rows[-2]['vs_project'] = 1.0
    results['rows'] = rows
    print(common.machine_line(results['machine']))
    print('load average before %s, after %s' % (results['load_before'], results['load_after']))
    results['table'] = common.table(
        rows, ['isa', 'implementation', 'step_s', 'of_matmul', 'matmul_GFLOP/s', 'vs_project',
               'generator_parameters', 'discriminator_parameters'],
        'Training step, market mask, batch 4, full width, data in memory: medians of %d fresh processes each'
        % options.rounds)
    common.write_json(options.out, results)


if __name__ == '__main__':
    main()
