"""Jobs of every kind (`fake_zoho.kinds`): creation, ids like Zoho's, their status at any emulated time."""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .config import MODULE_NAME
from .kinds import MASS_UPDATE, MAX_TOTAL, check_job
from .profile import JobProfile, JobTimeline


@dataclass
class Job:
    """One scheduled job (a mass update unless ``kind`` says otherwise)."""

    job_id: str
    module: str
    total: int
    profile: JobProfile
    created_at: float
    timeline: JobTimeline
    cvid: str | None = None
    kind: str = MASS_UPDATE  # or another kind (fake_zoho.kinds)
    # What its creation call asked for, where the kind's status reply shows it (a bulk read's query, a bulk
    # write's files...); empty for a job made from Python, whose replies then use defaults.
    details: dict[str, Any] = field(default_factory=dict)

    def body(self, now: float) -> dict[str, Any]:
        """The status body's data[0] at emulated time ``now``."""
        return self.timeline.body(now - self.created_at)

    def finished_at(self, now: float) -> float | None:
        """Emulated time the job reached its terminal status, or None if it has not (yet)."""
        after = self.timeline.finishes_after()
        if after is None or self.created_at + after > now:
            return None
        return self.created_at + after


class JobBook:
    """Every job of the emulated org, keyed by job_id."""

    def __init__(self, clock: Clock, id_seed: Callable[[], int | None] = lambda: None) -> None:
        """`id_seed()` is read at each reset: the seed of the id series, or None for a random one."""
        self._clock = clock
        self._id_seed = id_seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every job; start a new id series (an org-like prefix plus a growing sequence)."""
        with self._lock:
            self._jobs: dict[str, Job] = {}
            seed = self._id_seed()
            self._ids = secrets.SystemRandom() if seed is None else random.Random(seed)
            # Zoho ids look like 554023000000506003: an org part, zeros, then a sequence.
            self._prefix = str(self._ids.randrange(900_000) + 100_000) + "000"
            self._sequence = 500_000 + self._ids.randrange(400_000)

    def _next_id(self) -> str:
        self._sequence += 1 + self._ids.randrange(9)
        return f"{self._prefix}{self._sequence:09d}"

    def new_id(self) -> str:
        """A new id of the org's series (for things other than jobs: uploaded files), like Zoho's."""
        with self._lock:
            return self._next_id()

    def create(
        self,
        module: str,
        total: int,
        profile: JobProfile | None = None,
        cvid: str | None = None,
        kind: str = MASS_UPDATE,
        details: dict[str, Any] | None = None,
    ) -> Job:
        """Schedule a job of ``kind`` over ``total`` records of ``module`` ("org" for the org-level kinds),
        starting now, following ``profile``; ``details`` are what its creation call asked for."""
        if not isinstance(module, str) or not MODULE_NAME.match(module):
            raise ValueError(
                f"module must be a module API name (letters, digits, underscores), got {module!r}"
            )
        check_job(kind, module)
        most = MAX_TOTAL[kind]
        if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= most:
            raise ValueError(f"total must be an integer between 0 and {most}, got {total!r}")
        if profile is None:
            profile = JobProfile()
        if not isinstance(profile, JobProfile):
            raise ValueError("profile must be a JobProfile")
        with self._lock:
            job_id = self._next_id()
            # The seed only shapes irregular progress; deriving it from the id keeps a job reproducible.
            timeline = JobTimeline(total, profile, seed=random.Random(job_id).getrandbits(32))
            job = Job(job_id, module, total, profile, self._clock.now(), timeline, cvid, kind, details or {})
            self._jobs[job_id] = job
        return job

    def get(self, job_id: str) -> Job:
        """The job with this id, or KeyError."""
        with self._lock:
            if job_id not in self._jobs:
                raise KeyError(f"unknown job_id {job_id!r}")
            return self._jobs[job_id]

    def find(self, module: str, job_id: str, kind: str = MASS_UPDATE) -> Job | None:
        """The job of ``kind`` if it exists in ``module`` (module names compare case-insensitively)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.module.lower() != module.lower() or job.kind != kind:
            return None
        return job

    def busy_with_cvid(self, module: str, cvid: str) -> Job | None:
        """A job over this custom view that has not reached a terminal status yet, if any."""
        now = self._clock.now()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            same_view = job.cvid == cvid and job.module.lower() == module.lower() and job.kind == MASS_UPDATE
            if same_view and job.body(now)["Status"] not in ("COMPLETED", "FAILED"):
                return job
        return None

    def all(self) -> list[Job]:
        """Every job, oldest first."""
        with self._lock:
            return list(self._jobs.values())
