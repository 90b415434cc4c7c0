//! The routes of the wire contract.

use std::sync::Arc;

use payments_application::commands::Locator;
use payments_application::ports::RawNotification;
use payments_application::{AppError, Received, Taken};
use payments_domain::{HistoryId, SavedCardId, Scope, VendorCode};
use payments_wire::{
    CancelHistoryBody, ChargeReservationBody, CreateHistoryBody, CreateOrderBody, CreateReservationBody, EventFeedBody,
    HistoryBody, IamportWebhookBody, OrderBody, OutboxBody, PasswordBody, PerformanceBody, ReconcilerBody,
    ReservationBody, SourceAccessorBody, SystemBody, TossWebhookBody,
};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiRequest, ApiResponse, OpenApi, Tags};
use serde_json::{Value, json};

use crate::encrypted::{Encrypted, EncryptedCreated, EncryptedCreatedOrOk, EncryptedOk, EncryptedOkOrAccepted};
use crate::error::{
    ApiError, CancelError, ChargeError, FeedError, MonitorError, OrderError, ReadError, RegisterError, RemoveCardError,
    SaveCardError, WebhookError,
};
use crate::idempotency::Keyed;
use crate::notification::PgNotificationRequest;
use crate::{Caller, HttpState};
use crate::{idempotency, monitors};
use payments_metrics::NotificationOutcome;
use payments_wire::ErrorCode;

#[derive(Tags)]
enum ApiTags {
    /// Payments registered here: create, read, cancel.
    Histories,
    /// Orders registered before the customer pays: the amount locked, the
    /// payment recorded even when the customer never comes back.
    Orders,
    /// A client's events: the feed to catch up from, and redeliveries.
    Events,
    /// Cards saved at a PG for later charges.
    Reservations,
    /// Notifications from the PGs.
    Webhooks,
    /// Health and process information.
    Monitors,
}

/// The API of the payment server.
pub struct PaymentsApi;

/// A PG notification was taken in.
#[derive(ApiResponse)]
pub enum WebhookAck {
    /// Accepted (processed, or nothing to do), as the PGs expect: 200.
    #[oai(status = 200)]
    Accepted,
}

/// The health check's answer.
#[derive(ApiResponse)]
pub enum HealthAnswer {
    /// The process serves requests.
    #[oai(status = 200)]
    Serving,
}

/// Iamport's notification, as JSON or form-encoded.
#[derive(ApiRequest)]
pub enum IamportWebhookRequest {
    /// As JSON.
    Json(Json<IamportWebhookBody>),
    /// Form-encoded (as Iamport's older notifications are sent).
    Form(Form<IamportWebhookBody>),
}

fn history_locator_by_source(
    body: SourceAccessorBody,
) -> Result<(Locator<HistoryId>, payments_domain::Password), AppError> {
    let (source, password) = body.try_into_domain()?;
    Ok((Locator::Source(source), password))
}

/// A replayed payment request's own password check, against its history.
async fn history_password(
    state: &HttpState,
    client: payments_domain::ClientId,
    source: payments_domain::Source,
    password: payments_domain::Password,
) -> Result<(), AppError> {
    state.payments.get_history(client, Locator::Source(source), &password).await.map(drop)
}

/// A replayed order request's own password check, against its order.
async fn order_password(
    state: &HttpState,
    client: payments_domain::ClientId,
    source: payments_domain::Source,
    password: payments_domain::Password,
) -> Result<(), AppError> {
    state.payments.get_order(client, &source, &password).await.map(drop)
}

/// This process's delivery of webhooks (the event feed reads its queue).
fn delivering(state: &HttpState) -> Result<&payments_application::DeliveryService, AppError> {
    state.delivery.as_ref().ok_or_else(|| AppError::internal(anyhow::anyhow!("this process delivers no webhooks")))
}

/// The wall clock, at the milliseconds the wire shows.
fn now() -> payments_domain::Timestamp {
    payments_domain::to_millis(chrono::Utc::now())
}

/// A replayed saved-card request's own password check, against its card.
async fn card_password(
    state: &HttpState,
    client: payments_domain::ClientId,
    card: payments_application::commands::SavedCardLocator,
    password: payments_domain::Password,
) -> Result<(), AppError> {
    state.payments.get_saved_card(client, card, &password).await.map(drop)
}

