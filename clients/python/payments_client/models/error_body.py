from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.error_code import ErrorCode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pg_error import PgError


T = TypeVar("T", bound="ErrorBody")


@_attrs_define
class ErrorBody:
    """The body of every error answer, on every route (never encrypted).

    Attributes:
        code (ErrorCode): The `code` of an error answer: a cause of the use cases
            ([`payments_application::Cause`], one each) or one of the HTTP edge's own.
        message (str): What went wrong, for people.
        param (None | str | Unset): The request field at fault, by its wire name (`price`, `source.id`,
            `account.bank`, ...), when one is.
        pg (None | PgError | Unset): When a PG refused: the PG's own code, when it is one the PG documents.
        request_id (None | str | Unset): The id of the request this answers (also its `x-request-id` header):
            quote it when reporting a problem, it is on every log line of the request.
    """

    code: ErrorCode
    message: str
    param: None | str | Unset = UNSET
    pg: None | PgError | Unset = UNSET
    request_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.pg_error import PgError

        code = self.code.value

        message = self.message

        param: None | str | Unset
        if isinstance(self.param, Unset):
            param = UNSET
        else:
            param = self.param

        pg: dict[str, Any] | None | Unset
        if isinstance(self.pg, Unset):
            pg = UNSET
        elif isinstance(self.pg, PgError):
            pg = self.pg.to_dict()
        else:
            pg = self.pg

        request_id: None | str | Unset
        if isinstance(self.request_id, Unset):
            request_id = UNSET
        else:
            request_id = self.request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
            }
        )
        if param is not UNSET:
            field_dict["param"] = param
        if pg is not UNSET:
            field_dict["pg"] = pg
        if request_id is not UNSET:
            field_dict["request_id"] = request_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.pg_error import PgError

        d = dict(src_dict)
        code = ErrorCode(d.pop("code"))

        message = d.pop("message")

        def _parse_param(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        param = _parse_param(d.pop("param", UNSET))

        def _parse_pg(data: object) -> None | PgError | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pg_type_1 = PgError.from_dict(data)

                return pg_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PgError | Unset, data)

        pg = _parse_pg(d.pop("pg", UNSET))

        def _parse_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        request_id = _parse_request_id(d.pop("request_id", UNSET))

        error_body = cls(
            code=code,
            message=message,
            param=param,
            pg=pg,
            request_id=request_id,
        )

        error_body.additional_properties = d
        return error_body

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
