from enum import StrEnum


class DeliveryState(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    PENDING = "pending"
    RETRYING = "retrying"
    SETTLED = "settled"

    def __str__(self) -> str:
        return str(self.value)
