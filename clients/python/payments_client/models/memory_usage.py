from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="MemoryUsage")


@_attrs_define
class MemoryUsage:
    """Memory held by this process.

    Attributes:
        rss (int): Resident set size, bytes.
        rss_peak (int): Peak resident set size, bytes.
        virtual_size (int): Virtual memory size, bytes.
    """

    rss: int
    rss_peak: int
    virtual_size: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rss = self.rss

        rss_peak = self.rss_peak

        virtual_size = self.virtual_size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "rss": rss,
                "rss_peak": rss_peak,
                "virtual_size": virtual_size,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        rss = d.pop("rss")

        rss_peak = d.pop("rss_peak")

        virtual_size = d.pop("virtual_size")

        memory_usage = cls(
            rss=rss,
            rss_peak=rss_peak,
            virtual_size=virtual_size,
        )

        memory_usage.additional_properties = d
        return memory_usage

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
