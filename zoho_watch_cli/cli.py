"""`zoho-watch`: the command line of zoho-watch, for the embedded stack and for a deployed one.

    zoho-watch local up                 start the embedded stack and keep it running (Ctrl-C stops it)
    zoho-watch demo                     the half-minute demo (what `make demo` runs)
    zoho-watch watch MODULE JOB_ID      start watching a job and draw its progress until it ends
    zoho-watch check MODULE JOB_ID      check a job on Zoho now (--stored: what zoho-watch recorded)
    zoho-watch jobs                     the jobs zoho-watch knows
    (watch, check and jobs take --kind: mass_update by default, or bulk_read, mass_delete...; module `org`
    for the kinds whose job belongs to no module; `jobs --kind all` lists every kind)
    zoho-watch submit MODULE ...        run a mass update through zoho-watch (--watch: follow it to its end)
    zoho-watch connect                  exchange a Zoho self-client grant code for the credentials secret

Where it talks to: the embedded stack started by `zoho-watch local up` (found through a small state file)
by default; a deployed stack with `--stack NAME` (CloudFormation outputs, your AWS credentials) or
`--api-url URL` (SigV4-signed requests). Exit status: 0 done (a watched job COMPLETED), 1 error, 2 bad
usage, 3 a watched job FAILED or was not followed to its end.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from zoho_watch.errors import InvalidInput
from zoho_watch.job_kinds import KINDS, ORG_MODULE
from zoho_watch.jobs import DEFAULT_KIND, JOB_ID_PATTERN, MODULE_PATTERN, validate_kind

from zoho_watch_cli.api_client import ApiError, ZohoWatchApi, region_of_url

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_JOB_FAILED = 0, 1, 2, 3
# What a grant code's scopes let zoho-watch do (the code is generated with them in Zoho's API console).
SCOPE_HINT = (
    "Generate the grant code with the scope ZohoCRM.mass_update.READ to watch jobs, and "
    "ZohoCRM.mass_update.UPDATE as well (or ZohoCRM.mass_update.ALL) to submit mass updates through "
    "zoho-watch."
)


class CliError(Exception):
    """A failure to report in one line, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


# --- where the local stack is ---------------------------------------------------------------------------


def state_file() -> Path:
    """Where `local up` records its URLs for the other commands ($XDG_RUNTIME_DIR, else ~/.cache)."""
    base = (
        os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    )
    return Path(base) / "zoho-watch" / "local-stack.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_local_state() -> dict[str, Any]:
    """The running local stack's URLs, or a CliError telling how to start one."""
    path = state_file()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not state or not _pid_alive(int(state.get("pid", 0))):
        raise CliError(
            "no local stack is running: start one with `zoho-watch local up` (or `make local`), "
            "or point at a deployed stack with --stack NAME or --api-url URL"
        )
    return state


@dataclass
class Target:
    """The stack the command talks to: its API, and for `connect` where its secrets are."""

    api: ZohoWatchApi
    secrets: Any  # a boto3 Secrets Manager client
    credentials_secret: str  # name or ARN of the default connection's credentials secret
    secret_prefix: str
    accounts_url: str | None  # the local emulator's, for `connect` on the local stack


def resolve_target(args: argparse.Namespace) -> Target:
    """The local stack by default, else the one named by --stack or --api-url."""
    import boto3

    if args.api_url:
        # The region signs the requests: the option, the AWS configuration, else the API's URL tells it.
        region = args.region or boto3.Session().region_name or region_of_url(args.api_url)
        session = boto3.Session(region_name=region)
        return Target(
            api=ZohoWatchApi(args.api_url, sign=True, region=region),
            secrets=session.client("secretsmanager"),
            credentials_secret=f"{args.secret_prefix}/default/credentials",
            secret_prefix=args.secret_prefix,
            accounts_url=None,
        )
    if args.stack:
        session = boto3.Session(region_name=args.region)
        if session.region_name is None:
            raise CliError(
                f"no AWS region for stack {args.stack}: pass --region or set AWS_REGION", EXIT_USAGE
            )
        try:
            stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        except Exception as error:
            raise CliError(f"cannot read stack {args.stack}: {error}") from None
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        parameters = {
            item["ParameterKey"]: item.get("ParameterValue") for item in stack.get("Parameters", [])
        }
        if "ApiUrl" not in outputs:
            raise CliError(f"stack {args.stack} has no ApiUrl output: is it a zoho-watch stack?")
        prefix = parameters.get("SecretPrefix") or args.secret_prefix
        return Target(
            api=ZohoWatchApi(outputs["ApiUrl"], sign=True, region=session.region_name),
            secrets=session.client("secretsmanager"),
            credentials_secret=outputs.get("CredentialsSecretArn") or f"{prefix}/default/credentials",
            secret_prefix=prefix,
            accounts_url=None,
        )
    state = read_local_state()
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=state["endpoint_url"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )
    return Target(
        api=ZohoWatchApi(state["api_url"]),
        secrets=secrets,
        credentials_secret=f"{state['secret_prefix']}/default/credentials",
        secret_prefix=state["secret_prefix"],
        accounts_url=state["zoho_url"],
    )


