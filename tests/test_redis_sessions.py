"""What is particular to RedisStore; the shared contract runs in test_sessions.py."""

from __future__ import annotations

import time

import pytest
from support import redis_url, unique_name

from helpers.clock import SystemClock
from helpers.redis_sessions import RedisStore
from helpers.sessions import hash_session_id


@pytest.fixture
def redis_store(clock, closing):
    return closing(RedisStore(redis_url(), clock=clock, prefix=unique_name("t:")))


def test_a_session_is_one_hash_keyed_by_the_id_hash(redis_store):
    session_id = redis_store.create("alice", role="admin", data={"theme": "dark"})
    fields = redis_store.client.hgetall(f"{redis_store.prefix}session:{hash_session_id(session_id)}")
    assert fields["user_id"] == "alice" and fields["role"] == "admin" and fields["data"] == '{"theme":"dark"}'
    assert redis_store.client.smembers(f"{redis_store.prefix}user:alice") == {hash_session_id(session_id)}


def test_redis_is_told_to_drop_the_key_when_the_idle_timeout_ends(redis_store, clock):
    session_id = redis_store.create("alice", ttl=600)
    key = f"{redis_store.prefix}session:{hash_session_id(session_id)}"
    assert 599_000 < redis_store.client.pttl(key) <= 600_000
    clock.advance(seconds=300)
    redis_store.touch(session_id)
    assert 599_000 < redis_store.client.pttl(key) <= 600_000  # touch slid the server-side expiry too


def test_with_the_system_clock_redis_expires_sessions_by_itself():
    store = RedisStore(redis_url(), clock=SystemClock(), prefix=unique_name("t:"))
    try:
        session_id = store.create("alice", ttl=0.05)
        key = f"{store.prefix}session:{hash_session_id(session_id)}"
        deadline = time.monotonic() + 5
        while store.client.exists(key) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not store.client.exists(key), "Redis should have removed the key without a purge job"
        assert store.get(session_id) is None
        assert store.purge_expired() == 1 and store.count() == 0  # the index entry goes at the next purge
    finally:
        store.close()


def test_two_stores_on_one_redis_share_sessions(clock, closing):
    prefix = unique_name("t:")
    first = closing(RedisStore(redis_url(), clock=clock, prefix=prefix))
    second = closing(RedisStore(redis_url(), clock=clock, prefix=prefix))
    session_id = first.create("alice")
    assert second.get(session_id).user_id == "alice"
    assert second.revoke_all("alice") == 1
    assert first.get(session_id) is None


def test_different_prefixes_never_meet(clock, closing):
    first = closing(RedisStore(redis_url(), clock=clock, prefix=unique_name("t:")))
    second = closing(RedisStore(redis_url(), clock=clock, prefix=unique_name("t:")))
    first.create("alice")
    assert second.count() == 0 and second.revoke_all("alice") == 0
