from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.source import Source
    from ..models.vendor_input import VendorInput


T = TypeVar("T", bound="CreatePaymentHistory")


@_attrs_define
class CreatePaymentHistory:
    """Registers a payment the customer has just made in the PG's popup.

    Attributes:
        password (str): A password of the caller's choosing, needed to read the record back.
        price (float): The amount the caller expects was charged. When the PG says otherwise,
            the payment is cancelled at the PG and the request fails with 422.
        source (Source): The caller's own record a payment or saved card belongs to.
        vendor (VendorInput): The PG side of a payment or saved card, as the PG's popup reported it.
        webhook_url (str): Where to POST (encrypted) every later change of this payment.
        currency (None | str | Unset): The currency the caller expects (ISO 4217, e.g. `KRW`). When given
            and the PG charged in another, the payment is cancelled at the PG and
            the request fails with 422, as for another price.
    """

    password: str
    price: float
    source: Source
    vendor: VendorInput
    webhook_url: str
    currency: None | str | Unset = UNSET
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

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source
        from ..models.vendor_input import VendorInput

        d = dict(src_dict)
        password = d.pop("password")

        price = d.pop("price")

        source = Source.from_dict(d.pop("source"))

        vendor = VendorInput.from_dict(d.pop("vendor"))

        webhook_url = d.pop("webhook_url")

        def _parse_currency(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        currency = _parse_currency(d.pop("currency", UNSET))

        create_payment_history = cls(
            password=password,
            price=price,
            source=source,
            vendor=vendor,
            webhook_url=webhook_url,
            currency=currency,
        )

        create_payment_history.additional_properties = d
        return create_payment_history

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
