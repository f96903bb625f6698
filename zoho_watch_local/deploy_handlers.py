"""What a group of the embedded deploy's resource handlers shares: the deployer's client, its record of what
was created, and its naming of unnamed resources (`zoho_watch_local.deploy`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[str, dict[str, Any]], None]


class ResourceHandlers:
    """A group of handlers, one per CloudFormation resource type, on the deployer's own functions."""

    def __init__(
        self,
        client: Callable[[str], Any],
        record: Callable[..., None],
        generated_name: Callable[..., str],
    ) -> None:
        """The deployer's own `client(service)`, `record(logical_id, ref, **attributes)` and
        `generated_name(logical_id, limit)`."""
        self._client = client
        self._record = record
        self._generated_name = generated_name

    def handlers(self) -> dict[str, Handler]:
        """The handler of each resource type, by type."""
        raise NotImplementedError
