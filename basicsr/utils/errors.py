"""How a failure reaches the user: one error path shared by every command (train, test, inference, scripts).

A `UserError` (a bad option, a missing folder or weight file, an unreadable image) is printed once as a plain message
and the command exits with status 2; its traceback is shown only with `--debug`. Anything else is a bug in our code:
its traceback is printed, prefixed with the rank under a launcher, and the command exits with status 1.
"""

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Callable, Optional

USER_ERROR_STATUS = 2
BUG_STATUS = 1


class UserError(Exception):
    """A problem the user fixes (options, data, weights, paths); the message says what, where, and what to do.

    `same_on_every_rank` is True when every process of a torchrun job meets the same error (options, folders), so
    only rank 0 prints it; an error met by one rank alone (an image its loader drew) is printed by that rank.
    """

    same_on_every_rank = True


def process_rank() -> tuple[int, bool]:
    """(rank, launched by torchrun/slurm) from the launcher's environment, valid before the process group exists."""
    for var in ('RANK', 'SLURM_PROCID'):
        if var in os.environ:
            return int(os.environ[var]), True
    return 0, False


def is_user_error(err: BaseException) -> bool:
    """User errors: our UserError subclasses, and a missing file (its message names the path)."""
    return isinstance(err, (UserError, FileNotFoundError))


def as_user_error(err: Exception) -> Exception:
    """`err` as a user error, keeping its message and traceback: for a command's set-up step, where every failure
    (a bad path, arch name or option) is the user's to fix."""
    if is_user_error(err):
        return err
    message = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else str(err)
    wrapped = UserError(message)
    wrapped.__cause__ = err
    return wrapped.with_traceback(err.__traceback__)


def report_failure(err: BaseException, debug: bool, what: str = 'command') -> int:
    """Print `err` the way its kind asks for and return the exit status (2 for a user error, 1 for a bug)."""
    rank, launched = process_rank()
    trace = ''.join(traceback.format_exception(type(err), err, err.__traceback__))
    if not is_user_error(err):
        sys.stderr.write(f'{f"[rank {rank}] " if launched else ""}{what} failed:\n{trace}')
        return BUG_STATUS
    shared = getattr(err, 'same_on_every_rank', True)
    if rank == 0 or not shared:
        sys.stderr.write(trace if debug else '')
        sys.stderr.write(f'{f"[rank {rank}] " if launched and not shared else ""}error: {err}\n')
    sys.stderr.flush()
    return USER_ERROR_STATUS


def run_command(body: Callable[[], Optional[int]], argv: Optional[Sequence[str]] = None, what: str = 'command') -> int:
    """Run a command's body and turn any exception into one report and an exit status; returns the status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return int(body() or 0)
    except Exception as err:  # noqa: BLE001  (the one place where every failure is reported)
        return report_failure(err, debug='--debug' in argv, what=what)
