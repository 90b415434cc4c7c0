"""Contains all the data models used in inputs/outputs"""

from .cancel_payment_history import CancelPaymentHistory
from .charge_payment_reservation import ChargePaymentReservation
from .commit import Commit
from .cpu_usage import CpuUsage
from .create_payment_history import CreatePaymentHistory
from .create_payment_order import CreatePaymentOrder
from .create_payment_reservation import CreatePaymentReservation
from .delivery_state import DeliveryState
from .error_body import ErrorBody
from .error_code import ErrorCode
from .event_delivery import EventDelivery
from .event_feed import EventFeed
from .feed_event import FeedEvent
from .iamport_webhook import IamportWebhook
from .memory_usage import MemoryUsage
from .order_vendor import OrderVendor
from .outbox_stats import OutboxStats
from .package import Package
from .password_input import PasswordInput
from .payment_cancel import PaymentCancel
from .payment_cancel_status import PaymentCancelStatus
from .payment_history import PaymentHistory
from .payment_history_snapshot import PaymentHistorySnapshot
from .payment_order import PaymentOrder
from .payment_order_pg import PaymentOrderPg
from .payment_order_state import PaymentOrderState
from .payment_reservation import PaymentReservation
from .performance import Performance
from .pg_error import PgError
from .receive_pg_webhook_data_body import ReceivePgWebhookDataBody
from .reconciler_run import ReconcilerRun
from .refund_account import RefundAccount
from .source import Source
from .source_accessor import SourceAccessor
from .system import System
from .toss_webhook import TossWebhook
from .vendor import Vendor
from .vendor_code import VendorCode
from .vendor_input import VendorInput
from .webhook_body import WebhookBody

__all__ = (
    "CancelPaymentHistory",
    "ChargePaymentReservation",
    "Commit",
    "CpuUsage",
    "CreatePaymentHistory",
    "CreatePaymentOrder",
    "CreatePaymentReservation",
    "DeliveryState",
    "ErrorBody",
    "ErrorCode",
    "EventDelivery",
    "EventFeed",
    "FeedEvent",
    "IamportWebhook",
    "MemoryUsage",
    "OrderVendor",
    "OutboxStats",
    "Package",
    "PasswordInput",
    "PaymentCancel",
    "PaymentCancelStatus",
    "PaymentHistory",
    "PaymentHistorySnapshot",
    "PaymentOrder",
    "PaymentOrderPg",
    "PaymentOrderState",
    "PaymentReservation",
    "Performance",
    "PgError",
    "ReceivePgWebhookDataBody",
    "ReconcilerRun",
    "RefundAccount",
    "Source",
    "SourceAccessor",
    "System",
    "TossWebhook",
    "Vendor",
    "VendorCode",
    "VendorInput",
    "WebhookBody",
)
