from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.source import Source


T = TypeVar("T", bound="ChargePaymentReservation")


@_attrs_define
class ChargePaymentReservation:
    """Charges a saved card: a new payment of the caller's record `source`.

    Attributes:
        password (str): The saved card's password; the new payment opens with it too.
        price (float): The amount to charge.
        source (Source): The caller's own record a payment or saved card belongs to.
        title (str): What the customer sees the payment as (Toss `orderName`, Iamport `name`).
        webhook_url (str): Where to POST (encrypted) every later change of this payment.
    """

    password: str
    price: float
    source: Source
    title: str
    webhook_url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        password = self.password

        price = self.price

        source = self.source.to_dict()

        title = self.title

        webhook_url = self.webhook_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "password": password,
                "price": price,
                "source": source,
                "title": title,
                "webhook_url": webhook_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source

        d = dict(src_dict)
        password = d.pop("password")

        price = d.pop("price")

        source = Source.from_dict(d.pop("source"))

        title = d.pop("title")

        webhook_url = d.pop("webhook_url")

        charge_payment_reservation = cls(
            password=password,
            price=price,
            source=source,
            title=title,
            webhook_url=webhook_url,
        )

        charge_payment_reservation.additional_properties = d
        return charge_payment_reservation

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