/// A PG notification, proven and read by the PG's own reader (its half of
/// the PG contract) and taken in by the use case, which answers a repeat of
/// a delivery already answered at once. Answered only once processed or
/// stored: a notification taken in is never lost.
async fn receive(
    state: &HttpState,
    vendor: VendorCode,
    raw: RawNotification<'_>,
    body: Value,
) -> Result<WebhookAck, WebhookError> {
    let reader = state.notifications.get(&vendor).ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("{vendor} notifications are not enabled on this server"))
    })?;
    // A PG that signs its notifications proves each one before it is read
    // (the named Iamport route has no raw form: Iamport signs nothing). One
    // answer for every failed proof (unsigned, stale, tampered, or naming a
    // store with no secret here): why is logged, never answered, so the
    // answer does not tell which stores are configured.
    let proof = match reader.authenticate(&raw) {
        Ok(proof) => proof,
        Err(why) => {
            state.metrics.observe_notification(vendor.as_str(), NotificationOutcome::Refused);
            tracing::warn!(%vendor, %why, "PG notification refused: not the PG's");
            return Err(
                ApiError::new(ErrorCode::NotificationNotProven, format!("not a notification of {vendor}")).into()
            );
        }
    };
    let transmission = reader.transmission(&raw);
    let intent = reader.read(&body).map_err(|why| ApiError::new(ErrorCode::InvalidRequest, why))?;
    let taken = state.payments.take_pg_notification(vendor, proof, transmission, intent, body).await;
    let outcome = match &taken {
        Ok(Taken::Repeat) => NotificationOutcome::Duplicate,
        Ok(Taken::Ignored(_)) | Ok(Taken::Received(Received::Ignored)) => NotificationOutcome::Ignored,
        Ok(Taken::CardRemoved(_)) | Ok(Taken::Received(Received::Processed(_))) => NotificationOutcome::Processed,
        Ok(Taken::Received(Received::Queued)) => NotificationOutcome::Queued,
        Ok(Taken::Received(Received::Refused)) | Err(AppError::NotificationNotProven(_)) => {
            NotificationOutcome::Refused
        }
        Err(_) => NotificationOutcome::Failed,
    };
    state.metrics.observe_notification(vendor.as_str(), outcome);
    match taken? {
        Taken::Ignored(why) => tracing::info!(%vendor, %why, "PG notification acknowledged"),
        Taken::CardRemoved(removed) => {
            tracing::info!(%vendor, removed, "PG notification: a saved card was removed at the PG");
        }
        taken => tracing::info!(%vendor, ?taken, "PG notification taken in"),
    }
    Ok(WebhookAck::Accepted)
}

#[OpenApi]
impl PaymentsApi {
    /// Register a payment
    ///
    /// Registers a payment the customer has just made in the PG's popup. The
    /// payment is read from the PG; its order id there (Toss `orderId`,
    /// Iamport `merchant_uid`) must be `source.id`, else the answer is 422 and
    /// nothing is confirmed or cancelled. When the PG charged another amount
    /// than `price`, the payment is cancelled at the PG and the answer is 422.
    /// Send an `Idempotency-Key` to retry safely.
    ///
    /// A source with an order (`POST /payments/orders`) registers under it:
    /// with the order's password, at the order's price (a request with
    /// another price is refused before anything is confirmed; Toss is
    /// confirmed with the order's amount), announced to the order's
    /// `webhook_url` like a completion by the PG's notification. When the
    /// order's payment was recorded already (by the PG's notification or the
    /// reconciler), the answer is 200 with that payment.
    #[oai(path = "/payments/histories", method = "post", operation_id = "createHistory", tag = "ApiTags::Histories")]
    async fn create_history(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Encrypted<CreateHistoryBody>,
    ) -> Result<EncryptedCreatedOrOk<HistoryBody>, RegisterError> {
        caller.require(Scope::Register)?;
        let command = body.value.try_into_domain(caller.client)?;
        let keyed = Keyed::about_source(
            &caller,
            "POST /payments/histories",
            &command.source,
            idempotency_key.0,
            &body.canonical,
        );
        let verify = history_password(state.0, caller.client, command.source.clone(), command.password.clone());
        let payments = state.payments.clone();
        let work = async move {
            let answered = payments.create_history(command).await?;
            let status = if answered.is_created() { 201 } else { 200 };
            Ok((HistoryBody::from(&answered.into_inner()), status))
        };
        Ok(EncryptedCreatedOrOk(idempotency::run_answering(state.0, keyed, verify, work).await?))
    }

