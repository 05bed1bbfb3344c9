"""The decision guide: findings render as the comparison table; needs map to sessions, JWTs or hybrid."""

from __future__ import annotations

import itertools

import pytest

from helpers.decide import ROWS, Finding, Needs, Reason, Recommendation, comparison_table, recommend

SCALING = Finding("A 200, B 401 (own stores)", "200 on A and B", "JWTs scale; sessions need a shared store", "holds")
LOGOUT = Finding("copy refused at once", "copy accepted for 15 min", "logout is instant only for sessions", "holds")


# --- Finding and the table ---------------------------------------------------------------------


def test_finding_refuses_an_unknown_verdict_or_empty_text():
    with pytest.raises(ValueError, match="verdict"):
        Finding("a", "b", "c", "maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="jwt"):
        Finding("a", " ", "c", "holds")
    with pytest.raises(ValueError, match="folklore"):
        Finding("a", "b", None, "holds")  # type: ignore[arg-type]


def test_table_follows_the_row_order_whatever_the_insertion_order():
    text = str(comparison_table({"scaling": SCALING, "logout": LOGOUT}))
    lines = text.splitlines()
    assert lines[0].split()[:1] == ["aspect"] and set(lines[1]) <= {"-", " "}
    assert lines[2].startswith(ROWS["logout"]) and lines[2].rstrip().endswith("holds")
    assert "copy accepted for 15 min" in lines[2]
    first_scaling = next(n for n, line in enumerate(lines) if line.startswith("scaling"))
    assert lines[first_scaling - 1] == "" and lines[first_scaling].rstrip().endswith("holds")


def test_table_wraps_long_cells_to_fit_the_page():
    long = Finding("x " * 60, "a measured value that goes on " * 3, "the claim", "depends")
    text = str(comparison_table({"storage": long, "logout": LOGOUT}))
    assert max(map(len, text.splitlines())) <= 120
    assert text.split().count("goes") == 3 and text.split().count("x") == 60  # wrapped, nothing lost
    assert str(long).splitlines()[-1] == "verdict: depends"


def test_table_refuses_unknown_rows():
    with pytest.raises(ValueError, match="unknown rows"):
        comparison_table({"colour": LOGOUT})


def test_the_table_has_the_ten_usual_rows_plus_speed():
    assert len(ROWS) == 11 and "speed" in ROWS


# --- Needs and Reason ---------------------------------------------------------------------------


def test_needs_accepts_only_booleans():
    with pytest.raises(TypeError, match="api_clients"):
        Needs(api_clients=1)  # type: ignore[arg-type]


def test_reason_refuses_an_unknown_row_and_prints_its_evidence():
    with pytest.raises(ValueError, match="unknown row"):
        Reason("because", "colour")
    assert str(Reason("because", "logout")) == "  - because"
    assert "measured (logout speed): x" in str(Reason("because", "logout", "x"))
    wrapped = str(Reason("because", "logout", "y " * 100)).splitlines()
    assert len(wrapped) > 2 and max(map(len, wrapped)) <= 120 and wrapped[2].startswith(" " * 8 + "y")


def test_recommend_wants_needs():
    with pytest.raises(TypeError, match="Needs"):
        recommend({"api_clients": True})  # type: ignore[arg-type]


# --- the rules, branch by branch ------------------------------------------------------------------


def test_no_needs_at_all_means_sessions():
    result = recommend(Needs())
    assert result.strategy == "sessions" and result.caveats == ()
    assert [reason.row for reason in result.reasons] == ["xss", "logout", "speed"]


def test_browser_only_with_instant_revocation_adds_the_revocation_reason():
    result = recommend(Needs(server_rendered=True, instant_revocation=True))
    assert result.strategy == "sessions"
    assert result.reasons[-1].row == "revocation"


def test_pages_plus_api_is_hybrid_with_a_denylist_caveat_only_when_revocation_is_needed():
    plain = recommend(Needs(server_rendered=True, api_clients=True))
    strict = recommend(Needs(server_rendered=True, api_clients=True, instant_revocation=True))
    assert plain.strategy == strict.strategy == "hybrid"
    assert not any("denylist" in caveat for caveat in plain.caveats)
    assert any("denylist" in caveat for caveat in strict.caveats)


def test_api_clients_needing_instant_revocation_with_one_store_get_sessions():
    result = recommend(Needs(api_clients=True, instant_revocation=True))
    assert result.strategy == "sessions"
    assert [reason.row for reason in result.reasons] == ["revocation", "lookups", "scaling"]
    assert result.caveats


def test_independent_services_needing_instant_revocation_get_jwts_with_a_denylist_caveat():
    result = recommend(Needs(independent_services=True, instant_revocation=True))
    assert result.strategy == "JWTs"
    assert any("denylist" in caveat for caveat in result.caveats)


def test_cross_domain_use_is_cited_only_when_needed():
    assert "cross_domain" in [r.row for r in recommend(Needs(cross_domain=True)).reasons]
    assert "cross_domain" not in [r.row for r in recommend(Needs(independent_services=True)).reasons]


def test_every_combination_gets_one_of_the_three_strategies_with_reasons():
    for values in itertools.product([False, True], repeat=5):
        result = recommend(Needs(*values))
        assert isinstance(result, Recommendation)
        assert result.strategy in ("sessions", "JWTs", "hybrid") and result.reasons and result.summary


# --- the tutorials' four scenarios ----------------------------------------------------------------


@pytest.mark.parametrize(
    "needs, expected",
    [
        (Needs(api_clients=True, independent_services=True), "JWTs"),  # multi-device, scale without server state
        (Needs(server_rendered=True, instant_revocation=True), "sessions"),  # highly sensitive, immediate logout
        (Needs(api_clients=True, cross_domain=True), "JWTs"),  # public API for mobile clients
        (Needs(server_rendered=True), "sessions"),  # server-rendered web app
    ],
)
def test_the_four_scenarios(needs, expected):
    assert recommend(needs).strategy == expected


# --- citing the measurements ----------------------------------------------------------------------


def test_reasons_quote_the_findings_of_their_rows():
    result = recommend(Needs(api_clients=True, independent_services=True), {"scaling": SCALING})
    scaling = next(reason for reason in result.reasons if reason.row == "scaling")
    assert scaling.evidence == "sessions: A 200, B 401 (own stores) | JWTs: 200 on A and B"
    assert all(reason.evidence == "" for reason in result.reasons if reason.row != "scaling")


def test_a_recommendation_prints_strategy_reasons_evidence_and_caveats():
    text = str(recommend(Needs(server_rendered=True, instant_revocation=True), {"logout": LOGOUT}))
    lines = text.splitlines()
    assert lines[0].startswith("sessions: ")
    assert "      measured (logout speed): sessions: copy refused at once | JWTs: copy accepted for 15 min" in lines
    hybrid = str(recommend(Needs(server_rendered=True, api_clients=True)))
    assert hybrid.splitlines()[-1].startswith("  ! ")
