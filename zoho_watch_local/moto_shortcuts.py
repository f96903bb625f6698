"""Shortcuts in moto: the same answers for less CPU, on a stack where every check goes through moto.

moto redoes five things on every use that on the embedded stack cost a third of a watch's CPU, and they are
memoised here:

1. JSONPath parsing. moto's EventBridge builds a new JSONPath parser (its grammar tables included) for every
   path of a rule target's input transformer, for every event; its Step Functions interpreter does the same
   for every `InputPath`, `OutputPath` and `ResultPath` of every state. A parsed path is an immutable tree
   (finding and updating read it and change only the data), so one parse per path text is kept.
2. The server's dispatch. For every request, `DomainDispatcherApplication.get_backend_for_host` lists moto's
   package folder (a `listdir` and an `isdir` per entry) under the server's global lock, to ask whether the
   host is a backend's name. The folder does not change while the process runs: it is listed once.
3. Step Functions' clients. For every Task state (a Lambda invoke, a StartExecution...), moto's interpreter
   builds a new boto3 client (`boto_client_for`: loading the service model, a new connection pool). The
   client depends only on the region, the service and where the server is (its `state_credentials`
   argument is not used), and botocore clients are thread-safe: one is kept per (region, service, server).
4. The state machine's program. Each execution (each generation of a watch that continues as new) parses
   its definition again with moto's ANTLR grammar before running it: a tenth of a watch's CPU. The parsed
   program is a tree of components that only read themselves while they run (an execution's data, stack
   and history live in its `Environment`), so one program per definition text serves every execution.
5. A request's action. For every request, `BaseResponse.call_action` lists the response class's methods
   (`inspect.getmembers`) to see whether the action is one of them. A class's methods do not change while
   the server runs: they are listed once per class.

And two things are done only where they are needed:

6. A KMS key's private key. moto generates an RSA key pair for every KMS key it creates, symmetric ones
   included, and a DynamoDB table encrypted with a KMS key (the stack's table) creates one: a tenth of a
   test's CPU where each test creates the table. Only Sign, Verify and GetPublicKey read it: the key pair
   is generated when one of them first does.
7. A query's candidates. `Table.query` starts from `Table.all_items()`: every item of the table, sorted by
   key, history items included, for every query (the sweep's look at the active index, a job's history).
   It then keeps those of the partition (or of the index's key), and sorts those again, on keys that are
   unique per item (the table's keys come last). So the first sort decides nothing, and a query of a
   partition finds all its candidates in that partition: while `Table.query` runs, `all_items` gives it
   the partition's items for a table query and all items unsorted for an index query. Elsewhere (a
   scan's pages) `all_items` sorts as moto does, on each key's value computed once per item rather than
   at every comparison (moto's `DynamoType` converts both values at each one: most of a scan's CPU).

And one reply is written the short way:

8. DynamoDB's item replies. moto writes every reply by walking the operation's output shape member by member,
   down to each attribute of each item (a fifth of the CPU of a sweep over many jobs). The replies of the
   item operations (GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan) hold only items, keys and counts,
   already in DynamoDB's JSON form (and a ConsumedCapacity of a few numbers), so `json.dumps` of the
   members in the output shape writes the same JSON. Any other member (ItemCollectionMetrics, a capacity
   by index), a member set to None, a binary attribute (bytes, which moto's serializer encodes in base64)
   or pretty-printed replies take moto's way.

`install()` and `uninstall()` are counted, like the rest of the glue (see `zoho_watch_local.aws`), and
`tests/integration/test_moto_shortcuts.py` pins the patched names down and compares the answers with moto's.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import jsonpath_ng.ext
from moto import backends, settings
from moto.core import responses as core_responses
from moto.core.models import botocore_stubber
from moto.core.responses import ActionContext
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult
from moto.kms import models as kms_models
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_events,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# Distinct JSONPath texts are few (the template's paths and rules): the bound only guards against a leak.
_PARSED_PATHS = 4096

# (module, attribute) pairs that hold a JSONPath parser moto calls per use. moto's EventBridge imports
# `jsonpath_ng.ext.parse` at each call, so the package attribute itself is replaced there.
_PARSERS: tuple[tuple[Any, str], ...] = (
    (jsonpath_ng.ext, "parse"),
    (json_path, "parse"),
    (result_path, "parse"),
)

# The modules that import `boto_client_for` by name and run the integrations the template uses: Lambda,
# Step Functions (continue-as-new) and EventBridge.
_CLIENT_USERS: tuple[Any, ...] = (lambda_eval_utils, state_task_service_sfn, state_task_service_events)

# Operations whose replies hold only the members below (and members outside the output shape, dropped).
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"})
_ITEM_MEMBERS = frozenset({"Item", "Attributes", "Items", "LastEvaluatedKey", "Count", "ScannedCount"})
# ConsumedCapacity (moto adds it to every UpdateItem reply) as long as it holds only these scalars.
_CAPACITY_MEMBERS = frozenset({"TableName", "CapacityUnits", "ReadCapacityUnits", "WriteCapacityUnits"})

_lock = threading.Lock()
_installs = 0
_patched: list[tuple[Any, str, Any]] = []  # (module, attribute, moto's own value) while installed


def memoised_parser(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` with one parsed tree kept per path text (see module docstring)."""
    return functools.lru_cache(maxsize=_PARSED_PATHS)(parse)