# --- commands ------------------------------------------------------------------------------------------


def _validate_job(module: str, job_id: str, kind: str = DEFAULT_KIND) -> None:
    if not re.fullmatch(MODULE_PATTERN, module):
        raise CliError(f"invalid module {module[:40]!r}: letters, digits and _ (e.g. Leads)", EXIT_USAGE)
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise CliError(f"invalid job id {job_id[:40]!r}: digits only", EXIT_USAGE)
    try:
        validate_kind(kind, module)
    except InvalidInput as error:
        raise CliError(str(error), EXIT_USAGE) from None


@contextlib.contextmanager
def embedded_stack_installed(command: str) -> Iterator[None]:
    """The embedded stack's missing packages (installed without the `local` extra) as a clear error."""
    try:
        yield
    except ImportError as error:
        raise CliError(
            f"`zoho-watch {command}` runs the embedded stack, which is not installed here "
            f"({error.name or error} is missing): pip install 'zoho-watch[local]'"
        ) from error


def command_local_up(args: argparse.Namespace, console: Console) -> int:
    """Start the embedded stack, print where it is, run until Ctrl-C (SIGINT) or SIGTERM."""
    with embedded_stack_installed("local up"):
        from fake_zoho.server import StopSignals
        from zoho_watch_local.stack import EmbeddedStack

    stack = EmbeddedStack(
        stack_name=args.stack_name,
        time_scale=args.time_scale,
        aws_port=args.aws_port,
        api_port=args.api_port,
        zoho_port=args.zoho_port,
    )
    with console.status("Starting the embedded stack..."):
        stack.start()
    # Before the state file and URLs appear: whoever reads them may signal at once.
    stop_signals = StopSignals()
    path = state_file()
    try:
        state = {
            "pid": os.getpid(),
            "api_url": stack.api_url,
            "endpoint_url": stack.endpoint_url,
            "zoho_url": stack.zoho.url,
            "region": "us-east-1",
            "stack_name": stack.stack_name,
            "secret_prefix": stack.deployment_parameter("SecretPrefix", "zoho-watch"),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state), encoding="utf-8")
        outputs = stack.outputs
        console.print(f"[bold green]zoho-watch is running locally[/bold green] (stack {stack.stack_name})")
        console.print(f"  API              {stack.api_url}   e.g. curl {stack.api_url}/jobs")
        console.print(f"  AWS (moto)       {stack.endpoint_url}")
        console.print(f"  Zoho emulator    {stack.zoho.url}   (admin: {stack.zoho.url}/__admin/)")
        console.print(f"  State machine    {outputs.get('WatchJobStateMachineArn')}")
        console.print(f"  Table / bus      {outputs.get('JobsTableName')} / {outputs.get('EventBusName')}")
        console.print(f"  Published events are copied to the log group {stack.events_log_group}")
        console.print("Point boto3 or the AWS CLI at it:")
        console.print(
            f"  export AWS_ENDPOINT_URL={stack.endpoint_url} AWS_ACCESS_KEY_ID=testing "
            "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1",
            soft_wrap=True,
        )
        console.print(
            "  aws stepfunctions list-executions --state-machine-arn "
            + str(outputs.get("WatchJobStateMachineArn")),
            soft_wrap=True,
        )
        console.print("Try it: create a job on the emulator, then watch it:")
        console.print(
            f"  curl -s -X POST {stack.zoho.url}/__admin/jobs -H 'Content-Type: application/json' "
            """-d '{"module": "Leads", "total": 500}'""",
            soft_wrap=True,
            markup=False,
        )
        console.print("  zoho-watch watch Leads JOB_ID")
        console.print("Ctrl-C stops everything.")
        stop_signals.wait()
    finally:
        with console.status("Stopping..."):
            stack.stop()
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
    return EXIT_OK


