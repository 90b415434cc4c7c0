from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.payment_history_snapshot import PaymentHistorySnapshot
    from ..models.source import Source


T = TypeVar("T", bound="WebhookBody")


@_attrs_define
class WebhookBody:
    """The body POSTed (encrypted) to a history's `webhook_url` on each change.

    Attributes:
        current (PaymentHistorySnapshot): A payment as a webhook shows it: the payment history without `source` (the
            webhook body carries the source once, beside the two snapshots).
        id (UUID): The event id; also the `webhook-id` header, the same for every retry,
            so receivers can de-duplicate.
        previous (None | PaymentHistorySnapshot): The payment before the change; `null` when the payment is announced
            as it was recorded with no request answered (an order completed by
            the PG's notification or the reconciler, a charge whose answer was
            lost).
        source (Source): The caller's own record a payment or saved card belongs to.
    """

    current: PaymentHistorySnapshot
    id: UUID
    previous: None | PaymentHistorySnapshot
    source: Source
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.payment_history_snapshot import PaymentHistorySnapshot

        current = self.current.to_dict()

        id = str(self.id)

        previous: dict[str, Any] | None
        if isinstance(self.previous, PaymentHistorySnapshot):
            previous = self.previous.to_dict()
        else:
            previous = self.previous

        source = self.source.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "current": current,
                "id": id,
                "previous": previous,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_history_snapshot import PaymentHistorySnapshot
        from ..models.source import Source

        d = dict(src_dict)
        current = PaymentHistorySnapshot.from_dict(d.pop("current"))

        id = UUID(d.pop("id"))

        def _parse_previous(data: object) -> None | PaymentHistorySnapshot:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                previous_type_1 = PaymentHistorySnapshot.from_dict(data)

                return previous_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PaymentHistorySnapshot, data)

        previous = _parse_previous(d.pop("previous"))

        source = Source.from_dict(d.pop("source"))

        webhook_body = cls(
            current=current,
            id=id,
            previous=previous,
            source=source,
        )

        webhook_body.additional_properties = d
        return webhook_body

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
