"""Shared implementation for the course on authentication state: sessions versus JWTs.

One module per idea. Notebooks teach with these; ``tests/`` proves them.

- Credentials and state: ``clock``, ``passwords``, ``users``, ``storage``, ``sessions`` (with ``redis_sessions``,
  ``postgres_sessions`` and their servers in ``databases``), ``refresh``, ``denylist``, ``throttle``, ``signing``,
  ``tokens``, ``keys``, ``jwks``, ``dpop``.
- Apps and servers: ``web`` (the hardened app), ``token_cookie``, ``bff``, ``server``, ``cluster``.
- Chapter instruments: ``load``, ``scaling``, ``bench``, ``trace``, ``revocation``, ``refresh_race``,
  ``logout_everywhere``, ``attacks``, ``browser``, ``decide``.
- Notebook aids: ``plots``, ``display``, ``quiz``.

``vulnerable`` holds the deliberately broken apps the attack demos break, and nothing else imports it.
"""

from pathlib import Path

__version__ = "0.1.0"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # demo users and keys: read-only, demo only
