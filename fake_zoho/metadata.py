"""Zoho CRM's metadata, small but consistent: the modules the emulator knows, a few fields of each, and the
current user, shaped as Zoho's v8 OpenAPI specification requires (zoho/crm-oas, `v8.0/modules.json`,
`fields.json`, `users.json`: every key their schemas require, nothing invented beyond them).

Zoho's own SDKs read them before a mass update (a field's data type decides how a value is sent) and at
start-up (the current user). Each module has its owner, audit and name fields; Leads, Contacts, Accounts
and Deals have the fields the tests, the demo and the examples set in a mass update. Ids are stable: a
module's and a field's id derive from its position, so two emulators answer the same.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .config import STANDARD_MODULES

ID_PREFIX = "554023000000"
# The user every emulated call is made as (and every emulated update is attributed to).
CURRENT_USER = {"name": "Emulated User", "id": f"{ID_PREFIX}235011"}
# The org's zgid (GET /org): bulk write uploads name it (X-CRM-ORG), download links carry it.
ORG_ZGID = "746539264"
_PROFILE = {"name": "Administrator", "id": f"{ID_PREFIX}026011"}
_ROLE = {"name": "CEO", "id": f"{ID_PREFIX}026005"}
_LAYOUT = {"api_name": "Standard__s", "name": "Standard", "id": f"{ID_PREFIX}000167"}
_NO_MODULE = {"api_name": None, "id": None}
_SINGULAR = {
    "Activities": "Activity",
    "Price_Books": "Price Book",
    "Sales_Orders": "Sales Order",
    "Purchase_Orders": "Purchase Order",
    "Quotes": "Quote",
    "Tasks": "Task",
    "Calls": "Call",
    "Meetings": "Meeting",
    "Solutions": "Solution",
    "Products": "Product",
    "Vendors": "Vendor",
    "Invoices": "Invoice",
    "Campaigns": "Campaign",
    "Leads": "Lead",
    "Accounts": "Account",
    "Contacts": "Contact",
    "Deals": "Deal",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field: API name, Zoho data type, and its picklist values or looked-up module."""

    api_name: str
    data_type: str  # text, email, picklist, lookup, ownerlookup, currency, date, datetime, textarea
    values: tuple[str, ...] = ()
    lookup_module: str | None = None
    mandatory: bool = False


_COMMON = (
    FieldSpec("Owner", "ownerlookup"),
    FieldSpec("Created_By", "ownerlookup"),
    FieldSpec("Modified_By", "ownerlookup"),
    FieldSpec("Created_Time", "datetime"),
    FieldSpec("Modified_Time", "datetime"),
    FieldSpec("Description", "textarea"),
)
_RATING = FieldSpec(
    "Rating", "picklist", ("-None-", "Acquired", "Active", "Market Failed", "Project Cancelled")
)
MODULE_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "Leads": (
        FieldSpec("Last_Name", "text", mandatory=True),
        FieldSpec("First_Name", "text"),
        FieldSpec("Company", "text"),
        FieldSpec("Email", "email"),
        FieldSpec(
            "Lead_Status",
            "picklist",
            ("-None-", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead"),
        ),
        FieldSpec("Lead_Source", "picklist", ("-None-", "Advertisement", "Cold Call", "Web Download")),
        _RATING,
    ),
    "Contacts": (
        FieldSpec("Last_Name", "text", mandatory=True),
        FieldSpec("First_Name", "text"),
        FieldSpec("Email", "email"),
        FieldSpec("Account_Name", "lookup", lookup_module="Accounts"),
        FieldSpec("Lead_Source", "picklist", ("-None-", "Advertisement", "Cold Call", "Web Download")),
    ),
    "Accounts": (
        FieldSpec("Account_Name", "text", mandatory=True),
        FieldSpec("Industry", "picklist", ("-None-", "Consulting", "Manufacturing", "Retail")),
        _RATING,
    ),
    "Deals": (
        FieldSpec("Deal_Name", "text", mandatory=True),
        FieldSpec("Stage", "picklist", ("Qualification", "Needs Analysis", "Closed Won", "Closed Lost")),
        FieldSpec("Amount", "currency"),
        FieldSpec("Closing_Date", "date"),
        FieldSpec("Account_Name", "lookup", lookup_module="Accounts"),
    ),
}
_OPERATIONS = ("web_update", "api_create", "web_create", "api_update")
_JSON_TYPES = {"lookup": "jsonobject", "ownerlookup": "jsonobject", "currency": "double"}


def module_id(module: str) -> str:
    """A known module's stable id; a custom module's is derived from its name."""
    if module in STANDARD_MODULES:
        return f"{ID_PREFIX}{2175 + 2 * STANDARD_MODULES.index(module):06d}"
    return f"{ID_PREFIX}{900000 + sum(module.encode()) % 99999:06d}"


def fields_of(module: str) -> list[FieldSpec]:
    """The fields of a module: its own (a custom module's is `Name`), then the owner and audit fields."""
    own = MODULE_FIELDS.get(module) or (FieldSpec("Name", "text", mandatory=True),)
    return [*own, *_COMMON]