def command_demo(args: argparse.Namespace, console: Console) -> int:
    """The demo of `make demo`."""
    with embedded_stack_installed("demo"):
        from zoho_watch_cli.demo import run_demo

    return run_demo(console, time_scale=args.time_scale)


def command_watch(args: argparse.Namespace, console: Console) -> int:
    """Start watching a job, then draw its progress until it ends."""
    from zoho_watch_cli.progress import WatchedJob, follow, summary_table

    _validate_job(args.module, args.job_id, args.kind)
    target = resolve_target(args)
    bounds = {"min_seconds": args.poll_min, "max_seconds": args.poll_max}
    poll = {key: value for key, value in bounds.items() if value is not None} or None
    answer = target.api.start_watch(
        args.module,
        args.job_id,
        args.kind,
        mode=args.mode,
        deadline=args.deadline,
        poll=poll,
        connection=args.connection,
    )
    console.print(f"{answer.get('message')}: {answer.get('execution_name') or answer.get('mode')}")
    job = WatchedJob(args.module, args.job_id, kind=args.kind)
    states = follow(target.api, [job], console=console, interval=args.interval, timeout=args.timeout)
    console.print(summary_table(states))
    status = (states[job] or {}).get("status")
    return EXIT_OK if status == "COMPLETED" else EXIT_JOB_FAILED


def command_check(args: argparse.Namespace, console: Console) -> int:
    """Check a job on Zoho now (or read the stored state) and print it."""
    _validate_job(args.module, args.job_id, args.kind)
    state = resolve_target(args).api.job(
        args.module, args.job_id, live=not args.stored, kind=args.kind, connection=args.connection
    )
    console.print_json(json.dumps(state))
    return EXIT_OK


def command_jobs(args: argparse.Namespace, console: Console) -> int:
    """List the jobs zoho-watch knows."""
    from rich.table import Table

    kind = None if args.kind == ALL_KINDS else args.kind
    items = resolve_target(args).api.jobs(
        status=args.status, connection=args.connection, limit=args.limit, kind=kind
    )
    table = Table(title=f"{len(items)} job(s)")
    columns = ("module", "job_id", "status", "updated", "failed", "total", "checks", "last checked")
    for column in ("kind", *columns) if kind is None else columns:
        table.add_column(column)
    for item in items:
        counts = item.get("counts") or {}
        table.add_row(
            *([item.get("kind", DEFAULT_KIND)] if kind is None else []),
            item.get("module", ""),
            item.get("job_id", ""),
            str(item.get("status") or "-"),
            str(counts.get("updated") if counts.get("updated") is not None else "-"),
            str(counts.get("failed") if counts.get("failed") is not None else "-"),
            str(counts.get("total") if counts.get("total") is not None else "-"),
            str(item.get("checks", 0)),
            str(item.get("last_checked_at") or "-"),
        )
    console.print(table)
    return EXIT_OK


def command_submit(args: argparse.Namespace, console: Console) -> int:
    """Submit a mass update through zoho-watch; with --watch, follow its job until it ends."""
    from zoho_watch_cli.submit import (
        SubmitUsageError,
        new_idempotency_key,
        request_body,
        show_answer,
        submit_with_retries,
    )

    try:
        body = request_body(args)
    except SubmitUsageError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if args.watch and "ids" in body:
        raise CliError("--watch follows a job: an update by --ids runs at once and has none", EXIT_USAGE)
    target = resolve_target(args)
    answer = submit_with_retries(target.api, body, args.idempotency_key or new_idempotency_key(), console)
    show_answer(answer, console)
    if not args.watch:
        return EXIT_OK
    from zoho_watch_cli.progress import WatchedJob, follow, summary_table

    job = WatchedJob(args.module, answer["job_id"])
    states = follow(target.api, [job], console=console, interval=args.interval, timeout=args.timeout)
    console.print(summary_table(states))
    return EXIT_OK if (states[job] or {}).get("status") == "COMPLETED" else EXIT_JOB_FAILED


