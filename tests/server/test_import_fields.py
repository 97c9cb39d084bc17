"""A lead's new optional fields on a real server (both engines): no score is no score (the
pull leaves `score` out, so an older client still reads a number), `12.0` is a whole
number, and attributes are kept, bounded and pulled as sent."""

from __future__ import annotations

from tests.conftest import Live
from tests.support.factories import lead_row


def _pulled(live: Live) -> dict[str, dict]:
    r = live.ann.get("/v1/sync/pull", params={"cursor": 0})
    assert r.status_code == 200, r.text
    return {x["external_id"]: x for x in r.json()["leads"]}


def test_no_score_is_left_out_of_the_pull_and_12_0_is_twelve(live: Live) -> None:
    rows = [lead_row(1), lead_row(2), lead_row(3), lead_row(4)]
    del rows[0]["score"]
    rows[1]["score"] = "12.0"
    rows[2]["score"] = 0
    rows[3]["score"] = ""
    assert live.upsert(rows) == {"created": 4, "updated": 0, "unchanged": 0}
    leads = _pulled(live)
    assert "score" not in leads["ext-1"] and "score" not in leads["ext-4"]
    assert leads["ext-2"]["score"] == 12 and leads["ext-3"]["score"] == 0
    bad = live.mo.post("/v1/leads", json={"leads": [lead_row(5, score="12.5")]})
    assert bad.status_code == 422 and "whole number" in bad.text


def test_attributes_are_kept_bounded_and_pulled(live: Live) -> None:
    attrs = {"segment": "Retail", "employees": 250, "vip": True, "since": "2026-11-03"}
    assert live.upsert([lead_row(1, attributes=attrs)])["created"] == 1
    assert _pulled(live)["ext-1"]["attributes"] == attrs
    # the same attributes again: unchanged; others: updated; none given: left alone
    assert live.upsert([lead_row(1, attributes=attrs)])["unchanged"] == 1
    assert live.upsert([lead_row(1, attributes={"segment": "B2B"})])["updated"] == 1
    assert live.upsert([lead_row(1)])["unchanged"] == 1
    assert _pulled(live)["ext-1"]["attributes"] == {"segment": "B2B"}
    too_many = {f"k{i}": i for i in range(65)}
    bad_key = {"Not A Key": 1}
    long = {"note": "x" * 501}
    for attributes, problem in ((too_many, "at most 64"), (bad_key, "lowercase letters"),
                                (long, "longer than 500"), ([1], "an object")):  # fmt: skip
        r = live.mo.post("/v1/leads", json={"leads": [lead_row(2, attributes=attributes)]})
        assert r.status_code == 422 and problem in r.text, r.text


def test_a_release_database_takes_unscored_leads_after_the_upgrade(db_url: str) -> None:
    from tests.server.test_migrations import DATA, load_release
    from triage.server.service import Backend

    load_release(db_url, "create_all")
    backend = Backend.open(db_url)
    try:
        assert "0007_import_attributes" in backend.migration.applied
        row = lead_row(900, owner=None, attributes={"segment": "Retail"})
        del row["score"]
        assert backend.upsert_leads([row]) == (1, 0, 0)
        lead = backend.lead("ext-900")
        assert "score" not in lead and lead["attributes"] == {"segment": "Retail"}
        for old in DATA["lead"]:  # the release's leads keep their scores
            assert backend.lead(old["id"])["score"] == old["score"]
    finally:
        backend.close()
