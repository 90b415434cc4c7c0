from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.event_delivery import EventDelivery
    from ..models.webhook_body import WebhookBody


T = TypeVar("T", bound="FeedEvent")


@_attrs_define
class FeedEvent:
    """An event of a client's feed: the webhook's body, when it was made, and
    how its delivery stands.

        Attributes:
            created_at (datetime.datetime): When the change was recorded.
            delivery (EventDelivery): An event's delivery.
            webhook (WebhookBody): The body POSTed (encrypted) to a history's `webhook_url` on each change.
    """

    created_at: datetime.datetime
    delivery: EventDelivery
    webhook: WebhookBody
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        delivery = self.delivery.to_dict()

        webhook = self.webhook.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "delivery": delivery,
                "webhook": webhook,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.event_delivery import EventDelivery
        from ..models.webhook_body import WebhookBody

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        delivery = EventDelivery.from_dict(d.pop("delivery"))

        webhook = WebhookBody.from_dict(d.pop("webhook"))

        feed_event = cls(
            created_at=created_at,
            delivery=delivery,
            webhook=webhook,
        )

        feed_event.additional_properties = d
        return feed_event

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
