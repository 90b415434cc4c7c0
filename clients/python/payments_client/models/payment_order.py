from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.payment_order_state import PaymentOrderState
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_vendor import OrderVendor
    from ..models.payment_order_pg import PaymentOrderPg
    from ..models.source import Source


T = TypeVar("T", bound="PaymentOrder")


@_attrs_define
class PaymentOrder:
    """An order.

    Attributes:
        created_at (datetime.datetime): When it was registered.
        currency (str): ISO 4217 currency code.
        expires_at (datetime.datetime): When it expires (or expired) unless paid.
        id (UUID): Our id of the order.
        pg (PaymentOrderPg): What the PG's window needs to pay an order.
        price (float): The amount the order is for.
        source (Source): The caller's own record a payment or saved card belongs to.
        state (PaymentOrderState): Where an order stands.
        vendor (OrderVendor): The PG and store an order will be paid at.
        webhook_url (str): Where its payment is announced.
        closed_at (datetime.datetime | None | Unset): When it was completed, refused or closed as expired; `null`
            before.
        history_id (None | Unset | UUID): The payment history its payment is recorded as; `null` until paid.
        refusal (None | str | Unset): Why it was refused; `null` unless refused.
    """

    created_at: datetime.datetime
    currency: str
    expires_at: datetime.datetime
    id: UUID
    pg: PaymentOrderPg
    price: float
    source: Source
    state: PaymentOrderState
    vendor: OrderVendor
    webhook_url: str
    closed_at: datetime.datetime | None | Unset = UNSET
    history_id: None | Unset | UUID = UNSET
    refusal: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        currency = self.currency

        expires_at = self.expires_at.isoformat()

        id = str(self.id)

        pg = self.pg.to_dict()

        price = self.price

        source = self.source.to_dict()

        state = self.state.value

        vendor = self.vendor.to_dict()

        webhook_url = self.webhook_url

        closed_at: None | str | Unset
        if isinstance(self.closed_at, Unset):
            closed_at = UNSET
        elif isinstance(self.closed_at, datetime.datetime):
            closed_at = self.closed_at.isoformat()
        else:
            closed_at = self.closed_at

        history_id: None | str | Unset
        if isinstance(self.history_id, Unset):
            history_id = UNSET
        elif isinstance(self.history_id, UUID):
            history_id = str(self.history_id)
        else:
            history_id = self.history_id

        refusal: None | str | Unset
        if isinstance(self.refusal, Unset):
            refusal = UNSET
        else:
            refusal = self.refusal

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "currency": currency,
                "expires_at": expires_at,
                "id": id,
                "pg": pg,
                "price": price,
                "source": source,
                "state": state,
                "vendor": vendor,
                "webhook_url": webhook_url,
            }
        )
        if closed_at is not UNSET:
            field_dict["closed_at"] = closed_at
        if history_id is not UNSET:
            field_dict["history_id"] = history_id
        if refusal is not UNSET:
            field_dict["refusal"] = refusal

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.order_vendor import OrderVendor
        from ..models.payment_order_pg import PaymentOrderPg
        from ..models.source import Source

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        currency = d.pop("currency")

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        id = UUID(d.pop("id"))

        pg = PaymentOrderPg.from_dict(d.pop("pg"))

        price = d.pop("price")

        source = Source.from_dict(d.pop("source"))

        state = PaymentOrderState(d.pop("state"))

        vendor = OrderVendor.from_dict(d.pop("vendor"))

        webhook_url = d.pop("webhook_url")

        def _parse_closed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                closed_at_type_0 = datetime.datetime.fromisoformat(data)

                return closed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        closed_at = _parse_closed_at(d.pop("closed_at", UNSET))

        def _parse_history_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                history_id_type_0 = UUID(data)

                return history_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        history_id = _parse_history_id(d.pop("history_id", UNSET))

        def _parse_refusal(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        refusal = _parse_refusal(d.pop("refusal", UNSET))

        payment_order = cls(
            created_at=created_at,
            currency=currency,
            expires_at=expires_at,
            id=id,
            pg=pg,
            price=price,
            source=source,
            state=state,
            vendor=vendor,
            webhook_url=webhook_url,
            closed_at=closed_at,
            history_id=history_id,
            refusal=refusal,
        )

        payment_order.additional_properties = d
        return payment_order

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
