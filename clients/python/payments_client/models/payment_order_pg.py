from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PaymentOrderPg")


@_attrs_define
class PaymentOrderPg:
    """What the PG's window needs to pay an order.

    Attributes:
        amount (float): The amount to open the window with, in the PG's own unit (PortOne V2:
            the currency's minor unit, `1050` for 10.50 USD; Iamport and Toss:
            the major unit).
        locked (bool): Whether the PG holds this amount (its window refuses another).
        order_id (str): The order id to open the window with (`source.id`).
    """

    amount: float
    locked: bool
    order_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        locked = self.locked

        order_id = self.order_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "locked": locked,
                "order_id": order_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        locked = d.pop("locked")

        order_id = d.pop("order_id")

        payment_order_pg = cls(
            amount=amount,
            locked=locked,
            order_id=order_id,
        )

        payment_order_pg.additional_properties = d
        return payment_order_pg

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