    /// Register an order
    ///
    /// Registers an order before the customer's window opens: the amount is
    /// locked at the PG where it offers that (PortOne V2 pre-register,
    /// Iamport prepare: the window then refuses another amount) and kept
    /// here for Toss (its confirmation uses the order's amount). The PG's
    /// notification of the payment completes the order by itself: the
    /// payment is recorded and announced to `webhook_url` (`previous:
    /// null`), even when the customer never comes back. The same order
    /// asked again answers 200 with it; another amount for the same source
    /// is 409. Send an `Idempotency-Key` to retry safely.
    #[oai(path = "/payments/orders", method = "post", operation_id = "createOrder", tag = "ApiTags::Orders")]
    async fn create_order(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Encrypted<CreateOrderBody>,
    ) -> Result<EncryptedCreatedOrOk<OrderBody>, OrderError> {
        caller.require(Scope::Register)?;
        let command = body.value.try_into_domain(caller.client)?;
        let keyed =
            Keyed::about_source(&caller, "POST /payments/orders", &command.source, idempotency_key.0, &body.canonical);
        let verify = order_password(state.0, caller.client, command.source.clone(), command.password.clone());
        let payments = state.payments.clone();
        let work = async move {
            let answered = payments.create_order(command).await?;
            let status = if answered.is_created() { 201 } else { 200 };
            Ok((OrderBody::at(&answered.into_inner(), now()), status))
        };
        Ok(EncryptedCreatedOrOk(idempotency::run_answering(state.0, keyed, verify, work).await?))
    }

    /// Read the client's events
    ///
    /// The caller's events (every change of its payments, as its webhooks
    /// carry them), oldest first, after the event `after` (none: from the
    /// first of the last 30 days), at most `limit` (1 to 100, default 50),
    /// each with its delivery state. A backend that was down reads from its
    /// last `next_after` until a page comes back empty.
    #[oai(path = "/payments/events", method = "get", operation_id = "listEvents", tag = "ApiTags::Events")]
    async fn list_events(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        /// The last event already read (`next_after` of the previous page).
        after: Query<Option<uuid::Uuid>>,
        /// Most events in the page (1 to 100; 50 when absent).
        limit: Query<Option<u32>>,
    ) -> Result<EncryptedOk<EventFeedBody>, FeedError> {
        caller.require(Scope::Events)?;
        let delivery = delivering(&state)?;
        let after = after.0.map(payments_domain::EventId::from_uuid);
        let events = delivery.feed(caller.client, after, limit.0.unwrap_or(50)).await?;
        Ok(EncryptedOk::new(&EventFeedBody::of(&events), &caller.envelope))
    }

