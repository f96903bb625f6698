"""Zoho Accounts: clients, grant codes, refresh and access tokens, with Zoho's limits."""

from __future__ import annotations

import collections
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .config import DATA_CENTRES, ZohoConfig
from .counters import Counters

THROTTLED_REPLY = {
    "error_description": "You have made too many requests continuously. Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}
DEFAULT_ORG = "org1"


def _zoho_token() -> str:
    """A token shaped like Zoho's: 1000.<32 hex>.<32 hex>."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


@dataclass
class Client:
    """A registered (self) client. ``permission`` is ok, no_permission or authorization_failed."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    dc: str
    org_id: str
    permission: str = "ok"


@dataclass
class RefreshToken:
    """A refresh token, with the issue times and live access tokens that Zoho's limits look at."""

    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False
    issued_at: collections.deque[float] = field(default_factory=collections.deque)
    live: collections.deque[str] = field(default_factory=collections.deque)


@dataclass
class IssuedToken:
    """An access token; ``dead`` says why it no longer works (revoked, evicted, expired) or is None."""

    refresh_token: str | None
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    dc: str
    org_id: str
    dead: str | None = None


@dataclass
class GrantCode:
    """A self-client grant code: works once, before it expires."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


PERMISSIONS = ("ok", "no_permission", "authorization_failed")


class Accounts:
    """The token store and the logic of ``/oauth/v2/token``; every method is thread-safe."""

    def __init__(
        self, clock: Clock, config: ZohoConfig, counters: Counters, api_domain: Callable[[], str]
    ) -> None:
        self._clock = clock
        self._config = config
        self._counters = counters
        self._api_domain = api_domain
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every client and token."""
        with self._lock:
            self.clients: dict[str, Client] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.access_tokens: dict[str, IssuedToken] = {}
            self.grant_codes: dict[str, GrantCode] = {}

    # ----- set-up (Python API and /__admin/) -----

    def _scopes(self, scopes: Iterable[str] | str | None, fallback: tuple[str, ...]) -> tuple[str, ...]:
        if scopes is None:
            return fallback
        if isinstance(scopes, str):
            scopes = [s for s in scopes.replace(" ", ",").split(",") if s]
        chosen = tuple(scopes)
        if not all(isinstance(s, str) and s for s in chosen):
            raise ValueError("scopes must be non-empty strings")
        return chosen

    def add_client(
        self,
        scopes: Iterable[str] | str | None = None,
        dc: str | None = None,
        org_id: str = DEFAULT_ORG,
        permission: str = "ok",
    ) -> Client:
        """Register a client. ``dc`` other than this emulator's makes Accounts answer invalid_client."""
        dc = dc or self._config.dc
        if dc not in DATA_CENTRES:
            raise ValueError(f"dc must be one of {DATA_CENTRES}")
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {PERMISSIONS}")
        if not isinstance(org_id, str) or not org_id:
            raise ValueError("org_id must be a non-empty string")
        alphabet = string.ascii_uppercase + string.digits
        client = Client(
            client_id="1000." + "".join(secrets.choice(alphabet) for _ in range(30)),
            client_secret=secrets.token_hex(21),
            scopes=self._scopes(scopes, tuple(self._config.default_scopes)),
            dc=dc,
            org_id=org_id,
            permission=permission,
        )
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def client(self, client_id: str) -> Client:
        """The client with this id, or KeyError with a clear message."""
        with self._lock:
            if client_id not in self.clients:
                raise KeyError(f"unknown client_id {client_id!r}")
            return self.clients[client_id]

    def set_permission(self, client_id: str, permission: str) -> None:
        """Make the client's user allowed (ok) or not (no_permission, authorization_failed)."""
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {PERMISSIONS}")
        self.client(client_id).permission = permission

    def issue_refresh_token(self, client_id: str, scopes: Iterable[str] | str | None = None) -> str:
        """A refresh token for the client, made without the grant-code dance (not counted as a grant)."""
        client = self.client(client_id)
        token = _zoho_token()
        with self._lock:
            self.refresh_tokens[token] = RefreshToken(client_id, self._scopes(scopes, client.scopes))
        return token

    def issue_grant_code(
        self, client_id: str, scopes: Iterable[str] | str | None = None, ttl: float | None = None
    ) -> str:
        """A self-client grant code, valid ``ttl`` emulated seconds (default config.grant_code_ttl), once."""
        client = self.client(client_id)
        ttl = self._config.grant_code_ttl if ttl is None else ttl
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            raise ValueError("ttl must be a number of seconds > 0")
        code = _zoho_token()
        with self._lock:
            self.grant_codes[code] = GrantCode(
                client_id, self._scopes(scopes, client.scopes), self._clock.now() + ttl
            )
        return code

    def revoke_refresh_token(self, refresh_token: str) -> bool:
        """Revoke a refresh token and every access token made from it; False if it is unknown."""
        with self._lock:
            record = self.refresh_tokens.get(refresh_token)
            if record is None:
                return False
            record.revoked = True
            for access in record.live:
                self.access_tokens[access].dead = "revoked"
            record.live.clear()
            return True

    def expire_access_tokens(self) -> int:
        """Make every live access token expired now; return how many there were."""
        with self._lock:
            count = 0
            for token in self.access_tokens.values():
                if token.dead is None:
                    token.dead = "expired"
                    count += 1
            return count

    def foreign_access_token(self, dc: str, scopes: Iterable[str] | str | None = None) -> str:
        """An access token flagged as issued by another data centre: this one's API rejects it."""
        if dc not in DATA_CENTRES or dc == self._config.dc:
            raise ValueError(f"dc must be a data centre other than {self._config.dc!r}")
        token = _zoho_token()
        with self._lock:
            self.access_tokens[token] = IssuedToken(
                None,
                "",
                self._scopes(scopes, tuple(self._config.default_scopes)),
                self._clock.now() + self._config.access_token_ttl,
                dc,
                DEFAULT_ORG,
            )
        return token

    # ----- /oauth/v2/token -----

    def token_request(self, values: Mapping[str, str]) -> tuple[dict[str, Any], str]:
        """Answer a token request: (reply body, outcome kind). Zoho answers errors with HTTP 200 too."""
        grant_type = values.get("grant_type", "")
        client = self.clients.get(values.get("client_id", ""))
        if client is None or not secrets.compare_digest(
            client.client_secret, values.get("client_secret", "")
        ):
            return {"error": "invalid_client"}, "invalid_client"
        if client.dc != self._config.dc:
            # A client of another data centre is unknown to this one's accounts server.
            return {"error": "invalid_client"}, "invalid_client"
        if grant_type == "refresh_token":
            return self._refresh(client, values.get("refresh_token", ""))
        if grant_type == "authorization_code":
            return self._exchange(client, values.get("code", ""))
        return {"error": "unsupported_grant_type"}, "unsupported_grant_type"

    def _refresh(self, client: Client, refresh_token: str) -> tuple[dict[str, Any], str]:
        with self._lock:
            record = self.refresh_tokens.get(refresh_token)
            if record is None or record.revoked or record.client_id != client.client_id:
                return {"error": "invalid_code"}, "invalid_code"
            now = self._clock.now()
            while record.issued_at and record.issued_at[0] <= now - self._config.refresh_window:
                record.issued_at.popleft()
            if len(record.issued_at) >= self._config.refresh_limit:
                self._counters.token_throttled()
                return dict(THROTTLED_REPLY), "throttled"
            access = self._new_access_token(refresh_token, record, client, now)
        self._counters.token_refreshed(now)
        return self._token_reply(access), "refreshed"

    def _exchange(self, client: Client, code: str) -> tuple[dict[str, Any], str]:
        with self._lock:
            grant = self.grant_codes.get(code)
            now = self._clock.now()
            if grant is None or grant.used or grant.expires_at <= now or grant.client_id != client.client_id:
                return {"error": "invalid_code"}, "invalid_code"
            grant.used = True
            refresh_token = _zoho_token()
            record = RefreshToken(client.client_id, grant.scopes)
            self.refresh_tokens[refresh_token] = record
            access = self._new_access_token(refresh_token, record, client, now)
        self._counters.grant_exchanged()
        reply = self._token_reply(access)
        # Zoho's grant reply carries the refresh token right after the access token.
        return {"access_token": reply.pop("access_token"), "refresh_token": refresh_token, **reply}, "granted"

    def _new_access_token(self, refresh_token: str, record: RefreshToken, client: Client, now: float) -> str:
        """Issue one access token (caller holds the lock), evicting the oldest beyond the live limit."""
        record.issued_at.append(now)
        live = collections.deque(t for t in record.live if self._alive(self.access_tokens[t], now))
        while len(live) >= self._config.max_live_tokens:
            self.access_tokens[live.popleft()].dead = "evicted"
        token = _zoho_token()
        self.access_tokens[token] = IssuedToken(
            refresh_token,
            client.client_id,
            record.scopes,
            now + self._config.access_token_ttl,
            self._config.dc,
            client.org_id,
        )
        live.append(token)
        record.live = live
        return token

    def _token_reply(self, access_token: str) -> dict[str, Any]:
        ttl = int(self._config.access_token_ttl)
        if self._config.legacy_token_reply:
            return {
                "access_token": access_token,
                "expires_in_sec": ttl,
                "api_domain": self._api_domain(),
                "token_type": "Bearer",
                "expires_in": ttl * 1000,
            }
        return {
            "access_token": access_token,
            "api_domain": self._api_domain(),
            "token_type": "Bearer",
            "expires_in": ttl,
        }

    def revoke_request(self, token: str) -> tuple[dict[str, Any], str]:
        """Answer ``/oauth/v2/token/revoke?token=``: (reply body, outcome kind)."""
        if self.revoke_refresh_token(token):
            return {"status": "success"}, "revoked"
        return {"error": "invalid_token", "status": "failure"}, "invalid_token"

    # ----- CRM side -----

    @staticmethod
    def _alive(token: IssuedToken, now: float) -> bool:
        return token.dead is None and token.expires_at > now

    def authenticate(self, header: str | None) -> tuple[IssuedToken | None, str | None]:
        """(token, None) for a usable ``Zoho-oauthtoken`` header, else (None, Zoho error code)."""
        scheme, _, value = (header or "").strip().partition(" ")
        value = value.strip()
        if scheme != "Zoho-oauthtoken" or not value:
            return None, "AUTHENTICATION_FAILURE"
        with self._lock:
            token = self.access_tokens.get(value)
            if token is None or not self._alive(token, self._clock.now()) or token.dc != self._config.dc:
                return None, "INVALID_TOKEN"
            if token.refresh_token is not None and self.refresh_tokens[token.refresh_token].revoked:
                return None, "INVALID_TOKEN"
            return token, None

    def permission_of(self, token: IssuedToken) -> str:
        """The permission of the user behind ``token`` (ok when its client is unknown)."""
        client = self.clients.get(token.client_id)
        return client.permission if client else "ok"
