"""Sessions in Redis: the shared store the tutorials reach for when there is more than one server.

Every server process opens its own ``RedisStore`` on the same Redis, and they all see one set of
sessions. The layout, under a ``prefix`` (so several stores can share one Redis):

* ``<prefix>session:<sha256 of ID>`` — a hash with the session's fields; never the ID itself.
* ``<prefix>user:<user_id>`` — a set of that user's session hashes, for ``revoke_all``/``set_role``.
* ``<prefix>sessions`` — a sorted set of every session hash scored by its idle deadline, so
  ``count`` is one ZCARD and ``purge_expired`` one range query.

A lookup is one round trip (HMGET). Expiry is decided with the store's clock, like every other
backend, so a ``FrozenClock`` works; Redis is also told to drop each key when its time is up
(PEXPIRE), so with the system clock memory is freed without a purge job. Writes that must read
first (touch, delete, revoke_all, set_role, purge) run as Lua scripts, which Redis executes
atomically: two servers touching one session cannot interleave. Those scripts name keys they
compute themselves, which a single Redis (the course's setup) allows but Redis Cluster does not.
"""

from __future__ import annotations

from typing import Any

import redis

from helpers.clock import Clock
from helpers.sessions import (
    DEFAULT_ABSOLUTE_LIFETIME,
    DEFAULT_TTL,
    Session,
    SessionStore,
    session_from_row,
)

__all__ = ["RedisStore"]

_FIELDS = ("user_id", "role", "data", "created_at", "expires_at", "absolute_expires_at", "ttl")

# Numbers go to Redis as repr() text and come back with float(): an exact round trip. Inside Lua,
# "%.17g" does the same for a double; tostring() would keep only 14 digits.
_TOUCH = """
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'expires_at', 'ttl', 'absolute_expires_at')
if not f[1] or tonumber(f[1]) <= now then return false end
local new = math.min(now + tonumber(f[2]), tonumber(f[3]))
local text = string.format('%.17g', new)
redis.call('HSET', KEYS[1], 'expires_at', text)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((new - now) * 1000)))
redis.call('ZADD', KEYS[2], text, ARGV[2])
return redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
"""

_DELETE = """
local f = redis.call('HMGET', KEYS[1], 'expires_at', 'user_id')
if not f[1] or tonumber(f[1]) <= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[3] .. 'user:' .. f[2], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# ARGV: now, prefix, mode ("revoke" or "role"), role. Returns how many live sessions it changed.
_FOR_USER = """
local now = tonumber(ARGV[1])
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. 'session:' .. h
  local e = redis.call('HGET', key, 'expires_at')
  if not e then
    redis.call('SREM', KEYS[1], h)  -- Redis already dropped it (PEXPIRE)
  elseif tonumber(e) > now then
    n = n + 1
    if ARGV[3] == 'revoke' then
      redis.call('DEL', key)
      redis.call('SREM', KEYS[1], h)
      redis.call('ZREM', KEYS[2], h)
    else
      redis.call('HSET', key, 'role', ARGV[4])
    end
  end
end
return n
"""

_PURGE = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, h in ipairs(gone) do
  local key = ARGV[2] .. 'session:' .. h
  local user = redis.call('HGET', key, 'user_id')
  if user then redis.call('SREM', ARGV[2] .. 'user:' .. user, h) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], h)
end
return #gone
"""


