"""/clusters/<type>/: the clusters of an archive's detection events (read only)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Path, Query

from vidar.models.detection_events import DetectionCluster, DetectionClusterPage, DetectionEvent
from vidar.models.search import SimilarCluster, SimilarClusterPage
from vidar.models.video import Count
from vidar_gateway.clusters.filters import ClusterFilters, ClusterListQuery
from vidar_gateway.deps import ClustersRepo, EventsRepo, api_router
from vidar_gateway.events.present import ObjectTypePath, PresentEvent
from vidar_gateway.events.store import EventStore
from vidar_gateway.search.deps import SearchDep
from vidar_gateway.search.ranked import refuse_ranking_without_looks_like

router = api_router("/clusters", "clusters")
ClusterId = Annotated[str, Path(min_length=1, max_length=256, description="Cluster ID.")]


def present_cluster(doc: dict, best_event: DetectionEvent | None) -> DetectionCluster:
    return DetectionCluster(
        id=doc["_id"],
        cluster=doc["cluster"],
        video_archive=doc["video_id"],
        size=doc["size"],
        best_event=best_event,
        first_timestamp=doc["first_timestamp"],
        last_timestamp=doc["last_timestamp"],
    )


async def _present_all(
    rows: list[dict], kind: str, events: EventStore, present: Callable[[dict], DetectionEvent]
) -> list[DetectionCluster]:
    """Each cluster with its best event, read in one query for the whole page."""
    best = await events.by_ids(kind, [row["best_event"] for row in rows])

    def best_event(row: dict) -> DetectionEvent | None:
        doc = best.get(row["best_event"])
        return present(doc) if doc else None

    return [present_cluster(row, best_event(row)) for row in rows]


@router.get("/{object_type}/", summary="List clusters, or those whose members look like one")
async def list_clusters(
    object_type: ObjectTypePath,
    query: Annotated[ClusterListQuery, Query()],
    clusters: ClustersRepo,
    events: EventsRepo,
    present: PresentEvent,
    search: SearchDep,
) -> DetectionClusterPage | SimilarClusterPage:
    if query.looks_like:
        ranked = await search.search.clusters(object_type.kind, query)
        found = await _present_all([doc for doc, _ in ranked.rows], object_type.kind, events, present)
        results = [
            SimilarCluster(**vars(cluster), looks_like_confidence=confidence)
            for cluster, (_, confidence) in zip(found, ranked.rows, strict=True)
        ]
        return SimilarClusterPage(next_page=ranked.next_page, prev_page=ranked.prev_page, results=results)
    refuse_ranking_without_looks_like(query.ordering)
    page = await clusters.list(object_type.kind, query)
    found = await _present_all(page.rows, object_type.kind, events, present)
    return DetectionClusterPage(next_page=page.next_page, prev_page=page.prev_page, results=found)


@router.get("/{object_type}/count/", summary="Count clusters")
async def count_clusters(
    object_type: ObjectTypePath, filters: Annotated[ClusterFilters, Query()], clusters: ClustersRepo
) -> Count:
    return Count(count=await clusters.count(object_type.kind, filters))


@router.get("/{object_type}/{cluster_id}/", summary="Get a cluster")
async def get_cluster(
    object_type: ObjectTypePath,
    cluster_id: ClusterId,
    clusters: ClustersRepo,
    events: EventsRepo,
    present: PresentEvent,
) -> DetectionCluster:
    doc = await clusters.get(object_type.kind, cluster_id)
    (cluster,) = await _present_all([doc], object_type.kind, events, present)
    return cluster
