"""Data: sources (upstream downloads, owners' files, the local mirror) and instance loading."""

from pytest_medhelm.data.loading import DataSettings, LoadedBenchmark, download, load, sample
from pytest_medhelm.data.sources import DataError, DataUnavailable, DataWarning, Fetcher, Record, Source

__all__ = [
    "DataError",
    "DataSettings",
    "DataUnavailable",
    "DataWarning",
    "Fetcher",
    "LoadedBenchmark",
    "Record",
    "Source",
    "download",
    "load",
    "sample",
]
