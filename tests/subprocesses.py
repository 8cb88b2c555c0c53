"""Commands that the tests run in processes of their own, each with a time limit.

A limit is about ten times what the command takes on a 2-core AMD EPYC, multiplied by the environment
variable TEST_TIMEOUT_SCALE (default 1): a machine three times slower runs the suite with
``TEST_TIMEOUT_SCALE=3``. Each command runs in a process group of its own; one that is still running at
its limit is killed with its whole group, and the test fails with one message: the command, the limit and
the last lines of its output. Whatever else happens (a failed assertion, Ctrl-C), a process started here
is killed before the test ends.

- ``run(command, seconds)``: ``subprocess.run`` with the output captured as text.
- ``Processes(log_dir)``: commands running side by side, each writing to ``log_dir/NAME.log``.
- ``free_ports(count)``: ports on 127.0.0.1 that nothing listens on, for processes that talk to each other.
- ``reporting_import(script, module)``: a script run as __main__ that says at exit whether it imported
  ``module``.
"""
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE_VARIABLE = 'TEST_TIMEOUT_SCALE'
TAIL_LINES = 30
POLL_SECONDS = 0.2


def reporting_import(script, module, stream='stdout'):
    """[python, -c, code]: runs ``script`` as __main__ with the arguments that follow, and prints at exit
    "<module> imported: True|False" to ``stream`` (stdout or stderr)."""
    code = ("import atexit, runpy, sys; atexit.register(lambda: print(%r, %r in sys.modules, file=sys.%s)); "
            "sys.argv = [%r] + sys.argv[1:]; runpy.run_path(%r, run_name='__main__')"
            % (module + ' imported:', module, stream, script, script))
    return [sys.executable, '-c', code]


def free_ports(count):
    """``count`` different ports of 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(('127.0.0.1', 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def timeout_scale():
    """TEST_TIMEOUT_SCALE as a float (1 when unset); anything but a positive number is a usage error."""
    text = os.environ.get(SCALE_VARIABLE, '').strip() or '1'
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not (scale > 0 and math.isfinite(scale)):
        raise pytest.UsageError('%s must be a positive number (e.g. 3 on a machine three times slower), not %r'
                                % (SCALE_VARIABLE, text))
    return scale


def scaled(seconds):
    return seconds * timeout_scale()


def describe(command, most=300):
    """A command as one shell line, each argument cut to ``most`` characters."""
    return shlex.join(arg if len(arg) <= most else arg[:most] + '...' for arg in map(str, command))


def tail(text, lines=TAIL_LINES):
    kept = (text or '').rstrip().splitlines()[-lines:]
    return '\n'.join(kept) if kept else '(none)'


def too_slow(command, seconds, output, what='did not finish'):
    """Fails the test: ``command`` ``what`` within its limit of ``seconds`` (before scaling)."""
    pytest.fail('%s\n%s within its limit of %.0f s (%.0f s x %s=%g; set %s higher on a slower machine).\n'
                'Last %d lines of its output:\n%s'
                % (describe(command), what, scaled(seconds), seconds, SCALE_VARIABLE, timeout_scale(),
                   SCALE_VARIABLE, TAIL_LINES, output), pytrace=False)


def kill_group(process):
    """SIGKILL to the process and everything it started (its process group), then reap it. A process
    already reaped is left alone: its number may belong to another process by now."""
    if process.returncode is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):   # the group is gone
            pass
    process.wait()


def run(command, seconds, cwd=ROOT, env=None):
    """``subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)`` in a process group of
    its own, killed with its group after ``scaled(seconds)``, which fails the test."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=scaled(seconds))
    except subprocess.TimeoutExpired:
        kill_group(process)
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:   # a descendant left the group and holds the pipes
            stdout, stderr = '', ''
        output = '\n'.join(part for part in (tail(stdout), '--- stderr ---', tail(stderr)))
        too_slow(command, seconds, output)
    except BaseException:
        kill_group(process)
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


class Processes:
    """Commands running side by side, each in a process group of its own, its standard output and error
    in ``log_dir/NAME.log``, its limit counted from its start; all killed on leaving the ``with``."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = []

    def start(self, name, command, seconds, cwd=ROOT, env=None):
        log = open(os.path.join(self.log_dir, name + '.log'), 'w')
        try:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        except BaseException:
            log.close()
            raise
        process.name, process.log, process.seconds = name, log, seconds
        process.started = time.monotonic()
        self.running.append(process)
        return process

    def output(self, process):
        process.log.flush()
        with open(process.log.name) as f:
            return f.read()

    def left(self, process):
        """Seconds before ``process`` reaches its limit."""
        return process.started + scaled(process.seconds) - time.monotonic()

    def wait(self, process, seconds=None):
        """The exit status of ``process``; the test fails (and the process is killed) at its limit, or
        ``scaled(seconds)`` from now when that comes first."""
        if seconds is None or scaled(seconds) >= self.left(process):
            allowed, seconds, what = self.left(process), process.seconds, 'did not finish'
        else:
            allowed, what = scaled(seconds), 'did not finish %.0f s after the wait began' % scaled(seconds)
        try:
            return process.wait(max(allowed, 0))
        except subprocess.TimeoutExpired:
            kill_group(process)
            too_slow(process.args, seconds, tail(self.output(process)), what)

    def finish(self, *processes):
        """Waits for each of ``processes``; each must exit with status 0."""
        for process in processes:
            status = self.wait(process)
            assert status == 0, '%s exited with status %d:\n%s' % (process.name, status, tail(self.output(process)))

    def wait_until(self, condition, seconds, what, *processes):
        """Polls ``condition()`` until it is true while every one of ``processes`` runs; the test fails
        when one of them exits first, or after ``scaled(seconds)``, naming ``what`` it waited for."""
        deadline = time.monotonic() + scaled(seconds)
        while not condition():
            for process in processes:
                if process.poll() is not None:
                    pytest.fail('%s exited with status %d while waiting for %s:\n%s'
                                % (process.name, process.returncode, what, tail(self.output(process))),
                                pytrace=False)
            if time.monotonic() > deadline:
                too_slow(processes[0].args, seconds, tail(self.output(processes[0])), 'ran without %s' % what)
            time.sleep(POLL_SECONDS)

    def kill(self, process):
        kill_group(process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for process in self.running:
            kill_group(process)
            process.log.close()

