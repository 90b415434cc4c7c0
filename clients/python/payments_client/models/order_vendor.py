from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.vendor_code import VendorCode

T = TypeVar("T", bound="OrderVendor")


@_attrs_define
class OrderVendor:
    """The PG and store an order will be paid at.

    Attributes:
        code (VendorCode): The wire spelling of a PG.
        store_id (str): The store (merchant account) at that PG.
    """

    code: VendorCode
    store_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        store_id = self.store_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "store_id": store_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        code = VendorCode(d.pop("code"))

        store_id = d.pop("store_id")

        order_vendor = cls(
            code=code,
            store_id=store_id,
        )

        order_vendor.additional_properties = d
        return order_vendor

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
