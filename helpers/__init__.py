"""Shared implementation for the course on authentication state: sessions versus JWTs.

One module per idea. Notebooks teach with these; ``tests/`` proves them. The modules sit side by side,
so every ``helpers.<name>`` a chapter imports is short and stable; this map says what each one is for
and which chapters use it directly (a dash: only other modules do).

The auth library: credentials and state, what an app of your own would reuse
    clock                   the real clock, and a frozen one that demos and tests move by hand  01-10
    passwords               scrypt password hashing                                             01 04-08 10
    users                   the user directory: roles, password hashes, change listeners        01 02 04-08 10
    storage                 what every server-side store shares: SQLite, a clock, checks        -
    credentials             opaque random credentials, stored only as their SHA-256             -
    sessions                server-side session stores (memory, SQLite)                         02-04 07 08
    redis_sessions          the session store in Redis                                          - (07 via scaling)
    postgres_sessions       the session store in PostgreSQL                                     - (07 via scaling)
    refresh                 rotating refresh tokens with reuse detection                        05 10
    denylist                revoking access tokens by jti before they expire                    06 08-10
    throttle                login throttling, and a cap on password hashes at once              06
    signing                 HMAC-signed cookie values, and Flask's signed session               01
    tokens                  JWTs written from scratch, with PyJWT's interface                   03 04 06-10
    keys                    signing keys for the asymmetric algorithms                          03 06-09
    jwks                    published key sets, thumbprints, a caching verifier                 09
    dpop                    DPoP: access tokens bound to a key the client holds                 09

The auth library: the apps
    web_common              JSON answers and bodies, bearer headers, throttled password checks  - (every app)
    web                     the hardened app: sessions, JWTs, or both                           02-10
    token_cookie            a JWT carried in an HttpOnly cookie                                 07 08
    bff                     a backend-for-frontend: the tokens never reach the page             05

Chapter instruments: the experiments of one or a few chapters
    trace                   a request recorder that tables what really happened                 01 02 04 05
    bench                   micro-benchmarks with a median and spread                           01 02 07 08
    revocation              replay a stolen credential after logout, on a live server           04 05 07
    attacks                 forge, tamper, crack, inject; a scripted browser for XSS and CSRF   06 08
    browser                 a real Chromium (Playwright) against the in-kernel servers          06
    load                    a load driver: client threads, every request recorded               07
    scaling                 the scaling experiments, as plain rows                              07
    databases               real Redis and PostgreSQL servers, yours or embedded                07
    decide                  the comparison table and a strategy recommended from needs          08
    cluster                 several servers behind a stand-in load balancer                     09
    refresh_race            the multi-tab refresh race and its two fixes                        10
    logout_everywhere       three ways to end every access token of a user                      10

Notebook aids
    server                  serve(app): a Flask app over real HTTPS inside the kernel           01-10
    display                 tables, expected errors without a traceback, predictions            01-10
    plots                   the course's one chart style                                        02 03 05 07-10
    quiz                    end-of-chapter quizzes                                              01-10

Deliberately vulnerable: ``vulnerable``, broken on purpose for the attacks, imported by nothing else here
    vulnerable.cookies      the username in a plain cookie                                      01 06
    vulnerable.fixation     a login that keeps the session ID the visitor came with             02 06
    vulnerable.session_app  open to CSRF; its logout forgets only the cookie                    06
    vulnerable.jwt          a verifier that trusts the token's header                           06 08
    vulnerable.refresh_app  a logout that misses the refresh family; untyped tokens             06
"""

from pathlib import Path

__version__ = "0.1.0"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # demo users and keys: read-only, demo only
