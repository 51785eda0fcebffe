"""Incidents on real chDB: anomalies of services connected on the service graph are one incident,
an unrelated service's are another, and both resolve once the services recover."""

from __future__ import annotations

from kokanee.ai.evidence import for_incident
from kokanee.analysis.detector import Detector
from kokanee.analysis.rca.incident_causes import incident_causes
from kokanee.api.routes_anomalies import router
from kokanee.store.client import Store
from tests.api_client import api_client
from tests.test_anomaly_helpers import anomalies_of, minute, write_edge, write_spans


def _incident(store: Store, incident_id: str) -> dict[str, object]:
    rows = store.query(
        """SELECT IncidentId, Status, Severity, Services, toUnixTimestamp(OpenedAt) AS opened,
            toUnixTimestamp(ResolvedAt) AS resolved, Title
        FROM kokanee_incidents FINAL WHERE IncidentId = {id:String}""",
        parameters={"id": incident_id},
    ).dicts()
    assert len(rows) == 1
    return rows[0]


def test_connected_services_share_an_incident_that_resolves_after_recovery(chdb_store: Store) -> None:
    day = 50
    lo, fault, recovered = minute(day, 9, 0), minute(day, 10, 0), minute(day, 10, 3)
    end = minute(day, 10, 15)
    failing = range(fault, recovered, 60)
    for service in ("inc-front", "inc-back", "inc-lonely"):
        write_spans(chdb_store, service, [(m, 20, 10 if m in failing else 0, 50.0) for m in range(lo, end, 60)])
    write_edge(chdb_store, "inc-front", "inc-back", range(lo, end, 60))

    detector = Detector(chdb_store)
    detector.judge(fault, recovered)

    ids = {s: {a["IncidentId"] for a in anomalies_of(chdb_store, s)} for s in ("inc-front", "inc-back", "inc-lonely")}
    assert len(ids["inc-front"]) == 1 and "" not in ids["inc-front"]
    assert ids["inc-back"] == ids["inc-front"]
    assert len(ids["inc-lonely"]) == 1 and ids["inc-lonely"] != ids["inc-front"] and "" not in ids["inc-lonely"]
    shared, lonely = ids["inc-front"].pop(), ids["inc-lonely"].pop()
    incident = _incident(chdb_store, str(shared))
    assert incident["Status"] == "open" and incident["Severity"] == "critical" and incident["opened"] == fault
    assert sorted(incident["Services"]) == ["inc-back", "inc-front"]  # type: ignore[call-overload]
    assert "error rate 50.0%" in str(incident["Title"])
    assert _incident(chdb_store, str(lonely))["Services"] == ["inc-lonely"]

    # The next ticks see the services healthy again: both incidents resolve, ending where the
    # last anomaly's minute ended.
    detector.judge(recovered, end)
    for incident_id in (shared, lonely):
        resolved = _incident(chdb_store, str(incident_id))
        assert resolved["Status"] == "resolved" and resolved["resolved"] == recovered
    assert all(a["t"] < recovered for s in ("inc-front", "inc-back") for a in anomalies_of(chdb_store, s))

    # Its causes are among its own services: inc-lonely's errors at the same time are another
    # incident's.
    client = api_client(chdb_store, router)
    detail = client.get(f"/api/v1/incidents/{shared}").json()
    assert detail["causes"] and {c["service"] for c in detail["causes"]} <= {"inc-back", "inc-front"}, detail
    assert "causes_note" not in detail
    assert "inc-lonely" in {c["service"] for c in client.get(f"/api/v1/incidents/{lonely}").json()["causes"]}
    # Asked again over the same data (the page refreshing), the ranking is not redone.
    ask = (chdb_store, ["inc-back", "inc-front"], fault * 1_000_000_000, recovered * 1_000_000_000)
    assert incident_causes(*ask) is incident_causes(*ask)

    # Raw spans past their retention: the causes come from the incident's anomalies, the callee
    # whose errors its caller passes on first.
    chdb_store.command(
        "ALTER TABLE otel_traces DELETE WHERE ServiceName IN ('inc-front', 'inc-back') SETTINGS mutations_sync = 2"
    )
    detail = client.get(f"/api/v1/incidents/{shared}").json()
    assert [c["service"] for c in detail["causes"]] == ["inc-back", "inc-front"], detail["causes"]
    assert "ranked from the incident's anomalies" in detail["causes_note"]
    evidence = detail["causes"][0]["evidence"]
    assert evidence[0]["kind"] == "anomaly" and "error_rate" in evidence[0]["series"], evidence
    assert "0.5 against 0 expected" in evidence[0]["detail"], evidence
    # The incident's explanation cites the same causes, and says where they came from.
    ev = for_incident(chdb_store, str(shared), now_ns=end * 1_000_000_000)
    assert ev is not None
    cited = [e.facts["service"] for e in ev.items if e.kind == "cause"]
    assert cited == ["inc-back", "inc-front"], ev.to_json()
    assert any("ranked from the incident's anomalies" in note for note in ev.notes), ev.notes


def test_a_single_warning_opens_no_incident(chdb_store: Store) -> None:
    day = 51
    lo, blip, end = minute(day, 9, 0), minute(day, 10, 0), minute(day, 10, 10)
    # Median latency +80% for one minute: a warning (score ~6), not critical, and not repeated.
    write_spans(chdb_store, "blip-shop", [(m, 20, 0, 90.0 if m == blip else 50.0) for m in range(lo, end, 60)])

    Detector(chdb_store).judge(blip, end)

    found = anomalies_of(chdb_store, "blip-shop")
    assert {(a["t"], a["Metric"], a["Severity"]) for a in found} == {(blip, "p50_ms", "warning")}
    assert {a["IncidentId"] for a in found} == {""}
