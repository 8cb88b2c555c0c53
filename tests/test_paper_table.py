"""benchmarks/paper_table.py on scores.json files written here."""
import json
import os

import pytest

from benchmarks import paper_table

FULL_FLAGS = {'warp_skip': 'mask', 'content_loss_layer': 'block1_conv2', 'nn_loss_area_size': 3,
              'l1_penalty_weight': 0.01}


def write_run(folder, scores, training_flags=None, dataset='market', network='2015 Inception graph'):
    os.makedirs(folder, exist_ok=True)
    report = {'scores': scores, 'test_flags': {'dataset': dataset, 'warp_skip': 'mask'},
              'training_flags': training_flags,
              'inception_network': {'name': network, 'comparable_to_paper': network == '2015 Inception graph'}
              if network else None}
    with open(os.path.join(folder, 'scores.json'), 'w') as f:
        json.dump(report, f)


def test_configurations_are_told_from_the_training_flags():
    assert paper_table.configuration({'warp_skip': 'none', 'l1_penalty_weight': 100}) == 'baseline'
    assert paper_table.configuration({'warp_skip': 'mask', 'l1_penalty_weight': 100}) == 'dsc'
    assert paper_table.configuration(FULL_FLAGS) == 'full'
    assert paper_table.configuration({'warp_skip': 'mask', 'l1_penalty_weight': 0.5,
                                      'content_loss_layer': 'block2_conv1'}) == 'feature matching'
    assert paper_table.configuration({'warp_skip': 'stn'}) is None
    assert paper_table.configuration(None) is None


def test_table_rows_with_the_papers_figures_and_the_extra_scores(tmp_path, capsys):
    full = {'ssim': 0.3012, 'inception_score': [3.2, 0.05], 'ssim_masked': 0.81, 'inception_score_masked': [3.4, 0.1],
            'fid': 25.5, 'lpips_alex': 0.21, 'pckh': 0.875, 'l1': 0.3}
    write_run(str(tmp_path / 'full' / 'generated'), full, FULL_FLAGS)
    write_run(str(tmp_path / 'other'), {'ssim': 0.25, 'ssim_masked': 0.7}, None, network='Keras InceptionV3')
    status = paper_table.main([str(tmp_path / 'full'), 'mine=%s' % (tmp_path / 'other' / 'scores.json'),
                               '--csv', str(tmp_path / 'table.csv')])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith('| configuration | dataset | SSIM | IS | mask-SSIM | mask-IS | DS | FID |')
    assert '| full | market | 0.301 | 3.200 ± 0.050 | 0.810 | 3.400 ± 0.100 | — | 25.500 | 0.210 | — | 0.875 | ' \
           '2015 Inception graph |' in lines
    assert '| full, paper | market | 0.290 | 3.185 | 0.805 | 3.502 | 0.720 | — | — | — | — | 2015 Inception graph |' in lines
    assert any(line.startswith('| mine | market | 0.250 | — | 0.700 |') and "(not the paper's)" in line
               for line in lines)
    assert "| mine, paper | market | — | — | — | — | — | — | — | — | — | not in docs/reference.md |" in lines
    assert 'do not compare with the paper' in out
    csv_lines = (tmp_path / 'table.csv').read_text().splitlines()
    assert csv_lines[0].startswith('configuration,dataset,SSIM,IS,mask-SSIM')
    assert csv_lines[1].startswith('full,market,0.301,3.200 ± 0.050,0.810')
    assert csv_lines == out.split('\n\n')[1].splitlines()


def test_a_missing_or_unfinished_run_is_named(tmp_path, capsys):
    assert paper_table.main([str(tmp_path / 'nowhere')]) == 1
    assert 'no scores.json in %s' % (tmp_path / 'nowhere') in capsys.readouterr().err
    write_run(str(tmp_path / 'shard'), None)
    assert paper_table.main([str(tmp_path / 'shard')]) == 1
    error = capsys.readouterr().err
    assert 'holds no scores' in error and str(tmp_path / 'shard') in error
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'scores.json').write_text('{not json')
    assert paper_table.main([str(tmp_path / 'bad')]) == 1
    error = capsys.readouterr().err
    assert 'is not a scores.json written by test.py' in error and str(tmp_path / 'bad' / 'scores.json') in error


@pytest.mark.parametrize('dataset, expected', [('market', 0.290), ('fasion', 0.756), ('synthetic', 0.290),
                                               ('synthetic256', 0.756), ('elsewhere', None)])
def test_published_figures_by_dataset(dataset, expected):
    row = {'configuration': 'full', 'dataset': dataset}
    assert paper_table.published(row).get('ssim') == expected
