"""Where `grade`'s worker processes start from: a server process (multiprocessing's forkserver)
that imports the grader once (`autograder.batch`) and forks a worker for each student, and a pool
for preparing the chapters. Not a fork of the batch's own process, whose event loops, ZeroMQ
contexts and threads (in a test run, say) must not be shared with the workers.

Light on purpose: `python -m autograder grade` starts the server before it imports the grader
itself, so that both imports (about 2.5 s each) run at once.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver


def start_workers() -> multiprocessing.context.BaseContext:
    """The context the workers start from, its server started (or already running)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.batch"])
    multiprocessing.forkserver.ensure_running()
    return context
