"""A request trace recorder: send requests through it and get back a table of what really happened.

Each row is one real HTTP exchange: the method and path, the credential the client actually sent
(read from the prepared request, never from what we meant to send), the status, the server's answer
in brief, and the server-side state right after, as reported by a callback such as
``lambda: f"{store.count()} session(s) stored"``. Credentials are described, never printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from .display import Table


@dataclass(frozen=True)
class TraceRow:
    """One recorded exchange."""

    step: int
    method: str
    path: str
    credential: str
    status: int
    answer: str
    state: str


def _text(value: str | bytes) -> str:
    """A header value as text: requests keeps bytes a caller set as bytes."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def describe_credential(request: requests.PreparedRequest, cookie_names: tuple[str, ...] = ()) -> str:
    """Say what proof of identity a request carried: a password, a session cookie, a bearer token, or none."""
    parts = []
    body = request.body
    if isinstance(body, (bytes, str)) and body:  # a generator body (a streamed upload) is never a login form
        try:
            payload = json.loads(body)
        except (ValueError, TypeError):
            payload = None
        if isinstance(payload, dict) and "password" in payload:
            parts.append(f"password of {payload.get('username')!s}")
    cookie_header = _text(request.headers.get("Cookie", ""))
    for pair in filter(None, (item.strip() for item in cookie_header.split(";"))):
        name, _, value = pair.partition("=")
        if not cookie_names or name in cookie_names:
            parts.append(f"cookie {name} ({len(value)} chars)")
    authorization = _text(request.headers.get("Authorization", ""))
    if authorization:
        scheme, _, token = authorization.partition(" ")
        parts.append(f"{scheme} token ({len(token)} chars)")
    return " + ".join(parts) or "nothing"


def summarize_answer(response: requests.Response) -> str:
    """A short, stable summary of the response body: its error and reason, or the keys it returned."""
    try:
        body = response.json()
    except ValueError:
        return f"{len(response.content)} bytes"
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('reason', '')}".rstrip(": ")
    if isinstance(body, dict):
        shown = {key: value for key, value in body.items() if key not in ("access_token", "refresh_token")}
        hidden = sorted(set(body) - set(shown))
        text = ", ".join(f"{key}={value}" for key, value in shown.items())
        return text + ("" if not hidden else f" (+{', '.join(hidden)})")
    return str(body)


class Trace:
    """Send requests to ``base_url`` through ``send`` and keep one ``TraceRow`` per exchange."""

    def __init__(
        self, base_url: str, state: Callable[[], str] | None = None, cookie_names: tuple[str, ...] = ()
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.state = state or (lambda: "")
        self.cookie_names = cookie_names
        self.rows: list[TraceRow] = []

    def send(self, client: requests.Session, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request with ``client`` (its cookie jar and headers apply) and record it."""
        response = client.request(method, self.base_url + path, **kwargs)
        self.rows.append(
            TraceRow(
                step=len(self.rows) + 1,
                method=method.upper(),
                path=path,
                credential=describe_credential(response.request, self.cookie_names),
                status=response.status_code,
                answer=summarize_answer(response),
                state=self.state(),
            )
        )
        return response

    def table(self, who: Sequence[str] | None = None, answers: bool = True) -> Table:
        """The recorded exchanges as a table; ``who`` names each request's sender; ``answers=False`` drops the answers."""
        if who is not None and len(who) != len(self.rows):
            raise ValueError(f"who names {len(who)} senders for {len(self.rows)} recorded requests")
        columns = [
            "#",
            *(["who"] if who is not None else []),
            "request",
            "credential sent",
            "status",
            *(["answer"] if answers else []),
            "server state after",
        ]
        result = Table(columns)
        for index, row in enumerate(self.rows):
            result.add(
                row.step,
                *([who[index]] if who is not None else []),
                f"{row.method} {row.path}",
                row.credential,
                row.status,
                *([row.answer] if answers else []),
                row.state,
            )
        return result

    def answer_table(self) -> Table:
        """Each exchange's answer by step number: what ``table(answers=False)`` leaves out."""
        return Table(["#", "answer"], [(row.step, row.answer) for row in self.rows])

    def show(self, who: Sequence[str] | None = None, width: int = 120) -> None:
        """Print the trace as one table if it fits ``width`` columns, else the exchanges, then the answers."""
        whole = str(self.table(who))
        if max(len(line) for line in whole.splitlines()) <= width:
            print(whole)
        else:
            # Two narrower tables read better than one the reader must scroll sideways.
            print(self.table(who, answers=False), self.answer_table(), sep="\n\n")