    /// Redeliver an event
    ///
    /// Makes one of the caller's events due again now, with a fresh retry
    /// schedule (a failed one, or one its receiver lost), and answers it as
    /// the feed shows it (pending). Another client's event is 404.
    #[oai(
        path = "/payments/events/:id/redeliver",
        method = "post",
        operation_id = "redeliverEvent",
        tag = "ApiTags::Events"
    )]
    async fn redeliver_event(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        id: Path<uuid::Uuid>,
    ) -> Result<EncryptedOk<EventFeedBody>, FeedError> {
        caller.require(Scope::Events)?;
        let delivery = delivering(&state)?;
        delivery.redeliver_for(caller.client, payments_domain::EventId::from_uuid(id.0)).await?;
        // The page starting at this event (ids order events).
        let before = payments_domain::EventId::from_uuid(uuid::Uuid::from_u128(id.0.as_u128().saturating_sub(1)));
        let fed = delivery.feed(caller.client, Some(before), 1).await?;
        Ok(EncryptedOk::new(&EventFeedBody::of(&fed), &caller.envelope))
    }

    /// Read an order by its source
    ///
    /// Reads an order by the caller's record it was registered for, with its
    /// password: `pending`, `completed` (with its payment's `history_id`),
    /// `expired` or `refused`.
    #[oai(path = "/payments/orders/get", method = "patch", operation_id = "getOrder", tag = "ApiTags::Orders")]
    async fn get_order(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        body: Encrypted<SourceAccessorBody>,
    ) -> Result<EncryptedOk<OrderBody>, ReadError> {
        caller.require(Scope::Read)?;
        let (source, password) = body.value.try_into_domain()?;
        let order = state.payments.get_order(caller.client, &source, &password).await?;
        Ok(EncryptedOk::new(&OrderBody::at(&order, now()), &caller.envelope))
    }

    /// Read a payment by its source
    ///
    /// Reads a payment by the caller's record it was registered for, with its password.
    #[oai(path = "/payments/histories/get", method = "patch", operation_id = "getHistory", tag = "ApiTags::Histories")]
    async fn get_history(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        body: Encrypted<SourceAccessorBody>,
    ) -> Result<EncryptedOk<HistoryBody>, ReadError> {
        caller.require(Scope::Read)?;
        let (locator, password) = history_locator_by_source(body.value)?;
        let history = state.payments.get_history(caller.client, locator, &password).await?;
        Ok(EncryptedOk::new(&HistoryBody::from(&history), &caller.envelope))
    }

    /// Read a payment by its id
    ///
    /// Reads a payment by our id, with its password.
    #[oai(
        path = "/payments/histories/:id",
        method = "patch",
        operation_id = "getHistoryById",
        tag = "ApiTags::Histories"
    )]
    async fn get_history_by_id(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        id: Path<uuid::Uuid>,
        body: Encrypted<PasswordBody>,
    ) -> Result<EncryptedOk<HistoryBody>, ReadError> {
        caller.require(Scope::Read)?;
        let password = body.value.try_into_domain()?;
        let history =
            state.payments.get_history(caller.client, Locator::Id(HistoryId::from_uuid(id.0)), &password).await?;
        Ok(EncryptedOk::new(&HistoryBody::from(&history), &caller.envelope))
    }

    /// Cancel a payment
    ///
    /// Cancels a payment wholly or partly at the PG and answers the payment as
    /// it is afterwards; the change is also announced to its `webhook_url`.
    /// The cancel is recorded before the PG is called and one cancel of a
    /// payment runs at a time. Send an `Idempotency-Key`: after a 502/504 (the
    /// PG's answer was lost) the retry with the same key re-reads the PG and
    /// answers the cancel it made, sending it again only when the PG shows
    /// none, so it never refunds twice; 409 while the first attempt is still
    /// being sent or settled.
    ///
    /// A PG may accept a cancel and complete it later (PortOne `REQUESTED`,
    /// Toss `IN_PROGRESS`): the answer is then 202 with the payment showing
    /// the cancel as `pending` (not counted in `refund`), and the payment's
    /// cancels wait for it; its completion (`done`) or failure (dropped) is
    /// announced to `webhook_url`. A cancel the PG answers as failed is 422.
    #[oai(
        path = "/payments/histories/cancel",
        method = "put",
        operation_id = "cancelHistory",
        tag = "ApiTags::Histories"
    )]
    async fn cancel_history(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Encrypted<CancelHistoryBody>,
    ) -> Result<EncryptedOkOrAccepted<HistoryBody>, CancelError> {
        caller.require(Scope::Cancel)?;
        let mut command = body.value.try_into_domain(caller.client)?;
        // The key binds the cancel's intent too: a retry after a lost answer
        // settles the first attempt instead of refunding again.
        command.idempotency_key.clone_from(&idempotency_key.0);
        let mut keyed = Keyed::about_source(
            &caller,
            "PUT /payments/histories/cancel",
            &command.source,
            idempotency_key.0.clone(),
            &body.canonical,
        );
        if let Some(key) = idempotency_key.0 {
            let (payments, client, source) = (state.payments.clone(), caller.client, command.source.clone());
            keyed = keyed
                .settled_when(async move { payments.cancel_settled(client, &source, &key).await.unwrap_or(false) });
        }
        let verify = history_password(state.0, caller.client, command.source.clone(), command.password.clone());
        let payments = state.payments.clone();
        let work = async move {
            let outcome = payments.cancel(command).await?;
            Ok((HistoryBody::from(&outcome.history), if outcome.completed { 200 } else { 202 }))
        };
        Ok(EncryptedOkOrAccepted(idempotency::run_answering(state.0, keyed, verify, work).await?))
    }

    /// Register a saved card
    ///
    /// Registers a card the customer saved in the PG's popup, after reading it
    /// from the PG. Send an `Idempotency-Key` to retry safely.
    #[oai(
        path = "/payments/reservations",
        method = "post",
        operation_id = "createReservation",
        tag = "ApiTags::Reservations"
    )]
    async fn save_card(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Encrypted<CreateReservationBody>,
    ) -> Result<EncryptedCreated<ReservationBody>, SaveCardError> {
        caller.require(Scope::Cards)?;
        let command = body.value.try_into_domain(caller.client)?;
        let keyed = Keyed::about_source(
            &caller,
            "POST /payments/reservations",
            &command.source,
            idempotency_key.0,
            &body.canonical,
        );
        let verify =
            card_password(state.0, caller.client, Locator::Source(command.source.clone()), command.password.clone());
        let payments = state.payments.clone();
        let work = async move { payments.save_card(command).await.map(|r| ReservationBody::from(&r)) };
        Ok(idempotency::run(state.0, keyed, verify, work).await?)
    }

    /// Read a saved card by its source
    ///
    /// Reads a saved card by the caller's record it was registered for, with its password.
    #[oai(
        path = "/payments/reservations/get",
        method = "patch",
        operation_id = "getReservation",
        tag = "ApiTags::Reservations"
    )]
    async fn get_saved_card(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        body: Encrypted<SourceAccessorBody>,
    ) -> Result<EncryptedOk<ReservationBody>, ReadError> {
        caller.require(Scope::Cards)?;
        let (source, password) = body.value.try_into_domain()?;
        let reservation = state.payments.get_saved_card(caller.client, Locator::Source(source), &password).await?;
        Ok(EncryptedOk::new(&ReservationBody::from(&reservation), &caller.envelope))
    }

    /// Read a saved card by its id
    ///
    /// Reads a saved card by our id, with its password.
    #[oai(
        path = "/payments/reservations/:id",
        method = "patch",
        operation_id = "getReservationById",
        tag = "ApiTags::Reservations"
    )]
    async fn get_saved_card_by_id(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        id: Path<uuid::Uuid>,
        body: Encrypted<PasswordBody>,
    ) -> Result<EncryptedOk<ReservationBody>, ReadError> {
        caller.require(Scope::Cards)?;
        let password = body.value.try_into_domain()?;
        let locator = Locator::Id(SavedCardId::from_uuid(id.0));
        let reservation = state.payments.get_saved_card(caller.client, locator, &password).await?;
        Ok(EncryptedOk::new(&ReservationBody::from(&reservation), &caller.envelope))
    }

    /// Charge a saved card
    ///
    /// Charges a saved card at its PG and registers the payment like any
    /// other (read, cancel, webhooks), pointing at the card. The PG's order id
    /// is `source.id`, so an order is charged at most once. The
    /// `Idempotency-Key` header is required: after a 502/504 (the PG's answer
    /// was lost) the retry with the same key looks the order up at the PG and
    /// answers the payment it made, charging only when the PG shows none; 409
    /// while the first attempt is still being sent. A card the PG or the card
    /// company refuses is 422 with the PG's message, and nothing is stored.
    #[oai(
        path = "/payments/reservations/:id/charge",
        method = "post",
        operation_id = "chargeReservation",
        tag = "ApiTags::Reservations"
    )]
    async fn charge_saved_card(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        id: Path<uuid::Uuid>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Encrypted<ChargeReservationBody>,
    ) -> Result<EncryptedCreated<HistoryBody>, ChargeError> {
        caller.require(Scope::Charge)?;
        let Some(key) = idempotency_key.0.clone() else {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "Idempotency-Key: required, so that a retried charge never charges twice",
            )
            .with_param("Idempotency-Key")
            .into());
        };
        let card = SavedCardId::from_uuid(id.0);
        let command = body.value.try_into_domain(caller.client, Locator::Id(card), key)?;
        let keyed = Keyed::about(
            &caller,
            "POST /payments/reservations/{id}/charge",
            format!("card {}", id.0),
            idempotency_key.0.clone(),
            &body.canonical,
        );
        let payments = state.payments.clone();
        let keyed = match idempotency_key.0 {
            Some(key) => keyed.settled_when(async move { payments.charge_settled(card, &key).await.unwrap_or(false) }),
            None => keyed,
        };
        let verify = card_password(state.0, caller.client, Locator::Id(card), command.password.clone());
        let payments = state.payments.clone();
        let work = async move { payments.charge_saved_card(command).await.map(|h| HistoryBody::from(&h)) };
        Ok(idempotency::run(state.0, keyed, verify, work).await?)
    }

    /// Remove a saved card
    ///
    /// Removes a saved card, with its password: at the PG where its API
    /// offers that (Iamport deletes the customer; Toss documents no removal,
    /// so the billing key is erased here), then here (marked removed; it can
    /// never be charged again: 410). Payments charged from it stay. Removing
    /// a removed card answers it as it is.
    #[oai(
        path = "/payments/reservations/:id/remove",
        method = "post",
        operation_id = "removeReservation",
        tag = "ApiTags::Reservations"
    )]
    async fn remove_saved_card(
        &self,
        state: Data<&Arc<HttpState>>,
        caller: Data<&Caller>,
        id: Path<uuid::Uuid>,
        body: Encrypted<PasswordBody>,
    ) -> Result<EncryptedOk<ReservationBody>, RemoveCardError> {
        caller.require(Scope::Cards)?;
        let password = body.value.try_into_domain()?;
        let locator = Locator::Id(SavedCardId::from_uuid(id.0));
        let reservation = state.payments.remove_saved_card(caller.client, locator, &password).await?;
        Ok(EncryptedOk::new(&ReservationBody::from(&reservation), &caller.envelope))
    }

    /// Receive an Iamport notification
    ///
    /// Iamport calls this when a payment changes. Only `imp_uid` is trusted:
    /// the payment is re-read from Iamport, and a change is recorded and
    /// announced to the payment's `webhook_url`; a payment not registered
    /// whose `merchant_uid` has a pending order completes that order (`paid`,
    /// or `ready` for a virtual account issued). `failed` is acknowledged
    /// without doing anything. A notification that cannot be
    /// processed at once (Iamport down, the payment not registered yet) is
    /// kept and retried here, so it is answered 200 all the same.
    #[oai(
        path = "/payments/webhooks/iamport",
        method = "post",
        operation_id = "receiveIamportWebhook",
        tag = "ApiTags::Webhooks"
    )]
    async fn receive_iamport_webhook(
        &self,
        state: Data<&Arc<HttpState>>,
        body: IamportWebhookRequest,
    ) -> Result<WebhookAck, WebhookError> {
        let body = match body {
            IamportWebhookRequest::Json(Json(body)) | IamportWebhookRequest::Form(Form(body)) => body,
        };
        let mut payload = json!({ "imp_uid": body.imp_uid, "merchant_uid": body.merchant_uid, "status": body.status });
        if let (Some(id), Some(map)) = (&body.cancellation_id, payload.as_object_mut()) {
            map.insert("cancellation_id".into(), Value::String(id.clone()));
        }
        receive(&state, VendorCode::Iamport, RawNotification { headers: &[], body: &[] }, payload).await
    }

    /// Receive a Toss Payments notification
    ///
    /// Toss Payments calls this when a payment changes. `PAYMENT_STATUS_CHANGED`
    /// is trusted for its `data.paymentKey` only, `CANCEL_STATUS_CHANGED` for
    /// its `data.transactionKey` (the payment recorded here with that cancel),
    /// and the flat virtual-account deposit callback for its `orderId` once its
    /// `secret` is the one Toss gave for that payment (another secret answers
    /// 403 and changes nothing): the payment is re-read from Toss, and a change
    /// is recorded and announced to the payment's `webhook_url`. Every other
    /// event type is answered 200 and logged. A notification that cannot be
    /// processed at once (Toss down, the payment not registered yet) is kept
    /// and retried here, so it is answered 200 all the same; one that moves no
    /// money about a payment not registered here (a virtual account just
    /// issued) is only acknowledged. A delivery Toss repeats (the same
    /// `tosspayments-webhook-transmission-id` and body) after it was answered
    /// 200 is answered 200 again without reading Toss.
    #[oai(
        path = "/payments/webhooks/toss",
        method = "post",
        operation_id = "receiveTossWebhook",
        tag = "ApiTags::Webhooks"
    )]
    async fn receive_toss_webhook(
        &self,
        state: Data<&Arc<HttpState>>,
        headers: &poem::http::HeaderMap,
        body: Json<TossWebhookBody>,
    ) -> Result<WebhookAck, WebhookError> {
        // Its headers name the delivery (a retry carries the same id).
        let headers = crate::notification::text_headers(headers);
        let raw = RawNotification { headers: &headers, body: &[] };
        receive(&state, VendorCode::TossPayments, raw, body.0.to_value()).await
    }

    /// Receive any PG's notification
    ///
    /// The route of every PG, by its vendor code (`iamport`, `toss.payments`):
    /// the body is read by that PG's own parser and handled as on the PG's
    /// named route (`/payments/webhooks/iamport`, `/payments/webhooks/toss`,
    /// kept for the PGs already configured with them). A vendor this server
    /// does not serve is 404.
    #[oai(
        path = "/payments/webhooks/:vendor",
        method = "post",
        operation_id = "receivePgWebhook",
        tag = "ApiTags::Webhooks"
    )]
    async fn receive_pg_webhook(
        &self,
        state: Data<&Arc<HttpState>>,
        /// The PG's vendor code.
        vendor: Path<String>,
        body: PgNotificationRequest,
    ) -> Result<WebhookAck, WebhookError> {
        let Ok(vendor) = vendor.0.parse::<VendorCode>() else {
            return Err(ApiError::new(ErrorCode::NotFound, "no PG of that vendor code is served here").into());
        };
        let raw = RawNotification { headers: &body.headers, body: &body.body };
        receive(&state, vendor, raw, body.value.clone()).await
    }

    /// Health check
    ///
    /// Answers 200 with an empty body while the process serves requests (the
    /// original SDK reads an empty body as `undefined`).
    #[oai(path = "/monitors/health", method = "get", operation_id = "health", tag = "ApiTags::Monitors")]
    async fn health(&self) -> HealthAnswer {
        HealthAnswer::Serving
    }

    /// This process
    ///
    /// A random id of this process, its command line, the package and commit
    /// it was built from, and when it started.
    #[oai(path = "/monitors/system", method = "get", operation_id = "system", tag = "ApiTags::Monitors")]
    async fn system(&self, state: Data<&Arc<HttpState>>) -> Result<EncryptedOk<SystemBody>, MonitorError> {
        Ok(EncryptedOk::new(&state.system.body(), &crate::Envelope::Aes(state.cipher.clone())))
    }

    /// Resource use
    ///
    /// CPU time, memory and uptime of this process, the webhook delivery
    /// queue (counts and the age of the oldest pending delivery), and what its
    /// last reconciliation with the PGs checked, found drifted and fixed.
    #[oai(path = "/monitors/performance", method = "get", operation_id = "performance", tag = "ApiTags::Monitors")]
    async fn performance(&self, state: Data<&Arc<HttpState>>) -> Result<EncryptedOk<PerformanceBody>, MonitorError> {
        let outbox = match &state.delivery {
            Some(delivery) => {
                // Counted at most every 2 s, one query at a time: asking
                // often costs the database nothing more.
                let stats = delivery.recent_stats(std::time::Duration::from_secs(2)).await?;
                Some(OutboxBody {
                    pending: stats.pending,
                    retrying: stats.retrying,
                    delivered: stats.delivered,
                    failed: stats.failed,
                    oldest_pending_age_seconds: stats.oldest_pending_age.map(|age| age.as_secs()),
                })
            }
            None => None,
        };
        let body = PerformanceBody {
            cpu: monitors::cpu_usage().await,
            memory: monitors::memory_usage().await,
            uptime_seconds: state.system.uptime_seconds(),
            outbox,
            reconciler: state.payments.last_reconciliation().map(|(at, report)| ReconcilerBody {
                finished_at: at.into(),
                checked: report.checked as u64,
                drifted: report.drifted as u64,
                fixed: report.fixed as u64,
                failed: report.failed as u64,
                cancels_settled: report.intents.settled as u64,
                charges_recorded: report.charges.recorded as u64,
            }),
        };
        Ok(EncryptedOk::new(&body, &crate::Envelope::Aes(state.cipher.clone())))
    }
}
