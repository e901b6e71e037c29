"""The fast path (plugin ``medhelm_fastpath``): what makes a MedHELM run keep the model server
busy, in one place, apart from what makes it correct.

- ``protocol``: an instance item's phases called directly, without pytest's per-phase wrappers;
- ``xdist``: a round-robin schedule each worker knows up front, the controller's engine process
  serving every local worker, the controller's plan (``plan``: calls started before the workers
  are up), and the workers' lower CPU priority;
- ``plan`` and ``selection``: a single process's calls, too, planned before it collects, with
  ``-k`` and ``-m`` evaluated as pytest does;
- ``workers``: ``-n N`` capped at twice the cores when the workers only wait on the engine process;
- ``memory``: the GC freeze and the pruning of silent setup/teardown reports;
- ``warmup``: the modules the session's end needs, imported while the items run;
- ``download_selection``: ``--medhelm-download`` fetches only the benchmarks ``-k``/``-m`` may select;
- ``rootdir``: a path option given with a space does not move the rootdir.

Every use of a private name of pytest or pytest-xdist in the project is in this package
(``internals`` looks them up; a test scans the sources). ``-p no:medhelm_fastpath`` turns it all
off, and pytest's plain path gives the same results; when an internal is missing, the session
takes the plain path with one warning.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_medhelm.plugin.fastpath.internals import PLAIN_ROOTDIR, find_internals, warn_fallback
from pytest_medhelm.plugin.fastpath.memory import SessionMemory, release_frozen_session
from pytest_medhelm.plugin.roles import is_xdist_controller, worker_share
from pytest_medhelm.plugin.session import download_selector_key, plugin_key

# The private names the rootdir correction found missing (pytest's own rootdir then stands).
rootdir_missing_key = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    from pytest_medhelm.plugin.fastpath.rootdir import redo_rootdir

    early_config.stash[rootdir_missing_key] = redo_rootdir(early_config, args)


@pytest.hookimpl(wrapper=True)  # before xdist turns -n N into N workers
def pytest_cmdline_main(config: pytest.Config) -> Iterator[int | pytest.ExitCode | None]:
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_medhelm.plugin.fastpath.workers import cap_workers

        cap_workers(config)
    return (yield)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from pytest_medhelm.plugin.fastpath.workers import report_header

    return report_header(config)


@pytest.hookimpl(trylast=True)  # after the main plugin's, which makes the session's state
def pytest_configure(config: pytest.Config) -> None:
    release_frozen_session()
    rootdir_missing = config.stash.get(rootdir_missing_key, [])
    session = config.stash.get(plugin_key, None)
    if session is None:  # the main plugin is off (-p no:medhelm)
        if rootdir_missing:
            warn_fallback(config, rootdir_missing, consequence=PLAIN_ROOTDIR)
        return
    from pytest_medhelm.plugin.fastpath.download_selection import may_select

    config.stash[download_selector_key] = may_select
    from pytest_medhelm.plugin.fastpath.xdist import ENGINE_ADDRESS_KEY, PARTITION_KEY, serves_local_workers

    controller = is_xdist_controller(config)
    internals, missing = find_internals(config, with_scheduler=controller and session.settings.active)
    if internals is None:  # all that is missing, in one warning
        warn_fallback(config, rootdir_missing + missing)
        return
    if rootdir_missing:
        warn_fallback(config, rootdir_missing, consequence=PLAIN_ROOTDIR)
    from pytest_medhelm.plugin.fastpath.protocol import LeanProtocol

    manager = config.pluginmanager
    manager.register(LeanProtocol(internals), "medhelm-fastpath-protocol")
    manager.register(SessionMemory(session), "medhelm-fastpath-memory")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None and session.models:  # the process that writes a model's results
        from pytest_medhelm.plugin.fastpath.warmup import EndOfSessionWarmup

        manager.register(EndOfSessionWarmup(jury_on=session.settings.jury != ()), "medhelm-fastpath-warmup")
    if workerinput is not None:
        if workerinput.get(ENGINE_ADDRESS_KEY):
            session.holder.use_shared_process(workerinput[ENGINE_ADDRESS_KEY])
        if workerinput.get(PARTITION_KEY):
            session.pipeline.share = worker_share(config)
    elif not controller and session.holder.connection is not None:
        from pytest_medhelm.plugin.fastpath.plan import SingleProcessPlan

        manager.register(SingleProcessPlan(session), "medhelm-fastpath-plan")
    elif controller and manager.hasplugin("xdist"):
        from pytest_medhelm.plugin.fastpath.xdist import XdistFastpath

        manager.register(XdistFastpath(session), "medhelm-fastpath-xdist")
        if serves_local_workers(config) and not config.option.collectonly and not session.settings.estimate:
            session.holder.serve_workers()  # (an estimate sends nothing: no engine process)
