from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.commit import Commit
    from ..models.package import Package


T = TypeVar("T", bound="System")


@_attrs_define
class System:
    """Who this server process is.

    Attributes:
        arguments (list[str]): The command line the process was started with.
        commit (Commit | None): The git commit, when the build knew it; `null` otherwise.
        created_at (datetime.datetime): When this process started.
        package (Package): The package this server was built from.
        uid (UUID): A random id of this process, new at every start.
    """

    arguments: list[str]
    commit: Commit | None
    created_at: datetime.datetime
    package: Package
    uid: UUID
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.commit import Commit

        arguments = self.arguments

        commit: dict[str, Any] | None
        if isinstance(self.commit, Commit):
            commit = self.commit.to_dict()
        else:
            commit = self.commit

        created_at = self.created_at.isoformat()

        package = self.package.to_dict()

        uid = str(self.uid)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "arguments": arguments,
                "commit": commit,
                "created_at": created_at,
                "package": package,
                "uid": uid,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.commit import Commit
        from ..models.package import Package

        d = dict(src_dict)
        arguments = cast(list[str], d.pop("arguments"))

        def _parse_commit(data: object) -> Commit | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                commit_type_1 = Commit.from_dict(data)

                return commit_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Commit | None, data)

        commit = _parse_commit(d.pop("commit"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        package = Package.from_dict(d.pop("package"))

        uid = UUID(d.pop("uid"))

        system = cls(
            arguments=arguments,
            commit=commit,
            created_at=created_at,
            package=package,
            uid=uid,
        )

        system.additional_properties = d
        return system

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