class RedisStore(SessionStore):
    """Sessions in a Redis server, shared by every store opened on the same ``url`` and ``prefix``."""

    def __init__(
        self,
        url: str,
        clock: Clock | None = None,
        ttl: float = DEFAULT_TTL,
        absolute_lifetime: float = DEFAULT_ABSOLUTE_LIFETIME,
        update_age: float | None = None,
        prefix: str = "auth-course:",
    ) -> None:
        """Connect to the Redis at ``url`` (``redis://host:port/db``); see ``SessionStore`` for the rest."""
        super().__init__(clock, ttl, absolute_lifetime, update_age)
        self.prefix = prefix
        # redis-py's connection pool is thread-safe: each server thread borrows a connection.
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._index = f"{prefix}sessions"
        self._touch_script = self._redis.register_script(_TOUCH)
        self._delete_script = self._redis.register_script(_DELETE)
        self._for_user_script = self._redis.register_script(_FOR_USER)
        self._purge_script = self._redis.register_script(_PURGE)

    @property
    def client(self) -> redis.Redis:
        """The redis-py client, so notebooks can show what is stored (keys, MEMORY USAGE)."""
        return self._redis

    def _key(self, id_hash: str) -> str:
        return f"{self.prefix}session:{id_hash}"

    @staticmethod
    def _to_session(id_hash: str, values: list[Any]) -> Session:
        user_id, role, data, *times = values  # Redis hands back text: the four times become floats again
        return session_from_row(id_hash, (user_id, role, data, *map(float, times)))

    def _queue_insert(self, pipe: Any, record: Session, data_json: str | None) -> None:
        key = self._key(record.id_hash)
        pipe.hset(
            key,
            mapping={
                "user_id": record.user_id,
                "role": record.role,
                "data": data_json or "",
                "created_at": repr(record.created_at),
                "expires_at": repr(record.expires_at),
                "absolute_expires_at": repr(record.absolute_expires_at),
                "ttl": repr(record.ttl),
            },
        )
        pipe.pexpire(key, max(1, round((record.expires_at - record.created_at) * 1000)))
        pipe.sadd(f"{self.prefix}user:{record.user_id}", record.id_hash)
        pipe.zadd(self._index, {record.id_hash: record.expires_at})

    def _insert_many(self, records: list[Session], data_json: str | None) -> None:
        # One round trip per thousand sessions instead of one per session. MULTI/EXEC around each
        # thousand: a session's four writes all happen or none do.
        for start in range(0, len(records), 1000):
            with self._redis.pipeline(transaction=True) as pipe:
                for record in records[start : start + 1000]:
                    self._queue_insert(pipe, record, data_json)
                pipe.execute()

    def _load(self, id_hash: str, now: float) -> Session | None:
        values: list[Any] = self._redis.hmget(self._key(id_hash), _FIELDS)
        if values[0] is None or not now < float(values[4]):
            return None
        return self._to_session(id_hash, values)

    def _touch(self, id_hash: str, now: float) -> Session | None:
        values = self._touch_script(keys=[self._key(id_hash), self._index], args=[repr(now), id_hash, *_FIELDS])
        return self._to_session(id_hash, values) if values else None

    def _delete(self, id_hash: str, now: float) -> bool:
        return bool(self._delete_script(keys=[self._key(id_hash), self._index], args=[repr(now), id_hash, self.prefix]))

    def _revoke_all(self, user_id: str, now: float) -> int:
        return self._for_user_script(
            keys=[f"{self.prefix}user:{user_id}", self._index], args=[repr(now), self.prefix, "revoke", ""]
        )

    def _set_role(self, user_id: str, role: str, now: float) -> int:
        return self._for_user_script(
            keys=[f"{self.prefix}user:{user_id}", self._index], args=[repr(now), self.prefix, "role", role]
        )

    def _purge_expired(self, now: float) -> int:
        return self._purge_script(keys=[self._index], args=[repr(now), self.prefix])

    def count(self) -> int:
        """Sessions currently stored, *including* expired ones not yet purged."""
        return self._redis.zcard(self._index)

    def _clear(self) -> int:
        # Every key under the prefix goes: sessions, user sets, the index (and anything expired).
        stored = self.count()
        batch: list[str] = []
        for key in self._redis.scan_iter(match=self.prefix + "*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                self._redis.delete(*batch)
                batch = []
        if batch:
            self._redis.delete(*batch)
        return stored

    def close(self) -> None:
        """Close this store's connections (the sessions stay in Redis for the other servers)."""
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r}, clock={self.clock!r})"
