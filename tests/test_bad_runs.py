"""test.py on bad inputs: one line naming the file, a non-zero exit and nothing half-written; a folder
holding an older run's images; the flags recorded in scores.json. One bad input (a pair without a
torso) goes through the real command line (``test.py: error: ...`` on stderr, exit status 1); the
others call ``test.main`` in this process, whose exception's message is that line."""
import json
import os
import shutil
import sys

import pytest

import pose_utils
import test as test_script
from test_test_script import WIDTH, make_dataset_and_checkpoint
from tests import subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad-runs')
    return root, make_dataset_and_checkpoint(root)


@pytest.fixture
def setup(prepared, tmp_path, monkeypatch):
    """A private copy of the data and checkpoint, test.py's flags on them, and ``run`` (test.main in
    this process) and ``command_line`` (test.py in a process of its own) with those flags."""
    root, checkpoint = prepared
    shutil.copytree(root / 'data', tmp_path / 'data')
    shutil.copy(checkpoint, tmp_path / 'generator.weights.h5')
    out = tmp_path / 'generated'
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'no-keras-cache'))

    def flags(extra, checkpoint):
        return ['--data_root', str(tmp_path / 'data'), '--dataset', 'synthetic', '--warp_skip', 'mask',
                '--width_factor', WIDTH, '--generated_images_dir', str(out),
                '--generator_checkpoint', checkpoint or str(tmp_path / 'generator.weights.h5')] + list(extra)

    def run(*extra, checkpoint=None):
        return test_script.main(flags(extra, checkpoint))

    def command_line(*extra, checkpoint=None):
        return subprocesses.run([sys.executable, 'test.py'] + flags(extra, checkpoint), 300)   # KERAS_HOME inherited
    run.command_line = command_line
    return tmp_path, out, run


def error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines[-1].startswith('test.py: error: '), result.stderr[-3000:]
    return lines[-1]


def error_of(run, *extra, **flags):
    """The message of the error that ``run`` stops with: test.py's one line, without its prefix."""
    with pytest.raises((FileNotFoundError, ValueError)) as error:
        run(*extra, **flags)
    return str(error.value)


def pairs_of(tmp_path):
    return pose_utils.load_pairs(str(tmp_path / 'data' / 'synthetic-pairs-test.csv'))


def test_only_the_current_pairs_are_scored_and_the_rest_counted(setup, capsys):
    tmp_path, out, run = setup
    pairs = pairs_of(tmp_path)
    out.mkdir()
    for stale in ('old_a.jpg_old_b.jpg.png', 'old_c.jpg_old_d.jpg.png'):
        shutil.copy(os.path.join(tmp_path / 'data' / 'synthetic-dataset' / 'test', pairs[0][0]), out / stale)
    run()
    assert 'Not scored: 2 PNGs in %s that are not pairs of' % out in capsys.readouterr().out
    report = json.loads((out / 'scores.json').read_text())
    assert report['pairs'] == len(pairs) and report['ignored_pngs'] == 2


def test_a_pair_without_torso_stops_before_anything_is_written(setup):
    tmp_path, out, run = setup
    pairs = pairs_of(tmp_path)
    annotations_path = str(tmp_path / 'data' / 'synthetic-annotation-test.csv')
    annotations = pose_utils.load_annotations(annotations_path)
    annotations[pairs[5][1]][:] = -1
    pose_utils.save_annotations(annotations_path, annotations)
    line = error_line(run.command_line())
    assert 'synthetic-pairs-test.csv, line ' in line and 'has no keypoints (all missing)' in line
    assert not out.exists()
    run('--skip_invalid_pairs')
    report = json.loads((out / 'scores.json').read_text())
    skipped = sum(pairs[5][1] in pair for pair in pairs)
    assert report['skipped_pairs'] == skipped and report['pairs'] == len(pairs) - skipped
    assert len([name for name in os.listdir(out) if name.endswith('.png')]) == len(pairs) - skipped


def test_keypoints_that_are_nan_are_refused_with_the_line(setup):
    tmp_path, out, run = setup
    path = tmp_path / 'data' / 'synthetic-annotation-test.csv'
    lines = path.read_text().splitlines()
    name, y, x = lines[3].split(':')
    lines[3] = '%s: %s: [NaN%s' % (name, y.strip(), x.strip()[x.strip().index(','):])
    path.write_text('\n'.join(lines) + '\n')
    line = error_of(run)
    assert 'synthetic-annotation-test.csv, line 4 (%s): keypoint nose = nan' % name in line
    assert not out.exists()


@pytest.mark.parametrize('damage, message', [('cut_jpeg', 'is cut short (no JPEG end marker)'),
                                             ('empty_jpeg', 'is not a readable image')])
def test_a_damaged_image_is_named_and_nothing_is_written(setup, damage, message):
    tmp_path, out, run = setup
    path = tmp_path / 'data' / 'synthetic-dataset' / 'test' / pairs_of(tmp_path)[4][1]
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if damage == 'cut_jpeg' else b'')
    line = error_of(run)
    assert '%s %s' % (path, message) in line
    assert not out.exists()


@pytest.mark.parametrize('content', [b'', b'weights: none\n', 'cut'])
def test_an_unreadable_checkpoint_is_named_and_nothing_is_written(setup, content):
    tmp_path, out, run = setup
    checkpoint = tmp_path / 'bad.weights.h5'
    whole = (tmp_path / 'generator.weights.h5').read_bytes()
    checkpoint.write_bytes(whole[:len(whole) // 2] if content == 'cut' else content)
    line = error_of(run, checkpoint=str(checkpoint))
    assert str(checkpoint) in line and 'not a readable HDF5 weight file' in line
    assert not out.exists()


def test_scores_json_keeps_the_training_flags_apart(setup, capsys):
    tmp_path, out, run = setup
    options = {'number_of_epochs': 90, 'l1_penalty_weight': 0.01, 'warp_skip': 'mask',
               'width_factor': float(WIDTH), 'warp_agg': 'avg'}
    (tmp_path / 'options.json').write_text(json.dumps(options))
    (out).mkdir()
    (out / 'scores.json').write_text('{"stale": true}')
    run()
    assert "--warp_agg max differs from the checkpoint's training run (avg in" in capsys.readouterr().out
    report = json.loads((out / 'scores.json').read_text())
    assert report['training_flags'] == options and report['training_flags_file'] == str(tmp_path / 'options.json')
    assert 'number_of_epochs' not in report['test_flags'] and report['test_flags']['warp_skip'] == 'mask'
    assert report['flags_differing_from_training'] == {'warp_agg': {'test': 'max', 'training': 'avg'}}


def test_a_failure_after_some_images_says_so_and_leaves_no_scores(setup):
    """The first PNG is read back (--load_generated_images) and the third is damaged: the message
    names it and says that scores.json was not written."""
    tmp_path, out, run = setup
    run()
    pairs = pairs_of(tmp_path)
    (out / 'scores.json').unlink()
    (out / ('%s_%s.png' % pairs[2])).write_bytes(b'')
    line = error_of(run, '--load_generated_images', '1')
    assert '%s_%s.png: not a readable image' % pairs[2] in line and 'no scores.json was written' in line
    assert not (out / 'scores.json').exists()
