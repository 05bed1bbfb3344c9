"""Shared implementation for the course on authentication state: sessions versus JWTs.

One module per idea: ``clock``, ``passwords``, ``users``, ``storage``, ``sessions``, ``refresh``, ``denylist``, ``signing``,
``tokens``, ``keys``, ``web``, ``server``, ``trace``, ``revocation``, ``attacks``, ``bench``, ``plots``, ``display``, ``quiz``; ``vulnerable`` holds the
deliberately broken apps the attack demos break, and nothing else imports it. Notebooks teach with these;
``tests/`` proves them.
"""

from pathlib import Path

__version__ = "0.1.0"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # demo users and keys: read-only, demo only