def _field_body(module: str, index: int, spec: FieldSpec) -> dict[str, Any]:
    """One item of `fields.json`'s `fields`, with every key its schema requires."""
    field_id = f"{module_id(module)[:-6]}{int(module_id(module)[-6:]) * 100 + index:08d}"[-18:]
    label = spec.api_name.replace("_", " ")
    picklist = [
        {
            "display_value": value,
            "actual_value": value,
            "id": f"{field_id[:-2]}{50 + position:02d}",
            "sequence_number": position + 1,
            "type": "used",
            "colour_code": None,
        }
        for position, value in enumerate(spec.values)
    ]
    lookup = None
    if spec.lookup_module is not None:
        lookup = {
            "display_label": label,
            "api_name": spec.api_name,
            "module": {"api_name": spec.lookup_module, "id": module_id(spec.lookup_module)},
            "id": f"{field_id[:-2]}99",
            "query_details": {},
            "revalidate_filter_during_edit": False,
            "show_fields": [],
        }
    editable = spec.data_type not in {"datetime"} and spec.api_name not in {"Created_By", "Modified_By"}
    return {
        "associated_module": dict(_NO_MODULE),
        "data_type": spec.data_type,
        "operation_type": {operation: editable for operation in _OPERATIONS},
        "system_mandatory": spec.mandatory,
        "webhook": True,
        "blueprint_supported": True,
        "virtual_field": False,
        "field_read_only": not editable,
        "customizable_properties": [],
        "read_only": not editable,
        "custom_field": False,
        "businesscard_supported": True,
        "filterable": True,
        "visible": True,
        "available_in_user_layout": True,
        "display_field": spec.mandatory,
        "pick_list_values_sorted_lexically": False,
        "sortable": True,
        "layout_associations": [dict(_LAYOUT)],
        "separator": False,
        "searchable": True,
        "enable_colour_code": False,
        "mass_update": editable and not spec.mandatory,
        "json_type": _JSON_TYPES.get(spec.data_type, "string"),
        "created_source": "default",
        "type": "used",
        "display_label": label,
        "column_name": spec.api_name.upper().replace("_", ""),
        "api_name": spec.api_name,
        "display_type": 1,
        "ui_type": 1,
        "colour_code_enabled_by_system": False,
        "length": 120,
        "decimal_place": 2 if spec.data_type == "currency" else None,
        "quick_sequence_number": str(index + 1),
        "email_parser": {"fields_update_supported": None, "record_operations_supported": None},
        "rollup_summary": None,
        "refer_from_field": {"id": None, "api_name": None},
        "created_time": None,
        "modified_time": None,
        "show_type": 7,
        "category": 0,
        "id": field_id,
        "multi_module_lookup": None,
        "sharing_properties": {},
        "currency": {"rounding_option": "normal", "precision": 2} if spec.data_type == "currency" else None,
        "file_upolad_optionlist": [],  # sic: the specification's own spelling
        "lookup": lookup,
        "profiles": [{**_PROFILE, "permission_type": "read_write" if editable else "read_only"}],
        "view_type": {"view": True, "edit": editable, "quick_create": editable, "create": editable},
        "unique": None,
        "sub_module": dict(_NO_MODULE),
        "subform": None,
        "external": {"show": None, "type": None},
        "formula": None,
        "convert_mapping": {"Contacts": None, "Deals": None, "Accounts": None},
        "multiselectlookup": None,
        "multiuserlookup": {
            "display_label": None,
            "linking_module": dict(_NO_MODULE),
            "connected_module": dict(_NO_MODULE),
            "lookup_apiname": None,
            "api_name": None,
            "connectedfield_apiname": None,
            "connectedlookup_apiname": None,
            "id": None,
            "record_access": None,
        },
        "autonumber": {"starting_number_length": 0, "prefix": None, "suffix": None, "start_number": None},
        "auto_number": None,
        "pick_list_values": picklist,
        "crypt": {"mode": None, "status": None},
        "tooltip": {"name": "", "value": ""},
        "history_tracking": {"module": {}, "duration_configured_field": dict(_NO_MODULE)},
        "association_details": {"related_field": dict(_NO_MODULE), "lookup_field": dict(_NO_MODULE)},
        "allowed_modules": [],
        "additional_column": None,
        "field_label": label,
        "common.picklist": None,
        "hipaa_compliance_enabled": False,
        "hipaa_compliance": {"restricted_in_export": None, "restricted": None},
        "_update_existing_records": False,
        "number_separator": False,
        "textarea": {"type": "large"} if spec.data_type == "textarea" else {},
        "static_field": False,
    }


def fields_reply(module: str) -> dict[str, Any]:
    """`GET /crm/{version}/settings/fields?module=...`'s body."""
    return {"fields": [_field_body(module, index, spec) for index, spec in enumerate(fields_of(module))]}


