"""``/__admin/`` HTTP routes: the Python controls of FakeZoho for other processes (CLI, demo, Lambdas)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .kinds import MASS_UPDATE
from .profile import JobProfile
from .replies import json_reply

if TYPE_CHECKING:
    from .emulator import FakeZoho


class BadRequest(ValueError):
    """Admin input that cannot be used; answered with 400 and changes nothing."""


def _body() -> dict[str, Any]:
    if not request.data:
        return {}
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    return payload


def _only(payload: dict[str, Any], *allowed: str) -> dict[str, Any]:
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return payload


def _admin(view: Callable[..., Any]) -> Callable[..., Response]:
    """JSON out; ValueError/KeyError become 400/404 with a clear message."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
        except KeyError as error:
            return json_reply({"error": str(error.args[0]) if error.args else "not found"}, 404)
        except (ValueError, TypeError) as error:
            return json_reply({"error": str(error)}, 400)
        return result if isinstance(result, Response) else json_reply(result)

    return wrapper


def _job_view(zoho: FakeZoho, job_id: str) -> dict[str, Any]:
    job = zoho.job(job_id)
    return {
        "job_id": job.job_id,
        "module": job.module,
        "kind": job.kind,
        "total": job.total,
        "cvid": job.cvid,
        "profile": job.profile.to_dict(),
        "created_at": job.created_at,
        "truth": zoho.job_truth(job_id),
        "reply": zoho.job_reply(job_id),
        "finished_at": zoho.job_finished_at(job_id),
    }


