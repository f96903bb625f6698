"""The embedded stack: Zoho emulator, moto, in-process Lambda, the deployed template, gateway and scheduler.

    with EmbeddedStack().start() as stack:
        job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(duration=3600))
        requests.put(f"{stack.api_url}/jobs/Leads/{job_id}/watch")
        stack.wait_for(lambda: stack.job_state("Leads", job_id)["status"] == "COMPLETED")
        stack.events(); stack.job_state("Leads", job_id)

One clock, `stack.clock` (`zoho_watch_local.clock.VirtualClock`), is the time of everything on the stack: the
emulator's jobs and tokens, Step Functions' Wait and Retry and its execution dates, the schedules' ticks, and
the zoho_watch library in the functions (the in-process runtime gives it `Services(clock=stack.clock.now)`).
By default it is virtual: it stands still while anything works and jumps to the next wake-up when everything
waits, so an hour-long job is watched in the CPU time of its checks, with the same checks at the same
simulated times on any machine. `time_scale` (simulated seconds per real second) runs it with real time
instead, for a person watching (`zoho-watch local up`).

The code that drives the stack (a test, the demo) is a participant too: it holds the clock (`driver`) from
`start()` on, so nothing moves while it sets things up, and lets go only while it waits: `wait_for` (an
outcome), `sleep` (simulated seconds), or explicitly (`driver.release()`, `clock.idle(driver, ...)`).
The stack's functions get the template's environment plus where the embedded AWS (`AWS_ENDPOINT_URL`) and
the emulator (`ZOHO_ACCOUNTS_URL`, `ZOHO_API_DOMAIN`) are; the connection's secrets are filled as a
running deployment has them (emulator credentials, an access token valid for Zoho's simulated hour).
Simulated time never goes backwards, not even across `reset()`.
Every event put on the template's event buses is also copied to a log group, read by `events()`.
AWS fails on demand as the emulator does: `stack.aws_faults` (`zoho_watch_local.aws_faults`) fails the
functions' AWS calls and the state machine's Lambda invocations by share or by script; `stack.aws_calls`
(`zoho_watch_local.aws_calls`) records each of those calls, for the tests' check of the roles' grants.

moto's backends are process-wide: one started embedded stack per process.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from zoho_watch_local import loopback
from zoho_watch_local.aws import (
    ACCOUNT_ID,
    REGION,
    LocalAws,
    current_state_machine,
    in_execution,
    join_executions,
)
from zoho_watch_local.aws_calls import AwsCallLog
from zoho_watch_local.aws_faults import AwsFaults
from zoho_watch_local.clock import VirtualClock
from zoho_watch_local.deploy import Deployment, deploy
from zoho_watch_local.gateway import LocalApiGateway
from zoho_watch_local.lambda_runtime import LambdaRuntime, current_function, in_function
from zoho_watch_local.scheduler import LocalScheduler
from zoho_watch_local.template import REPO_ROOT, load_template

DEFAULT_STACK_NAME = "zoho-watch-local"
# Real seconds a reset waits for stopped executions and their checks to end: only a hung one's limit.
_SETTLE_SECONDS = 60.0
_started_lock = threading.Lock()
_started: list[EmbeddedStack] = []


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals as int or float, recursively."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(item) for item in value]
    return value


def grant_scopes() -> list[str]:
    """The scopes a deployment's grant would allow: every kind's status call (the scopes that name no module)
    and mass updates themselves."""
    from zoho_watch.job_kinds import KINDS  # the layer is on sys.path once a stack is deployed

    reads = {scope for kind in KINDS.values() for scope in kind.read_scopes if "{" not in scope}
    return sorted({"ZohoCRM.mass_update.ALL", *reads})


class EmbeddedStack:
    """The whole product on this machine (see module docstring). `start()` returns self; a context manager."""

    def __init__(
        self,
        stack_name: str = DEFAULT_STACK_NAME,
        time_scale: float | None = None,
        parameters: dict[str, Any] | None = None,
        template_path: Path | None = None,
        run_schedules: bool = True,
        aws_port: int = 0,
        api_port: int = 0,
        zoho_port: int = 0,
        zoho_config: dict[str, Any] | None = None,
    ) -> None:
        self.stack_name = stack_name
        self._zoho_config = dict(zoho_config or {})
        self._time_scale = time_scale
        self.clock = VirtualClock(scale=time_scale)
        self.driver = self.clock.hold()
        self.parameters = dict(parameters or {})
        self.template_path = template_path or REPO_ROOT / "template.yaml"
        self.zoho: Any = None
        self.run_schedules = run_schedules
        self._ports = {"aws": aws_port, "api": api_port, "zoho": zoho_port}
        self.runtime: LambdaRuntime | None = None
        self.aws: LocalAws | None = None
        self.deployment: Deployment | None = None
        self.gateway: LocalApiGateway | None = None
        self.scheduler: LocalScheduler | None = None
        self._clients: dict[str, Any] = {}
        # Faults of the functions' AWS calls and of the state machine's Lambda invocations.
        self.aws_faults = AwsFaults(in_function=in_function, in_execution=in_execution)
        # Every AWS call of the functions and of the stack's state machine's tasks (kept across `reset`); a
        # state machine a test creates for itself (a caller's workflow) is not the stack's.
        self.aws_calls = AwsCallLog(current_function, self._in_own_execution, REGION, ACCOUNT_ID)

    def _in_own_execution(self) -> bool:
        """Whether this thread runs a state of an execution of the stack's own state machines."""
        machine = current_state_machine()
        if machine is None or self.deployment is None:
            return False
        return machine in {item.ref for item in self.deployment.of_type("AWS::StepFunctions::StateMachine")}

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> EmbeddedStack:
        """Start emulator and AWS, deploy the template, fill the credentials, start gateway and schedules."""
        with _started_lock:
            if _started:
                raise RuntimeError(
                    "an embedded stack is already running in this process (moto is process-wide)"
                )
            _started.append(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.driver.acquire()  # nothing moves while the stack is set up
        self.clock.restore()
        from fake_zoho import FakeZoho

        # A call to Zoho is work, except while the emulator holds a reply back on purpose (its client, a
        # function waiting for the reply, holds the clock itself until it gives up).
        self.zoho = FakeZoho(
            port=self._ports["zoho"],
            clock=self.clock,
            holding_back=self.clock.not_working,
            **self._zoho_config,
        )
        self.zoho.app.wsgi_app = self.clock.wsgi(self.zoho.app.wsgi_app)
        self.zoho.start()
        self.runtime = LambdaRuntime(self.clock)
        self.runtime.reset_library()  # nothing cached by an earlier stack in this process (its clients)
        self.aws = LocalAws(self.clock, self.runtime, port=self._ports["aws"]).start()
        loopback.set_faults(self._before_aws_answers)
        self.runtime.extra_environment.update(
            {
                "AWS_ENDPOINT_URL": self.aws.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "ZOHO_ACCOUNTS_URL": self.zoho.url,
                "ZOHO_API_DOMAIN": self.zoho.url,
            }
        )
        template = load_template(self.template_path)
        self.deployment = deploy(
            self.aws, self.runtime, template, self.stack_name, self.parameters, self.template_path.parent
        )
        self._capture_events()
        self.connect_emulator()
        api = self._api()
        if api is not None:
            self.gateway = LocalApiGateway(
                self.aws,
                [route for route in self.deployment.routes if route.api == api],
                self.deployment.apis[api]["id"],
                self.deployment.apis[api]["stage"],
                port=self._ports["api"],
            ).start()
        self.scheduler = LocalScheduler(self.aws, self.deployment.schedules, self.clock)
        if self.run_schedules:
            self.scheduler.start()

    def deploy_example(self, template_path: Path, parameters: dict[str, Any]) -> Deployment:
        """Deploy another SAM template next to the stack, on the same embedded AWS (a caller's workflow or
        rule, such as those of `examples/`); its stack name is the stack's and its folder's."""
        assert self.aws is not None and self.runtime is not None, "the stack is not started"
        name = f"{self.stack_name}-{template_path.parent.name}"
        return deploy(
            self.aws, self.runtime, load_template(template_path), name, parameters, template_path.parent
        )

    def _before_aws_answers(self, request: Any) -> Any:
        """The loopback's hook: the call is recorded, then a fault may answer it."""
        self.aws_calls.record(request)
        return self.aws_faults.reply(request)

    def stop(self) -> None:
        """Stop everything this stack started."""
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.gateway is not None:
            self.gateway.stop()
        if self.aws is not None:
            self._stop_executions()
            self.aws.stop()
        if self.runtime is not None:
            self.runtime.close()
        if self.zoho is not None:
            self.zoho.stop()
        self.driver.release()
        with _started_lock:
            if self in _started:
                _started.remove(self)

    def _stop_executions(self) -> None:
        """Stop running executions, so their threads end with the stack."""
        try:
            sfn = self.client("stepfunctions")
            for machine in sfn.list_state_machines()["stateMachines"]:
                for page in sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                ):
                    for execution in page["executions"]:
                        sfn.stop_execution(executionArn=execution["executionArn"])
        except Exception:  # the server may be half started; stopping must go on
            return

    def reset(self) -> None:
        """A clean slate between tests: executions stopped, emulator reset and reconnected, table and
        captured events emptied, access token forgotten (secret and the functions' in-process caches).

        A stopped execution may be in the middle of a check (a Lambda invocation runs to its end): the
        reset waits for those to end first, or a check of the last test would reach the fresh emulator.
        """
        assert self.deployment is not None and self.zoho is not None and self.runtime is not None
        self._stop_executions()
        with self.clock_running():  # what is left to do may wait on the clock (a check's token wait)
            running = join_executions(timeout=_SETTLE_SECONDS)
            drained = self.runtime.drain(timeout=_SETTLE_SECONDS)
        if running or not drained:
            raise RuntimeError(
                f"the stack could not be reset: stopped executions still ran after {_SETTLE_SECONDS:.0f} "
                f"real seconds ({len(running)} execution threads; invocations all ended: {drained})"
            )
        self.zoho.reset()  # the clock is the stack's: it stays where it is
        self.aws_faults.reset()
        self.clock.reset(self._time_scale)  # unfrozen, at the stack's scale (a test may have changed both)
        self.driver.acquire()
        dynamodb, table = self.client("dynamodb"), self.table_name()
        for item in self.table_items():
            key = {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
            dynamodb.delete_item(TableName=table, Key=key)
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=self.events_log_group):
            for stream in page["logStreams"]:
                logs.delete_log_stream(
                    logGroupName=self.events_log_group, logStreamName=stream["logStreamName"]
                )
        if self.scheduler is not None:
            self.scheduler.history.clear()
        self.connect_emulator()
        assert self.runtime is not None
        self.runtime.reset_library()

    def __enter__(self) -> EmbeddedStack:
        return self if self.aws is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- wiring ---------------------------------------------------------------------------------------

    def _api(self) -> str | None:
        assert self.deployment is not None
        apis = sorted({route.api for route in self.deployment.routes})
        if len(apis) > 1:
            raise RuntimeError(f"the template has several APIs with routes ({apis}); the gateway serves one")
        return apis[0] if apis else None

    @property
    def events_log_group(self) -> str:
        """The log group that receives a copy of every event put on the stack's event buses."""
        return f"/zoho-watch-local/{self.stack_name}/events"

    def _capture_events(self) -> None:
        assert self.deployment is not None
        logs, events = self.client("logs"), self.client("events")
        logs.create_log_group(logGroupName=self.events_log_group)
        target = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{self.events_log_group}"
        for bus in self.deployment.of_type("AWS::Events::EventBus"):
            rule = f"{self.stack_name}-capture-{bus.logical_id}"[:64]
            events.put_rule(
                Name=rule, EventBusName=bus.ref, EventPattern=json.dumps({"account": [ACCOUNT_ID]})
            )
            events.put_targets(Rule=rule, EventBusName=bus.ref, Targets=[{"Id": "capture", "Arn": target}])

    def connect_emulator(self, connection: str = "default") -> dict[str, str]:
        """Fill the connection's secrets as a running deployment has them: new emulator credentials (allowed
        every kind's status call and mass updates) in `{prefix}/{connection}/credentials`, and a valid access
        token in `.../access-token`."""
        assert self.zoho is not None
        # The library's own refresh; the layer is on sys.path since the deployment registered it.
        from zoho_watch.errors import ZohoWatchError
        from zoho_watch.zoho import ZohoClient

        prefix = self.deployment_parameter("SecretPrefix", "zoho-watch")
        credentials = self.zoho.credentials(scopes=grant_scopes())
        client = ZohoClient()
        try:
            grant = client.refresh_access_token(
                credentials["accounts_url"],
                credentials["client_id"],
                credentials["client_secret"],
                credentials["refresh_token"],
            )
        except ZohoWatchError as error:
            raise RuntimeError(f"the Zoho emulator refused a refresh: {error.zoho_code or error}") from None
        finally:
            client.session.close()
        token = {
            "access_token": grant.access_token,
            "api_domain": grant.api_domain or credentials["api_domain"],
            "expires_at": self.clock.now() + grant.expires_in,
        }
        for kind, document in (("credentials", credentials), ("access-token", token)):
            self._put_secret(f"{prefix}/{connection}/{kind}", json.dumps(document))
        return credentials

    def _put_secret(self, name: str, text: str) -> None:
        secrets = self.client("secretsmanager")
        try:
            secrets.put_secret_value(SecretId=name, SecretString=text)
        except secrets.exceptions.ResourceNotFoundException:
            secrets.create_secret(Name=name, SecretString=text)

    def deployment_parameter(self, name: str, default: str) -> str:
        """A template parameter's value in this deployment."""
        assert self.deployment is not None
        return str(self.deployment.parameters.get(name, default))

    # --- access ---------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """Base URL of the local REST API, stage included."""
        if self.gateway is None:
            raise RuntimeError("the stack has no API (or is not started)")
        return self.gateway.url

    @property
    def endpoint_url(self) -> str:
        """Endpoint of the embedded AWS (for boto3 `endpoint_url` or `AWS_ENDPOINT_URL`)."""
        assert self.aws is not None, "the stack is not started"
        return self.aws.endpoint_url

    @property
    def outputs(self) -> dict[str, Any]:
        """The template's outputs as deployed locally, plus ApiUrl pointing at the local gateway."""
        assert self.deployment is not None
        outputs = dict(self.deployment.outputs)
        if self.gateway is not None and "ApiUrl" in outputs:
            outputs["ApiUrl"] = self.api_url
        return outputs

    def client(self, service: str) -> Any:
        """A boto3 client on the embedded AWS (cached per service; boto3 clients are thread-safe)."""
        if service not in self._clients:
            assert self.aws is not None, "the stack is not started"
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def table_name(self) -> str:
        """The jobs table's name (the template's only DynamoDB table)."""
        assert self.deployment is not None
        tables = self.deployment.of_type("AWS::DynamoDB::Table")
        if len(tables) != 1:
            raise RuntimeError(f"expected one DynamoDB table in the template, found {len(tables)}")
        return str(tables[0].ref)

    def table_items(self) -> list[dict[str, Any]]:
        """Every item of the jobs table, as plain Python values, ordered by pk and sk."""
        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=self.table_name()):
            for item in page["Items"]:
                items.append({key: _plain(deserializer.deserialize(value)) for key, value in item.items()})
        return sorted(items, key=lambda item: (str(item.get("pk")), str(item.get("sk"))))

    def job_state(
        self, module: str, job_id: str, connection: str = "default", kind: str | None = None
    ) -> dict[str, Any] | None:
        """The STATE item of one job (a mass update unless `kind` names another), or None."""
        from boto3.dynamodb.types import TypeSerializer
        from zoho_watch.jobs import DEFAULT_KIND, JobKey
        from zoho_watch.store.items import job_pk

        key = {"pk": job_pk(JobKey(connection, module, job_id, kind or DEFAULT_KIND)), "sk": "STATE"}
        serializer, deserializer = TypeSerializer(), TypeDeserializer()
        reply = self.client("dynamodb").get_item(
            TableName=self.table_name(),
            Key={name: serializer.serialize(value) for name, value in key.items()},
        )
        item = reply.get("Item")
        if item is None:
            return None
        return {name: _plain(deserializer.deserialize(value)) for name, value in item.items()}

    def events(self) -> list[dict[str, Any]]:
        """Every event published on the stack's buses so far, oldest first."""
        logs = self.client("logs")
        found: list[tuple[int, int, dict[str, Any]]] = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=self.events_log_group):
            for event in page["events"]:
                found.append(
                    (event["timestamp"], event.get("ingestionTime", 0), json.loads(event["message"]))
                )
        # The check time orders events of one job; several events of one check share a log timestamp.
        found.sort(
            key=lambda item: (str((item[2].get("detail") or {}).get("checked_at") or ""), item[0], item[1])
        )
        return [event for _, _, event in found]

    def executions(self, status: str | None = None) -> list[dict[str, Any]]:
        """Executions of every state machine of the stack (optionally with one status), newest first."""
        sfn = self.client("stepfunctions")
        found: list[dict[str, Any]] = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            kwargs: dict[str, Any] = {"stateMachineArn": machine["stateMachineArn"]}
            if status:
                kwargs["statusFilter"] = status
            for page in sfn.get_paginator("list_executions").paginate(**kwargs):
                found.extend(page["executions"])
        return sorted(found, key=lambda execution: execution["startDate"], reverse=True)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 600.0, interval: float = 0.01) -> Any:
        """Let the clock run until `predicate()` returns something truthy (returned).

        The driver lets go of the clock between two looks (`interval` real seconds), so the stack's work and
        the clock's jumps go on; `predicate` is evaluated holding it. `timeout` (real seconds) only stops a
        hung test: TimeoutError.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} real seconds")
            self.clock.idle(self.driver, interval)

    @contextlib.contextmanager
    def clock_running(self) -> Iterator[None]:
        """Let go of the clock for the block: the driver hands the stack to another client (the CLI run in
        this process, threads of its own), whose requests hold the clock while they are handled."""
        self.driver.release()
        try:
            yield
        finally:
            self.driver.acquire()

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass (the driver waits on the clock like a Wait state)."""
        self.clock.sleep(seconds, hold=self.driver)
