"""The user directory: authentication without a username oracle, live changes, and the demo users."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from support import run_together

from helpers.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    hash_password,
    needs_rehash,
    unmatchable_hash,
    verify_password,
)
from helpers.users import DEMO_USERS_PATH, User, UserDirectory, load_demo_users

CHEAP = ScryptParams(n=2**4, r=1, p=1)


class CountingVerify:
    """A verify function that records every stored hash it is asked to check."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def __call__(self, password: str, stored: str) -> bool:
        self.checked.append(stored)
        return verify_password(password, stored)


@pytest.fixture
def verify() -> CountingVerify:
    return CountingVerify()


@pytest.fixture
def directory(verify: CountingVerify) -> UserDirectory:
    users = UserDirectory(params=CHEAP, verify=verify)
    users.add("alice", "wonderland")
    users.add("bob", "builder", role="admin")
    return users


def test_authenticate_returns_the_user_for_the_right_password(directory):
    user = directory.authenticate("alice", "wonderland")
    assert user == directory.get("alice")
    assert (user.username, user.role) == ("alice", "user")


def test_authenticate_rejects_a_wrong_password(directory):
    assert directory.authenticate("alice", "builder") is None
    assert directory.authenticate("alice", "") is None


def test_unknown_user_still_costs_one_full_verification(directory, verify):
    assert directory.authenticate("mallory", "wonderland") is None
    # One verification ran, against a dummy hash made with the directory's own parameters,
    # so an unknown name takes as long as a wrong password.
    assert len(verify.checked) == 1
    dummy = verify.checked[0]
    assert dummy.startswith("scrypt$n=16,r=1,p=1$")
    assert dummy not in {directory.get("alice").password_hash, directory.get("bob").password_hash}
    # The dummy is made once per directory and reused.
    directory.authenticate("trudy", "x")
    assert verify.checked == [dummy, dummy]


def test_the_dummy_hash_is_made_up_front_and_once(monkeypatch, verify):
    made: list[ScryptParams] = []

    def counting_unmatchable(params: ScryptParams = DEFAULT_PARAMS) -> str:
        made.append(params)
        return unmatchable_hash(params)

    monkeypatch.setattr("helpers.users.unmatchable_hash", counting_unmatchable)
    users = UserDirectory(
        {"alice": User("alice", "user", hash_password("wonderland", params=CHEAP))}, params=CHEAP, verify=verify
    )
    assert made == [CHEAP]  # made with the directory, so the first unknown name is not slower
    users.authenticate("alice", "wonderland")
    for name in ("mallory", "trudy", "eve"):
        assert users.authenticate(name, "pw") is None
    assert len(made) == 1
    assert len(verify.checked) == 4


def test_known_and_unknown_users_take_the_same_path(directory, verify):
    directory.authenticate("alice", "wrong")
    directory.authenticate("nobody", "wrong")
    assert len(verify.checked) == 2
    known, unknown = (stored.split("$")[1] for stored in verify.checked)
    assert known == unknown  # same cost parameters on both paths


def test_the_dummy_hash_cannot_log_anyone_in(verify):
    # Even a verify that says yes to everything cannot turn an unknown name into a user.
    directory = UserDirectory(params=CHEAP, verify=lambda password, stored: True)
    assert directory.authenticate("ghost", "anything") is None


def test_authenticate_rejects_non_str_input(directory):
    with pytest.raises(TypeError):
        directory.authenticate("alice", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        directory.authenticate(b"alice", "wonderland")  # type: ignore[arg-type]


def test_set_role_takes_effect_immediately(directory):
    updated = directory.set_role("alice", "admin")
    assert updated.role == "admin"
    assert directory.get("alice").role == "admin"
    assert directory.authenticate("alice", "wonderland").role == "admin"
    with pytest.raises(KeyError):
        directory.set_role("nobody", "admin")
    with pytest.raises(ValueError):
        directory.set_role("alice", "")


def test_set_password_replaces_the_old_one(directory):
    old_hash = directory.get("alice").password_hash
    directory.set_password("alice", "through the looking glass")
    assert directory.get("alice").password_hash != old_hash
    assert directory.authenticate("alice", "wonderland") is None
    assert directory.authenticate("alice", "through the looking glass") is not None
    with pytest.raises(KeyError):
        directory.set_password("nobody", "pw")


def test_add_refuses_duplicates_and_bad_names(directory):
    with pytest.raises(ValueError, match="already exists"):
        directory.add("alice", "again")
    for bad in ("", " alice", "alice\n"):
        with pytest.raises(ValueError):
            directory.add(bad, "pw")
    with pytest.raises(TypeError):
        directory.add(None, "pw")  # type: ignore[arg-type]
    assert directory.usernames() == ["alice", "bob"]
    assert len(directory) == 2 and "bob" in directory and "carol" not in directory


def test_new_passwords_use_the_directory_params(directory):
    directory.add("carol", "pw")
    assert directory.get("carol").password_hash.startswith("scrypt$n=16,r=1,p=1$")
    assert UserDirectory().get("carol") is None  # directories share nothing


def test_user_repr_hides_the_hash(directory):
    alice = directory.get("alice")
    assert alice.password_hash not in repr(alice)
    assert "alice" in repr(alice)


def test_directory_is_thread_safe(directory):
    def work(index: int) -> None:
        for n in range(20):
            directory.add(f"user{index}-{n}", "pw")
            directory.set_role("alice", f"role{index}")
            assert directory.authenticate(f"user{index}-{n}", "pw") is not None

    run_together(work, 8)
    assert len(directory) == 2 + 8 * 20


# --- JSON files and the demo users ----------------------------------------------------------------


def test_json_round_trip(directory, tmp_path):
    path = tmp_path / "users.json"
    directory.to_json(path, comment="test file")
    document = json.loads(path.read_text())
    assert document["_comment"] == "test file"
    assert "wonderland" not in path.read_text()
    loaded = UserDirectory.from_json(path, params=CHEAP)
    assert loaded.get("bob") == directory.get("bob")
    assert loaded.authenticate("bob", "builder") is not None


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"users": []}',
        '{"users": {"x": {"role": "user"}}}',
        '{"users": {"x": {"role": "", "password_hash": "h"}}}',
        '{"users": {"x": "nope"}}',
    ],
)
def test_from_json_reports_bad_files(tmp_path, content):
    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="users.json"):
        UserDirectory.from_json(path)


