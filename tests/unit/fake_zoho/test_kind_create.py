"""Scheduling the mass actions other than mass update over HTTP: each kind's reply (HTTP status, envelope,
code, message, where the job id is), the job it makes, and each documented error of its creation call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fake_zoho import FakeZoho, JobProfile

from .helpers import EVERY_SCOPE, access_token, crm_call, error_of, refresh

JOB = "JOB"


def post(zoho: FakeZoho, token: str, path: str, body: Any) -> Any:
    return crm_call(zoho, token, "POST", f"/crm/v8/{path}", json=body)


@pytest.mark.parametrize(
    ("path", "body", "status", "expected", "kind", "module", "total"),
    [
        (
            "Leads/actions/mass_convert",
            {"ids": ["11", "12", "13"], "assign_to": {"id": "5"}},
            200,
            {
                "code": "SCHEDULED",
                "details": {"job_id": JOB},
                "message": "Mass Convert scheduled successfully",
                "status": "success",
            },
            "mass_convert",
            "Leads",
            3,
        ),
        (
            "Quotes/actions/mass_convert",
            {
                "ids": ["11", "12"],
                "convert_to": [{"module": {"api_name": "Sales_Orders", "id": "1"}, "carry_over_tags": True}],
            },
            202,
            {
                "code": "SCHEDULED",
                "details": {"job_id": JOB},
                "message": "Mass Convert scheduled successfully",
                "status": "success",
            },
            "inventory_mass_convert",
            "Quotes",
            2,
        ),
        (
            "Contacts/actions/mass_delete",
            {"cvid": "77"},
            200,
            {
                "data": [
                    {
                        "code": "SUCCESS",
                        "details": {"id": "77", "job_id": JOB},
                        "message": "mass delete scheduled successfully",
                        "status": "success",
                    }
                ]
            },
            "mass_delete",
            "Contacts",
            120,
        ),
        (
            "Contacts/actions/mass_delete",
            {"territory": {"id": "88", "include_child": True}},
            200,
            {
                "data": [
                    {
                        "code": "SUCCESS",
                        "details": {"id": "88", "job_id": JOB},
                        "message": "mass delete scheduled successfully",
                        "status": "success",
                    }
                ]
            },
            "mass_delete",
            "Contacts",
            60,
        ),
        (
            "Deals/actions/mass_change_owner",
            {"cvid": "77", "owner": {"id": "5"}},
            200,
            {
                "data": [
                    {
                        "code": "SUCCESS",
                        "details": {"id": "77", "job_id": JOB},
                        "message": "owner is successfully updated",
                        "status": "success",
                    }
                ]
            },
            "mass_change_owner",
            "Deals",
            120,
        ),
        (
            "settings/tags/actions/mass_delete",
            {
                "mass_delete": [
                    {"module": {"api_name": "Leads", "id": "1"}, "tags": [{"id": "21"}, {"id": "22"}]}
                ]
            },
            202,
            {
                "code": "SCHEDULED",
                "details": {"job_id": JOB},
                "message": "tags scheduled successfully",
                "status": "success",
            },
            "mass_delete_tags",
            "org",
            2,
        ),
    ],
)
def test_each_kind_is_scheduled_with_its_own_reply(
    zoho: FakeZoho, path: str, body: Any, status: int, expected: Any, kind: str, module: str, total: int
) -> None:
    for view_module in ("Contacts", "Deals"):
        zoho.define_view(view_module, "77", total=120, profile=JobProfile(queue_delay=5, duration=60))
        zoho.define_view(view_module, "88", total=60)
    reply = post(zoho, access_token(zoho, EVERY_SCOPE), path, body)
    assert reply.status_code == status, reply.text
    job = zoho.jobs.all()[-1]
    assert reply.json() == json.loads(json.dumps(expected).replace(JOB, job.job_id))
    assert (job.kind, job.module, job.total) == (kind, module, total)
    assert zoho.job_truth(job.job_id)["Total_Count"] == total


def test_a_kinds_defined_profile_drives_its_jobs_made_over_http(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("mass_convert", profile=JobProfile(queue_delay=0, duration=30, final_status="FAILED"))
    reply = post(zoho, access_token(zoho, EVERY_SCOPE), "Leads/actions/mass_convert", {"ids": ["1", "2"]})
    job_id = reply.json()["details"]["job_id"]
    zoho.clock.advance(30)
    assert zoho.job_reply(job_id) == {
        "data": [
            {
                "Status": "FAILED",
                "Total_Count": 2,
                "Converted_Count": 2,
                "Not_Converted_Count": 0,
                "Failed_Count": 0,
            }
        ]
    }


def test_a_mass_delete_by_ids_deletes_at_once_without_a_job(zoho: FakeZoho) -> None:
    reply = post(zoho, access_token(zoho, EVERY_SCOPE), "Contacts/actions/mass_delete", {"ids": ["11", "x"]})
    assert reply.status_code == 200
    assert reply.json() == {
        "data": [
            {"code": "SUCCESS", "details": {"id": "11"}, "message": "record is deleted", "status": "success"},
            {
                "code": "INVALID_DATA",
                "details": {"id": "x"},
                "message": "the id given seems to be invalid",
                "status": "error",
            },
        ]
    }
    assert zoho.jobs.all() == []


TAGS = {"module": {"api_name": "Leads"}, "tags": [{"id": "1"}]}


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "details", "envelope"),
    [
        (
            "Leads/actions/mass_convert",
            {"Deals": {}},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "ids", "json_path": "$.ids"},
            None,
        ),
        (
            "Leads/actions/mass_convert",
            {"ids": [str(n) for n in range(1, 52)]},
            400,
            "INVALID_DATA",
            {"api_name": "ids", "json_path": "$.ids", "limit": 50},
            None,
        ),
        (
            "Leads/actions/mass_convert",
            {"ids": ["1", "x"]},
            400,
            "INVALID_DATA",
            {"api_name": "ids", "json_path": "$.ids[1]"},
            None,
        ),
        (
            "Contacts/actions/mass_convert",
            {"ids": ["1"]},
            400,
            "INVALID_MODULE",
            {"resource_path_index": 0},
            None,
        ),
        (
            "Quotes/actions/mass_convert",
            {"ids": ["1"]},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "convert_to", "json_path": "$.convert_to"},
            None,
        ),
        (
            "Sales_Orders/actions/mass_convert",
            {"ids": ["1"], "convert_to": [{"module": {"api_name": "Quotes"}}]},
            400,
            "INVALID_DATA",
            {
                "api_name": "api_name",
                "json_path": "$.convert_to[0].module.api_name",
                "supported_values": ["Invoices"],
            },
            None,
        ),
        (
            "Quotes/actions/mass_convert",
            {"ids": [str(n) for n in range(1, 52)], "convert_to": [{"module": {"api_name": "Invoices"}}]},
            400,
            "LIMIT_EXCEEDED",
            {"limit": 50, "limit_due_to": [{"api_name": "ids", "json_path": "$.ids"}]},
            None,
        ),
        (
            "Contacts/actions/mass_delete",
            {},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "cvid", "expected_data_type": "string"},
            "data",
        ),
        (
            "Contacts/actions/mass_delete",
            {"cvid": "abc"},
            400,
            "INVALID_DATA",
            {"api_name": "cvid", "json_path": "$.cvid"},
            "data",
        ),
        (
            "Contacts/actions/mass_delete",
            {"ids": [str(n) for n in range(1, 502)]},
            400,
            "INVALID_DATA",
            {"api_name": "ids", "json_path": "$.ids", "limit": 500},
            "data",
        ),
        (
            "Gadgets/actions/mass_delete",
            {"cvid": "1"},
            400,
            "INVALID_MODULE",
            {"resource_path_index": 0},
            "data",
        ),
        (
            "Deals/actions/mass_change_owner",
            {"owner": {"id": "5"}},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "cvid", "expected_data_type": "string"},
            None,
        ),
        (
            "Deals/actions/mass_change_owner",
            {"cvid": "7"},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "Owner", "expected_data_type": "jsonobject"},
            None,
        ),
        (
            "Deals/actions/mass_change_owner",
            {"cvid": "x7", "owner": {"id": "5"}},
            400,
            "INVALID_DATA",
            {"api_name": "cvid", "json_path": "$.cvid"},
            None,
        ),
        (
            "settings/tags/actions/mass_delete",
            {},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "mass_delete", "json_path": "$.mass_delete"},
            None,
        ),
        (
            "settings/tags/actions/mass_delete",
            {"mass_delete": [TAGS, TAGS]},
            400,
            "NOT_ALLOWED",
            {"api_name": "mass_delete", "json_path": "$.mass_delete"},
            None,
        ),
        (
            "settings/tags/actions/mass_delete",
            {"mass_delete": [{**TAGS, "tags": [{"id": str(n)} for n in range(1, 202)]}]},
            400,
            "INVALID_DATA",
            {"api_name": "tags", "json_path": "$.mass_delete[0].tags", "maximum_length": 200},
            None,
        ),
        (
            "settings/tags/actions/mass_delete",
            {"mass_delete": [{"module": {"api_name": "Leads"}}]},
            400,
            "MANDATORY_NOT_FOUND",
            {"api_name": "tags", "json_path": "$.mass_delete[0].tags"},
            None,
        ),
        (
            "settings/tags/actions/mass_delete",
            {"mass_delete": [{**TAGS, "module": {"api_name": "Gadgets"}}]},
            400,
            "INVALID_DATA",
            {"api_name": "api_name", "json_path": "$.mass_delete[0].module.api_name"},
            None,
        ),
    ],
)
def test_each_documented_creation_error(
    zoho: FakeZoho, path: str, body: Any, status: int, code: str, details: Any, envelope: str | None
) -> None:
    error = error_of(post(zoho, access_token(zoho, EVERY_SCOPE), path, body), status, code, envelope)
    assert error["details"] == details
    assert zoho.jobs.all() == []


CONVERT_QUOTE = {"ids": ["1"], "convert_to": [{"module": {"api_name": "Invoices"}}]}
CHANGE_OWNER = {"cvid": "1", "owner": {"id": "5"}}


@pytest.mark.parametrize(
    ("path", "body", "scope", "allowed"),
    [
        ("Leads/actions/mass_convert", {"ids": ["1"]}, "ZohoCRM.mass_convert.Leads.CREATE", True),
        ("Leads/actions/mass_convert", {"ids": ["1"]}, "ZohoCRM.mass_convert.leads.READ", False),
        ("Sales_Orders/actions/mass_convert", CONVERT_QUOTE, "ZohoCRM.mass_convert.SalesOrders.CREATE", True),
        ("Quotes/actions/mass_convert", CONVERT_QUOTE, "ZohoCRM.mass_convert.SalesOrders.CREATE", False),
        ("Contacts/actions/mass_delete", {"cvid": "1"}, "ZohoCRM.mass_delete.contacts.DELETE", True),
        ("Contacts/actions/mass_delete", {"cvid": "1"}, "ZohoCRM.modules.ALL", True),
        ("Contacts/actions/mass_delete", {"cvid": "1"}, "ZohoCRM.mass_delete.Leads.DELETE", False),
        ("Deals/actions/mass_change_owner", CHANGE_OWNER, "ZohoCRM.change_owner.CREATE", True),
        ("Deals/actions/mass_change_owner", CHANGE_OWNER, "ZohoCRM.change_owner.READ", False),
        ("settings/tags/actions/mass_delete", {"mass_delete": [TAGS]}, "ZohoCRM.settings.tags.DELETE", True),
        ("settings/tags/actions/mass_delete", {"mass_delete": [TAGS]}, "ZohoCRM.settings.tags.READ", False),
    ],
)
def test_creation_takes_the_kinds_documented_create_scopes(
    zoho: FakeZoho, path: str, body: Any, scope: str, allowed: bool
) -> None:
    reply = post(zoho, access_token(zoho, [scope]), path, body)
    if allowed:
        assert reply.status_code in (200, 202), reply.text
    else:
        error_of(reply, 401, "OAUTH_SCOPE_MISMATCH")


def test_a_user_without_permission_is_refused(zoho: FakeZoho) -> None:
    token = refresh(zoho, zoho.credentials(EVERY_SCOPE, permission="no_permission")).json()["access_token"]
    error = error_of(post(zoho, token, "Leads/actions/mass_convert", {"ids": ["1"]}), 403, "NO_PERMISSION")
    assert error["message"] == "Permission denied to convert records"


def test_a_body_that_is_not_json_is_invalid_data(zoho: FakeZoho) -> None:
    token = access_token(zoho, EVERY_SCOPE)
    reply = crm_call(zoho, token, "POST", "/crm/v8/Leads/actions/mass_convert", data=b"{not json")
    assert error_of(reply, 400, "INVALID_DATA")["details"] == {}
