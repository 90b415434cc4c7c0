from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="IamportWebhook")


@_attrs_define
class IamportWebhook:
    """What Iamport POSTs when a payment changes (JSON or form-encoded). Only the
    ids are trusted: the payment is re-read from Iamport.

        Attributes:
            imp_uid (str): Iamport's id of the payment.
            merchant_uid (str): The merchant's order id.
            status (str): `paid`, `ready`, `failed` or `cancelled`.
            cancellation_id (None | str | Unset): Iamport's id of a cancellation, when the change is one.
    """

    imp_uid: str
    merchant_uid: str
    status: str
    cancellation_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        imp_uid = self.imp_uid

        merchant_uid = self.merchant_uid

        status = self.status

        cancellation_id: None | str | Unset
        if isinstance(self.cancellation_id, Unset):
            cancellation_id = UNSET
        else:
            cancellation_id = self.cancellation_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "imp_uid": imp_uid,
                "merchant_uid": merchant_uid,
                "status": status,
            }
        )
        if cancellation_id is not UNSET:
            field_dict["cancellation_id"] = cancellation_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        imp_uid = d.pop("imp_uid")

        merchant_uid = d.pop("merchant_uid")

        status = d.pop("status")

        def _parse_cancellation_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cancellation_id = _parse_cancellation_id(d.pop("cancellation_id", UNSET))

        iamport_webhook = cls(
            imp_uid=imp_uid,
            merchant_uid=merchant_uid,
            status=status,
            cancellation_id=cancellation_id,
        )

        iamport_webhook.additional_properties = d
        return iamport_webhook

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
