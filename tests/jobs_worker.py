"""A `yidan worker` process for tests/test_jobs.py whose runs take a set time.

Its runner stands in for the pipeline only in how long it takes: it notes the run's directory in a
log (so the test sees every execution, and none twice), waits JOBS_TEST_RUN_SECONDS, then copies a
run directory the real pipeline wrote (JOBS_TEST_TEMPLATE). Everything else — settings from YIDAN_*
variables, the queue, leases and heartbeats — is the production worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from yidan.jobs.worker import run_worker
from yidan.runs.rundir import RunDir
from yidan.settings import get_app_settings


def timed_runner(spec, out_dir: Path, progress):  # type: ignore[no-untyped-def]
    with open(os.environ["JOBS_TEST_LOG"], "a", encoding="utf-8") as log:
        log.write(out_dir.name + "\n")
    progress("读入数据")
    time.sleep(float(os.environ["JOBS_TEST_RUN_SECONDS"]))
    shutil.copytree(os.environ["JOBS_TEST_TEMPLATE"], out_dir)
    return RunDir(out_dir)


if __name__ == "__main__":
    # the test stops this worker with Ctrl+C (SIGINT); a suite started as a background job of a
    # non-interactive shell (`make test &` in a script) hands its children SIGINT ignored, and Python
    # then never installs its KeyboardInterrupt handler: the worker would never hear it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(run_worker(get_app_settings(), runner=timed_runner) and 0)
