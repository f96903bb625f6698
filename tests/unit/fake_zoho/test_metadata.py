"""Metadata that Zoho's SDKs read: fields, modules, the current user and the org, shaped as the v8 spec says.

The key lists below are the `required` lists of Zoho's v8 OpenAPI specification (zoho/crm-oas: the `fields`
item of `v8.0/fields.json`, the `modules` item of `modules.json`, `info` of `users.json`).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fake_zoho import FakeZoho
from fake_zoho.config import STANDARD_MODULES

from .helpers import TIMEOUT, access_token, assert_error


def required_keys(text: str) -> frozenset[str]:
    """The key names of a whitespace-separated list."""
    return frozenset(text.split())


METADATA_SCOPES = [
    "ZohoCRM.settings.ALL",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
    "ZohoCRM.mass_update.ALL",
]
FIELD_REQUIRED = required_keys(
    """
associated_module data_type operation_type system_mandatory webhook blueprint_supported
virtual_field field_read_only customizable_properties read_only custom_field businesscard_supported
filterable visible available_in_user_layout display_field pick_list_values_sorted_lexically sortable
layout_associations separator searchable enable_colour_code mass_update json_type created_source
type display_label column_name api_name display_type ui_type colour_code_enabled_by_system length
decimal_place quick_sequence_number email_parser rollup_summary refer_from_field created_time
modified_time show_type category id multi_module_lookup sharing_properties currency
file_upolad_optionlist lookup profiles view_type unique sub_module subform external formula
convert_mapping multiselectlookup multiuserlookup autonumber auto_number pick_list_values crypt
tooltip history_tracking association_details allowed_modules additional_column field_label
common.picklist hipaa_compliance_enabled hipaa_compliance _update_existing_records number_separator
textarea static_field
"""
)
PICKLIST_VALUE_REQUIRED = {"colour_code", "actual_value", "type", "id", "sequence_number", "display_value"}
MODULE_REQUIRED = required_keys(
    """
