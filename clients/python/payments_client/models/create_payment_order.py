from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_vendor import OrderVendor
    from ..models.source import Source


T = TypeVar("T", bound="CreatePaymentOrder")


@_attrs_define
class CreatePaymentOrder:
    """Registers an order before the customer's window opens.

    Attributes:
        password (str): A password of the caller's choosing: it opens the order and the
            payment history the order completes as.
        price (float): The amount the window must charge: locked at the PG where it offers
            that (PortOne pre-register, Iamport prepare).
        source (Source): The caller's own record a payment or saved card belongs to.
        vendor (OrderVendor): The PG and store an order will be paid at.
        webhook_url (str): Where to POST (encrypted) the payment when the order completes, and
            every later change of it.
        currency (None | str | Unset): ISO 4217 currency code; `KRW` when absent.
        expires_in (int | None | Unset): Seconds the order may wait for its payment (60 to 604800; 3600 when
            absent). A payment made after it expired does not complete it.
    """

    password: str
    price: float
    source: Source
    vendor: OrderVendor
    webhook_url: str
    currency: None | str | Unset = UNSET
    expires_in: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        password = self.password

        price = self.price

        source = self.source.to_dict()

        vendor = self.vendor.to_dict()

        webhook_url = self.webhook_url

        currency: None | str | Unset
        if isinstance(self.currency, Unset):
            currency = UNSET
        else:
            currency = self.currency

        expires_in: int | None | Unset
        if isinstance(self.expires_in, Unset):
            expires_in = UNSET
        else:
            expires_in = self.expires_in

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "password": password,
                "price": price,
                "source": source,
                "vendor": vendor,
                "webhook_url": webhook_url,
            }
        )
        if currency is not UNSET:
            field_dict["currency"] = currency
        if expires_in is not UNSET:
            field_dict["expires_in"] = expires_in

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.order_vendor import OrderVendor
        from ..models.source import Source

        d = dict(src_dict)
        password = d.pop("password")

        price = d.pop("price")

        source = Source.from_dict(d.pop("source"))

        vendor = OrderVendor.from_dict(d.pop("vendor"))

        webhook_url = d.pop("webhook_url")

        def _parse_currency(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        currency = _parse_currency(d.pop("currency", UNSET))

        def _parse_expires_in(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        expires_in = _parse_expires_in(d.pop("expires_in", UNSET))

        create_payment_order = cls(
            password=password,
            price=price,
            source=source,
            vendor=vendor,
            webhook_url=webhook_url,
            currency=currency,
            expires_in=expires_in,
        )

        create_payment_order.additional_properties = d
        return create_payment_order

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