def test_missing_demo_file_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="demo user file not found"):
        load_demo_users(tmp_path / "missing.json")


def test_demo_file_is_marked_demo_only_and_holds_only_hashes():
    assert DEMO_USERS_PATH == Path(__file__).resolve().parent.parent / "data" / "users.json"
    text = DEMO_USERS_PATH.read_text(encoding="utf-8")
    document = json.loads(text)
    assert "DEMO ONLY" in document["_comment"]
    assert set(document["users"]) == {"alice", "bob"}
    for entry in document["users"].values():
        assert set(entry) == {"role", "password_hash"}
        assert not needs_rehash(entry["password_hash"], params=DEFAULT_PARAMS)
    # The passwords are named in the comment (published on purpose) but never as field values.
    assert all("wonderland" not in str(entry) and "builder" not in str(entry) for entry in document["users"].values())


def test_demo_users_log_in_with_the_documented_passwords():
    users = load_demo_users()
    assert users.usernames() == ["alice", "bob"]
    alice = users.authenticate("alice", "wonderland")
    bob = users.authenticate("bob", "builder")
    assert (alice.username, alice.role) == ("alice", "user")
    assert (bob.username, bob.role) == ("bob", "admin")


def test_demo_users_are_user_records_with_distinct_salts():
    users = load_demo_users()
    alice, bob = users.get("alice"), users.get("bob")
    assert isinstance(alice, User) and isinstance(bob, User)
    assert alice.password_hash.split("$")[2] != bob.password_hash.split("$")[2]


def test_subscribers_hear_of_password_and_role_changes_after_they_are_made(directory):
    heard = []
    directory.subscribe(lambda username, what: heard.append((username, what, directory.get(username).role)))
    directory.set_role("alice", "admin")
    directory.set_password("bob", "a new password")
    assert heard == [("alice", "role", "admin"), ("bob", "password", "admin")]


def test_a_failing_subscriber_leaves_the_change_made_and_the_others_called(directory):
    heard = []

    def broken(username: str, what: str) -> None:
        raise RuntimeError("session store unreachable")

    directory.subscribe(broken)
    directory.subscribe(lambda username, what: heard.append((username, what)))
    # The error reaches the caller (who must not believe every session ended), but only after the
    # change and every other subscriber.
    with pytest.raises(RuntimeError, match="unreachable"):
        directory.set_password("alice", "changed")
    assert directory.authenticate("alice", "changed") is not None
    assert heard == [("alice", "password")]


def test_no_notification_for_an_unknown_user_or_a_bad_role(directory):
    heard = []
    directory.subscribe(lambda username, what: heard.append(username))
    with pytest.raises(KeyError):
        directory.set_password("mallory", "x")
    with pytest.raises(ValueError):
        directory.set_role("alice", " admin")
    assert heard == []


def test_subscribe_refuses_what_cannot_be_called(directory):
    with pytest.raises(TypeError):
        directory.subscribe("not a function")  # type: ignore[arg-type]


def test_subscribers_are_called_once_per_change_under_concurrency(directory):
    heard = []
    lock = threading.Lock()

    def listen(username: str, what: str) -> None:
        with lock:
            heard.append(what)

    directory.subscribe(listen)
    run_together(lambda index: directory.set_role("alice", f"role{index}"), 8)
    assert heard == ["role"] * 8
    assert directory.get("alice").role in {f"role{index}" for index in range(8)}
