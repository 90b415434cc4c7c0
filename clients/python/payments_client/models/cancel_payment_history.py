from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.refund_account import RefundAccount
    from ..models.source import Source


T = TypeVar("T", bound="CancelPaymentHistory")


@_attrs_define
class CancelPaymentHistory:
    """Cancels a payment, wholly or partly.

    Attributes:
        password (str): The password given when the payment was registered.
        price (float): Amount to refund: more than 0 and at most what is left of the payment.
        reason (str): Why, as shown to the PG.
        source (Source): The caller's own record a payment or saved card belongs to.
        account (None | RefundAccount | Unset): Required for virtual-account payments (the refund goes there); `null`
            otherwise.
    """

    password: str
    price: float
    reason: str
    source: Source
    account: None | RefundAccount | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.refund_account import RefundAccount

        password = self.password

        price = self.price

        reason = self.reason

        source = self.source.to_dict()

        account: dict[str, Any] | None | Unset
        if isinstance(self.account, Unset):
            account = UNSET
        elif isinstance(self.account, RefundAccount):
            account = self.account.to_dict()
        else:
            account = self.account

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "password": password,
                "price": price,
                "reason": reason,
                "source": source,
            }
        )
        if account is not UNSET:
            field_dict["account"] = account

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.refund_account import RefundAccount
        from ..models.source import Source

        d = dict(src_dict)
        password = d.pop("password")

        price = d.pop("price")

        reason = d.pop("reason")

        source = Source.from_dict(d.pop("source"))

        def _parse_account(data: object) -> None | RefundAccount | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                account_type_1 = RefundAccount.from_dict(data)

                return account_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RefundAccount | Unset, data)

        account = _parse_account(d.pop("account", UNSET))

        cancel_payment_history = cls(
            password=password,
            price=price,
            reason=reason,
            source=source,
            account=account,
        )

        cancel_payment_history.additional_properties = d
        return cancel_payment_history

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
