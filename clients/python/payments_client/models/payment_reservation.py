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
    from ..models.source import Source
    from ..models.vendor import Vendor


T = TypeVar("T", bound="PaymentReservation")


@_attrs_define
class PaymentReservation:
    """A card saved at a PG for later charges.

    Attributes:
        created_at (datetime.datetime): When the card was registered here.
        data (Any): The PG's own JSON for the saved card, unchanged.
        id (UUID): Our id of the record.
        source (Source): The caller's own record a payment or saved card belongs to.
        title (str): The title the caller chose.
        vendor (Vendor): The PG side of a record.
        vendor_code (VendorCode): The wire spelling of a PG.
        removed_at (datetime.datetime | None | Unset): When the PG said the card was removed (Toss `BILLING_DELETED`); a
            removed card is never charged.
    """

    created_at: datetime.datetime
    data: Any
    id: UUID
    source: Source
    title: str
    vendor: Vendor
    vendor_code: VendorCode
    removed_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        data = self.data

        id = str(self.id)

        source = self.source.to_dict()

        title = self.title

        vendor = self.vendor.to_dict()

        vendor_code = self.vendor_code.value

        removed_at: None | str | Unset
        if isinstance(self.removed_at, Unset):
            removed_at = UNSET
        elif isinstance(self.removed_at, datetime.datetime):
            removed_at = self.removed_at.isoformat()
        else:
            removed_at = self.removed_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "data": data,
                "id": id,
                "source": source,
                "title": title,
                "vendor": vendor,
                "vendor_code": vendor_code,
            }
        )
        if removed_at is not UNSET:
            field_dict["removed_at"] = removed_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.source import Source
        from ..models.vendor import Vendor

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        data = d.pop("data")

        id = UUID(d.pop("id"))

        source = Source.from_dict(d.pop("source"))

        title = d.pop("title")

        vendor = Vendor.from_dict(d.pop("vendor"))

        vendor_code = VendorCode(d.pop("vendor_code"))

        def _parse_removed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                removed_at_type_0 = datetime.datetime.fromisoformat(data)

                return removed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        removed_at = _parse_removed_at(d.pop("removed_at", UNSET))

        payment_reservation = cls(
            created_at=created_at,
            data=data,
            id=id,
            source=source,
            title=title,
            vendor=vendor,
            vendor_code=vendor_code,
            removed_at=removed_at,
        )

        payment_reservation.additional_properties = d
        return payment_reservation

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
