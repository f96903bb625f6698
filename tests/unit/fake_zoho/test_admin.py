"""The /__admin/ HTTP controls, as a separate process (CLI, demo, Lambda) drives the emulator."""

from __future__ import annotations

import pytest

from fake_zoho import FakeZoho

from .helpers import admin, assert_error, create_call, refresh, status_call


def test_index_lists_the_routes(zoho: FakeZoho) -> None:
    body = admin(zoho, "GET", "").json()
    assert body["url"] == zoho.url and body["dc"] == "us"
    assert "/__admin/jobs" in body["routes"] and "/__admin/clock" in body["routes"]


def test_credentials_jobs_clock_and_truth_over_http(zoho: FakeZoho) -> None:
    creds = admin(zoho, "POST", "credentials", {"scopes": ["ZohoCRM.mass_update.READ"]}).json()
    assert set(creds) == {"client_id", "client_secret", "refresh_token", "accounts_url", "api_domain"}
    token = refresh(zoho, creds).json()["access_token"]
    assert admin(zoho, "POST", "clock", {"freeze": True}).json()["frozen"] is True
    created = admin(
        zoho, "POST", "jobs", {"module": "Deals", "total": 40, "profile": {"queue_delay": 0, "duration": 40}}
    ).json()
    job_id = created["job_id"]
    assert created["truth"]["Status"] == "RUNNING" and created["finished_at"] is None
    admin(zoho, "POST", "clock", {"advance": 10})
    truth = admin(zoho, "GET", f"jobs/{job_id}").json()["truth"]
    assert truth["Updated_Count"] == 10
    assert status_call(zoho, token, job_id, module="Deals").json() == {"data": [truth]}
    admin(zoho, "POST", "clock", {"advance": 30})
    job = admin(zoho, "GET", f"jobs/{job_id}").json()
    assert job["truth"]["Status"] == "COMPLETED"
    assert job["finished_at"] == pytest.approx(job["created_at"] + 40)
    assert [j["job_id"] for j in admin(zoho, "GET", "jobs").json()["jobs"]] == [job_id]


def test_faults_latency_config_counters_requests_and_reset(zoho: FakeZoho) -> None:
    creds = admin(zoho, "POST", "credentials").json()
    token = refresh(zoho, creds).json()["access_token"]
    job_id = admin(zoho, "POST", "jobs", {"module": "Leads", "total": 5}).json()["job_id"]
    admin(zoho, "POST", "faults/script", {"kinds": ["500", None]})
    assert_error(status_call(zoho, token, job_id), 500, "INTERNAL_ERROR")
    assert status_call(zoho, token, job_id).status_code == 200
    admin(zoho, "POST", "faults", {"kind": "429", "share": 1.0})
    assert status_call(zoho, token, job_id).status_code == 429
    assert admin(zoho, "DELETE", "faults").json()["rules"] == []
    assert admin(zoho, "POST", "latency", {"seconds": 0.05}).json() == {"seconds": 0.05}
    config = admin(zoho, "PATCH", "config", {"not_found_mode": "json", "legacy_token_reply": True}).json()
    assert config["not_found_mode"] == "json" and config["legacy_token_reply"] is True
    assert_error(status_call(zoho, token, "123"), 404, "NOT_FOUND")
    counters = admin(zoho, "GET", "counters").json()
    assert counters["calls"]["status"] == {"500": 1, "200": 1, "429": 1, "404": 1}
    assert counters["token_refreshes"] == 1
    log = admin(zoho, "GET", "requests").json()["requests"]
    assert [e["status"] for e in log if e["route"] == "status"] == [500, 200, 429, 404]
    admin(zoho, "POST", "reset")
    assert admin(zoho, "GET", "counters").json()["calls_total"] == 0
    assert admin(zoho, "GET", "config").json()["not_found_mode"] == "empty"
    assert admin(zoho, "GET", "latency").json() == {"seconds": 0.0}
    assert_error(status_call(zoho, token, job_id), 401, "INVALID_TOKEN")


