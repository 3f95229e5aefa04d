"""Ray, started the way every l1tag command that spreads work uses it (jet generation, the search).

Ray prints nothing of its own on the terminal here: no dashboard, no worker output forwarded, no logging
set up by Ray, and its start-up notice about token authentication (which advises changing an environment
variable l1tag does not need) is not shown.  A Ray this started is shut down however the work ends.
"""

from __future__ import annotations

import contextlib
import logging
import os

# Ray's start-up notices that are advice, not errors (its own loggers; errors still show)
QUIET_LOGGERS = ("ray._private.authentication.authentication_token_setup", "ray._private.worker", "ray.tune")


@contextlib.contextmanager
def local_ray(cpus: int | None = None, address: str | None = None):
    """Ray on ``cpus`` local CPUs (default: all), or the cluster at ``address``; if one is already running in
    this process it is used as it is."""
    import ray

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": cpus or os.cpu_count() or 1}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
