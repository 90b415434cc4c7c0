from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.payment_cancel_status import PaymentCancelStatus

T = TypeVar("T", bound="PaymentCancel")


@_attrs_define
class PaymentCancel:
    """One (partial or full) cancellation of a payment.

    Attributes:
        created_at (datetime.datetime): When the PG cancelled (pending: when it was asked).
        price (float): Amount refunded (or, pending, to be refunded) by this cancel.
        reason (str): Why the payment was cancelled.
        status (PaymentCancelStatus): Where a cancellation stands.
    """

    created_at: datetime.datetime
    price: float
    reason: str
    status: PaymentCancelStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        price = self.price

        reason = self.reason

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "price": price,
                "reason": reason,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        price = d.pop("price")

        reason = d.pop("reason")

        status = PaymentCancelStatus(d.pop("status"))

        payment_cancel = cls(
            created_at=created_at,
            price=price,
            reason=reason,
            status=status,
        )

        payment_cancel.additional_properties = d
        return payment_cancel

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
