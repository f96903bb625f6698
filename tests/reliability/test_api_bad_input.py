"""Bad input at the API: thousands of generated requests, no 5xx, every invalid one a 4xx JSON error with a
stable code, and nothing reaches Zoho or changes anything.

The API handler runs in-process on moto (`aws` fixture) with the Zoho emulator behind it, driven by API
Gateway REST proxy events built from the `events/` samples. Hypothesis generates the requests: invalid ones by
construction (bad path parameters, query strings and bodies, unknown routes and methods), each with the codes
it may get; and valid ones, which must never get a 5xx. At least 2,000 requests are sent in all.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from zoho_watch.job_kinds import KINDS, ORG_MODULE

from fake_zoho import JobProfile
from tests.unit.functions.conftest import FakeLambdaContext, load_event, load_handler
from tests.unit.functions.test_api import state_machine  # noqa: F401 - the fixture, reused
from zoho_watch_local.stack import grant_scopes

MODULE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
JOB_ID = re.compile(r"[0-9]{1,30}")
CONNECTION = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# The path segment Powertools' resolver accepts for a `<param>` (outside it the route is unknown).
PATH_SEGMENT = re.compile(r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+")
STABLE_CODES = {"INVALID_INPUT", "ROUTE_NOT_FOUND", "JOB_NOT_RECORDED", "JOB_NOT_FOUND", "METHOD_NOT_ALLOWED"}
# 4xx codes a well-formed request may get: unknown job or route, Zoho refused the module, a conflict.
VALID_REQUEST_CODES = STABLE_CODES | {
    "ZOHO_REQUEST_ERROR",
    "WATCHED_BY_SCHEDULE",
    "WATCHED_BY_STATE_MACHINE",
    "TOO_MANY_WATCHES",
}
INVALID_EXAMPLES = 1200
VALID_EXAMPLES = 100  # each sends 2 requests


@dataclass
class ApiDriver:
    """Sends proxy events to one in-process API handler and keeps count."""

    app: Any
    context: FakeLambdaContext = field(default_factory=FakeLambdaContext)
    sent: int = 0
    scan: Any = None

    def send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: str | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], str]:
        """One request; returns (status, JSON body, raw body). Fails the test on a non-JSON answer."""
        event = load_event("api_get_job")
        event.update(
            httpMethod=method,
            path=path,
            resource=path,
            pathParameters=path_parameters,
            queryStringParameters=query or None,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
            body=body,
        )
        if body is not None:
            event["headers"]["Content-Type"] = "application/json"
            event["multiValueHeaders"]["Content-Type"] = ["application/json"]
        event["requestContext"].update(httpMethod=method, resourcePath=path, path="/v1" + path)
        reply = self.app.lambda_handler(event, self.context)
        self.sent += 1
        raw = reply.get("body") or ""
        if self.scan is not None:
            self.scan.scan(f"API reply to {method} (bad input test)", raw)
        content_type = (reply.get("multiValueHeaders") or {}).get("Content-Type") or [
            (reply.get("headers") or {}).get("Content-Type")
        ]
        assert content_type == ["application/json"], (method, path, reply)
        try:
            answer = json.loads(raw)
        except ValueError:
            pytest.fail(f"{method} {path} answered a body that is not JSON: {raw[:200]!r}")
        return reply["statusCode"], answer, raw


@pytest.fixture
def api(aws, zoho, zoho_connection, state_machine, secrets_scan) -> Iterator[ApiDriver]:  # noqa: F811
    """The API handler on moto, the emulator behind it, a state machine to start watches on."""
    driver = ApiDriver(app=load_handler("api"), scan=secrets_scan)
    yield driver


def table_snapshot(aws) -> list[dict[str, Any]]:
    """Every item of the jobs table."""
    return sorted(aws.dynamodb.scan(TableName=aws.table_name)["Items"], key=lambda item: json.dumps(item))


def executions(state_machine_arn: str) -> list[str]:
    """Names of the state machine's executions."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return [e["name"] for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]]


