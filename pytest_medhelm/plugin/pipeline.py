"""The pipeline start: every item this process will run is queued on the engine, in item order,
before pytest's run loop starts, so the model server is kept busy while pytest walks the items
one at a time.

In a single process that is every collected instance item. An xdist worker knows its items up
front only when the scheduler tells it its share (the fast path's round-robin schedule sets
``share``); otherwise items arrive one batch at a time and each is evaluated when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_medhelm.plugin.engine_holder import EngineHolder
from pytest_medhelm.plugin.roles import worker_share

if TYPE_CHECKING:
    from pytest_medhelm.engine.pipeline import Job, Pipeline
    from pytest_medhelm.evaluate import Outcome
    from pytest_medhelm.plugin.items import InstanceItem

# Evaluations started ahead of the item pytest is on, per request slot.
WINDOW_PER_SLOT = 4


def instance_item_type() -> type[InstanceItem] | None:
    """InstanceItem, once a benchmark has been collected (before that, no instance item exists)."""
    items = sys.modules.get("pytest_medhelm.plugin.items")
    return None if items is None else items.InstanceItem


class PipelineStart:
    def __init__(self, config: pytest.Config, holder: EngineHolder) -> None:
        self.config = config
        self.holder = holder
        # An xdist worker's (index, count) when it runs items index, index + count, ... (set by
        # the scheduler's side, the fast path); None: a worker does not know its items ahead.
        self.share: tuple[int, int] | None = None
        self._pipeline: Pipeline | None = None
        self._queued: set[int] = set()

    def job(self, item: InstanceItem) -> Any:
        from pytest_medhelm.benchmark import ScoreContext
        from pytest_medhelm.evaluate import evaluate

        engine = self.holder.engine
        ctx = ScoreContext(data_dir=item.loaded.data_dir, engine=engine, model=item.model)
        return evaluate(item.benchmark, item.instance, item.model, engine, ctx)

    def outcome_for(self, item: InstanceItem) -> Outcome:
        if self._pipeline is not None and id(item) in self._queued:
            self._queued.discard(id(item))
            return self._pipeline.result(id(item))
        return self.holder.engine.submit(self.job(item)).result()

    def my_items(self, session: pytest.Session) -> list[InstanceItem]:
        """The instance items this process will run, in order, as far as it can know them."""
        instance_item = instance_item_type()
        if instance_item is None:
            return []
        items = list(session.items)
        if worker_share(self.config) is not None:
            if self.share is None:
                return []
            index, count = self.share
            items = items[index::count]
        return [item for item in items if isinstance(item, instance_item)]

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Iterator[None]:
        items = self.my_items(session) if not session.config.option.collectonly else []
        if items:
            from pytest_medhelm.engine.pipeline import Pipeline

            def jobs() -> Iterator[Job]:
                for item in items:
                    yield id(item), lambda item=item: self.job(item)

            self._queued = {id(item) for item in items}
            self._pipeline = Pipeline(
                self.holder.engine, jobs(), window=self.holder.concurrency * WINDOW_PER_SLOT
            ).start()
        try:
            return (yield)
        finally:
            if self._pipeline is not None:
                self._pipeline.cancel()
