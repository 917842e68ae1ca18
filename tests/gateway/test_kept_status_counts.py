"""Which counts and list leads the kept status counts answer (`KeptCounts`), on plain values."""

from vidar.documents import STATUS
from vidar_gateway.videos.counts import KeptCounts

BUSY = {"$in": ["QUEUED", "INPROGRESS"]}
KEPT = KeptCounts(
    total=100,
    groups={"1": 60, "2": 40},
    cases={"1": {"7": 5}},
    statuses={"NOT_STARTED": 90, "QUEUED": 3, "INPROGRESS": 2, "COMPLETED": 5},
)


def test_a_status_alone_is_counted_from_the_kept_counts() -> None:
    assert KEPT.of({STATUS: BUSY}) == 5
    assert KEPT.of({STATUS: "FAILED"}) == 0


def test_a_status_with_camera_groups_is_answered_only_where_one_side_decides_it() -> None:
    assert KEPT.of({STATUS: BUSY, "camera_group": {"$in": [1, 2]}}) == 5, "every archive is in the groups"
    assert KEPT.of({STATUS: "FAILED", "camera_group": 1}) == 0, "no archive has the status"
    assert KEPT.of({STATUS: BUSY, "camera_group": 3}) == 0, "no archive is in the group"
    assert KEPT.of({STATUS: BUSY, "camera_group": 1}) is None


def test_status_counts_not_counted_yet_answer_nothing() -> None:
    older = KeptCounts(total=100, groups={"1": 100}, cases={})
    assert older.of({STATUS: BUSY}) is None
    assert older.clause_sizes({STATUS: BUSY, "camera_group": 1}) == {"camera_group": 100}


def test_a_rare_status_leads_a_list_of_it() -> None:
    assert KEPT.smallest_clause({STATUS: BUSY, "camera_group": 1}) == (STATUS, 5)
    assert KEPT.of({STATUS: {"$nin": ["QUEUED"]}}) is None, "only an equality or $in is counted"