# ---- strategies -------------------------------------------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.printable, max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "../etc/passwd",
            "Leads;DROP TABLE",
            "Leads%00",
            "Lead\u00e9s",
            "\u0000",
            "1e9",
            "-1",
            "0x1F",
            "null",
            "[]",
            "{}",
            "L" * 101,
            "9" * 31,
            "Leads\n",
            "${jndi:ldap://x}",
            "<script>",
            "%2e%2e%2f",
        ]
    ),
)
valid_module = st.from_regex(MODULE, fullmatch=True).filter(lambda m: len(m) <= 40)
valid_job_id = st.from_regex(JOB_ID, fullmatch=True)
bad_module = nasty_text.filter(lambda m: not MODULE.fullmatch(m))
bad_job_id = nasty_text.filter(lambda j: not JOB_ID.fullmatch(j))
bad_connection = nasty_text.filter(lambda c: not CONNECTION.fullmatch(c) and c != "")
bad_kind = st.one_of(nasty_text, st.sampled_from(["MASS_UPDATE", "mass-update", "bulk", "Leads"])).filter(
    lambda k: k not in KINDS and k != ""
)
bad_limit = st.one_of(
    st.integers().filter(lambda n: not 1 <= n <= 1000).map(str),
    nasty_text.filter(lambda s: not s.strip().isdigit() or not 1 <= int(s.strip() or 0) <= 1000),
)
bad_status = nasty_text.filter(lambda s: not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", s) and s != "")
bad_cursor = st.one_of(
    st.text(min_size=1, max_size=60), st.text(alphabet="ABCDEFabcdef0123456789-_", min_size=1)
)
bad_live = st.text(max_size=10).filter(
    lambda s: (
        s.strip().lower() not in {"true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"}
    )
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def a_valid_deadline(value: Any) -> bool:
    """Whether the API would take `value` as a deadline: a time with a zone, in the future. A number is a
    Unix time to the API (seconds, or milliseconds when large), so an integer drawn at random can be one."""
    try:
        deadline = TypeAdapter(AwareDatetime).validate_json(json.dumps(value))
    except ValidationError:
        return False
    return deadline > datetime.now(UTC)


@st.composite
def bad_watch_body(draw: st.DrawFn) -> str:
    """A PUT .../watch body that must be refused: not JSON, not an object, or an object with a bad field."""
    kind = draw(
        st.sampled_from(["not_json", "not_object", "extra_key", "mode", "poll", "deadline", "connection"])
    )
    if kind == "not_json":
        text = draw(st.text(min_size=1, max_size=40))
        try:
            json.loads(text)
        except ValueError:
            return text
        return text + "{"
    if kind == "not_object":
        return json.dumps(
            draw(
                st.one_of(
                    st.lists(json_scalars, max_size=3), st.integers(), st.text(max_size=5), st.booleans()
                )
            )
        )
    body: dict[str, Any] = {}
    if kind == "extra_key":
        key = draw(st.text(max_size=10).filter(lambda k: k not in {"connection", "mode", "poll", "deadline"}))
        body[key] = draw(json_values)
    elif kind == "mode":
        body["mode"] = draw(json_values.filter(lambda v: v not in ("stepfunctions", "schedule")))
    elif kind == "poll":
        body["poll"] = draw(
            st.one_of(
                st.fixed_dictionaries({"min_seconds": st.integers(max_value=0)}),
                st.fixed_dictionaries({"max_seconds": st.integers(min_value=86401)}),
                st.integers(min_value=2, max_value=86400).map(
                    lambda n: {"min_seconds": n, "max_seconds": n - 1}
                ),
                st.fixed_dictionaries(
                    {"min_seconds": st.text(max_size=5).filter(lambda t: not t.strip().isdigit())}
                ),
                st.fixed_dictionaries({"every": st.integers()}),
                st.lists(st.integers(), max_size=2),
            )
        )
    elif kind == "deadline":
        body["deadline"] = draw(
            st.one_of(
                st.sampled_from(
                    ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "tomorrow", "2030-13-01T00:00:00Z", ""]
                ),
                st.integers(),
                st.text(max_size=12),
            ).filter(lambda value: not a_valid_deadline(value))
        )
    else:
        body["connection"] = draw(
            st.one_of(bad_connection, st.integers(), st.lists(st.text(max_size=3), max_size=2))
        )
    return json.dumps(body)


VALID_SUBMIT = {"module": "Leads", "data": [{"Lead_Status": "Contacted"}], "cvid": "4150868000000087011"}


@st.composite
def bad_submit_body(draw: st.DrawFn) -> str:
    """A POST /mass-updates body that must be refused: a valid one with one thing wrong."""
    body: dict[str, Any] = dict(VALID_SUBMIT)
    kind = draw(
        st.sampled_from(
            ["not_object", "module", "data", "selection", "cvid", "ids", "over_write", "extra_key", "watch"]
        )
    )
    if kind == "not_object":
        return json.dumps(
            draw(st.one_of(st.lists(json_scalars, max_size=3), st.integers(), st.text(max_size=5)))
        )
    if kind == "module":
        body["module"] = draw(st.one_of(bad_module, st.integers(), st.none()))
    elif kind == "data":
        body["data"] = draw(
            st.one_of(
                st.just([]),
                st.just([{}]),
                st.just([{"A": 1}, {"B": 2}]),
                st.fixed_dictionaries({"A": st.integers()}),
                st.just([{"bad field": 1}]),
                json_scalars,
            )
        )
    elif kind == "selection":
        if draw(st.booleans()):
            del body["cvid"]
        else:
            body["ids"] = ["1"]
    elif kind == "cvid":
        body["cvid"] = draw(
            st.one_of(st.text(max_size=8).filter(lambda t: not t.isdigit() or not t), st.booleans())
        )
    elif kind == "ids":
        del body["cvid"]
        body["ids"] = draw(
            st.one_of(
                st.just([]),
                st.just([str(n) for n in range(501)]),
                st.lists(
                    st.text(max_size=6).filter(lambda t: not t.isdigit() or not t), min_size=1, max_size=3
                ),
                st.text(max_size=5),
            )
        )
    elif kind == "over_write":
        body["over_write"] = draw(json_values.filter(lambda v: not isinstance(v, bool) and v is not None))
    elif kind == "extra_key":
        key = draw(
            st.text(max_size=10).filter(
                lambda k: k not in {*VALID_SUBMIT, "territory", "ids", "over_write", "watch", "connection"}
            )
        )
        body[key] = draw(json_values)
    else:
        body.pop("cvid")
        body["ids"] = ["1"]
        body["watch"] = {"mode": "schedule"}  # nothing to watch in an update by ids
    return json.dumps(body)


@dataclass(frozen=True)
class BadRequest:
    """A request that must be refused, and the codes it may get."""

    method: str
    path: str
    query: dict[str, str] | None
    body: str | None
    path_parameters: dict[str, str] | None
    codes: frozenset[str]


def segment(value: str) -> str:
    """How a path parameter appears in the path API Gateway passes on (decoded)."""
    return value


@st.composite
def bad_requests(draw: st.DrawFn) -> BadRequest:
    """One invalid request of any kind, with the stable codes it may be answered with."""
    kind = draw(
        st.sampled_from(
            [
                "module",
                "job_id",
                "job_kind",
                "list_query",
                "get_query",
                "history_query",
                "watch_body",
                "submit",
                "route",
            ]
        )
    )
    module, job_id = draw(valid_module), draw(valid_job_id)
    # The job routes of a mass update (no kind), or of a kind that exists in any module.
    job_kind = draw(st.sampled_from(["", "mass_update", "mass_delete", "mass_change_owner"]))
    invalid = frozenset({"INVALID_INPUT"})
    if kind in ("module", "job_id", "job_kind"):
        if kind == "module":
            module = draw(bad_module)
        elif kind == "job_id":
            job_id = draw(bad_job_id)
        else:
            # A kind zoho-watch does not know, or one that does not exist in the module.
            job_kind, module = draw(
                st.one_of(
                    st.tuples(bad_kind, valid_module),
                    st.tuples(st.just("mass_convert"), valid_module.filter(lambda m: m.lower() != "leads")),
                    st.tuples(
                        st.sampled_from(["bulk_read", "bulk_write"]),
                        valid_module.filter(lambda m: m != "org"),
                    ),
                )
            )
        method, suffix = draw(
            st.sampled_from([("GET", ""), ("GET", "/history"), ("PUT", "/watch"), ("DELETE", "/watch")])
        )
        query = draw(st.sampled_from([None, {"live": "true"}]))  # a live check must not reach Zoho either
        body = json.dumps({"mode": "schedule"}) if method == "PUT" and draw(st.booleans()) else None
        path = f"/jobs/{job_kind + '/' if job_kind else ''}{module}/{job_id}{suffix}"
        parts = (job_kind, module, job_id) if job_kind else (module, job_id)
        matchable = all(PATH_SEGMENT.fullmatch(part) for part in parts) and "/" not in "".join(parts)
        # Outside Powertools' path segment alphabet the route itself is unknown: 404 ROUTE_NOT_FOUND.
        codes = invalid if matchable else frozenset({"ROUTE_NOT_FOUND", "INVALID_INPUT"})
        return BadRequest(method, path, query, body, {"module": module, "job_id": job_id}, codes)
    if kind == "list_query":
        name, value = draw(
            st.one_of(
                st.tuples(st.just("limit"), bad_limit),
                st.tuples(st.just("status"), bad_status),
                st.tuples(st.just("connection"), bad_connection),
                st.tuples(st.just("cursor"), bad_cursor),
                st.tuples(st.just("kind"), bad_kind),
            )
        )
        return BadRequest("GET", "/jobs", {name: value}, None, None, invalid)
    if kind == "get_query":
        name, value = draw(
            st.one_of(st.tuples(st.just("live"), bad_live), st.tuples(st.just("connection"), bad_connection))
        )
        query = {name: value} if name == "live" else {name: value, "live": "true"}
        path = f"/jobs/{module}/{job_id}"
        return BadRequest("GET", path, query, None, {"module": module, "job_id": job_id}, invalid)
    if kind == "history_query":
        name, value = draw(
            st.one_of(
                st.tuples(st.just("limit"), bad_limit),
                st.tuples(st.just("connection"), bad_connection),
                st.tuples(st.just("cursor"), bad_cursor),
            )
        )
        path = f"/jobs/{module}/{job_id}/history"
        return BadRequest("GET", path, {name: value}, None, {"module": module, "job_id": job_id}, invalid)
    if kind == "watch_body":
        path = f"/jobs/{module}/{job_id}/watch"
        return BadRequest(
            "PUT", path, None, draw(bad_watch_body()), {"module": module, "job_id": job_id}, invalid
        )
    if kind == "submit":
        return BadRequest("POST", "/mass-updates", None, draw(bad_submit_body()), None, invalid)
    method, path = draw(
        st.one_of(
            st.tuples(st.sampled_from(["POST", "PATCH", "PUT", "DELETE"]), st.just("/jobs")),
            st.tuples(st.sampled_from(["POST", "PATCH"]), st.just(f"/jobs/{module}/{job_id}/watch")),
            st.tuples(st.sampled_from(["PUT", "DELETE", "POST"]), st.just(f"/jobs/{module}/{job_id}")),
            st.tuples(
                st.sampled_from(["POST", "PATCH"]), st.just(f"/jobs/mass_delete/{module}/{job_id}/watch")
            ),
            st.tuples(
                st.sampled_from(["PUT", "DELETE", "POST"]), st.just(f"/jobs/mass_delete/{module}/{job_id}")
            ),
            st.tuples(
                st.sampled_from(["GET", "PUT"]),
                st.sampled_from(["/", "/job", f"/jobs/{module}", f"/jobs/{module}/{job_id}/x/y", "/openapi"]),
            ),
        )
    )
    return BadRequest(method, path, None, None, None, frozenset({"ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED"}))


# ---- tests ------------------------------------------------------------------------------------------------


def test_invalid_requests_get_a_stable_4xx_json_error_and_reach_nothing(
    api,
    aws,
    zoho,
    state_machine,  # noqa: F811 - the imported fixture
) -> None:
    job_id = zoho.create_job("Leads", total=50, profile=JobProfile(queue_delay=0, duration=10))
    status, _, _ = api.send(
        "GET", f"/jobs/Leads/{job_id}", {"live": "true"}, None, {"module": "Leads", "job_id": job_id}
    )
    assert status == 200  # the set-up works: a valid live check does reach Zoho
    zoho_calls = zoho.counters["calls_total"]
    table = table_snapshot(aws)
    started = executions(state_machine)
    codes_seen: dict[str, int] = {}

    @settings(
        max_examples=INVALID_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
        ],
    )
    @given(request=bad_requests())
    def refused(request: BadRequest) -> None:
        status, body, raw = api.send(
            request.method, request.path, request.query, request.body, request.path_parameters
        )
        assert 400 <= status < 500, (request, status, body)
        assert body.get("code") in request.codes, (request, status, body)
        assert isinstance(body.get("message"), str) and body["message"], body
        assert "Traceback" not in raw and 'File "' not in raw
        codes_seen[body["code"]] = codes_seen.get(body["code"], 0) + 1
        # Stable: the same request gets the same answer.
        again = api.send(request.method, request.path, request.query, request.body, request.path_parameters)
        assert (again[0], again[1]["code"]) == (status, body["code"])

    refused()

    assert api.sent >= 2000, api.sent  # the issue asks for at least 2,000 generated requests
    assert zoho.counters["calls_total"] == zoho_calls, "an invalid request reached Zoho"
    assert table_snapshot(aws) == table, "an invalid request changed the table"
    assert executions(state_machine) == started, "an invalid request started a watch"
    assert codes_seen.get("INVALID_INPUT", 0) > INVALID_EXAMPLES // 2, codes_seen


