from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.cpu_usage import CpuUsage
    from ..models.memory_usage import MemoryUsage
    from ..models.outbox_stats import OutboxStats
    from ..models.reconciler_run import ReconcilerRun


T = TypeVar("T", bound="Performance")


@_attrs_define
class Performance:
    """How this process is doing.

    Attributes:
        cpu (CpuUsage | None): CPU time used; `null` where the platform does not tell.
        memory (MemoryUsage | None): Memory held; `null` where the platform does not tell.
        outbox (None | OutboxStats): The webhook delivery queue; `null` when this process does not deliver.
        reconciler (None | ReconcilerRun): The last reconciliation this process ran; `null` before the first.
        uptime_seconds (int): Seconds since the process started.
    """

    cpu: CpuUsage | None
    memory: MemoryUsage | None
    outbox: None | OutboxStats
    reconciler: None | ReconcilerRun
    uptime_seconds: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.cpu_usage import CpuUsage
        from ..models.memory_usage import MemoryUsage
        from ..models.outbox_stats import OutboxStats
        from ..models.reconciler_run import ReconcilerRun

        cpu: dict[str, Any] | None
        if isinstance(self.cpu, CpuUsage):
            cpu = self.cpu.to_dict()
        else:
            cpu = self.cpu

        memory: dict[str, Any] | None
        if isinstance(self.memory, MemoryUsage):
            memory = self.memory.to_dict()
        else:
            memory = self.memory

        outbox: dict[str, Any] | None
        if isinstance(self.outbox, OutboxStats):
            outbox = self.outbox.to_dict()
        else:
            outbox = self.outbox

        reconciler: dict[str, Any] | None
        if isinstance(self.reconciler, ReconcilerRun):
            reconciler = self.reconciler.to_dict()
        else:
            reconciler = self.reconciler

        uptime_seconds = self.uptime_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cpu": cpu,
                "memory": memory,
                "outbox": outbox,
                "reconciler": reconciler,
                "uptime_seconds": uptime_seconds,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.cpu_usage import CpuUsage
        from ..models.memory_usage import MemoryUsage
        from ..models.outbox_stats import OutboxStats
        from ..models.reconciler_run import ReconcilerRun

        d = dict(src_dict)

        def _parse_cpu(data: object) -> CpuUsage | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                cpu_type_1 = CpuUsage.from_dict(data)

                return cpu_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CpuUsage | None, data)

        cpu = _parse_cpu(d.pop("cpu"))

        def _parse_memory(data: object) -> MemoryUsage | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                memory_type_1 = MemoryUsage.from_dict(data)

                return memory_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MemoryUsage | None, data)

        memory = _parse_memory(d.pop("memory"))

        def _parse_outbox(data: object) -> None | OutboxStats:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                outbox_type_1 = OutboxStats.from_dict(data)

                return outbox_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OutboxStats, data)

        outbox = _parse_outbox(d.pop("outbox"))

        def _parse_reconciler(data: object) -> None | ReconcilerRun:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                reconciler_type_1 = ReconcilerRun.from_dict(data)

                return reconciler_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReconcilerRun, data)

        reconciler = _parse_reconciler(d.pop("reconciler"))

        uptime_seconds = d.pop("uptime_seconds")

        performance = cls(
            cpu=cpu,
            memory=memory,
            outbox=outbox,
            reconciler=reconciler,
            uptime_seconds=uptime_seconds,
        )

        performance.additional_properties = d
        return performance

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