_list_moto_modules: Callable[[], Iterable[str]] = backends.list_of_moto_modules  # moto's own


@functools.cache
def _listed_once() -> tuple[str, ...]:
    """Replacement for `moto.backends.list_of_moto_modules`: the folder is listed on first use only."""
    return tuple(_list_moto_modules())


_build_client: Callable[..., Any] = boto_client.boto_client_for  # moto's own


@functools.cache
def _client(region: str, service: str, port: int, intercepted: bool) -> Any:
    return _build_client(region, service)


def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """Replacement for moto's `boto_client_for`: one client per region, service and server (see above)."""
    return _client(region, service, moto_server_port(), botocore_stubber.enabled)


# Distinct definitions are few (the template's state machines, the examples'): the bound only guards a leak.
_PARSED_DEFINITIONS = 64


@functools.lru_cache(maxsize=_PARSED_DEFINITIONS)
def parsed_program(definition: str) -> Any:
    """The program of a state machine definition, parsed by moto on first use only (see module docstring)."""
    return AmazonStateLanguageParser.parse(definition)[0]


def evaluation_entrypoint(worker: ExecutionWorker) -> Any:
    """Replacement for `ExecutionWorker._get_evaluation_entrypoint`: the definition's program, parsed once."""
    return parsed_program(worker._evaluation_details.state_machine_details.definition)


_list_methods: Callable[[object], list[str]] = core_responses.method_names_from_class  # moto's own


@functools.cache
def method_names_once(response_class: object) -> tuple[str, ...]:
    """Replacement for moto's `method_names_from_class` in `moto.core.responses`: listed once per class."""
    return tuple(_list_methods(response_class))


_generate_private_key: Callable[[str], Any] = kms_models.generate_private_key  # moto's own
_key_lock = threading.Lock()  # module-level: a KMS key (and so its private key) may be deep-copied


class LazyPrivateKey:
    """A KMS key's private key as moto's Key holds it, generated by moto on first use (see module doc)."""

    def __init__(self, key_spec: str) -> None:
        self.key_spec = key_spec
        self._key: Any = None

    def generated(self) -> Any:
        """moto's private key for the key spec, generated once."""
        with _key_lock:
            if self._key is None:
                self._key = _generate_private_key(self.key_spec)
            return self._key

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_key", "key_spec"):  # copy protocols; a copy not yet filled
            raise AttributeError(name)
        return getattr(self.generated(), name)


_query: Callable[..., Any] = Table.query  # moto's own
_all_items: Callable[[Table], list[Any]] = Table.all_items  # moto's own
_QUERY_PARAMETERS = inspect.signature(Table.query)
# The query `Table.all_items` is answering in this thread: (table, partition key or None for an index).
_querying: contextvars.ContextVar[tuple[Table, Any] | None] = contextvars.ContextVar("querying", default=None)


def query_candidates(self: Table, *args: Any, **kwargs: Any) -> Any:
    """Replacement for `Table.query`: moto's, with `all_items` narrowed to what it keeps (see above)."""
    arguments = _QUERY_PARAMETERS.bind(self, *args, **kwargs).arguments
    partition = None if arguments.get("index_name") else arguments["hash_key"]
    token = _querying.set((self, partition))
    try:
        return _query(self, *args, **kwargs)
    finally:
        _querying.reset(token)


