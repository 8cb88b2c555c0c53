"""Files that are never seen half-written: each is written under a temporary name beside its final one,
then renamed over it (a rename within a folder is atomic), and a write that fails leaves no temporary
file behind. Every file the project writes for people or for a later run goes through here."""
import contextlib
import json
import os
import shutil

TMP = '.tmp'


def remove(path):
    """Removes a file or a folder tree, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path, keep_suffix=''):
    """Yields the temporary path through which to write ``path``: ``<path>.tmp``, or ``<stem>.tmp<suffix>``
    with ``keep_suffix`` (for writers that insist on an extension, such as Keras' ``.weights.h5``). The
    folder is made first; when the block ends the temporary file replaces ``path``; when it fails the
    temporary file is removed and the error goes on."""
    path = os.fspath(path)
    if keep_suffix and not path.endswith(keep_suffix):
        raise ValueError('%s: the file name must end with %s' % (path, keep_suffix))
    tmp = path[:len(path) - len(keep_suffix)] + TMP + keep_suffix
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise


def sync_folder(folder):
    """Puts a folder's entries (a rename, a new file) on the disk, where the system allows it."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:      # some file systems cannot sync a folder; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


def write_bytes(path, data, sync=False):
    """``data`` to ``path``; with ``sync`` on the disk before the rename, and the rename on the disk
    after it (for a file that points at others)."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
    if sync:
        sync_folder(os.path.dirname(os.fspath(path)))


def write_text(path, text, sync=False):
    write_bytes(path, text.encode('utf-8'), sync)


def write_json(path, content, sync=False):
    """Indented, sorted JSON; values JSON does not know are written as their str()."""
    write_text(path, json.dumps(content, indent=2, sort_keys=True, default=str) + '\n', sync)
