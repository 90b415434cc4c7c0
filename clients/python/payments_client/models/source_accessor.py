from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SourceAccessor")


@_attrs_define
class SourceAccessor:
    """Names a record by the caller's own source, with the record's password.

    Attributes:
        id (str): Id of the caller's record.
        password (str): The password given when the record was created.
        schema (str): Schema of the caller's record.
        table (str): Table of the caller's record.
    """

    id: str
    password: str
    schema: str
    table: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        password = self.password

        schema = self.schema

        table = self.table

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "password": password,
                "schema": schema,
                "table": table,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        password = d.pop("password")

        schema = d.pop("schema")

        table = d.pop("table")

        source_accessor = cls(
            id=id,
            password=password,
            schema=schema,
            table=table,
        )

        source_accessor.additional_properties = d
        return source_accessor

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