@st.composite
def valid_requests(
    draw: st.DrawFn, job_ids: list[str]
) -> tuple[str, str, dict[str, str] | None, str | None, dict[str, str] | None]:
    """A well-formed request to any route (some name jobs the emulator knows, some not)."""
    module = draw(st.one_of(st.just("Leads"), valid_module))
    job_id = draw(st.one_of(st.sampled_from(job_ids), valid_job_id))
    # A mass update's routes, or a kind's (one that exists in any module, or one of the organisation's).
    kind, module = draw(
        st.one_of(
            st.tuples(st.sampled_from(["", "mass_update/", "mass_delete/"]), st.just(module)),
            st.tuples(st.sampled_from(["bulk_read/", "audit_log_export/"]), st.just(ORG_MODULE)),
        )
    )
    params = {"path": f"{kind}{module}/{job_id}"}
    connection = draw(st.sampled_from([None, "default"]))
    route = draw(st.sampled_from(["list", "get", "live", "history", "watch", "schedule", "stop", "openapi"]))
    query: dict[str, str] = {"connection": connection} if connection else {}
    if route == "list":
        query.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "limit": st.integers(1, 1000).map(str),
                        "status": st.sampled_from(["RUNNING", "COMPLETED", "FAILED", "SCHEDULED"]),
                    },
                )
            )
        )
        return "GET", "/jobs", query or None, None, None
    if route in ("get", "live"):
        if route == "live":
            query["live"] = draw(st.sampled_from(["true", "1", "True"]))
        return "GET", f"/jobs/{kind}{module}/{job_id}", query or None, None, params
    if route == "history":
        query["limit"] = str(draw(st.integers(1, 1000)))
        return "GET", f"/jobs/{kind}{module}/{job_id}/history", query, None, params
    if route in ("watch", "schedule"):
        body: dict[str, Any] = {"mode": "stepfunctions" if route == "watch" else "schedule"}
        if draw(st.booleans()):
            low = draw(st.integers(1, 3600))
            body["poll"] = {"min_seconds": low, "max_seconds": draw(st.integers(low, 86400))}
        if route == "watch" and draw(st.booleans()):
            body["deadline"] = "2031-01-01T00:00:00Z"
        return "PUT", f"/jobs/{kind}{module}/{job_id}/watch", query or None, json.dumps(body), params
    if route == "stop":
        return "DELETE", f"/jobs/{kind}{module}/{job_id}/watch", query or None, None, params
    return "GET", "/openapi.json", None, None, None


