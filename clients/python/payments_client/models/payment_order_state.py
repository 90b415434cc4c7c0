from enum import StrEnum


class PaymentOrderState(StrEnum):
    COMPLETED = "completed"
    EXPIRED = "expired"
    PENDING = "pending"
    REFUSED = "refused"

    def __str__(self) -> str:
        return str(self.value)
