from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RefundAccount")


@_attrs_define
class RefundAccount:
    """The bank account a virtual-account payment is refunded to. Passed to the
    PG only, never stored.

        Attributes:
            account (str): Account number.
            bank (str): Bank name or code, as the PG expects it.
            holder (str): Name of the account holder.
            mobile (str): The holder's mobile phone number.
    """

    account: str
    bank: str
    holder: str
    mobile: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        account = self.account

        bank = self.bank

        holder = self.holder

        mobile = self.mobile

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "account": account,
                "bank": bank,
                "holder": holder,
                "mobile": mobile,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        account = d.pop("account")

        bank = d.pop("bank")

        holder = d.pop("holder")

        mobile = d.pop("mobile")

        refund_account = cls(
            account=account,
            bank=bank,
            holder=holder,
            mobile=mobile,
        )

        refund_account.additional_properties = d
        return refund_account

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
