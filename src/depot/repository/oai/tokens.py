"""Stateless, tamper-evident resumption tokens: the list query and the keyset position, signed (HMAC-SHA256).

The token carries everything the next page needs (verb, prefix, window, last (modified, id) seen, cursor,
completeListSize, expiry), so any server process with the same key can answer it and nothing is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson

from depot.repository.oai.protocol import OAIError
from depot.repository.store.keyfiles import load_or_create


def load_key(data_dir: Path) -> bytes:
    """The signing key in DATA_DIR/oai-token.key, made once (random, 0600; safe with many processes starting at
    once); tokens outlive a restart, and every worker signs and checks with the same key."""
    return load_or_create(data_dir / "oai-token.key")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, state: dict[str, Any]) -> str:
    payload = _b64(orjson.dumps(state, option=orjson.OPT_SORT_KEYS))
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}.{_b64(mac)}"


def verify(key: bytes, token: str, *, now: float, verb: str) -> dict[str, Any]:
    """The state inside ``token``; badResumptionToken if it was forged, altered, expired or is for another verb."""
    bad = OAIError("badResumptionToken", "The resumptionToken is invalid or expired")
    payload, _, mac = token.partition(".")
    try:
        expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise bad
        state = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise bad from exc
    if not isinstance(state, dict) or state.get("verb") != verb or float(state.get("exp", 0)) < now:
        raise bad
    return state
