import pytest
from flask import Flask, jsonify, make_response, request

from helpers.server import serve
from helpers.trace import Trace


def make_app() -> Flask:
    app = Flask("trace-probe")

    @app.post("/login")
    def login():
        response = make_response(jsonify(user=request.json["username"], access_token="t" * 40))
        response.set_cookie("sid", "s" * 43, secure=True, httponly=True)
        return response

    @app.get("/me")
    def me():
        if "sid" not in request.cookies and "Authorization" not in request.headers:
            return jsonify(error="Not authenticated", reason="no session cookie"), 401
        return jsonify(user="alice")

    return app


def test_trace_records_what_was_really_sent():
    state = {"sessions": 0}
    with serve(make_app()) as srv:
        trace = Trace(srv.url, state=lambda: f"{state['sessions']} session(s)")
        client = srv.client()
        trace.send(client, "get", "/me")
        state["sessions"] = 1
        trace.send(client, "post", "/login", json={"username": "alice", "password": "pw"})
        trace.send(client, "GET", "/me")
        trace.send(srv.client(), "GET", "/me", headers={"Authorization": "Bearer abc"})
    rows = trace.rows
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("GET", "/me", 401),
        ("POST", "/login", 200),
        ("GET", "/me", 200),
        ("GET", "/me", 200),
    ]
    assert rows[0].credential == "nothing" and rows[0].answer == "Not authenticated: no session cookie"
    assert rows[1].credential == "password of alice" and rows[1].answer == "user=alice (+access_token)"
    assert rows[2].credential == "cookie sid (43 chars)" and rows[2].state == "1 session(s)"
    assert rows[3].credential == "Bearer token (3 chars)"
    text = str(trace.table())
    assert "t" * 40 not in text and "s" * 43 not in text
    assert text.splitlines()[0].split() == [
        "#",
        "request",
        "credential",
        "sent",
        "status",
        "answer",
        "server",
        "state",
        "after",
    ]


def recorded_trace() -> Trace:
    with serve(make_app()) as srv:
        trace = Trace(srv.url, state=lambda: "nothing stored")
        trace.send(srv.client(), "GET", "/me")
        trace.send(srv.client(), "POST", "/login", json={"username": "alice", "password": "pw"})
    return trace


def test_table_names_who_sent_each_request_and_can_leave_answers_out():
    trace = recorded_trace()
    text = str(trace.table(who=["mallory", "alice"]))
    assert text.splitlines()[0].split()[:3] == ["#", "who", "request"]
    assert [line.split()[1] for line in text.splitlines()[2:]] == ["mallory", "alice"]
    narrow = str(trace.table(answers=False))
    assert "answer" not in narrow and "no session cookie" not in narrow and "server state after" in narrow
    assert [line.split(None, 1) for line in str(trace.answer_table()).splitlines()[2:]] == [
        ["1", "Not authenticated: no session cookie"],
        ["2", "user=alice (+access_token)"],
    ]


def test_table_refuses_a_who_list_of_the_wrong_length():
    with pytest.raises(ValueError, match="2 recorded requests"):
        recorded_trace().table(who=["alice"])


def test_show_prints_one_table_when_it_fits_and_splits_it_when_not(capsys):
    trace = recorded_trace()
    trace.show()
    one = capsys.readouterr().out
    assert one == str(trace.table()) + "\n"
    trace.show(width=80)
    two = capsys.readouterr().out
    assert two == f"{trace.table(answers=False)}\n\n{trace.answer_table()}\n"
    assert max(len(line) for line in two.splitlines()) <= 80 < max(len(line) for line in one.splitlines())
