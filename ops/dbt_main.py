"""`python -m ops.dbt_main <dbt arguments>`: dbt's own command line, with a quick exit.

dbt is done once its command returns, but a normal interpreter exit then frees every object of its
manifest one by one: about 0.6 s per invocation, on each of a daily build's steps and on each of the
test suite's dbt runs. Here the exit handlers still run (dbt-duckdb's closes the database, which
checkpoints it; multiprocessing's releases its semaphores), the log handlers are flushed and
closed, and then the process ends without the teardown: the memory goes back to the system anyway.
Exit codes and output are dbt's own (0 success, 1 failed nodes, 2 error or bad usage).

With AFTER_GO as the first argument, dbt is imported first (about 2 s) and then the process waits
for a line "go" on its standard input: the caller does its own checks meanwhile (ops.dbt_runner's
preflight). Anything else, such as the end of input when a check failed, ends the process with
NOT_STARTED before dbt has run anything.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

AFTER_GO = "--after-go"
NOT_STARTED = 3


def main(argv: list[str]) -> int:
    """Run dbt's click command as its console script does, returning its exit code."""
    wait = argv[:1] == [AFTER_GO]
    argv = argv[1:] if wait else argv
    from dbt.cli.main import cli

    if wait and sys.stdin.readline().strip() != "go":
        return NOT_STARTED
    try:
        cli.main(argv, prog_name="dbt")
    except SystemExit as done:
        if done.code is None:
            return 0
        if isinstance(done.code, int):
            return done.code
        print(done.code, file=sys.stderr)  # sys.exit("message") means failure
        return 1
    return 0


def exit_now(code: int) -> None:
    """Run the exit handlers and flush everything, then end the process without the teardown."""
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