id module_name api_name singular_label plural_label description web_link generated_type
api_supported visible creatable editable deletable viewable convertable quick_create show_as_tab
presence_sub_menu triggers_supported recycle_bin_on_delete inventory_template_supported
common.search_supported chart_view chart_view_supported isBlueprintSupported emailTemplate_support
email_parser_supported filter_supported feeds_required scoring_supported webform_supported
track_current_data kanban_view kanban_view_supported filter_status zia_view sequence_number
visibility profile_count business_card_field_limit per_page modified_time activity_badge
parent_module display_field modified_by arguments profiles $field_states business_card_fields
$properties $on_demand_properties search_layout_fields related_lists layouts fields
default_mapping_fields layout_associations lookup_field_properties related_list_properties
custom_view
"""
)


def get(zoho: FakeZoho, token: str | None, path: str, **params: str) -> requests.Response:
    headers = {"Authorization": f"Zoho-oauthtoken {token}"} if token else {}
    return requests.get(f"{zoho.url}{path}", params=params, headers=headers, timeout=TIMEOUT)


@pytest.fixture
def token(zoho: FakeZoho) -> str:
    return access_token(zoho, METADATA_SCOPES)


@pytest.mark.parametrize("module", ["Leads", "Deals", "Contacts", "Accounts", "Invoices", "CustomModule3"])
def test_fields_have_every_key_the_spec_requires(zoho: FakeZoho, token: str, module: str) -> None:
    reply = get(zoho, token, "/crm/v8/settings/fields", module=module)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    fields = reply.json()["fields"]
    assert list(reply.json()) == ["fields"]
    assert fields and {"Owner", "Created_Time", "Modified_Time"} <= {field["api_name"] for field in fields}
    for field in fields:
        assert set(field) >= FIELD_REQUIRED, FIELD_REQUIRED - set(field)
        assert field["type"] in {"used", "unused"}
        for value in field["pick_list_values"]:
            assert set(value) >= PICKLIST_VALUE_REQUIRED
    assert len({field["id"] for field in fields}) == len(fields)
    assert sum(field["system_mandatory"] for field in fields) == 1  # the record's name


def test_the_fields_a_mass_update_sets_are_there_with_their_types(zoho: FakeZoho, token: str) -> None:
    by_name = {
        field["api_name"]: field
        for field in get(zoho, token, "/crm/v8/settings/fields", module="Leads").json()["fields"]
    }
    status = by_name["Lead_Status"]
    assert status["data_type"] == "picklist" and status["mass_update"] is True
    assert "Contacted" in [value["actual_value"] for value in status["pick_list_values"]]
    assert by_name["Last_Name"]["data_type"] == "text" and by_name["Last_Name"]["mass_update"] is False
    assert by_name["Created_Time"]["read_only"] is True


def test_lookups_point_at_modules_the_modules_call_lists(zoho: FakeZoho, token: str) -> None:
    modules = get(zoho, token, "/crm/v8/settings/modules").json()["modules"]
    ids = {module["api_name"]: module["id"] for module in modules}
    [account] = [
        field
        for field in get(zoho, token, "/crm/v8/settings/fields", module="Contacts").json()["fields"]
        if field["api_name"] == "Account_Name"
    ]
    assert account["data_type"] == "lookup"
    assert account["lookup"]["module"] == {"api_name": "Accounts", "id": ids["Accounts"]}


def test_modules_have_every_key_the_spec_requires(zoho: FakeZoho, token: str) -> None:
    zoho.config.update(extra_modules=("Projects_Tasks",))
    modules = get(zoho, token, "/crm/v8/settings/modules").json()["modules"]
    assert [module["api_name"] for module in modules] == [*STANDARD_MODULES, "Projects_Tasks"]
    for module in modules:
        assert set(module) >= MODULE_REQUIRED, MODULE_REQUIRED - set(module)
        assert module["generated_type"] in {"default", "web", "linking", "custom"}
        assert module["api_supported"] is True
        assert {"name", "id"} <= set(module["modified_by"])
    assert modules[-1]["generated_type"] == "custom" and modules[0]["generated_type"] == "default"
    assert len({module["id"] for module in modules}) == len(modules)
    one = get(zoho, token, "/crm/v8/settings/modules/deals").json()  # module names are case-insensitive
    assert [module["api_name"] for module in one["modules"]] == ["Deals"]
    assert one["modules"][0] == next(module for module in modules if module["api_name"] == "Deals") | {
        "sequence_number": 1
    }


def test_the_current_user_is_the_one_updates_are_attributed_to(zoho: FakeZoho, token: str) -> None:
    reply = get(zoho, token, "/crm/v8/users", type="CurrentUser").json()
    assert reply["info"] == {"per_page": 200, "count": 1, "page": 1, "more_records": False}
    [user] = reply["users"]
    assert {"name", "id"} <= set(user["role"]) and {"name", "id"} <= set(user["profile"])
    assert user["email"] and user["status"] == "active"
    ids_update = requests.post(
        f"{zoho.url}/crm/v8/Leads/actions/mass_update",
        json={"data": [{"Rating": "Hot"}], "ids": ["111"]},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=TIMEOUT,
    ).json()
    assert ids_update["data"][0]["details"]["Modified_By"] == {"name": user["full_name"], "id": user["id"]}
    assert get(zoho, token, "/crm/v8/users", type="DeactiveUsers").status_code == 204
    org = get(zoho, token, "/crm/v8/org").json()["org"][0]
    assert org["zgid"] and org["primary_email"] == user["email"]


@pytest.mark.parametrize(
    ("path", "params", "scope"),
    [
        ("/crm/v8/settings/fields", {"module": "Leads"}, "ZohoCRM.settings.fields.READ"),
        ("/crm/v8/settings/modules", {}, "ZohoCRM.settings.modules.READ"),
        ("/crm/v8/users", {"type": "CurrentUser"}, "ZohoCRM.users.READ"),
        ("/crm/v8/org", {}, "ZohoCRM.org.READ"),
    ],
)
def test_each_kind_needs_its_scope(zoho: FakeZoho, path: str, params: dict[str, str], scope: str) -> None:
    mass_update_only = access_token(zoho, ["ZohoCRM.mass_update.ALL"])
    assert_error(get(zoho, mass_update_only, path, **params), 401, "OAUTH_SCOPE_MISMATCH")
    assert get(zoho, access_token(zoho, [scope]), path, **params).status_code == 200
    assert_error(get(zoho, None, path, **params), 401, "AUTHENTICATION_FAILURE")


def test_bad_metadata_requests(zoho: FakeZoho, token: str) -> None:
    missing = assert_error(get(zoho, token, "/crm/v8/settings/fields"), 400, "REQUIRED_PARAM_MISSING")
    assert missing["details"] == {"param_name": "module"}
    assert_error(get(zoho, token, "/crm/v8/settings/fields", module="Nope!"), 400, "INVALID_MODULE")
    unsupported = assert_error(
        get(zoho, token, "/crm/v8/settings/fields", module="Documents"), 400, "INVALID_MODULE"
    )
    assert unsupported["message"] == "The given module is not supported in API"
    assert_error(get(zoho, token, "/crm/v99/settings/modules"), 404, "INVALID_URL_PATTERN")
    assert_error(get(zoho, token, "/crm/v8/users", type="Everyone"), 400, "INVALID_DATA")
    assert zoho.counters["calls"]["metadata"] == {"400": 4, "404": 1}


def first_field(reply: dict[str, Any]) -> dict[str, Any]:
    return reply["fields"][0]


def test_two_emulators_give_the_same_ids(zoho: FakeZoho, token: str) -> None:
    other = FakeZoho().start()
    try:
        theirs = get(
            other, access_token(other, METADATA_SCOPES), "/crm/v8/settings/fields", module="Deals"
        ).json()
    finally:
        other.stop()
    assert (
        first_field(theirs)["id"]
        == first_field(get(zoho, token, "/crm/v8/settings/fields", module="Deals").json())["id"]
    )
