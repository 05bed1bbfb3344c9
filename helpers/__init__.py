"""Shared implementation for the course on authentication state: sessions versus JWTs.

One module per idea: ``clock``, ``passwords``, ``users``, ``storage``, ``sessions`` (with ``redis_sessions``,
``postgres_sessions`` and the servers behind them in ``databases``), ``refresh``, ``denylist``, ``signing``, ``tokens``,
``keys``, ``web``, ``token_cookie``, ``server``, ``cluster``, ``load``, ``scaling``, ``trace``, ``revocation``, ``attacks``,
``decide``, ``bench``, ``plots``, ``display``, ``quiz``; ``vulnerable`` holds the deliberately broken apps the attack
demos break, and nothing else imports it. Notebooks teach with these;
``tests/`` proves them.
"""

from pathlib import Path

__version__ = "0.1.0"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # demo users and keys: read-only, demo only