def test_valid_requests_never_get_a_5xx(api, aws, zoho) -> None:
    zoho.clock.freeze()
    # The connection may ask every kind's status (with fewer scopes, Zoho's refusal is a 502 by design).
    aws.write_credentials("default", zoho.credentials(scopes=grant_scopes()))
    job_ids = [
        zoho.create_job(
            "Leads", total=100, profile=JobProfile(queue_delay=0, duration=50, final_status=final)
        )
        for final in ("COMPLETED", "FAILED", "COMPLETED")
    ]
    zoho.clock.advance(20)

    @settings(
        max_examples=VALID_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(request=valid_requests(job_ids))
    def answered(request: tuple[Any, ...]) -> None:
        method, path, query, body, params = request
        for _ in range(2):  # a repeat is idempotent: never a 5xx either
            status, answer, _ = api.send(method, path, query, body, params)
            assert status < 500, (request, status, answer)
            if status >= 400:
                assert answer.get("code") in VALID_REQUEST_CODES, (request, answer)

    answered()

    assert api.sent >= 2 * VALID_EXAMPLES * 0.95


def test_a_connection_that_is_not_configured_is_a_4xx(api, zoho) -> None:
    job_id = zoho.create_job("Leads", total=10)
    params = {"module": "Leads", "job_id": job_id}
    query = {"connection": "not-configured", "live": "true"}

    status, body, _ = api.send("GET", f"/jobs/Leads/{job_id}", query, None, params)

    assert 400 <= status < 500, body
    assert zoho.counters["calls_total"] == 0
