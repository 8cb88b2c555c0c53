"""tests/subprocesses.py: a command past its limit is killed with everything it started, and the
test fails naming the command, the limit and the end of its output; TEST_TIMEOUT_SCALE stretches every
limit."""
import os
import sys
import time

import pytest

from tests import subprocesses

# Prints lines 1..40, starts a child that sleeps, prints the child's process id, then sleeps.
SLOW = ('import subprocess, sys, time\n'
        'for i in range(1, 41): print("line", i)\n'
        'child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])\n'
        'print("child-pid", child.pid, flush=True)\n'
        'time.sleep(60)\n')


def gone(pid):
    """Whether process ``pid`` has ended (a zombie waiting for its parent counts as ended)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except FileNotFoundError:
        return True


def test_a_command_past_its_limit_is_killed_with_its_children_and_named(monkeypatch):
    monkeypatch.setenv('TEST_TIMEOUT_SCALE', '0.5')
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception) as failure:
        subprocesses.run([sys.executable, '-c', SLOW], 4)
    assert time.monotonic() - started < 30
    message = str(failure.value)
    assert message.startswith(sys.executable) and 'time.sleep(60)' in message
    assert 'did not finish within its limit of 2 s (4 s x TEST_TIMEOUT_SCALE=0.5' in message
    lines = message.splitlines()
    assert 'line 40' in lines and 'line 12' in lines and 'line 11' not in lines   # the last 30 lines
    child = int(next(line for line in lines if line.startswith('child-pid ')).split()[1])
    for _ in range(50):
        if gone(child):
            break
        time.sleep(0.1)
    assert gone(child), 'the command\'s child %d still runs' % child


def test_a_command_within_its_limit_gives_its_output_and_status():
    result = subprocesses.run([sys.executable, '-c', 'import sys; print("out"); sys.exit("err")'], 60)
    assert (result.returncode, result.stdout, result.stderr) == (1, 'out\n', 'err\n')


def test_background_processes_are_waited_for_and_killed_on_leaving(tmp_path, monkeypatch):
    monkeypatch.setenv('TEST_TIMEOUT_SCALE', '1')
    with subprocesses.Processes(str(tmp_path)) as processes:
        quick = processes.start('quick', [sys.executable, '-c', 'print("done")'], 60)
        slow = processes.start('slow', [sys.executable, '-c', 'import time; time.sleep(60)'], 60)
        processes.finish(quick)
        assert processes.output(quick) == 'done\n'
        with pytest.raises(pytest.fail.Exception, match='ran without the impossible within its limit of 1 s'):
            processes.wait_until(lambda: False, 1, 'the impossible', slow)
        with pytest.raises(pytest.fail.Exception, match='quick exited with status 0 while waiting for it'):
            processes.wait_until(lambda: False, 60, 'it', slow, quick)
        assert slow.poll() is None
    assert slow.returncode == -9 and os.path.exists(tmp_path / 'slow.log')


@pytest.mark.parametrize('value', ['0', '-1', 'nan', 'inf', 'two'])
def test_the_scale_must_be_a_positive_number(monkeypatch, value):
    monkeypatch.setenv('TEST_TIMEOUT_SCALE', value)
    with pytest.raises(pytest.UsageError, match='TEST_TIMEOUT_SCALE must be a positive number.*%s' % value):
        subprocesses.scaled(10)
    monkeypatch.setenv('TEST_TIMEOUT_SCALE', '2.5')
    assert subprocesses.scaled(10) == 25
    monkeypatch.delenv('TEST_TIMEOUT_SCALE')
    assert subprocesses.scaled(10) == 10
