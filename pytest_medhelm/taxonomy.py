"""MedHELM's taxonomy as data: categories, subcategories, known tasks, benchmark placement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")

# libyaml's loader where it is built in: both files are read at every pytest start-up.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def slug(name: str) -> str:
    """A marker-safe name: ``Patient-Provider Messaging`` -> ``patient_provider_messaging``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class Subcategory:
    name: str
    category: str
    tasks: tuple[str, ...]
    benchmarks: tuple[str, ...]

    @property
    def id(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    subcategories: tuple[Subcategory, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]
    tasks_total: int

    @property
    def subcategories(self) -> tuple[Subcategory, ...]:
        return tuple(s for c in self.categories for s in c.subcategories)

    def category(self, key: str) -> Category:
        for category in self.categories:
            if key in (category.id, category.name):
                return category
        raise KeyError(f"unknown MedHELM category {key!r}")

    def place(self, benchmark_id: str) -> tuple[Category, Subcategory] | None:
        for category in self.categories:
            for sub in category.subcategories:
                if benchmark_id in sub.benchmarks:
                    return category, sub
        return None


@cache
def load_taxonomy(path: Path = TAXONOMY_FILE) -> Taxonomy:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    categories = tuple(
        Category(
            id=c["id"],
            name=c["name"],
            subcategories=tuple(
                Subcategory(s["name"], c["id"], tuple(s.get("tasks", ())), tuple(s.get("benchmarks", ())))
                for s in c["subcategories"]
            ),
        )
        for c in data["categories"]
    )
    return Taxonomy(categories, int(data["tasks_total"]))