def admin_blueprint(zoho: FakeZoho) -> Blueprint:
    """Every control of FakeZoho as JSON routes under /__admin/."""
    bp = Blueprint("zoho_admin", __name__, url_prefix="/__admin")

    @bp.get("/")
    @_admin
    def index() -> dict[str, Any]:
        routes = sorted(
            {str(rule) for rule in zoho.app.url_map.iter_rules() if str(rule).startswith("/__admin")}
        )
        return {"url": zoho.url, "dc": zoho.config.dc, "routes": routes}

    @bp.post("/reset")
    @_admin
    def reset() -> dict[str, Any]:
        zoho.reset()
        return {"reset": True}

    @bp.post("/credentials")
    @_admin
    def credentials() -> dict[str, Any]:
        payload = _only(_body(), "scopes", "org_id", "permission")
        return zoho.credentials(**payload)

    @bp.post("/clients")
    @_admin
    def clients() -> dict[str, Any]:
        payload = _only(_body(), "scopes", "dc", "org_id", "permission")
        client = zoho.add_client(**payload)
        return {"client_id": client.client_id, "client_secret": client.client_secret}

    @bp.post("/clients/<client_id>/permission")
    @_admin
    def permission(client_id: str) -> dict[str, Any]:
        payload = _only(_body(), "permission")
        zoho.set_permission(client_id, payload.get("permission", ""))
        return {"client_id": client_id, "permission": payload["permission"]}

    @bp.post("/refresh-tokens")
    @_admin
    def refresh_tokens() -> dict[str, Any]:
        payload = _only(_body(), "client_id", "scopes")
        return {
            "refresh_token": zoho.issue_refresh_token(payload.get("client_id", ""), payload.get("scopes"))
        }

    @bp.post("/refresh-tokens/revoke")
    @_admin
    def revoke() -> dict[str, Any]:
        payload = _only(_body(), "refresh_token")
        return {"revoked": zoho.revoke_refresh_token(payload.get("refresh_token", ""))}

    @bp.post("/grant-codes")
    @_admin
    def grant_codes() -> dict[str, Any]:
        payload = _only(_body(), "client_id", "scopes", "ttl")
        code = zoho.issue_grant_code(payload.get("client_id", ""), payload.get("scopes"), payload.get("ttl"))
        return {"code": code}

    @bp.post("/access-tokens/expire")
    @_admin
    def expire() -> dict[str, Any]:
        return {"expired": zoho.expire_access_tokens()}

    @bp.post("/access-tokens/foreign")
    @_admin
    def foreign() -> dict[str, Any]:
        payload = _only(_body(), "dc", "scopes")
        return {"access_token": zoho.foreign_access_token(payload.get("dc", "eu"), payload.get("scopes"))}

    @bp.get("/jobs")
    @_admin
    def list_jobs() -> dict[str, Any]:
        return {"jobs": [_job_view(zoho, job.job_id) for job in zoho.jobs.all()]}

    @bp.post("/jobs")
    @_admin
    def create_job() -> dict[str, Any]:
        payload = _only(_body(), "module", "total", "profile", "cvid", "kind")
        profile = JobProfile.from_dict(payload.get("profile"))
        job_id = zoho.create_job(
            payload.get("module", ""),
            payload.get("total", 50),
            profile,
            cvid=payload.get("cvid"),
            kind=payload.get("kind", MASS_UPDATE),
        )
        return _job_view(zoho, job_id)

    @bp.get("/jobs/<job_id>")
    @_admin
    def job(job_id: str) -> dict[str, Any]:
        return _job_view(zoho, job_id)

    @bp.post("/views")
    @_admin
    def views() -> dict[str, Any]:
        payload = _only(_body(), "module", "cvid", "total", "profile")
        profile = JobProfile.from_dict(payload.get("profile"))
        total: Any = payload.get("total")  # define_view says what is wrong with it
        zoho.define_view(payload.get("module", ""), str(payload.get("cvid", "")), total, profile)
        return {"module": payload["module"], "cvid": str(payload["cvid"]), "total": payload["total"]}

    @bp.post("/kinds")
    @_admin
    def kinds() -> dict[str, Any]:
        payload = _only(_body(), "kind", "total", "profile")
        profile = None if payload.get("profile") is None else JobProfile.from_dict(payload["profile"])
        zoho.define_kind(payload.get("kind", ""), payload.get("total"), profile)
        return {"kind": payload["kind"], "total": payload.get("total"), "profile": payload.get("profile")}

    @bp.route("/clock", methods=["GET", "POST"])
    @_admin
    def clock() -> dict[str, Any]:
        if request.method == "POST":
            payload = _only(_body(), "scale", "freeze", "resume", "advance", "set")
            # Check everything before touching the clock, so a bad field changes nothing.
            if payload.get("freeze") and payload.get("resume"):
                raise BadRequest("freeze and resume together make no sense")
            for name in ("scale", "advance", "set"):
                value = payload.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise BadRequest(f"{name} must be a number")
            if payload.get("scale") is not None and not payload["scale"] > 0:
                raise BadRequest("scale must be > 0")
            if payload.get("advance") is not None and not payload["advance"] >= 0:
                raise BadRequest("advance must be >= 0")
            if payload.get("scale") is not None:
                zoho.clock.set_scale(payload["scale"])
            if payload.get("freeze"):
                zoho.clock.freeze()
            if payload.get("resume"):
                zoho.clock.resume()
            if payload.get("set") is not None:
                zoho.clock.set(payload["set"])
            if payload.get("advance") is not None:
                zoho.clock.advance(payload["advance"])
        return zoho.clock.state()

    @bp.route("/faults", methods=["GET", "POST", "DELETE"])
    @_admin
    def faults() -> dict[str, Any]:
        if request.method == "POST":
            payload = _only(_body(), "kind", "share", "routes")
            zoho.faults.inject(
                payload.get("kind", ""), payload.get("share", 0.2), payload.get("routes", ("status",))
            )
        elif request.method == "DELETE":
            zoho.faults.clear()
        return zoho.faults.state()

    @bp.post("/faults/script")
    @_admin
    def fault_script() -> dict[str, Any]:
        payload = _only(_body(), "kinds", "routes")
        kinds: Any = payload.get("kinds")  # the injector says what is wrong with it
        zoho.faults.script(kinds, payload.get("routes", ("status",)))
        return zoho.faults.state()

    @bp.post("/faults/seed")
    @_admin
    def fault_seed() -> dict[str, Any]:
        payload = _only(_body(), "seed")
        if isinstance(payload.get("seed"), bool) or not isinstance(payload.get("seed"), int):
            raise BadRequest("seed must be an integer")
        zoho.faults.seed(payload["seed"])
        return zoho.faults.state()

    @bp.route("/latency", methods=["GET", "POST"])
    @_admin
    def latency() -> dict[str, Any]:
        if request.method == "POST":
            seconds: Any = _only(_body(), "seconds").get("seconds")  # set_latency says what is wrong
            zoho.set_latency(seconds)
        return {"seconds": zoho.latency}

    @bp.route("/config", methods=["GET", "PATCH", "POST"])
    @_admin
    def config() -> dict[str, Any]:
        if request.method != "GET":
            zoho.config.update(**_body())
        return zoho.config.to_dict()

    @bp.get("/counters")
    @_admin
    def counters() -> dict[str, Any]:
        return zoho.counters

    @bp.get("/requests")
    @_admin
    def requests_log() -> dict[str, Any]:
        return {"requests": zoho.request_log}

    return bp


__all__ = ["BadRequest", "admin_blueprint"]
