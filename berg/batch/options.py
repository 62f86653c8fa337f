"""How a batch runs: :class:`BatchOptions`, checked once when built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from berg.batch.engines import ENGINES
from berg.errors import InvalidParameterError
from berg.validation import check_bool, check_choice, check_int, check_number

__all__ = ["BatchOptions"]

#: Options that only the Ray engine has.
_RAY_ONLY = ("ray_address", "workers", "cpus_per_worker", "memory_per_worker_gb")


@dataclass(frozen=True)
class BatchOptions:
    """The engine of a batch, its workers, the formats written, whether failures are retried.

    The meaning of each field is in ``BERG.encode_many``.

    Raises
    ------
    InvalidParameterError
        An unknown engine or format (with the close match), a bad number, or a Ray option
        given to the sequential engine.
    MissingDependencyError
        ``engine='ray'`` without Ray installed.
    """

    engine: str = "sequential"
    ray_address: str | None = None
    workers: int | None = None
    cpus_per_worker: float | None = None
    memory_per_worker_gb: float | None = None
    formats: Sequence[str] | None = None
    retry_failed: bool = False

    def __post_init__(self) -> None:
        from berg.io import check_formats

        check_choice("engine", self.engine, ENGINES)
        check_int("workers", self.workers, none="one per GPU or CPU slot")
        check_number(
            "cpus_per_worker", self.cpus_per_worker, positive=True, none="chosen from the cluster"
        )
        check_number(
            "memory_per_worker_gb",
            self.memory_per_worker_gb,
            positive=True,
            none="measured on one worker",
        )
        object.__setattr__(self, "formats", check_formats(self.formats))
        check_bool("retry_failed", self.retry_failed)
        if self.engine == "ray":
            from berg.batch.engines import import_ray

            import_ray()  # a missing Ray is reported before any work
        else:
            for name in _RAY_ONLY:
                if getattr(self, name) is not None:
                    raise InvalidParameterError(
                        f"{name} is for engine='ray' (--ray on the command line); the "
                        "sequential engine is one worker in this process"
                    )

    @property
    def memory_per_worker_bytes(self) -> int | None:
        gb = self.memory_per_worker_gb
        return None if gb is None else int(gb * 1e9)