def command_connect(args: argparse.Namespace, console: Console) -> int:
    """Exchange a self-client grant code for a refresh token and store the credentials secret."""
    from zoho_watch_cli.connect import ConnectError, exchange_grant_code, store_credentials

    target = resolve_target(args)
    client_secret = args.client_secret or os.environ.get("ZOHO_CLIENT_SECRET")
    if not client_secret:
        client_secret = getpass.getpass("Zoho client secret: ")
    accounts_url = args.accounts_url or (None if args.dc else target.accounts_url)
    try:
        document = exchange_grant_code(
            client_id=args.client_id,
            client_secret=client_secret,
            code=args.code,
            dc=args.dc or "us",
            accounts_url=accounts_url,
        )
    except ConnectError as error:
        raise CliError(str(error)) from None
    name = (
        target.credentials_secret
        if args.connection == "default"
        else f"{target.secret_prefix}/{args.connection}/credentials"
    )
    store_credentials(target.secrets, name, document)
    console.print(
        f"[green]Connected[/green]: credentials stored in the secret {name} (connection {args.connection})."
    )
    console.print(SCOPE_HINT)
    return EXIT_OK


# --- parsing -------------------------------------------------------------------------------------------


# `jobs --kind all`: every kind, with a kind column.
ALL_KINDS = "all"


