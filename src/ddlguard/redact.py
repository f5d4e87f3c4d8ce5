"""One redaction for every form of a PostgreSQL connection string (DSN).

A DSN reaches messages and reports in many ways: the ``--database-url`` given, the conninfo of
the scratch database derived from it (``user=... password=... dbname=ddlguard_scratch_...``),
PostgreSQL's and libpq's own error texts (which quote a malformed URI), and the path of the
findings of ``drift --database-url``. Every one of them goes through this module:

* :func:`redact` masks the secrets of one DSN, in any form: a URL with ``user:password@``, a URL
  with ``?password=`` (also percent-encoded, as libpq decodes it), a key=value conninfo
  (``host=... password=...``, quoted or not), and malformed URLs libpq cannot parse
  (``postgresql://u:pw@[::1/db``).
* :func:`scrub` masks DSNs and every password seen so far (:func:`remember`) in any text: an
  error message, a label, a path.

Passwords are masked as ``***``; everything else stays, so a person still recognises the server.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote

MASK = "***"

# Keys whose values are secrets, in key=value conninfo and in URL query parameters.
_SECRET_KEYS = frozenset({"password", "sslpassword"})

_URL_PREFIX = re.compile(r"(?i)postgres(?:ql)?://")
# key = value, value quoted ('...', backslash escapes, possibly unterminated; a quote inside it
# that is not escaped does not end it before the next ``key=``) or up to a space.
_KV = (
    r"(?<![\w.%-])(sslpassword|password)(\s*=\s*)"
    r"('(?:[^\n]*?'(?=\s+\w+\s*=|\s*$)|(?:[^'\\]|\\.)*'?)|[^\s'\"]*)"
)
_KEY_VALUE = re.compile(r"(?i)" + _KV)
# In a text, a URL ends at whitespace or at a quote around it; a key=value pair elsewhere.
_IN_TEXT = re.compile(r"(?i)(?P<url>postgres(?:ql)?://[^\s\"'`]*)|" + _KV)

# Passwords seen in the DSNs of this run: masked wherever they appear in a message.
_SEEN: set[str] = set()


def remember(dsn: str) -> None:
    """Record the passwords of ``dsn``, so that :func:`scrub` masks them in any later text."""
    for secret in _secrets(dsn):
        _SEEN.update(_variants(secret))


def redact(dsn: str) -> str:
    """``dsn`` with its passwords masked, in the form it was given."""
    secrets = {v for s in _secrets(dsn) for v in _variants(s)} | _SEEN
    masked = _redact_url(dsn) if _URL_PREFIX.match(dsn.lstrip()) else _mask_key_values(dsn)
    return _mask_values(masked, secrets)


def scrub(text: str) -> str:
    """Any text (an error message, a label) with every DSN in it redacted and every password
    seen so far masked."""

    def mask(m: re.Match[str]) -> str:
        if m.group("url") is not None:
            return _redact_url(m.group("url"))
        return f"{m.group(2)}{m.group(3)}{MASK}"

    return _mask_values(_IN_TEXT.sub(mask, text), _SEEN)


# --- how --------------------------------------------------------------------------------------


def _variants(secret: str) -> set[str]:
    """The forms a password takes in text: as is, percent-encoded, form-encoded."""
    if not secret:
        return set()
    return {v for v in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret)) if v}


def _secrets(dsn: str) -> set[str]:
    """Every password of ``dsn``: what libpq reads (when it can parse it), and what the
    structure shows (the userinfo of a URL, ``password=`` values), decoded and not."""
    found: set[str] = set()
    try:
        from psycopg.conninfo import conninfo_to_dict

        for key, value in conninfo_to_dict(dsn).items():
            if key in _SECRET_KEYS and isinstance(value, str):
                found.add(value)
    except Exception:  # psycopg missing, or a DSN libpq cannot parse: the structure below
        pass
    stripped = dsn.strip()
    prefix = _URL_PREFIX.match(stripped)
    if prefix:
        rest = stripped[prefix.end() :]
        userinfo, _ = _split_userinfo(rest)
        if userinfo is not None and ":" in userinfo:
            raw = userinfo.split(":", 1)[1]
            found.update((raw, unquote(raw)))
        query = rest.partition("?")[2]
        for part in query.split("&"):
            key, eq, value = part.partition("=")
            if eq and unquote(key).strip().lower() in _SECRET_KEYS:
                found.update((value, unquote(value)))
    else:
        for m in _KEY_VALUE.finditer(stripped):
            value = m.group(3)
            found.add(value)
            if value.startswith("'"):
                inner = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
                found.update((inner, re.sub(r"\\(.)", r"\1", inner)))
    return {s for s in found if s and s != MASK}


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """The ``user:password`` part of a URL after ``scheme://`` (None when there is none) and
    what follows its ``@``. The last ``@`` counts (a password may hold a raw ``@``, ``/`` or
    ``?``), unless every ``@`` stands inside the query (``host/db?user=a@b``)."""
    at = rest.rfind("@")
    if at < 0:
        return None, rest
    q = rest.find("?")
    if 0 <= q < at and "@" not in rest[:q] and "=" in rest[q:at]:
        return None, rest
    return rest[:at], rest[at + 1 :]


def _redact_url(url: str) -> str:
    prefix = _URL_PREFIX.search(url)
    if prefix is None:
        return _mask_key_values(url)
    head, rest = url[: prefix.end()], url[prefix.end() :]
    userinfo, after = _split_userinfo(rest)
    if userinfo is not None and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:{MASK}@{after}"
    base, sep, query = rest.partition("?")
    if sep:
        fragment = ""
        if "#" in query:
            query, fragment = query.split("#", 1)
            fragment = "#" + fragment
        parts = []
        for part in query.split("&"):
            key, eq, _value = part.partition("=")
            if eq and unquote(key).strip().lower() in _SECRET_KEYS:
                part = f"{key}={MASK}"
            parts.append(part)
        rest = base + "?" + "&".join(parts) + fragment
    return head + rest


def _mask_key_values(text: str) -> str:
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


# Shorter passwords are masked where they stand in a DSN only: replacing every "pw" in a
# message would garble it.
_MIN_VALUE = 4


def _mask_values(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_VALUE and secret != MASK:
            text = text.replace(secret, MASK)
    return text
