from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="TossWebhook")


@_attrs_define
class TossWebhook:
    """What Toss Payments POSTs: an event `{eventType, createdAt, data}`
    (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
    `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
    virtual-account deposit callback `{createdAt, secret, status,
    transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
    for that payment. Only identifiers are trusted: the payment is re-read.

        Attributes:
            created_at (None | str | Unset): When Toss created the notification.
            data (Any | Unset): The event's object: a payment, a cancel, a billing key.
            event_type (None | str | Unset): The kind of event; absent in the deposit callback.
            order_id (None | str | Unset): Deposit callback: the order of the payment.
            secret (None | str | Unset): Deposit callback: the secret Toss gave for the virtual account.
            status (None | str | Unset): Deposit callback: the payment's status after it.
            transaction_key (None | str | Unset): Deposit callback: the transaction it reports.
    """

    created_at: None | str | Unset = UNSET
    data: Any | Unset = UNSET
    event_type: None | str | Unset = UNSET
    order_id: None | str | Unset = UNSET
    secret: None | str | Unset = UNSET
    status: None | str | Unset = UNSET
    transaction_key: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        else:
            created_at = self.created_at

        data = self.data

        event_type: None | str | Unset
        if isinstance(self.event_type, Unset):
            event_type = UNSET
        else:
            event_type = self.event_type

        order_id: None | str | Unset
        if isinstance(self.order_id, Unset):
            order_id = UNSET
        else:
            order_id = self.order_id

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret

        status: None | str | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        else:
            status = self.status

        transaction_key: None | str | Unset
        if isinstance(self.transaction_key, Unset):
            transaction_key = UNSET
        else:
            transaction_key = self.transaction_key

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if created_at is not UNSET:
            field_dict["createdAt"] = created_at
        if data is not UNSET:
            field_dict["data"] = data
        if event_type is not UNSET:
            field_dict["eventType"] = event_type
        if order_id is not UNSET:
            field_dict["orderId"] = order_id
        if secret is not UNSET:
            field_dict["secret"] = secret
        if status is not UNSET:
            field_dict["status"] = status
        if transaction_key is not UNSET:
            field_dict["transactionKey"] = transaction_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_created_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        created_at = _parse_created_at(d.pop("createdAt", UNSET))

        data = d.pop("data", UNSET)

        def _parse_event_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        event_type = _parse_event_type(d.pop("eventType", UNSET))

        def _parse_order_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        order_id = _parse_order_id(d.pop("orderId", UNSET))

        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))

        def _parse_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status = _parse_status(d.pop("status", UNSET))

        def _parse_transaction_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        transaction_key = _parse_transaction_key(d.pop("transactionKey", UNSET))

        toss_webhook = cls(
            created_at=created_at,
            data=data,
            event_type=event_type,
            order_id=order_id,
            secret=secret,
            status=status,
            transaction_key=transaction_key,
        )

        toss_webhook.additional_properties = d
        return toss_webhook

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
