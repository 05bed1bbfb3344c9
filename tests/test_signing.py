"""Signed cookie values and Flask's signed session: tampering is caught, the value stays readable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import gil_handoffs

from helpers.server import serve
from helpers.signing import MAX_SIGNED_LENGTH, TAG_LENGTH, create_flask_session_app, sign, unsign

KEY = b"demo-only test signing key, 32+ bytes long"
OTHER_KEY = b"another demo-only key, also 32+ bytes long"
ALICE = {"username": "alice", "password": "wonderland"}
COOKIE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='",;\\'), max_size=200
)


def test_sign_is_value_dot_hmac_sha256_in_unpadded_urlsafe_base64():
    expected = base64.urlsafe_b64encode(hmac.new(KEY, b"alice", hashlib.sha256).digest()).rstrip(b"=").decode()
    assert sign("alice", KEY) == "alice." + expected
    assert len(expected) == TAG_LENGTH


def test_sign_is_deterministic_and_key_dependent():
    assert sign("alice", KEY) == sign("alice", KEY)
    assert sign("alice", KEY) != sign("alice", OTHER_KEY)


@given(COOKIE_TEXT)
def test_round_trip_for_any_cookie_value(value):
    assert unsign(sign(value, KEY), KEY) == value


def test_the_value_stays_readable_without_the_key():
    assert sign("alice", KEY).split(".")[0] == "alice"


def test_tampering_with_the_value_or_the_tag_is_caught():
    signed = sign("alice", KEY)
    tag = signed.split(".", 1)[1]
    assert unsign("bob." + tag, KEY) is None
    flipped = ("B" if tag[0] != "B" else "C") + tag[1:]
    assert unsign("alice." + flipped, KEY) is None
    assert unsign("alice." + tag[:-1], KEY) is None
    assert unsign(signed + "=", KEY) is None


def test_spare_bits_in_the_last_base64_character_do_not_give_a_second_valid_tag():
    signed = sign("alice", KEY)
    last = signed[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 43 characters carry 258 bits for 256: the last character's two low bits are ignored by decoders.
    index = alphabet.index(last)
    sibling = alphabet[index ^ 1]
    assert base64.urlsafe_b64decode(signed[-TAG_LENGTH:-1] + sibling + "=") == base64.urlsafe_b64decode(
        signed[-TAG_LENGTH:] + "="
    )
    assert unsign(signed[:-1] + sibling, KEY) is None


def test_wrong_key_is_rejected():
    assert unsign(sign("alice", OTHER_KEY), KEY) is None


@pytest.mark.parametrize(
    "junk", ["", "alice", ".", "alice.", "alice.é", "é.abc", "a" * (MAX_SIGNED_LENGTH + 1), None, 42, b"alice.x"]
)
def test_malformed_input_gives_none_never_an_exception(junk):
    assert unsign(junk, KEY) is None


def test_values_with_dots_round_trip_because_the_tag_is_split_off_the_right():
    assert unsign(sign("alice|1700000900.5", KEY), KEY) == "alice|1700000900.5"


@pytest.mark.parametrize("bad", ["a b", "a;b", 'a"b', "a,b", "a\\b", "é", "a\nb"])
def test_values_that_cannot_be_cookie_octets_are_refused(bad):
    with pytest.raises(ValueError, match="cookie value"):
        sign(bad, KEY)


def test_overlong_values_are_refused():
    with pytest.raises(ValueError, match="exceed"):
        sign("a" * MAX_SIGNED_LENGTH, KEY)


@pytest.mark.parametrize(
    "key, error", [(b"short", ValueError), ("a str key that is long enough to pass 32", TypeError)]
)
def test_weak_or_mistyped_keys_are_refused(key, error):
    with pytest.raises(error):
        sign("alice", key)
    with pytest.raises(error):
        unsign("alice.x", key)


def test_non_str_value_is_refused():
    with pytest.raises(TypeError):
        sign(b"alice", KEY)


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_flask_session_app_keeps_the_user_in_a_readable_signed_cookie(users):
    with serve(create_flask_session_app(users, KEY)) as srv:
        client = srv.client()
        response = client.post(srv.url + "/login", json=ALICE)
        assert response.status_code == 200
        cookie = client.cookies["session"]
        payload, timestamp, signature = cookie.split(".")
        assert json.loads(_b64url_decode(payload)) == {"user": "alice", "role": "user"}
        assert len(_b64url_decode(signature)) == 20  # Flask's default: HMAC-SHA1
        assert client.get(srv.url + "/me").json() == {"user": "alice", "role": "user"}


def test_flask_session_app_rejects_a_tampered_cookie(users):
    with serve(create_flask_session_app(users, KEY)) as srv:
        client = srv.client()
        client.post(srv.url + "/login", json=ALICE)
        _, timestamp, signature = client.cookies["session"].split(".")
        forged_payload = base64.urlsafe_b64encode(b'{"user":"bob","role":"admin"}').rstrip(b"=").decode()
        forged = ".".join([forged_payload, timestamp, signature])
        response = srv.client().get(srv.url + "/me", headers={"Cookie": f"session={forged}"})
        assert response.status_code == 401
        assert response.json()["error"] == "Not authenticated"


def test_flask_session_logout_does_not_revoke_a_copied_cookie(users):
    with serve(create_flask_session_app(users, KEY)) as srv:
        client = srv.client()
        client.post(srv.url + "/login", json=ALICE)
        copy = client.cookies["session"]
        assert client.post(srv.url + "/logout").json() == {"logged_out": True}
        assert "session" not in client.cookies
        assert client.get(srv.url + "/me").status_code == 401
        replay = srv.client().get(srv.url + "/me", headers={"Cookie": f"session={copy}"})
        assert replay.status_code == 200 and replay.json()["user"] == "alice"


def test_flask_session_app_login_errors(users):
    with serve(create_flask_session_app(users, KEY)) as srv:
        client = srv.client()
        assert client.post(srv.url + "/login", json={"username": "alice", "password": "nope"}).status_code == 401
        assert client.post(srv.url + "/login", data="not json").status_code == 400
        assert "session" not in client.cookies
        assert client.get(srv.url + "/me").status_code == 401


def test_flask_session_app_needs_a_real_key(users):
    with pytest.raises(ValueError):
        create_flask_session_app(users, b"short")


def test_signing_and_checking_keep_the_gil():
    signed = sign("alice", KEY)
    assert gil_handoffs(lambda: sign("alice", KEY)) == 0
    assert gil_handoffs(lambda: unsign(signed, KEY)) == 0
