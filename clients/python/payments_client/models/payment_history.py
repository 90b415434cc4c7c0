from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.vendor_code import VendorCode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.payment_cancel import PaymentCancel
    from ..models.source import Source
    from ..models.vendor import Vendor


T = TypeVar("T", bound="PaymentHistory")


@_attrs_define
class PaymentHistory:
    """A registered payment.

    Attributes:
        cancelled_at (datetime.datetime | None): When the payment was first cancelled; `null` if never.
        cancels (list[PaymentCancel]): Every cancellation, completed (`done`) and `pending`, oldest first.
        created_at (datetime.datetime): When the payment was registered here.
        currency (str): ISO 4217 currency code (`KRW`, `USD`).
        data (Any): The PG's own JSON for the payment, unchanged (its shape depends on the PG).
        id (UUID): Our id of the record.
        paid_at (datetime.datetime | None): When the money arrived; `null` while a virtual account awaits its deposit.
        price (float): The amount paid (or, for a virtual account, requested).
        refund (float | None): The sum of every cancel; `null` while nothing was refunded.
        source (Source): The caller's own record a payment or saved card belongs to.
        vendor (Vendor): The PG side of a record.
        vendor_code (VendorCode): The wire spelling of a PG.
        webhook_url (str): Where changes of this payment are POSTed.
        reservation_id (None | Unset | UUID): The saved card this payment was charged from; absent for a payment
            made in the PG's window.
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
    source: Source
    vendor: Vendor
    vendor_code: VendorCode
    webhook_url: str
    reservation_id: None | Unset | UUID = UNSET
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

        source = self.source.to_dict()

        vendor = self.vendor.to_dict()

        vendor_code = self.vendor_code.value

        webhook_url = self.webhook_url

        reservation_id: None | str | Unset
        if isinstance(self.reservation_id, Unset):
            reservation_id = UNSET
        elif isinstance(self.reservation_id, UUID):
            reservation_id = str(self.reservation_id)
        else:
            reservation_id = self.reservation_id

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
                "source": source,
                "vendor": vendor,
                "vendor_code": vendor_code,
                "webhook_url": webhook_url,
            }
        )
        if reservation_id is not UNSET:
            field_dict["reservation_id"] = reservation_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.payment_cancel import PaymentCancel
        from ..models.source import Source
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

        source = Source.from_dict(d.pop("source"))

        vendor = Vendor.from_dict(d.pop("vendor"))

        vendor_code = VendorCode(d.pop("vendor_code"))

        webhook_url = d.pop("webhook_url")

        def _parse_reservation_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                reservation_id_type_0 = UUID(data)

                return reservation_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        reservation_id = _parse_reservation_id(d.pop("reservation_id", UNSET))

        payment_history = cls(
            cancelled_at=cancelled_at,
            cancels=cancels,
            created_at=created_at,
            currency=currency,
            data=data,
            id=id,
            paid_at=paid_at,
            price=price,
            refund=refund,
            source=source,
            vendor=vendor,
            vendor_code=vendor_code,
            webhook_url=webhook_url,
            reservation_id=reservation_id,
        )

        payment_history.additional_properties = d
        return payment_history

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
