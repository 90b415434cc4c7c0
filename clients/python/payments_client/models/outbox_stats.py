from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="OutboxStats")


@_attrs_define
class OutboxStats:
    """The queue of outgoing webhook deliveries.

    Attributes:
        delivered (int): Deliveries done.
        failed (int): Deliveries given up on (until an operator redelivers them).
        oldest_pending_age_seconds (int | None): Age in seconds of the oldest delivery not yet done or given up; `null`
            when none.
        pending (int): Deliveries never attempted yet.
        retrying (int): Deliveries attempted and scheduled again.
    """

    delivered: int
    failed: int
    oldest_pending_age_seconds: int | None
    pending: int
    retrying: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        delivered = self.delivered

        failed = self.failed

        oldest_pending_age_seconds: int | None
        oldest_pending_age_seconds = self.oldest_pending_age_seconds

        pending = self.pending

        retrying = self.retrying

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "delivered": delivered,
                "failed": failed,
                "oldest_pending_age_seconds": oldest_pending_age_seconds,
                "pending": pending,
                "retrying": retrying,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        delivered = d.pop("delivered")

        failed = d.pop("failed")

        def _parse_oldest_pending_age_seconds(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        oldest_pending_age_seconds = _parse_oldest_pending_age_seconds(
            d.pop("oldest_pending_age_seconds")
        )

        pending = d.pop("pending")

        retrying = d.pop("retrying")

        outbox_stats = cls(
            delivered=delivered,
            failed=failed,
            oldest_pending_age_seconds=oldest_pending_age_seconds,
            pending=pending,
            retrying=retrying,
        )

        outbox_stats.additional_properties = d
        return outbox_stats

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