def _module_body(module: str, sequence: int, custom: bool) -> dict[str, Any]:
    """One item of `modules.json`'s `modules`, with every key its schema requires."""
    singular = _SINGULAR.get(module, module.replace("_", " "))
    name_field = fields_of(module)[0].api_name
    return {
        "id": module_id(module),
        "api_name": module,
        "module_name": module,
        "singular_label": singular,
        "plural_label": module.replace("_", " "),
        "api_supported": True,
        "generated_type": "custom" if custom else "default",
        "sequence_number": sequence,
        "visible": True,
        "visibility": 1,
        "status": "visible",
        "creatable": True,
        "editable": True,
        "deletable": True,
        "viewable": True,
        "convertable": module == "Leads",
        "quick_create": True,
        "show_as_tab": True,
        "presence_sub_menu": True,
        "triggers_supported": True,
        "recycle_bin_on_delete": True,
        "inventory_template_supported": module in {"Quotes", "Sales_Orders", "Purchase_Orders", "Invoices"},
        "common.search_supported": True,
        "chart_view": False,
        "chart_view_supported": True,
        "isBlueprintSupported": True,
        "emailTemplate_support": True,
        "email_parser_supported": False,
        "filter_supported": True,
        "feeds_required": False,
        "scoring_supported": True,
        "webform_supported": True,
        "track_current_data": True,
        "kanban_view": False,
        "kanban_view_supported": True,
        "filter_status": True,
        "zia_view": False,
        "description": None,
        "web_link": None,
        "modified_time": None,
        "per_page": None,
        "display_field": {"api_name": name_field, "id": _field_body(module, 0, fields_of(module)[0])["id"]},
        "parent_module": None,
        "activity_badge": "Disabled",
        "arguments": [],
        "profile_count": 1,
        "business_card_field_limit": 5,
        "modified_by": dict(CURRENT_USER),
        "profiles": [dict(_PROFILE)],
        "$field_states": [],
        "business_card_fields": [],
        "$properties": [],
        "$on_demand_properties": [],
        "search_layout_fields": [],
        "lookup_field_properties": {"fields": []},
        "related_lists": [],
        "related_list_properties": {"sort_by": dict(_NO_MODULE), "fields": [], "sort_order": None},
        "layouts": [],
        "fields": [],
        "default_mapping_fields": [],
        "layout_associations": [],
        "custom_view": {
            "id": f"{module_id(module)[:-6]}{int(module_id(module)[-6:]) + 85000:06d}",
            "name": f"All {module.replace('_', ' ')}",
            "display_value": f"All {module.replace('_', ' ')}",
            "system_name": "ALLVIEWS",
            "category": "public_views",
            "created_time": None,
            "modified_time": None,
            "last_accessed_time": None,
            "created_by": dict(CURRENT_USER),
            "modified_by": dict(CURRENT_USER),
            "module": {"name": module, "id": module_id(module)},
            "criteria": {
                "comparator": None,
                "field": dict(_NO_MODULE),
                "value": None,
                "group_operator": None,
                "group": [],
            },
            "default": True,
            "system_defined": True,
            "locked": False,
            "favorite": None,
            "offline": True,
            "access_type": "public",
            "shared_to": [],
            "fields": [],
            "sort_by": {"id": f"{module_id(module)}99", "api_name": "Created_Time"},
            "sort_order": "desc",
        },
    }


def modules_reply(extra_modules: tuple[str, ...] = ()) -> dict[str, Any]:
    """`GET /crm/{version}/settings/modules`'s body: the standard modules, then the configured extra ones."""
    modules = [_module_body(name, index + 1, custom=False) for index, name in enumerate(STANDARD_MODULES)]
    start = len(modules) + 1
    modules += [_module_body(name, start + index, custom=True) for index, name in enumerate(extra_modules)]
    return {"modules": modules}


def module_reply(module: str, custom: bool) -> dict[str, Any]:
    """`GET /crm/{version}/settings/modules/{api_name}`'s body (the spec's one-module array)."""
    return {"modules": [_module_body(module, 1, custom)]}


def current_user_reply() -> dict[str, Any]:
    """`GET /crm/{version}/users?type=CurrentUser`'s body."""
    user = {
        **copy.deepcopy(CURRENT_USER),
        "full_name": CURRENT_USER["name"],
        "first_name": "Emulated",
        "last_name": "User",
        "email": "emulated.user@example.com",
        "status": "active",
        "confirm": True,
        "zuid": "746539263",
        "role": dict(_ROLE),
        "profile": dict(_PROFILE),
        "locale": "en_US",
        "time_format": "HH:mm",
        "created_time": "2024-01-01T00:00:00+00:00",
        "Modified_Time": "2024-01-01T00:00:00+00:00",
    }
    del user["name"]
    return {"users": [user], "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}}


def canonical_module(module: str) -> str:
    """A standard module's name as Zoho spells it (module names in URLs are case-insensitive)."""
    return next((name for name in STANDARD_MODULES if name.lower() == module.lower()), module)