def _by_key(item: Any) -> Any:
    """An item's place in key order, as moto's `Table.all_items` sorts: its keys' values (a key attribute has
    one type, so comparing values is comparing moto's `DynamoType`s, without converting them at each step)."""
    range_key = item.range_key
    return (item.hash_key.cast_value, range_key.cast_value) if range_key else item.hash_key.cast_value


def candidate_items(self: Table) -> list[Any]:
    """Replacement for `Table.all_items`: moto's order, each key converted once (see module docstring); inside
    `Table.query`, only the query's candidates."""
    querying = _querying.get()
    if querying is None or querying[0] is not self:
        if not self.range_key_attr:
            return sorted(self.items.values(), key=_by_key)
        return sorted((item for stored in self.items.values() for item in stored.values()), key=_by_key)
    partition = querying[1]
    if partition is None:  # an index query: every item, in no particular order
        if not self.range_key_attr:
            return list(self.items.values())
        return [item for stored in self.items.values() for item in stored.values()]
    stored = self.items.get(partition)
    if stored is None:
        return []
    return list(stored.values()) if self.range_key_attr else [stored]


_serialize_reply: Callable[[DynamoResult, ActionContext], Any] = DynamoResult.execute_result  # moto's own


def _plain(body: dict[str, Any]) -> bool:
    """Whether `json.dumps(body)` is what moto's serializer writes (but for bytes, which json refuses)."""
    capacity = body.get("ConsumedCapacity", {})
    return (
        body.keys() <= _ITEM_MEMBERS | {"ConsumedCapacity"}
        and None not in body.values()
        and isinstance(capacity, dict)
        and capacity.keys() <= _CAPACITY_MEMBERS
        and None not in capacity.values()
    )


def item_reply(result: DynamoResult, context: ActionContext) -> Any:
    """Replacement for `DynamoResult.execute_result`: (status, headers, body), the item operations' replies
    written with `json.dumps`, every other reply by moto's serializer (see module docstring)."""
    operation = context.operation_model
    members = result.result
    if operation.name in _ITEM_OPERATIONS and isinstance(members, dict) and not settings.PRETTIFY_RESPONSES:
        shape = operation.output_shape.members
        body = {name: value for name, value in members.items() if name in shape}
        if _plain(body):
            try:
                text = json.dumps(body)
            except TypeError:  # bytes: a binary attribute
                pass
            else:
                version = context.service_model.metadata["jsonVersion"]
                return 200, {"Content-Type": f"application/x-amz-json-{version}"}, text
    return _serialize_reply(result, context)


def install() -> None:
    """Memoise moto's JSONPath parsing, its listing of backends, its Step Functions clients, its state
    machine programs and its response classes' methods, generate KMS key pairs on first use, give a query
    only its candidates, and write DynamoDB's item replies the short way (counted)."""
    global _installs
    with _lock:
        _installs += 1
        if _installs > 1:
            return
        replacements = [
            *((module, name, memoised_parser(getattr(module, name))) for module, name in _PARSERS),
            (backends, "list_of_moto_modules", _listed_once),
            *((module, "boto_client_for", shared_client) for module in _CLIENT_USERS),
            (ExecutionWorker, "_get_evaluation_entrypoint", evaluation_entrypoint),
            (core_responses, "method_names_from_class", method_names_once),
            (kms_models, "generate_private_key", LazyPrivateKey),
            (Table, "query", query_candidates),
            (Table, "all_items", candidate_items),
            (DynamoResult, "execute_result", item_reply),
        ]
        for module, name, replacement in replacements:
            _patched.append((module, name, getattr(module, name)))
            setattr(module, name, replacement)


def uninstall() -> None:
    """Undo one `install()`; the last one puts moto's own functions back."""
    global _installs
    with _lock:
        if _installs == 0:
            return
        _installs -= 1
        if _installs:
            return
        while _patched:
            module, name, original = _patched.pop()
            setattr(module, name, original)
        _client.cache_clear()
        parsed_program.cache_clear()


def installed() -> bool:
    """Whether moto runs with the shortcuts."""
    return _installs > 0
