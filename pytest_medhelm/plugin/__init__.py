"""The pytest plugin (entry point ``pytest11: medhelm``): options, registration, fixtures.

Each concern is its own module: ``options`` (flags and ini keys), ``session`` (settings, models,
data), ``engine_holder`` (the engine), ``collection`` and ``items`` (collection), ``pipeline``
(evaluations queued ahead of the run loop), ``report`` (aggregation and results.json),
``fixtures`` (public fixtures), ``hookspecs`` (our own hooks) and ``contrib`` (benchmarks
contributed through them). The speed-ups that lean on pytest's and xdist's internals are a
plugin of their own, ``fastpath``, registered as ``medhelm_fastpath`` (``-p no:medhelm_fastpath``
turns them off).
"""

from __future__ import annotations


import pytest

from pytest_medhelm.plugin.fixtures import (  # noqa: F401
    medhelm_jury,
    medhelm_model,
    medhelm_record,
    medhelm_test_server,
)
from pytest_medhelm.plugin.options import add_options, read_settings
from pytest_medhelm.plugin.report import ResultsReporter, check_output_dir
from pytest_medhelm.plugin.session import MedhelmPlugin, plugin_key
from pytest_medhelm.suites import SUITES_DIR
from pytest_medhelm.taxonomy import load_taxonomy

ACCESS_MARKERS = {
    "public": "publicly downloadable data",
    "gated": "credentialed data (PhysioNet and similar)",
    "private": "a hospital's own data",
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_medhelm.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


FASTPATH = "medhelm_fastpath"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    add_options(parser)
    # Registered from here under its own name rather than by an entry point of its own, so that
    # any install (editable ones made before it existed included) has it, and -p no:medhelm_fastpath
    # (which blocks the name before plugins load) turns it off.
    if not pluginmanager.has_plugin(FASTPATH) and not pluginmanager.is_blocked(FASTPATH):
        from pytest_medhelm.plugin import fastpath

        pluginmanager.register(fastpath, FASTPATH)


def _register_markers(config: pytest.Config) -> None:
    lines = [
        "medhelm: a MedHELM benchmark item",
        "closed_ended: scored against a reference (exact match, F1, execution accuracy)",
        "open_ended: free text scored by the LLM jury",
    ]
    lines += [f"{name}: MedHELM access level: {text}" for name, text in ACCESS_MARKERS.items()]
    for category in load_taxonomy().categories:
        lines.append(f"{category.id}: MedHELM category {category.name}")
        for sub in category.subcategories:
            lines.append(f"{sub.id}: MedHELM subcategory {sub.name}")
            lines += [f"{benchmark}: MedHELM benchmark {benchmark}" for benchmark in sub.benchmarks]
    for line in lines:
        config.addinivalue_line("markers", line)


def _collection_args(config: pytest.Config, contributed: list[str]) -> list[str]:
    """With a model given and no paths, collect the built-in suites, the contributed benchmarks
    and the user's own tests."""
    args = [str(SUITES_DIR), *contributed]
    args += [str(path) for path in config.getini("medhelm_paths")]
    if config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR:
        args += list(config.args)
    return args


def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    settings = read_settings(config)
    plugin = MedhelmPlugin(config, settings)
    config.stash[plugin_key] = plugin
    plugin.register()
    if not hasattr(config, "workerinput"):
        if settings.active and not config.option.collectonly:
            check_output_dir(settings.output)
        config.pluginmanager.register(ResultsReporter(config, settings, plugin.models), "medhelm-report")
    if settings.active:
        from pytest_medhelm.plugin.outcome import ErrorsStopTheRun, RestoreWrongAnswers, RunOutcome

        config.pluginmanager.register(ErrorsStopTheRun(config), "medhelm-maxfail")
        if not hasattr(config, "workerinput"):
            outcome = RunOutcome(config, settings)
            config.pluginmanager.register(outcome, "medhelm-outcome")
            config.pluginmanager.register(RestoreWrongAnswers(outcome), "medhelm-outcome-restore")
    if settings.active:
        # In xdist workers too: they collect the contributed files the controller's arguments name.
        contributed = _contributions(config)
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args = _collection_args(config, contributed)
        else:
            from pytest_medhelm.plugin.nodeids import resolve_args, selected_gates_key

            config.args, config.stash[selected_gates_key] = resolve_args(
                config.args, config.invocation_params.dir, config.rootpath
            )


def _contributions(config: pytest.Config) -> list[str]:
    """The paths of benchmarks contributed through ``pytest_medhelm_benchmarks`` (plugin.contrib)."""
    if not config.hook.pytest_medhelm_benchmarks.get_hookimpls():
        return []  # the common case: collection machinery not even imported
    from pytest_medhelm.plugin.contrib import ContributedBenchmarks, gather

    found = gather(config)
    config.pluginmanager.register(ContributedBenchmarks(config, found), "medhelm-contrib")
    return found.paths()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "medhelm_model" in metafunc.fixturenames:
        names = [m.name for m in metafunc.config.stash[plugin_key].models] or [None]
        metafunc.parametrize("medhelm_model", names, indirect=True, ids=[n or "no-model" for n in names])


__all__ = ["medhelm_jury", "medhelm_model", "medhelm_record", "medhelm_test_server"]
