"""Which part this process plays in a run: an xdist worker (and its share), an xdist controller,
or a single process. Public xdist facts only (``workerinput``, ``--dist``, ``--tx``)."""

from __future__ import annotations

import pytest


def worker_index(worker_id: str) -> int:
    """``gw3`` -> 3: the controller's scheduler and the worker agree on shares by this number."""
    return int(worker_id[2:]) if worker_id[2:].isdigit() else 0


def worker_share(config: pytest.Config) -> tuple[int, int] | None:
    """(index, count) of this xdist worker, or None outside xdist."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return worker_index(str(workerinput.get("workerid", "gw0"))), int(workerinput.get("workercount", 1))


def is_xdist_controller(config: pytest.Config) -> bool:
    """Does this process hand items to xdist workers (and run none itself)?"""
    return (
        worker_share(config) is None
        and getattr(config.option, "dist", "no") != "no"
        and bool(getattr(config.option, "tx", None))
    )
