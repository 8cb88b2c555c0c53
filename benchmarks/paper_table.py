"""The paper's table of scores (SSIM, IS, mask-SSIM, mask-IS, DS) from the scores.json of several test.py
runs, each row beside the paper's published figures (those of the paper's dataset of the same image
size when the run's dataset is another, e.g. the synthetic one), plus the scores the paper did not
report (FID, LPIPS, PCKh), as Markdown and CSV.

    python benchmarks/paper_table.py output/baseline/generated output/dsc/generated output/full/generated
    python benchmarks/paper_table.py full=output/full/generated "feature matching=output/fm/generated" --csv table.csv

Each RUN is a folder holding scores.json (test.py's --generated_images_dir), a run folder whose
generated/ holds it, or the file itself; LABEL=RUN names its row, otherwise the configuration is told
from the flags of the run that made the checkpoint (baseline, dsc, full, feature matching; README,
"The reference's commands") or the folder's name. DS is read from scores.json's ``ds`` when there
(ssd_score/compute_ssd_score.py prints it). The IS column says which Inception network computed it:
only the 2015 graph's figures compare with the paper's.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cmd  # noqa: E402,F401  (first: see cmd.py)

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402

# Published figures (docs/reference.md, "Scores"): the full model only; the other configurations'
# published rows are not recorded there, so their paper cells stay empty.
PUBLISHED = {
    ('full', 'market'): {'ssim': 0.290, 'inception_score': 3.185, 'ssim_masked': 0.805,
                         'inception_score_masked': 3.502, 'ds': 0.72},
    ('full', 'fasion'): {'ssim': 0.756, 'inception_score': 3.439, 'ds': 0.96},
}
PAPER_COLUMNS = [('ssim', 'SSIM'), ('inception_score', 'IS'), ('ssim_masked', 'mask-SSIM'),
                 ('inception_score_masked', 'mask-IS'), ('ds', 'DS')]
EXTRA_COLUMNS = [('fid', 'FID'), ('lpips_alex', 'LPIPS (AlexNet)'), ('lpips_vgg', 'LPIPS (VGG)'), ('pckh', 'PCKh')]
# The paper's dataset whose figures stand beside a run's: its own, else the paper's dataset of the
# same image size (128x64: Market-1501; square: DeepFashion).
PAPER_DATASET = {'market': 'market', 'prw': 'market', 'synthetic': 'market', 'fasion128': 'market',
                 'fasion': 'fasion', 'fasion128128': 'fasion', 'synthetic256': 'fasion'}


def find_scores(path):
    """The scores.json of a RUN argument."""
    for candidate in (path, os.path.join(path, 'scores.json'), os.path.join(path, 'generated', 'scores.json')):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError('no scores.json in %s (nor in its generated/): run test.py on it first' % path)


def configuration(flags):
    """baseline, dsc, full or feature matching from a run's flags (None when none of them)."""
    if not flags:
        return None
    warp, content = flags.get('warp_skip'), flags.get('content_loss_layer', 'none')
    l1, area = float(flags.get('l1_penalty_weight', 100)), int(flags.get('nn_loss_area_size', 1))
    if warp == 'none' and content == 'none':
        return 'baseline'
    if warp == 'mask' and content == 'none' and area == 1 and l1 == 100:
        return 'dsc'
    if warp == 'mask' and content == 'block1_conv2' and area > 1:
        return 'full'
    if warp == 'mask' and content == 'block2_conv1' and area == 1:
        return 'feature matching'
    return None


def read_run(argument):
    """One row: label, configuration, dataset, scores and the Inception network of a RUN argument."""
    label = None
    if '=' in argument and not os.path.exists(argument):
        label, argument = argument.split('=', 1)
    path = find_scores(argument)
    try:
        with open(path) as f:
            report = json.load(f)
        scores = report['scores']
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError('%s is not a scores.json written by test.py: %s' % (path, error)) from None
    if not isinstance(scores, dict):
        raise ValueError('%s holds no scores (a shard\'s report? run test.py --merge_shards first)' % path)
    # test.py's own flags leave the loss weights out: only the training run's flags tell the configuration.
    config = configuration(report.get('training_flags'))
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder) == 'generated':
        folder = os.path.dirname(folder)
    network = report.get('inception_network') or {}
    return {'label': label or config or os.path.basename(folder), 'configuration': config,
            'dataset': (report.get('test_flags') or {}).get('dataset'), 'scores': scores, 'path': path,
            'inception': network.get('name'), 'comparable': network.get('comparable_to_paper')}


def published(row):
    return PUBLISHED.get((row['configuration'], PAPER_DATASET.get(row['dataset'])), {})


def value_text(value):
    if value is None:
        return ''
    if isinstance(value, (list, tuple)):   # IS: [mean, std]
        return '%.3f ± %.3f' % tuple(value)
    return '%.3f' % value


def table_rows(rows):
    """Header and rows of strings: each run, then the paper's row for its configuration."""
    header = ['configuration', 'dataset'] + [title for _, title in PAPER_COLUMNS + EXTRA_COLUMNS] + ['IS network']
    lines = []
    for row in rows:
        scores = row['scores']
        network = row['inception'] or 'not computed'
        if row['comparable'] is False:
            network += ' (not the paper\'s)'
        lines.append([row['label'], row['dataset'] or ''] + [value_text(scores.get(name))
                                                             for name, _ in PAPER_COLUMNS + EXTRA_COLUMNS] + [network])
        paper = published(row)
        lines.append(['%s, paper' % row['label'], PAPER_DATASET.get(row['dataset'], '')]
                     + [value_text(paper.get(name)) if paper else '' for name, _ in PAPER_COLUMNS]
                     + [''] * len(EXTRA_COLUMNS) + ['2015 Inception graph' if paper else 'not in docs/reference.md'])
    return header, lines


def markdown(header, lines):
    out = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    out += ['| ' + ' | '.join(cell or '—' for cell in line) + ' |' for line in lines]
    return '\n'.join(out)


def csv_text(header, lines):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(lines)
    return buffer.getvalue()


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', metavar='RUN', help='[LABEL=]folder of scores.json (or the file).')
    parser.add_argument('--csv', default=None, help='Also write the CSV to this file.')
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        rows = [read_run(run) for run in args.runs]
    except (FileNotFoundError, ValueError) as error:
        print('paper_table.py: error: %s' % error, file=sys.stderr)
        return 1
    header, lines = table_rows(rows)
    print(markdown(header, lines))
    print()
    text = csv_text(header, lines)
    print(text, end='')
    if args.csv:
        with open(args.csv, 'w') as f:
            f.write(text)
    if any(row['comparable'] is False for row in rows):
        print('\nIS and mask-IS computed by Keras\' InceptionV3 do not compare with the paper\'s (the 2015 '
              'Inception graph: test.py --inception_graph).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