def add_kind_option(command: argparse.ArgumentParser, *extra: str) -> None:
    """`--kind`: the kind of job, a mass update unless named (`extra`: more choices, such as `all`)."""
    command.add_argument(
        "--kind",
        choices=(*sorted(KINDS), *extra),
        default=DEFAULT_KIND,
        metavar="KIND",
        help=f"the kind of job (default {DEFAULT_KIND}): {', '.join((*sorted(KINDS), *extra))}; module"
        f" `{ORG_MODULE}` for mass_delete_tags, bulk_read, bulk_write, audit_log_export and"
        " transfer_and_delete",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `zoho-watch`."""
    parser = argparse.ArgumentParser(
        prog="zoho-watch", description="Know when a Zoho CRM mass update job has finished."
    )
    where = parser.add_argument_group("which stack (default: the local one started by `zoho-watch local up`)")
    where.add_argument("--stack", help="name of a deployed CloudFormation stack")
    where.add_argument(
        "--api-url", help="base URL of a deployed API, stage included (requests are SigV4-signed)"
    )
    where.add_argument("--region", help="AWS region of the deployed stack (default: your AWS configuration)")
    where.add_argument(
        "--secret-prefix", default="zoho-watch", help="SecretPrefix of the stack (with --api-url)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the embedded stack").add_subparsers(
        dest="local_command", required=True
    )
    up = local.add_parser("up", help="start the embedded stack and keep it running until Ctrl-C")
    up.add_argument("--stack-name", default="zoho-watch-local")
    up.add_argument(
        "--time-scale", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    up.add_argument("--api-port", type=int, default=0, help="port of the local API (default: a free one)")
    up.add_argument("--aws-port", type=int, default=0, help="port of moto (default: a free one)")
    up.add_argument(
        "--zoho-port", type=int, default=0, help="port of the Zoho emulator (default: a free one)"
    )
    up.set_defaults(handler=command_local_up)

    demo = commands.add_parser("demo", help="run the demo on a fresh embedded stack")
    demo.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="run the clock at this many simulated seconds per real second (default: virtual time, which "
        "skips ahead whenever everything waits)",
    )
    demo.set_defaults(handler=command_demo)

    watch = commands.add_parser("watch", help="watch a job and show its progress until it ends")
    watch.add_argument("module")
    watch.add_argument("job_id")
    add_kind_option(watch)
    watch.add_argument("--mode", choices=("stepfunctions", "schedule"), default="stepfunctions")
    watch.add_argument("--deadline", help="stop watching at this ISO-8601 time (stepfunctions mode)")
    watch.add_argument("--poll-min", type=int, help="shortest wait between checks, seconds")
    watch.add_argument("--poll-max", type=int, help="longest wait between checks, seconds")
    watch.add_argument("--connection", help="Zoho connection (default: default)")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between two reads of the API")
    watch.add_argument("--timeout", type=float, help="give up showing progress after this many seconds")
    watch.set_defaults(handler=command_watch)

    check = commands.add_parser("check", help="check a job on Zoho now")
    check.add_argument("module")
    check.add_argument("job_id")
    add_kind_option(check)
    check.add_argument("--stored", action="store_true", help="show the stored state, without calling Zoho")
    check.add_argument("--connection", help="Zoho connection (default: default)")
    check.set_defaults(handler=command_check)

    jobs = commands.add_parser("jobs", help="list the jobs zoho-watch knows")
    jobs.add_argument("--status", help="only jobs in this status (RUNNING, COMPLETED, ...)")
    jobs.add_argument("--connection", help="only jobs of this connection")
    jobs.add_argument("--limit", type=int, default=50)
    add_kind_option(jobs, ALL_KINDS)
    jobs.set_defaults(handler=command_jobs)

    submit = commands.add_parser(
        "submit",
        help="run a mass update through zoho-watch, with its Zoho tokens",
        description="Schedule a Zoho CRM mass update with zoho-watch's own tokens (POST /mass-updates): a "
        "custom view or a territory becomes a job that zoho-watch watches; up to 500 record ids are updated "
        "at once. The connection needs the scope ZohoCRM.mass_update.UPDATE (or .ALL).",
    )
    submit.add_argument("module", help="module API name, e.g. Leads")
    records = submit.add_mutually_exclusive_group(required=True)
    records.add_argument("--cvid", help="custom view id: the records of the view (a background job)")
    records.add_argument("--territory", help="territory id: the territory's records (a background job)")
    records.add_argument("--ids", help="record ids separated by commas (at most 500; updated at once)")
    submit.add_argument(
        "--include-child", action="store_true", help="with --territory: its child territories too"
    )
    submit.add_argument("--set", action="append", metavar="FIELD=TEXT", help="set a field to a text")
    submit.add_argument(
        "--set-json", action="append", metavar="FIELD=JSON", help="set a field to a JSON value (numbers...)"
    )
    overwrite = submit.add_mutually_exclusive_group()
    overwrite.add_argument("--over-write", dest="over_write", action="store_true", default=None)
    overwrite.add_argument("--no-over-write", dest="over_write", action="store_false")
    submit.add_argument("--connection", help="Zoho connection (default: default)")
    submit.add_argument("--mode", choices=("stepfunctions", "schedule"), default="stepfunctions")
    submit.add_argument(
        "--idempotency-key", help="sending the same key again never schedules twice (default: one per run)"
    )
    submit.add_argument("--watch", action="store_true", help="follow the job until it ends")
    submit.add_argument("--interval", type=float, default=1.0, help="seconds between two reads of the API")
    submit.add_argument("--timeout", type=float, help="give up showing progress after this many seconds")
    submit.set_defaults(handler=command_submit)

    connect = commands.add_parser(
        "connect",
        help="store Zoho credentials from a self-client grant code",
        description="Exchange a Zoho self-client grant code for the credentials secret. " + SCOPE_HINT,
    )
    connect.add_argument("--client-id", required=True)
    connect.add_argument(
        "--client-secret", help="the client secret (default: $ZOHO_CLIENT_SECRET, else asked without echo)"
    )
    connect.add_argument(
        "--code", required=True, help="the grant code from the Zoho API console (valid minutes)"
    )
    connect.add_argument("--dc", help="Zoho data centre: us, eu, in, au, jp, cn, ca, sa (default us)")
    connect.add_argument(
        "--accounts-url", help="Zoho Accounts URL (overrides --dc; default locally: the emulator)"
    )
    connect.add_argument("--connection", default="default")
    connect.set_defaults(handler=command_connect)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a console script, exits with) the exit status."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 130)
    try:
        return int(args.handler(args, console))
    except CliError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        return error.status
    except ApiError as error:
        console.print(f"[red]API error:[/red] {escape(str(error))}")
        return EXIT_USAGE if 400 <= error.status < 500 else EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
