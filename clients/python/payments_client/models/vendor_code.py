from enum import StrEnum


class VendorCode(StrEnum):
    IAMPORT = "iamport"
    PORTONE = "portone"
    TOSS_PAYMENTS = "toss.payments"

    def __str__(self) -> str:
        return str(self.value)
