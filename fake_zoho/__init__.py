"""Zoho emulator: Zoho Accounts and Zoho CRM's background jobs (mass update and every other kind: mass
convert, mass delete, mass change owner, tag deletion, bulk read, bulk write, audit log export, transfer and
delete user), faithful and controllable.

One ``FakeZoho`` is one Zoho data centre with one org: a Flask app on a threaded werkzeug server at
``zoho.url`` (127.0.0.1, a free port), which is both the ``accounts_url`` and the ``api_domain`` (and Zoho's
content and download servers). Behaviour follows Zoho's documentation of Accounts and of "Get Mass Update
Status", and for the other kinds Zoho's v8 OpenAPI specifications (zoho/crm-oas) and its API docs.

Quick start::

    from fake_zoho import FakeZoho, JobProfile
    with FakeZoho() as zoho:  # or: zoho = FakeZoho().start(); ...; zoho.stop()
        creds = zoho.credentials()  # client_id, client_secret, refresh_token, accounts_url, api_domain
        job_id = zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=20))
        zoho.clock.freeze(); zoho.clock.advance(10)
        zoho.job_truth(job_id)
        # {"Status": "RUNNING", "Failed_Count": 0, "Updated_Count": 250,
        #  "Not_Updated_Count": 250, "Total_Count": 500}

HTTP API (what zoho-watch talks to)
-----------------------------------
``POST /oauth/v2/token`` (form or query fields; errors come back with HTTP 200):
  - ``grant_type=authorization_code``, ``code``, ``client_id``, ``client_secret`` ->
    ``{"access_token", "refresh_token", "api_domain", "token_type": "Bearer", "expires_in": 3600}``;
    a grant code works once and expires (``ttl``, default 180 emulated seconds):
    else ``{"error": "invalid_code"}``.
  - ``grant_type=refresh_token``, ``refresh_token``, ``client_id``, ``client_secret`` ->
    ``{"access_token", "api_domain", "token_type", "expires_in"}``. With ``config.legacy_token_reply``:
    ``expires_in`` in milliseconds plus ``expires_in_sec``.
  - unknown client, wrong secret, or a client of another data centre -> ``{"error": "invalid_client"}``;
    revoked or unknown refresh token -> ``{"error": "invalid_code"}``; more than ``refresh_limit`` (10) new
    access tokens per refresh token in ``refresh_window`` (600 s) -> Zoho's "Access Denied" throttle reply.
  - at most ``max_live_tokens`` (15) live access tokens per refresh token: the 16th evicts the oldest.
  - access tokens live ``access_token_ttl`` (3600) emulated seconds.
``POST /oauth/v2/token/revoke?token={refresh_token}`` -> ``{"status": "success"}`` (its access tokens
die too).

``/crm/{v2|v2.1|v3..v8}/{module}/actions/mass_update`` with ``Authorization: Zoho-oauthtoken {token}``:
  - ``GET ?job_id=`` -> 200 ``{"data": [{"Status", "Failed_Count", "Updated_Count", "Not_Updated_Count",
    "Total_Count"}]}`` (key order and int types as in the seed); counts always add up to Total_Count.
  - ``POST {"data": [{...}], "cvid": "..."}`` (or ``territory: {"id"}``) -> 200 with
    ``{"data": [{"code": "SUCCESS", "details": {"job_id"}, "message": "mass update scheduled successfully",
    "status": "success"}]}``; a cvid with a job not yet finished -> 202 ``ALREADY_SCHEDULED`` ("Already a
    Mass Action scheduler is running for the given cvid", empty details: the v8 spec's; 202: the docs').
    The body is read as JSON whatever its Content-Type (Zoho's Python SDK sends none); a body field's error
    names it: ``details: {"api_name": "cvid", "json_path": "$.cvid"}``.
    The job covers ``define_view(module, cvid, total, profile)`` records (else ``config.cvid_default_total``).
  - ``POST {"data": [...], "ids": [...]}`` (<= 500) -> records updated at once, one result per id, no job.
  - Checks, in order, and their errors (``{"code", "details", "message", "status": "error"}``):
    unknown version or path -> 404 INVALID_URL_PATTERN; PUT/PATCH/DELETE -> 400 INVALID_REQUEST_METHOD;
    no/odd Authorization header -> 401 AUTHENTICATION_FAILURE; expired, evicted, revoked, unknown or
    other-data-centre token -> 401 INVALID_TOKEN ("invalid oauth token"); more than
    ``config.concurrency_limit`` calls in flight for the token's org -> 429 TOO_MANY_REQUESTS; then
    latency and injected faults; unknown module -> 400 INVALID_MODULE ("...seems to be invalid"),
    Documents/Projects -> 400 INVALID_MODULE ("...not supported in API"); token without
    ``ZohoCRM.mass_update.READ`` / ``.{Module}.READ`` / ``.ALL`` (UPDATE for POST) -> 401
    OAUTH_SCOPE_MISMATCH;
    client flagged ``no_permission`` -> 403 NO_PERMISSION, ``authorization_failed`` -> 400
    AUTHORIZATION_FAILED; missing job_id -> 400 MANDATORY_NOT_FOUND (details.param_name = job_id);
    unknown or non-numeric job_id, or a job of another module -> per ``config.not_found_mode``:
    ``empty`` (404, empty body: the docs), ``json`` (404 NOT_FOUND body), ``invalid_data`` (400 INVALID_DATA,
    details.param_name = job_id).
  - Modules: the standard ones (case-insensitive), custom-looking names (``CustomModule1``, ``Projects_X``;
    ``config.allow_custom_modules``), ``config.extra_modules``; ``config.unsupported_modules``.

Other kinds (``fake_zoho.kinds``). Every call first passes mass update's checks (URL version, method,
token, concurrency, latency and faults on routes ``create``, ``status`` and ``download``); then its module,
its scopes (the spec's or the docs' where they differ; ``fake_zoho.scopes``) and the user; body errors name
the field (``details: {"api_name", "json_path"}``). Statuses come from the job's timeline in the kind's words;
a FAILED profile ends in the kind's failure word with the counts reached.
  - ``/crm/{v}/Leads/actions/mass_convert``: POST {ids (<= 50; more: INVALID_DATA limit 50), assign_to...} ->
    200 {code: SCHEDULED, details.job_id, message, status}; GET ?job_id= -> {data: [{Status (SCHEDULED, IN
    PROGRESS, COMPLETED, FAILED), Total_Count, Converted_Count, Not_Converted_Count, Failed_Count}]}; missing
    job_id 400 REQUIRED_PARAM_MISSING, unknown 400 INVALID_DATA. Scopes mass_convert.{leads}.CREATE / READ.
  - ``/crm/{v}/{Quotes|Sales_Orders}/actions/mass_convert``: POST {convert_to[{module{api_name}}], ids
    (<= 50)} -> 202 SCHEDULED (> 50 ids: LIMIT_EXCEEDED limit 50); GET -> flat {total_count, converted_count,
    not_converted_count, failed_count, status} or ``data[]`` (``config.inventory_reply_shape``).
  - ``/crm/{v}/{module}/actions/mass_delete``: POST {cvid | territory{id}} -> 200 data[{code: SUCCESS,
    details{id (the view), job_id}}] (body errors wrapped in data[]); {ids} (<= 500) deleted at once, no job;
    GET -> {data: [{Status (RUNNING, COMPLETED, FAILED), Total_Count, Deleted_Count, Failed_Count}]}.
  - ``/crm/{v}/{module}/actions/mass_change_owner``: POST {cvid, owner{id}} -> 200 data[SUCCESS details{id,
    job_id}]; GET -> {data: [{Status, Total_Count, Updated_Count, Not_Updated_Count, Failed_Count}]}; missing
    job_id 404 REQUIRED_PARAM_MISSING (docs), unknown job 204.
  - ``/crm/{v}/settings/tags/actions/mass_delete``: POST {mass_delete: [{module{api_name|id}, tags[{id}] (<=
    200)}]} (one module) -> 202 SCHEDULED; GET -> {mass_delete: [{job_id, total_count, deleted_count,
    failed_count, status}]}; unknown job 400 {mass_delete: [INVALID_DATA details.job_id]}.
  - ``/crm/bulk/{v}/read``: POST {query{module, cvid, fields, page | page_token, criteria}, file_type csv|ics
    (ics: Meetings), callback{url, method: post}} -> 201 data[{code: ADDED_SUCCESSFULLY, details{id,
    operation, state, created_by, created_time}}]; GET ``/{id}`` -> data[{id, operation, state (ADDED,
    [QUEUED], IN PROGRESS, COMPLETED, FAILURE), query, created_by, created_time, file_type, result{page,
    per_page, count, download_url, more_records, next_page_token} once COMPLETED}]; unknown 404
    RESOURCE_NOT_FOUND. GET
    ``/{id}/result``: a zip of ``{id}.csv`` (Id then the query's fields; or ``{id}.ics``) with the page's
    records (200,000 a page; ``more_records``/``next_page_token`` beyond); 10 downloads a minute per org
    (emulator clock), then 429; not ready or unknown: 400 RESOURCE_NOT_FOUND.
  - ``/crm/{v}/upload`` (content server; headers ``feature: bulk-write``, ``X-CRM-ORG: {zgid}`` of GET /org):
    multipart ``file``, a zip of one CSV -> 200 {code: FILE_UPLOAD_SUCCESS, details{file_id, created_time}};
    > 25 MB 413 FILE_TOO_LARGE, not a zip 400 INVALID_FILE_FORMAT, no CSV FILE_NOT_SUPPORTED, > 25,000 rows
    LIMIT_EXCEEDED, > 200 columns HEADER_LIMIT_EXCEEDED, headers missing 400 ``{ERROR_CODE, x-error}``.
    ``/crm/bulk/{v}/write``: POST {operation insert|update|upsert, resource[{type: data, module, file_id,
    field_mappings}], callback} -> 201 {code: SUCCESS, details{id, created_by, created_time}} (unknown
    file_id: INVALID_FILE_ID); GET ``/{id}`` -> {id, status, operation, created_by, created_time, callback?,
    result{download_url} once COMPLETED, resource[{status, code, module, file_id, field_mappings, file{name,
    status, total_count, added_count, updated_count, skipped_count}}]} (a job's records: its CSV rows; upsert
    counts half as updated); unknown 400 RESOURCE_NOT_FOUND. The download_url
    (``/v2/crm/{zgid}/bulk-write/{id}/{id}.zip``) gives each CSV with STATUS, RECORD_ID, ERRORS columns.
  - ``/crm/{v}/settings/audit_log_export``: POST {audit_log_export: [{criteria}]} (optional) -> 200
    audit_log_export[{code: SCHEDULED, details.id}]; GET (all) or ``/{id}`` -> {audit_log_export: [{id, status
    (Scheduled, Progress, Finished, Failed), criteria, created_by, job_start_time, job_end_time, expiry_date,
    download_links}]}; unknown: 204 or 400 NO_CONTENT (``config.audit_log_not_found``). The link
    ``/v2/crm/{zgid}/auditlog/{id}/AuditLog.csv`` (``.zip`` of 100,000-entry CSVs beyond 100,000 entries;
    scope ZohoFiles.files.READ) serves the entries for 7 days.
  - ``/crm/{v}/users[/{user_id}]/actions/transfer_and_delete``: POST {transfer_and_delete: [{id, transfer{id,
    records, assignment, criteria}, move_subordinate}]} -> 200 transfer_and_delete[{code: SUCCESS, details{id,
    jobId}}]; GET ?job_id= -> {transfer_and_delete: [{status: in_progress|completed|failed}]}; unknown 204,
    missing job_id 400 REQUIRED_PARAM_MISSING. Scopes users.{ALL|DELETE} / users.{READ|ALL}.
Jobs' sizes over HTTP: ids, tags or CSV rows; a view's records (``define_view``); else ``define_kind``'s or
``config.cvid_default_total``.

Metadata, as Zoho's SDKs read it (``fake_zoho.metadata``; every key the v8 spec requires):
``GET /crm/{version}/settings/fields?module=`` (scope ``ZohoCRM.settings.fields.READ``/``.ALL`` or
``ZohoCRM.settings.ALL``), ``GET .../settings/modules[/{api_name}]`` (``ZohoCRM.settings.modules.READ``...),
``GET .../users?type=CurrentUser`` (``ZohoCRM.users.READ``/``.ALL``), ``GET .../org`` (``ZohoCRM.org.READ``).

Python controls (``FakeZoho``)
------------------------------
``FakeZoho(dc="us", host="127.0.0.1", port=0, scale=1.0, clock=None, tls=None, **config)``; ``.start()``
returns self; ``.stop()``; context manager; ``.url`` (``https://`` with ``tls=(certificate file, key file)``,
PEM); ``.serving``; ``.reset()`` (fresh state on the same URL, initial settings).

Accounts: ``credentials(scopes=None, org_id=, permission=)`` -> ``{client_id, client_secret, refresh_token,
accounts_url, api_domain}``; ``add_client(scopes=None, dc=None, org_id="org1", permission="ok")`` -> object
with ``client_id``, ``client_secret`` (``dc`` other than this one: Accounts answers invalid_client);
``issue_refresh_token(client_id, scopes=None)``; ``issue_grant_code(client_id, scopes=None, ttl=180)``;
``revoke_refresh_token(rt)``; ``expire_access_tokens()``; ``foreign_access_token(dc="eu")`` (a token this
data centre rejects with INVALID_TOKEN; or run a second ``FakeZoho(dc="eu")``);
``set_permission(client_id, "ok"|"no_permission"|"authorization_failed")``. Scopes are a list or a
comma-separated string; default ``config.default_scopes`` (mass_update READ and UPDATE).

Jobs: ``create_job(module, total=50, profile=JobProfile(...), cvid=None, kind="mass_update")`` -> job_id (18
digits, like Zoho's); any kind of ``fake_zoho.kinds.ALL_KINDS``, module "org" for mass_delete_tags,
bulk_read, bulk_write, audit_log_export and transfer_and_delete (bulk jobs made so read or write Leads);
``job_truth(job_id)`` -> the job's timeline now in mass update's words (``{Status, Failed_Count,
Updated_Count, Not_Updated_Count, Total_Count}``); ``job_reply(job_id)`` -> the body its kind's status call
answers now; ``job_finished_at(job_id)`` -> emulator time of the terminal status (None if not yet);
``job(job_id)``; ``define_view(module, cvid, total, profile)``; ``define_kind(kind, total=None,
profile=None)``: the profile of that kind's jobs created over HTTP, and their size where the request gives
none.
``JobProfile(queue_delay=2, duration=None, rate=None, failure_share=0, final_status="COMPLETED",
fail_at=1.0, irregular=0, queued=0, suspend_at=None, suspend_for=None, running_status="RUNNING")``:
QUEUED for ``queued`` s, SCHEDULED for ``queue_delay`` s, RUNNING for ``duration`` s (or total/rate; default
rate 25 records/s) with counts growing (``irregular`` 0..1 adds bursts and stalls), optionally SUSPENDED at
``suspend_at`` of the run for ``suspend_for`` s (None = for ever), then ``final_status``. A FAILED job stops
at ``fail_at`` of its run and counts the unprocessed records as Failed; ``failure_share`` of processed
records are Failed. ``JobProfile.from_dict`` rejects unknown keys.

Time: ``zoho.clock`` (``EmulatorClock``), epoch seconds: ``now()``, ``set_scale(x)`` (x emulated seconds per
real second), ``freeze()``, ``advance(seconds)``, ``set(t)``, ``resume()``, ``state()``. Job timelines, token
expiry, grant-code expiry and the refresh window all use it. ``FakeZoho(clock=...)`` runs the emulator on a
clock its host shares with it instead (anything with ``Clock``'s methods); ``reset()`` then leaves it alone.
``FakeZoho(holding_back=...)``: a context manager factory entered while a reply is held back in real time (a
``timeout`` fault, added latency), so a host whose clock stands still while its servers work can let it move.

Faults: ``zoho.faults.inject(kind, share=0.2, routes=("status",))``, ``.script([kind, None, ...], routes=)``
(consumed in order by matching requests; None = normal reply), ``.clear()``, ``.seed(n)``, ``.state()``.
Kinds: ``"500"`` (INTERNAL_ERROR), ``"429"``, ``"429_retry_after"`` (``Retry-After:
config.retry_after_seconds``), ``"timeout"`` (holds the reply ``config.fault_timeout_seconds`` real seconds),
``"reset"`` (TCP RST), ``"non_json"`` (200 with a truncated JSON body), ``"html"`` (503 HTML page),
``"502_empty"``, and every Zoho error code (``"NO_PERMISSION"``, ``"INVALID_TOKEN"``, ...).
Routes: ``status``, ``create``, ``download`` (CRM, applied after authentication), ``token``, ``revoke``
(Accounts).
``set_latency(seconds)``: real seconds added to every CRM call, inside the org's concurrency slot.
``zoho.config.update(**settings)`` (see ``ZohoConfig``): legacy_token_reply, not_found_mode,
inventory_reply_shape, kind_words ("spec" | "docs": the docs' status words), audit_log_not_found,
concurrency_limit (10; None = unlimited), token limits, default_scopes, modules, retry_after_seconds,
fault_timeout_seconds, api_domain, dc.

Observation: ``zoho.counters`` (snapshot dict: ``calls`` {route: {http status: n}}, ``calls_total``,
``kinds``,
``token_refreshes``, ``token_refresh_times``, ``token_throttled``, ``grants``, ``in_flight``,
``peak_concurrency``, ``peak_concurrency_by_org``, ``faults_injected``); ``zoho.request_log`` (list of
``{time, method, path, route, status, kind, duration[, job_id]}``; status 0 for a reset; never a secret).

HTTP controls under ``/__admin/`` (JSON in and out; bad input -> 400 ``{"error"}`` and nothing changes):
``GET /`` (index), ``POST /reset``, ``POST /credentials`` {scopes, org_id, permission}, ``POST /clients``
{scopes, dc, org_id, permission}, ``POST /clients/{client_id}/permission`` {permission},
``POST /refresh-tokens`` {client_id, scopes}, ``POST /refresh-tokens/revoke`` {refresh_token},
``POST /grant-codes`` {client_id, scopes, ttl}, ``POST /access-tokens/expire``,
``POST /access-tokens/foreign`` {dc, scopes}, ``GET|POST /jobs`` {module, total, profile, cvid, kind},
``GET /jobs/{job_id}`` ({job_id, module, kind, total, cvid, profile, created_at, truth, reply, finished_at}),
``POST /views`` {module, cvid, total, profile}, ``POST /kinds`` {kind, total, profile},
``GET|POST /clock`` {scale, freeze, resume, set, advance},
``GET|POST|DELETE /faults`` {kind, share, routes}, ``POST /faults/script`` {kinds, routes},
``POST /faults/seed`` {seed}, ``GET|POST /latency`` {seconds}, ``GET|PATCH /config`` {setting: value},
``GET /counters``, ``GET /requests``.

Alone: ``python -m fake_zoho --port 8765 [--scale 60] [--dc us] [--certfile C --keyfile K]`` prints its URLs
and a sample credentials JSON, then serves until interrupted.
"""

from .clock import Clock, EmulatorClock
from .config import ZohoConfig
from .emulator import FakeZoho
from .faults import FAULT_KINDS, FaultInjector
from .profile import JobProfile

__all__ = ["FAULT_KINDS", "Clock", "EmulatorClock", "FakeZoho", "FaultInjector", "JobProfile", "ZohoConfig"]
