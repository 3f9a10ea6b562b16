"""What the console takes from a node's ``/metrics``: scraped, parsed, summed, turned to rates.

Owns: nothing; pure helpers.  Scraping uses ``prometheus_client``'s own parser; the rates
are differences of counters between two samples (what Prometheus' ``rate()`` does), and a
latency quantile comes from the difference of two histograms' buckets.
"""

from __future__ import annotations

import dataclasses
import math
import urllib.request
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_S = 1.0
Samples = dict[str, list[tuple[dict[str, str], float]]]
"""Sample name -> (labels, value) of one scrape."""


def scrape(url: str, timeout: float = SCRAPE_TIMEOUT_S) -> Samples:
    """Every sample ``url`` serves, by sample name (raises OSError if it does not answer)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 if none)."""
    return sum(v for sample_labels, v in samples.get(name, ())
               if all(sample_labels.get(k) == want for k, want in labels.items()))


def histogram(samples: Samples, name: str, **labels: str) -> Histogram:
    """One scrape's histogram ``name`` (samples matching ``labels`` summed)."""
    buckets: dict[float, float] = {}
    for sample_labels, v in samples.get(f"{name}_bucket", ()):
        if all(sample_labels.get(k) == want for k, want in labels.items()):
            bound = float(sample_labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + v
    return Histogram(value(samples, f"{name}_count", **labels),
                     value(samples, f"{name}_sum", **labels), buckets)


@dataclasses.dataclass(frozen=True, slots=True)
class Histogram:
    """Count, sum and cumulative buckets (upper bound -> count) of a histogram."""

    count: float = 0.0
    total: float = 0.0
    buckets: Mapping[float, float] = dataclasses.field(default_factory=dict)

    def since(self, before: Histogram) -> Histogram:
        """What was observed after ``before`` (all of it, if the node restarted meanwhile)."""
        if self.count < before.count:
            return self
        return Histogram(self.count - before.count, self.total - before.total,
                         {b: v - before.buckets.get(b, 0.0) for b, v in self.buckets.items()})

    def __add__(self, other: Histogram) -> Histogram:
        bounds = set(self.buckets) | set(other.buckets)
        return Histogram(self.count + other.count, self.total + other.total,
                         {b: self.buckets.get(b, 0.0) + other.buckets.get(b, 0.0)
                          for b in bounds})

    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile (a coarse
        ``histogram_quantile``), or None if nothing was observed."""
        if self.count <= 0:
            return None
        for bound in sorted(self.buckets):
            if self.buckets[bound] >= q * self.count:
                return None if math.isinf(bound) else bound
        return None


def rate(before: float, after: float, seconds: float) -> float:
    """Per-second increase; a counter that went down (a restarted node) counts from 0."""
    if seconds <= 0:
        return 0.0
    return max(0.0, after - before if after >= before else after) / seconds


__all__ = ["Histogram", "Samples", "histogram", "rate", "scrape", "value"]
