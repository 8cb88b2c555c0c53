"""How the scripts end: their summary line on success, or, for the errors a user can fix (a missing
file, bad data), one line ``SCRIPT: error: ...`` on stderr and exit status 1 instead of a traceback."""
import sys

USER_ERRORS = (FileNotFoundError, ValueError)


def run_script(script, work):
    """Runs ``work()``, prints the summary line it returns (if any) and returns the exit status."""
    try:
        summary = work()
    except USER_ERRORS as error:
        print('%s: error: %s' % (script, error), file=sys.stderr)
        return 1
    if summary:
        print(summary)
    return 0
