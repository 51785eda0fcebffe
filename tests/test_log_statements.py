"""Where a log line says which statement wrote it: the layouts of common loggers, and OTel's attributes."""

from __future__ import annotations

import re

import pytest
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from kokanee.analysis.log_statements import code_location, masking, template_regex, with_location


@pytest.mark.parametrize(
    ("body", "location"),
    [
        # logback `%d %level %logger{36}#%line`, as Train Ticket logs
        (
            "18:25:44.525 INFO  t.s.TravelServiceImpl#372 TraceID: 43793f [getTickets][calc]",
            "t.s.TravelServiceImpl#372",
        ),
        ("WARN OrderController#57 - slow order", "OrderController#57"),
        # Python `%(filename)s:%(lineno)d`, Go's log.Lshortfile, Node stack-style
        ("2026-01-01 12:00:00 ERROR checkout.py:118 payment declined", "checkout.py:118"),
        ("I1203 10:00:00.000 server.go:42] listening", "server.go:42"),
        ("at src/routes/cart.js:10 cart empty", "src/routes/cart.js:10"),
        # payload, not a location
        ("order #1234 shipped to 10.0.0.1:8080", ""),
        ("user alice logged in", ""),
        ("retry 3 of 5 for host:8080", ""),
    ],
)
def test_a_location_is_read_from_the_lines_header(body: str, location: str) -> None:
    assert code_location(body) == location


def test_a_location_far_into_the_line_is_payload() -> None:
    assert code_location("x" * 200 + " Order#1234") == ""


def test_the_records_attributes_win_over_the_body() -> None:
    assert code_location("INFO a.B#1 text", "app/cart.py:77") == "app/cart.py:77"


def test_a_template_shows_its_statement() -> None:
    template = "<NUM> INFO t.s.TravelServiceImpl#<NUM> [getTickets]"
    assert with_location(template, "t.s.TravelServiceImpl#<NUM>", "t.s.TravelServiceImpl#372") == (
        "<NUM> INFO t.s.TravelServiceImpl#372 [getTickets]"
    )
    assert with_location("payment declined", "cart.py:<NUM>", "cart.py:77") == "[cart.py:77] payment declined"
    assert with_location("payment declined", "", "") == "payment declined"


@pytest.mark.parametrize(
    ("template", "matches", "misses"),
    [
        ("User <NUM> logged in from <IP>", ["User 42 logged in from 10.0.0.7", "User  -3   logged in from 1.2.3.4:80"],
         ["User 42 logged in", "User bob logged in from 10.0.0.7", "Admin 42 logged in from 10.0.0.7"]),
        # Drain's wildcard is one word; regex metacharacters in the words are words
        ("retry <*> of (a+b)* [<HEX>] $5", ["retry x1 of (a+b)* [0123456789abcdef0] $5"],
         ["retry x 1 of (a+b)* [0123456789abcdef0] $5", "retry x1 of aab [0123456789abcdef0] $5"]),
        ("t.s.TravelServiceImpl#372 calculate time: <NUM>", ["t.s.TravelServiceImpl#372 calculate time: 0.5"],
         ["t.s.TravelServiceImpl#366 calculate time: 0.5", "tXsXTravelServiceImpl#372 calculate time: 1"]),
        ("order <UUID> paid", ["order 123e4567-e89b-12d3-a456-426614174000 paid"], ["order 123e4567 paid"]),
    ],
)  # fmt: skip
def test_a_templates_regex_matches_its_lines_only(template: str, matches: list[str], misses: list[str]) -> None:
    pattern = re.compile(template_regex(template))
    assert all(pattern.search(line) for line in matches)
    assert not any(pattern.search(line) for line in misses)


def test_short_hex_ids_are_masked_so_each_new_id_is_not_a_new_template() -> None:
    config = TemplateMinerConfig()
    config.masking_instructions = masking()
    miner = TemplateMiner(None, config)
    lines = [
        "order c6f3a2b1-d2e1-0a9f placed by replica set checkout-64469b5b48",
        "order 8f2e41c0-9a1b-77d3 placed by replica set checkout-5dc8d4f9fd",
        "order 00c1ffee-0b0e-1234 placed by replica set checkout-866bd68c97",
    ]
    assert {miner.add_log_message(line)["cluster_id"] for line in lines} == {1}
    template = miner.drain.id_to_cluster[1].get_template()
    assert template == "order <ID> placed by replica set checkout-<ID>"
    assert all(re.search(template_regex(template), line) for line in lines)
    # Words that only look like hex stay words: "deadbeef", a date, a plain number.
    assert miner.masker.mask("deadbeef on 2023-01-29 took 12345678 ns") == "deadbeef on <NUM><NUM><NUM> took <NUM> ns"
