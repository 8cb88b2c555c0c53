"""cmd.py: the flags, the dataset layout, and the standard-library name clash it is built around."""
import ast
import glob
import os
import sys
import textwrap

import pytest

import cmd
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_project_cmd_is_the_one_loaded():
    assert getattr(cmd, 'IS_PROJECT_CMD', False)
    assert os.path.samefile(cmd.__file__, os.path.join(ROOT, 'cmd.py'))


def test_it_re_exports_the_standard_module_so_pdb_works():
    import pdb
    assert issubclass(pdb.Pdb, cmd.Cmd)
    assert cmd.PROMPT == '(Cmd) '


def _run(code, cwd=ROOT):
    return subprocesses.run([sys.executable, '-c', textwrap.dedent(code)], 300, cwd=cwd)


@pytest.mark.slow
def test_importing_cmd_first_then_tensorflow_keeps_the_project_module():
    result = _run('''
        import cmd
        import tensorflow, pdb
        import cmd as again
        assert again.IS_PROJECT_CMD and issubclass(pdb.Pdb, again.Cmd)
        print(again.parse_args)
    ''')
    assert result.returncode == 0, result.stderr[-2000:]


def test_python_m_pytest_from_the_repo_root_collects(tmp_path):
    """With the repository root first on sys.path, pytest's pdb import finds this cmd.py."""
    probe = tmp_path / 'test_probe.py'
    probe.write_text('import cmd\n\ndef test_probe():\n    assert cmd.IS_PROJECT_CMD\n')
    result = subprocesses.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                               '--rootdir', str(tmp_path), str(probe)], 300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '1 passed' in result.stdout


def _scripts():
    top = [p for p in glob.glob(os.path.join(ROOT, '*.py'))
           if os.path.basename(p) not in ('cmd.py', 'setup.py')]
    nested = [p for folder in ('data', 'evaluation', 'ssd_score', 'sup-mat', 'benchmarks')
              for p in glob.glob(os.path.join(ROOT, folder, '*.py'))]
    return [p for p in top + nested if "if __name__ == '__main__'" in open(p).read()
            or 'if __name__ == "__main__"' in open(p).read()]


def _first_import(path):
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            if names in (['os'], ['sys'], ['os', 'sys']):
                continue   # the path bootstrap of scripts in subfolders
            return names[0]
        if isinstance(node, ast.ImportFrom):
            if node.module == '__future__':
                continue
            return node.module
    return None


@pytest.mark.parametrize('script', _scripts(), ids=lambda p: os.path.relpath(p, ROOT))
def test_every_script_imports_cmd_before_anything_else(script):
    assert _first_import(script) == 'cmd', (
        '%s must import cmd first (see cmd.py): otherwise TensorFlow caches the standard cmd' % script)


def test_dataset_paths_follow_the_reference_layout():
    args = cmd.add_dataset_paths(cmd.train_parser().parse_args(['--dataset', 'fasion']))
    assert args.image_size == (256, 256)
    assert args.images_dir_train == os.path.join('data', 'fasion-dataset', 'train')
    assert args.annotations_file_test == os.path.join('data', 'fasion-annotation-test.csv')
    assert args.pairs_file_train == os.path.join('data', 'fasion-pairs-train.csv')
    assert args.bg_images_dir_test == os.path.join('data', 'fasion-dataset', 'test-bg')
    assert args.tmp_pose_dir == os.path.join('tmp', 'fasion')
    for name, size in [('market', (128, 64)), ('prw', (128, 64)), ('fasion128', (128, 64)),
                       ('fasion128128', (128, 128))]:
        assert cmd.add_dataset_paths(cmd.train_parser().parse_args(['--dataset', name])).image_size == size


def test_reference_defaults():
    args = cmd.train_parser().parse_args([])
    expected = dict(output_dir='output/displayed_samples', batch_size=4, training_ratio=1,
                    l1_penalty_weight=100.0, gan_penalty_weight=1.0, tv_penalty_weight=0.0,
                    lstruct_penalty_weight=0.0, number_of_epochs=500, content_loss_layer='none',
                    checkpoints_dir='output/checkpoints', checkpoint_ratio=30, generator_checkpoint=None,
                    discriminator_checkpoint=None, nn_loss_area_size=1, use_validation=True,
                    dataset='market', display_ratio=1, start_epoch=0, pose_estimator='pose_estimator.h5',
                    images_for_test=12000, use_input_pose=True, warp_skip='stn', warp_agg='max',
                    disc_type='call', use_bg=False, pose_rep_type='hm', cache_pose_rep=True,
                    generated_images_dir='output/generated_images', load_generated_images=False,
                    use_dropout_test=False, batches_per_epoch=1000, width_factor=1.0)
    assert {k: getattr(args, k) for k in expected} == expected


def _parse_error(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        cmd.parse_args(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['--nn_loss_area_size', '4'], '--nn_loss_area_size must be odd'),
    (['--nn_loss_area_size', '0'], '--nn_loss_area_size'),
    (['--content_loss_layer', 'block1_conv2,block9_conv1'], 'VGG19 has no layer block9_conv1'),
    (['--use_bg', '2'], '--use_bg'),
    (['--warp_skip', 'warp'], '--warp_skip'),
    (['--batch_size', '0'], '--batch_size'),
])
def test_bad_flags_are_refused_by_name(argv, message, capsys, tmp_path):
    err = _parse_error(argv + ['--data_root', str(tmp_path)], capsys)
    assert message in err


def test_missing_dataset_files_are_named(capsys, tmp_path):
    err = _parse_error(['--dataset', 'market', '--data_root', str(tmp_path)], capsys)
    assert os.path.join(str(tmp_path), 'market-dataset', 'train') in err


