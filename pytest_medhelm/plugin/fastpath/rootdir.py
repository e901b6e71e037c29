"""The rootdir, worked out again once our options are known.

pytest finds the rootdir (and the ini file) before it loads plugins, so it reads an option of
ours given with a space (``--medhelm-data-dir ../elsewhere/data``) as a flag followed by a test
path, and takes the common ancestor of that "path" and the current folder as the rootdir:
results.json, the response cache and ``.pytest_cache`` then land in a parent folder (or a system
folder). The ``=`` form was never affected. Here, before any conftest is loaded, the arguments
are parsed again with every option known and, when that changes the answer, the rootdir, the ini
file and the conftest boundary derived from them are set to what pytest finds for the real paths.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_medhelm.plugin.fastpath.internals import attribute


def redo_rootdir(config: pytest.Config, args: list[str]) -> list[str]:
    """Corrects the rootdir when our options moved it; returns the private names that are missing
    (then pytest's own rootdir stands)."""
    namespace = config.known_args_namespace
    if namespace.rootdir or namespace.inifilename:
        return []  # given by the user: pytest's own answer stands
    # Private: pytest offers no public way to parse again, nor to set the rootdir.
    determine_setup = attribute("_pytest.config.findpaths", "determine_setup")
    parser: Any = getattr(config, "_parser", None)
    missing = [
        name
        for name, found in (("_pytest.config.findpaths.determine_setup", determine_setup), ("Config._parser", parser))
        if found is None
    ]
    if missing:
        return missing
    try:
        ns = parser.parse_known_args(args)
    except Exception:  # noqa: BLE001  (arguments pytest itself will report: keep its answer)
        return []
    try:
        rootpath, inipath, inicfg, ignored = determine_setup(
            inifile=None,
            override_ini=ns.override_ini,
            args=ns.file_or_dir,
            rootdir_cmd_arg=None,
            invocation_dir=config.invocation_params.dir,
        )
    except TypeError:  # a release that changed its arguments
        return [
            "_pytest.config.findpaths.determine_setup(inifile, override_ini, args, rootdir_cmd_arg, invocation_dir)"
        ]
    except Exception:  # noqa: BLE001  (a pytest that works otherwise: keep its answer)
        return []
    if rootpath == config.rootpath and inipath == config.inipath:
        return []
    old_cut = str(config.inipath.parent if config.inipath is not None else config.rootpath)
    config._rootpath, config._inipath, config._inicfg = rootpath, inipath, inicfg  # type: ignore[attr-defined]
    config._ignored_config_files = ignored  # type: ignore[attr-defined]
    config._inicache.clear()  # type: ignore[attr-defined]
    parser.extra_info["rootdir"] = str(rootpath)
    parser.extra_info["inifile"] = str(inipath)
    if namespace.confcutdir == old_cut:  # pytest's default, from the wrong rootdir
        namespace.confcutdir = str(inipath.parent if inipath is not None else rootpath)
    return []
