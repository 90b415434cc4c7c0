from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.vendor_code import VendorCode

if TYPE_CHECKING:
    from ..models.payment_cancel import PaymentCancel
    from ..models.vendor import Vendor


T = TypeVar("T", bound="PaymentHistorySnapshot")


@_attrs_define
class PaymentHistorySnapshot:
    """A payment as a webhook shows it: the payment history without `source` (the
    webhook body carries the source once, beside the two snapshots).

        Attributes:
            cancelled_at (datetime.datetime | None): When the payment was first cancelled; `null` if never.
            cancels (list[PaymentCancel]): Every cancellation, completed (`done`) and `pending`, oldest first.
            created_at (datetime.datetime): When the payment was registered here.
            currency (str): ISO 4217 currency code.
            data (Any): The PG's own JSON for the payment, unchanged.
            id (UUID): Our id of the record.
            paid_at (datetime.datetime | None): When the money arrived; `null` while a virtual account awaits its deposit.
            price (float): The amount paid (or requested).
            refund (float | None): The sum of every cancel; `null` while nothing was refunded.
            vendor (Vendor): The PG side of a record.
            vendor_code (VendorCode): The wire spelling of a PG.
            webhook_url (str): Where changes of this payment are POSTed.
    """

    cancelled_at: datetime.datetime | None
    cancels: list[PaymentCancel]
    created_at: datetime.datetime
    currency: str
    data: Any
    id: UUID
    paid_at: datetime.datetime | None
    price: float
    refund: float | None
    vendor: Vendor
    vendor_code: VendorCode
    webhook_url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cancelled_at: None | str
        if isinstance(self.cancelled_at, datetime.datetime):
            cancelled_at = self.cancelled_at.isoformat()
        else:
            cancelled_at = self.cancelled_at

        cancels = []
        for cancels_item_data in self.cancels:
            cancels_item = cancels_item_data.to_dict()
            cancels.append(cancels_item)

        created_at = self.created_at.isoformat()

        currency = self.currency

        data = self.data

        id = str(self.id)

        paid_at: None | str
        if isinstance(self.paid_at, datetime.datetime):
            paid_at = self.paid_at.isoformat()
        else:
            paid_at = self.paid_at

        price = self.price

        refund: float | None
        refund = self.refund

        vendor = self.vendor.to_dict()

        vendor_code = self.vendor_code.value

        webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancelled_at": cancelled_at,
                "cancels": cancels,
                "created_at": created_at,
                "currency": currency,
                "data": data,
                "id": id,
                "paid_at": paid_at,
                "price": price,
                "refund": refund,
                "vendor": vendor,
                "vendor_code": vendor_code,
                "webhook_url": webhook_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_cancel import PaymentCancel
        from ..models.vendor import Vendor

        d = dict(src_dict)

        def _parse_cancelled_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                cancelled_at_type_0 = datetime.datetime.fromisoformat(data)

                return cancelled_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        cancelled_at = _parse_cancelled_at(d.pop("cancelled_at"))

        cancels = []
        _cancels = d.pop("cancels")
        for cancels_item_data in _cancels:
            cancels_item = PaymentCancel.from_dict(cancels_item_data)

            cancels.append(cancels_item)

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        currency = d.pop("currency")

        data = d.pop("data")

        id = UUID(d.pop("id"))

        def _parse_paid_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                paid_at_type_0 = datetime.datetime.fromisoformat(data)

                return paid_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        paid_at = _parse_paid_at(d.pop("paid_at"))

        price = d.pop("price")

        def _parse_refund(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        refund = _parse_refund(d.pop("refund"))

        vendor = Vendor.from_dict(d.pop("vendor"))

        vendor_code = VendorCode(d.pop("vendor_code"))

        webhook_url = d.pop("webhook_url")

        payment_history_snapshot = cls(
            cancelled_at=cancelled_at,
            cancels=cancels,
            created_at=created_at,
            currency=currency,
            data=data,
            id=id,
            paid_at=paid_at,
            price=price,
            refund=refund,
            vendor=vendor,
            vendor_code=vendor_code,
            webhook_url=webhook_url,
        )

        payment_history_snapshot.additional_properties = d
        return payment_history_snapshot

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
