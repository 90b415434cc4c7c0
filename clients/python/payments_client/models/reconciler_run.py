from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ReconcilerRun")


@_attrs_define
class ReconcilerRun:
    """What the last reconciliation with the PGs found and did.

    Attributes:
        cancels_settled (int): Cancels whose PG answer was lost, settled by re-reading the PG.
        charges_recorded (int): Saved-card charges whose answer was lost and whose caller never
            retried, found at the PG and recorded (each announced by a webhook).
        checked (int): Payments re-read at their PG.
        drifted (int): Payments whose PG state differed from ours.
        failed (int): Payments that could not be re-read or recorded (retried next run).
        finished_at (datetime.datetime): When it finished.
        fixed (int): Drifts recorded, each as one change with its webhook event.
    """

    cancels_settled: int
    charges_recorded: int
    checked: int
    drifted: int
    failed: int
    finished_at: datetime.datetime
    fixed: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cancels_settled = self.cancels_settled

        charges_recorded = self.charges_recorded

        checked = self.checked

        drifted = self.drifted

        failed = self.failed

        finished_at = self.finished_at.isoformat()

        fixed = self.fixed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancels_settled": cancels_settled,
                "charges_recorded": charges_recorded,
                "checked": checked,
                "drifted": drifted,
                "failed": failed,
                "finished_at": finished_at,
                "fixed": fixed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        cancels_settled = d.pop("cancels_settled")

        charges_recorded = d.pop("charges_recorded")

        checked = d.pop("checked")

        drifted = d.pop("drifted")

        failed = d.pop("failed")

        finished_at = datetime.datetime.fromisoformat(d.pop("finished_at"))

        fixed = d.pop("fixed")

        reconciler_run = cls(
            cancels_settled=cancels_settled,
            charges_recorded=charges_recorded,
            checked=checked,
            drifted=drifted,
            failed=failed,
            finished_at=finished_at,
            fixed=fixed,
        )

        reconciler_run.additional_properties = d
        return reconciler_run

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
