"""How many xdist workers a MedHELM run starts: ``-n N`` capped at twice the machine's cores.

With the fast path, every worker sends its model calls through the controller's engine process
and only waits for the answers and scores them: past a couple of workers per core, more of them
add nothing but start-up (about a second of CPU each: 16 workers took 5.5 s of wall time and 10 s
of CPU to start on a 2-core machine, longer than the whole run should take). So when a model that
calls the network is given, ``-n N`` above ``2 x cores`` (at least 2) starts that many workers,
through xdist's own ``--maxprocesses``; the items, their order within each worker's share and the
results are the same. ``--maxprocesses`` given by the user, ``--tx``, ``-n auto`` and
``-p no:medhelm_fastpath`` are left as they are.
"""

from __future__ import annotations

import os

import pytest

# (asked for, started), for the report header.
capped_key = pytest.StashKey[tuple[int, int]]()


def worker_cap() -> int:
    return max(2, 2 * (os.cpu_count() or 1))


def _network_models(config: pytest.Config) -> bool:
    given = config.getoption("medhelm_model", None) or config.getini("medhelm_model") or []
    names = [name for spec in given for name in str(spec).split(",") if name]
    return any(not name.startswith("baseline") for name in names)


def cap_workers(config: pytest.Config) -> None:
    asked = getattr(config.option, "numprocesses", None)
    if (
        not isinstance(asked, int)
        or os.name != "posix"
        or getattr(config.option, "maxprocesses", 1) is not None
        or not _network_models(config)
    ):
        return
    cap = worker_cap()
    if asked > cap:
        config.option.maxprocesses = cap
        config.stash[capped_key] = (asked, cap)


def report_header(config: pytest.Config) -> list[str]:
    capped = config.stash.get(capped_key, None)
    if capped is None:
        return []
    asked, started = capped
    return [
        f"medhelm: -n {asked} starts {started} workers ({os.cpu_count()} cores; each waits on the "
        f"session's engine process; --maxprocesses {asked} starts all {asked})"
    ]