def test_a_batch_the_data_cannot_fill_is_refused(capsys, tmp_path):
    for split in ('train', 'test'):
        (tmp_path / 'market-dataset' / split).mkdir(parents=True)
        (tmp_path / ('market-annotation-%s.csv' % split)).write_text('name:keypoints_y:keypoints_x\n')
        (tmp_path / ('market-pairs-%s.csv' % split)).write_text('from,to\na.jpg,b.jpg\nb.jpg,a.jpg\n')
    err = _parse_error(['--data_root', str(tmp_path), '--batch_size', '3'], capsys)
    assert 'holds only 2 pairs' in err
    args = cmd.parse_args(['--data_root', str(tmp_path), '--batch_size', '2'])
    assert args.batch_size == 2


def test_options_table_marks_changed_values():
    args = cmd.train_parser().parse_args(['--batch_size', '2'])
    table = cmd.format_options(args)
    assert [line for line in table.splitlines() if '[default: 4]' in line][0].split(':')[0].strip() == 'batch_size'
    assert sum('[default:' in line for line in table.splitlines()) == 1


def test_pairs_files_with_a_byte_order_mark_are_counted(tmp_path):
    for split in ('train', 'test'):
        (tmp_path / 'market-dataset' / split).mkdir(parents=True)
        (tmp_path / ('market-annotation-%s.csv' % split)).write_bytes(b'\xef\xbb\xbfname:keypoints_y:keypoints_x\r\n')
        (tmp_path / ('market-pairs-%s.csv' % split)).write_bytes(b'\xef\xbb\xbffrom,to\r\na.jpg,b.jpg\r\n')
    assert cmd.count_pairs(str(tmp_path / 'market-pairs-train.csv')) == 1
    assert cmd.parse_args(['--data_root', str(tmp_path), '--batch_size', '1']).batch_size == 1


# ---- Numbers ------------------------------------------------------------------------------------

def _test_parser():
    """test.py's flags: the training ones and the shard split."""
    return cmd.add_shard_flags(cmd.train_parser())


def _float_flags(parser):
    return sorted(action.dest for action in parser._actions if isinstance(action.default, float))


TRAIN_FLOATS = ['gan_penalty_weight', 'l1_penalty_weight', 'lstruct_penalty_weight', 'tv_penalty_weight',
                'width_factor']


@pytest.mark.parametrize('make', [cmd.train_parser, _test_parser, cmd.demo_parser, cmd.reid_parser])
def test_every_float_flag_checks_its_number(make):
    """A float flag added with type=float would let NaN through: each one has the finite-float type."""
    parser = make()
    assert _float_flags(parser) == TRAIN_FLOATS
    for action in parser._actions:
        if isinstance(action.default, float):
            assert action.type in (cmd.finite_float, cmd._positive_float), action.dest


@pytest.mark.parametrize('make', [cmd.train_parser, _test_parser], ids=['train', 'test'])
@pytest.mark.parametrize('flag', TRAIN_FLOATS)
@pytest.mark.parametrize('value', ['nan', 'inf', '-inf', 'NaN', '1e400', 'x'])
def test_nan_and_infinite_floats_are_refused_by_name(make, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        make().parse_args(['--%s=%s' % (flag, value)])   # '=': argparse takes a lone -inf for a flag
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith('error: argument --%s: must be a %snumber, got %s'
                        % (flag, '' if value == 'x' else 'finite ', value)), err


def test_floats_in_range_are_read():
    args = cmd.train_parser().parse_args(['--l1_penalty_weight', '1e-3', '--tv_penalty_weight', '-0.5',
                                          '--width_factor', '0.0625'])
    assert (args.l1_penalty_weight, args.tv_penalty_weight, args.width_factor) == (1e-3, -0.5, 0.0625)


@pytest.mark.parametrize('value', ['0', '-1', '-0.0'])
def test_width_factor_must_be_positive(value, capsys):
    with pytest.raises(SystemExit):
        cmd.train_parser().parse_args(['--width_factor=' + value])
    assert 'argument --width_factor: must be positive, got %s' % value in capsys.readouterr().err


@pytest.mark.parametrize('value', ['nan', 'inf', '1,nan', '0.5,-1', '0'])
def test_scale_search_refuses_nan_infinite_and_non_positive(value, capsys):
    with pytest.raises(SystemExit) as stop:
        cmd.compute_cordinates_parser().parse_args(['--scale_search=' + value])
    assert stop.value.code == 2 and 'argument --scale_search' in capsys.readouterr().err


# ---- Input pipeline and resume-state flags ---------------------------------------------------------

def test_data_workers_and_save_every_steps():
    args = cmd.train_parser().parse_args([])
    assert args.data_workers == cmd.cpu_count() >= 1
    assert args.save_every_steps == 0
    args = cmd.train_parser().parse_args(['--data_workers', '0', '--save_every_steps', '50'])
    assert (args.data_workers, args.save_every_steps) == (0, 50)
    assert 'data_workers' not in cmd.RUN_FLAGS and 'save_every_steps' not in cmd.RUN_FLAGS


@pytest.mark.parametrize('flag', ['--data_workers', '--save_every_steps'])
@pytest.mark.parametrize('value', ['-1', '1.5', 'nan'])
def test_data_workers_and_save_every_steps_are_whole_numbers(flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        cmd.train_parser().parse_args([flag + '=' + value])
    assert stop.value.code == 2
    assert 'argument %s: must be a whole number >= 0, got %s' % (flag, value) in capsys.readouterr().err
