"""Split one forecast run into shards that together give exactly what the run gives alone.

Each series is forecast on its own, except for three choices the engine makes across series:

* the **class champion** (the candidate with the lowest mean RMSSE over all series of a demand
  class) and the interval calibration are per **demand class**;
* **slow models** run on the top-K series by volume of the whole run (``top_k``, ``auto_top_k``).

So a shard is a set of whole demand classes (the classes of the engine's own classification), and
each shard runs with ``top_k``/``auto_top_k`` set to how many of the run's top-K series it holds:
those are then exactly the first ones of its own ranking. Classes are packed into at most
``count`` shards, largest first, each onto the shard with the fewest series: the number of useful
shards is at most the number of demand classes (five), and the largest class bounds the speed-up.

:func:`merge_metrics` combines the shards' run metrics into the run's (counts add up, the selection's
backtest means are weighted by series); every shard's own metrics are kept under ``shards``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from nova_forecast.classify import classify_panel
from nova_forecast.data import Panel
from nova_forecast.engine import EngineConfig


@dataclass(frozen=True)
class Shard:
    """One shard of a run: its demand classes, its series and its share of the run's top-K."""

    index: int
    count: int
    classes: tuple[str, ...]
    series: tuple[str, ...]
    top_k: int
    auto_top_k: int

    def engine_config(self, config: EngineConfig) -> EngineConfig:
        """The run's configuration, with this shard's share of the slow models' top-K."""
        return replace(config, top_k=self.top_k, auto_top_k=self.auto_top_k)

    def label(self) -> str:
        return f"shard {self.index + 1}/{self.count}: {len(self.series)} series ({', '.join(self.classes)})"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "classes": list(self.classes), "series": list(self.series)}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Shard:
        return cls(int(value["index"]), int(value["count"]), tuple(value["classes"]), tuple(value["series"]),
                   int(value["top_k"]), int(value["auto_top_k"]))


def series_stats(panel: Panel, config: EngineConfig, classes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per series, what the engine's cross-series choices look at: unique_id, demand_class, volume,
    and ``rank`` (position in the engine's slow-model ranking; NaN when not ranked). ``classes``
    must be the classes the engine will use (default: its own classification of ``panel``)."""
    classes = classify_panel(panel) if classes is None else classes
    volume = np.nansum(panel.values, axis=1)
    backtestable = panel.lengths >= config.min_train_length + config.horizon
    # the engine's ranking: by volume, stable on the panel's (sorted) order; backtestable, some demand
    ranked = [i for i in np.argsort(-volume, kind="stable") if backtestable[i] and volume[i] > 0]
    rank = np.full(panel.n_series, np.nan)
    rank[ranked] = np.arange(len(ranked))
    return pd.DataFrame({"unique_id": panel.ids.astype(str), "demand_class": classes["demand_class"].to_numpy(),
                         "volume": volume, "rank": rank})


def plan_shards(stats: pd.DataFrame, count: int, config: EngineConfig) -> list[Shard]:
    """At most ``count`` shards of whole demand classes (see the module docstring)."""
    if count < 1:
        raise ValueError(f"a run needs at least one shard (got {count})")
    sizes = stats.groupby("demand_class")["unique_id"].count().sort_index()
    order = sorted(sizes.index, key=lambda name: (-int(sizes[name]), name))
    bins: list[list[str]] = [[] for _ in range(min(count, len(order)) or 1)]
    load = [0] * len(bins)
    for name in order:
        target = min(range(len(bins)), key=lambda i: (load[i], i))
        bins[target].append(name)
        load[target] += int(sizes[name])
    shards = []
    for index, classes in enumerate(bins):
        part = stats[stats["demand_class"].isin(classes)]
        rank = part["rank"].dropna()
        shards.append(Shard(index, len(bins), tuple(sorted(classes)), tuple(sorted(part["unique_id"])),
                            int((rank < config.top_k).sum()), int((rank < config.auto_top_k).sum())))
    return shards


def combined_fingerprint(fingerprints: Sequence[str]) -> str:
    """The run's data fingerprint: the shard's own for one shard, else sha256 of the shards' in order."""
    if len(fingerprints) == 1:
        return fingerprints[0]
    return hashlib.sha256("|".join(fingerprints).encode()).hexdigest()


def merge_metrics(shard_metrics: Sequence[Mapping[str, Any]], workers: Sequence[str | None]) -> dict[str, Any]:
    """The run's metrics from its shards' (in shard order). One shard: its metrics as they are."""
    shards = [{"shard": i, "worker": worker, **metrics}
              for i, (metrics, worker) in enumerate(zip(shard_metrics, workers, strict=True))]
    if len(shard_metrics) == 1:
        return {**shard_metrics[0], "shards": shards}
    merged: dict[str, Any] = {
        "series": sum(int(m.get("series", 0)) for m in shard_metrics),
        "seconds": round(max(float(m.get("seconds", 0.0)) for m in shard_metrics), 3),
        "warnings": [w for m in shard_metrics for w in m.get("warnings", [])],
    }
    for key in ("models_selected", "demand_classes"):
        counts: Counter[str] = Counter()
        for m in shard_metrics:
            counts.update({k: int(v) for k, v in m.get(key, {}).items()})
        merged[key] = dict(counts)
    skipped: dict[str, Counter[str]] = {}
    for m in shard_metrics:
        for model, reasons in m.get("skipped", {}).items():
            skipped.setdefault(model, Counter()).update(reasons)
    merged["skipped"] = {model: dict(reasons) for model, reasons in skipped.items()}
    selections = [m["selection"] for m in shard_metrics if m.get("selection")]
    if selections:
        merged["selection"] = _weighted_means(selections)
    merged["shards"] = shards
    return merged


def _weighted_means(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over all series from per-shard means, weighted by each shard's ``series``."""
    out: dict[str, Any] = {"series": sum(int(p.get("series", 0)) for p in parts)}
    keys = sorted({k for p in parts for k, v in p.items() if k != "series" and isinstance(v, (int, float))})
    for key in keys:
        pairs = [(float(p[key]), int(p.get("series", 0))) for p in parts if p.get(key) is not None]
        weight = sum(w for _, w in pairs)
        out[key] = sum(v * w for v, w in pairs) / weight if weight else None
    return out
