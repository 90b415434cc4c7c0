from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.source import Source
    from ..models.vendor_input import VendorInput


T = TypeVar("T", bound="CreatePaymentReservation")


@_attrs_define
class CreatePaymentReservation:
    """Registers a card the customer saved in the PG's popup.

    Attributes:
        password (str): A password of the caller's choosing, needed to read the record back
            (not the card's password).
        source (Source): The caller's own record a payment or saved card belongs to.
        title (str): A title of the caller's choosing.
        vendor (VendorInput): The PG side of a payment or saved card, as the PG's popup reported it.
    """

    password: str
    source: Source
    title: str
    vendor: VendorInput
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        password = self.password

        source = self.source.to_dict()

        title = self.title

        vendor = self.vendor.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "password": password,
                "source": source,
                "title": title,
                "vendor": vendor,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source
        from ..models.vendor_input import VendorInput

        d = dict(src_dict)
        password = d.pop("password")

        source = Source.from_dict(d.pop("source"))

        title = d.pop("title")

        vendor = VendorInput.from_dict(d.pop("vendor"))

        create_payment_reservation = cls(
            password=password,
            source=source,
            title=title,
            vendor=vendor,
        )

        create_payment_reservation.additional_properties = d
        return create_payment_reservation

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
