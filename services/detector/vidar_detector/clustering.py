"""Clusters of one run's objects of one kind: the same face (or look-alike body or car) across
the archive's tracks, by agglomerative clustering of their embeddings.

Average linkage: two groups merge while the mean distance between their members is under the
threshold. Complete linkage (every pair under it) splits one person as soon as one sighting is
blurred or turned away; single linkage (any pair) chains different people through one ambiguous
face. The mean keeps a person together through a few poor sightings without chaining.

Faces compare by Euclidean distance of dlib's 128-D embeddings (one person < ~0.45, two > ~0.55);
bodies and cars by cosine distance of their appearance vectors. The cost grows with the square
of the number of objects (a condensed distance matrix): a run posts one object per track and
post, not one per frame.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from vidar.models.jobs import Cluster

Metric = Literal["euclidean", "cosine"]


@dataclass(frozen=True)
class Member:
    """One posted object: its detection event id and what clustering needs of it."""

    event_id: str
    embedding: Sequence[float]
    quality: float
    timestamp: float


def metric_of(kind: str) -> Metric:
    return "euclidean" if kind == "face" else "cosine"


def cluster(members: Sequence[Member], threshold: float, metric: Metric) -> list[Cluster]:
    """The members' clusters, numbered 1, 2, ... in the order of their first sighting."""
    if not members:
        return []
    labels = _labels(np.asarray([member.embedding for member in members], dtype=np.float64), threshold, metric)
    groups: dict[int, list[Member]] = {}
    for member, label in zip(members, labels, strict=True):
        groups.setdefault(int(label), []).append(member)
    ordered = sorted(groups.values(), key=_first_sighting)
    return [_cluster(number, group) for number, group in enumerate(ordered, start=1)]


def _labels(embeddings: np.ndarray, threshold: float, metric: Metric) -> np.ndarray:
    if len(embeddings) == 1:
        return np.zeros(1, dtype=int)  # scikit-learn wants two samples at least
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric=metric, linkage="average")
    return model.fit_predict(embeddings)


def _first_sighting(group: list[Member]) -> tuple[float, str]:
    # The event id breaks ties, so the numbering never depends on the order the records were read in.
    return min((member.timestamp, member.event_id) for member in group)


def _cluster(number: int, group: list[Member]) -> Cluster:
    ordered = sorted(group, key=lambda member: (member.timestamp, member.event_id))
    best = max(ordered, key=lambda member: member.quality)  # the first of equals
    return Cluster(
        cluster=number,
        members=[member.event_id for member in ordered],
        best_event=best.event_id,
        first_timestamp=ordered[0].timestamp,
        last_timestamp=ordered[-1].timestamp,
    )
