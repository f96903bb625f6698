"""What watching a job uses on AWS, priced: public list prices (us-east-1) and `Usage`, the counted use of one
watch (state transitions, Lambda requests and GB-seconds, DynamoDB request units, Secrets Manager calls,
EventBridge events) with its arithmetic. Shared by the cost of both modes and the scale figures."""

from __future__ import annotations

from dataclasses import dataclass, field

PRICE_TRANSITION = 0.000025
PRICE_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_GB_SECOND = 0.0000166667
PRICE_SECRETS_CALL = 0.05 / 10_000
PRICE_EVENT = 1.00 / 1_000_000
PRICE_WRITE_UNIT = 0.625 / 1_000_000  # DynamoDB on-demand, us-east-1
PRICE_READ_UNIT = 0.125 / 1_000_000


@dataclass
class Usage:
    """What watching the job used (per job: a share of a sweep run is a fraction, hence the floats).

    `invocations` (Lambda requests) defaults to `checks`, `billed_ms` (all of them) to checks x `lambda_ms`;
    `retry_transitions` are the expected retries' transitions at the stated fault rate (computed).
    """

    checks: int
    transitions: int
    lambda_ms: int
    memory_mb: int
    write_units: float
    read_units: float
    secrets_calls: float
    events: float
    detail: dict[str, int] = field(default_factory=dict)
    invocations: float | None = None
    billed_ms: float | None = None
    retry_transitions: float = 0.0
    states: dict[str, int] = field(default_factory=dict)

    @property
    def gb_seconds(self) -> float:
        """Billed Lambda GB-seconds."""
        billed = self.checks * self.lambda_ms if self.billed_ms is None else self.billed_ms
        return billed / 1000 * self.memory_mb / 1024

    def lines(self) -> list[tuple[str, str, float]]:
        """(item, arithmetic, dollars) for each priced item."""
        requests = self.checks if self.invocations is None else self.invocations
        transitions = self.transitions + self.retry_transitions
        retries = f" + {self.retry_transitions:.1f} retries" if self.retry_transitions else ""
        if self.billed_ms is None:
            billed = f"{self.checks} x {self.lambda_ms} ms"
        else:
            billed = f"{self.billed_ms / 1000:.1f} s"
        return [
            (
                "Step Functions transitions",
                f"{self.transitions}{retries} x $0.000025",
                transitions * PRICE_TRANSITION,
            ),
            ("Lambda requests", f"{requests:g} x $0.20/1M", requests * PRICE_LAMBDA_REQUEST),
            (
                "Lambda GB-seconds",
                f"{billed} x {self.memory_mb / 1024:g} GB = {self.gb_seconds:.2f} GB-s x $0.0000166667",
                self.gb_seconds * PRICE_GB_SECOND,
            ),
            ("DynamoDB writes", f"{self.write_units:g} WRU x $0.625/1M", self.write_units * PRICE_WRITE_UNIT),
            ("DynamoDB reads", f"{self.read_units:g} RRU x $0.125/1M", self.read_units * PRICE_READ_UNIT),
            (
                "Secrets Manager",
                f"{self.secrets_calls:g} calls x $0.05/10k",
                self.secrets_calls * PRICE_SECRETS_CALL,
            ),
            ("EventBridge", f"{self.events:g} events x $1.00/1M", self.events * PRICE_EVENT),
        ]

    @property
    def dollars(self) -> float:
        """Total cost."""
        return sum(price for *_, price in self.lines())