def test_token_controls(zoho: FakeZoho) -> None:
    client = admin(zoho, "POST", "clients", {"scopes": "ZohoCRM.mass_update.ALL"}).json()
    code = admin(zoho, "POST", "grant-codes", {"client_id": client["client_id"], "ttl": 60}).json()["code"]
    granted = refresh(
        zoho,
        {
            **client,
            "refresh_token": admin(zoho, "POST", "refresh-tokens", client_only(client)).json()[
                "refresh_token"
            ],
        },
    ).json()
    assert "access_token" in granted
    assert code.startswith("1000.")
    assert admin(zoho, "POST", "access-tokens/expire").json() == {"expired": 1}
    foreign = admin(zoho, "POST", "access-tokens/foreign", {"dc": "eu"}).json()["access_token"]
    assert_error(status_call(zoho, foreign, zoho.create_job("Leads", 1)), 401, "INVALID_TOKEN")
    creds = admin(zoho, "POST", "credentials").json()
    assert admin(zoho, "POST", "refresh-tokens/revoke", {"refresh_token": creds["refresh_token"]}).json() == {
        "revoked": True
    }
    assert refresh(zoho, creds).json() == {"error": "invalid_code"}
    permission = admin(
        zoho, "POST", f"clients/{client['client_id']}/permission", {"permission": "no_permission"}
    )
    assert permission.status_code == 200


def client_only(client: dict[str, str]) -> dict[str, str]:
    """The refresh-token request body for a client."""
    return {"client_id": client["client_id"]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "jobs", {"module": "Le-ads", "total": 5}),
        ("POST", "jobs", {"module": "Leads", "total": -5}),
        ("POST", "jobs", {"module": "Leads", "profile": {"speed": 2}}),
        ("POST", "jobs", {"module": "Leads", "colour": "red"}),
        ("POST", "clock", {"scale": 0}),
        ("POST", "clock", {"freeze": True, "advance": -3}),
        ("POST", "clock", {"scale": "fast"}),
        ("POST", "faults", {"kind": "boom"}),
        ("POST", "faults/script", {"kinds": ["500", "boom"]}),
        ("POST", "latency", {"seconds": "slow"}),
        ("PATCH", "config", {"not_found_mode": "maybe", "legacy_token_reply": True}),
        ("PATCH", "config", {"no_such_setting": 1}),
        ("POST", "credentials", {"permission": "root"}),
        ("POST", "grant-codes", {"client_id": "1000.nobody"}),
    ],
)
def test_bad_input_is_400_or_404_and_changes_nothing(
    zoho: FakeZoho, method: str, path: str, body: dict
) -> None:
    before = {name: admin(zoho, "GET", name).json() for name in ("config", "faults", "latency", "jobs")}
    clock_before = admin(zoho, "GET", "clock").json()
    response = admin(zoho, method, path, body)
    assert response.status_code in (400, 404)
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    after = {name: admin(zoho, "GET", name).json() for name in ("config", "faults", "latency", "jobs")}
    assert after == before
    clock_after = admin(zoho, "GET", "clock").json()
    assert (clock_after["scale"], clock_after["frozen"]) == (clock_before["scale"], clock_before["frozen"])


def test_unknown_job_is_404(zoho: FakeZoho) -> None:
    assert admin(zoho, "GET", "jobs/123").status_code == 404


def test_views_decide_the_size_of_http_created_jobs(zoho: FakeZoho) -> None:
    view = {"module": "Leads", "cvid": "8801", "total": 1234, "profile": {"queue_delay": 0, "duration": 10}}
    assert admin(zoho, "POST", "views", view).json() == {"module": "Leads", "cvid": "8801", "total": 1234}
    assert admin(zoho, "POST", "views", {**view, "cvid": "not-digits"}).status_code == 400
    token = refresh(zoho, admin(zoho, "POST", "credentials").json()).json()["access_token"]
    reply = create_call(zoho, token, {"data": [{"Rating": "Hot"}], "cvid": "8801"}).json()
    job = admin(zoho, "GET", f"jobs/{reply['data'][0]['details']['job_id']}").json()
    assert (job["total"], job["cvid"], job["profile"]["duration"]) == (1234, "8801", 10)
