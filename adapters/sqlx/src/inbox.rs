//! The inbox of PG notifications ([`NotificationInbox`]), written once for
//! both backends like `store.rs`, whose helpers and column conversions it uses.

use std::time::Duration;

use super::store::{Store, get, get_id, get_ts};
use super::{SKIP_LOCKED, id_col, ts_col};

use async_trait::async_trait;
use payments_application::commands::{NotificationTarget, PgNotification};
use payments_application::ports::{InboxItem, InboxOutcome, LeaseToken, NotificationInbox, RepositoryError};
use payments_domain::{CancelKey, OrderId, Timestamp, VendorCode, VendorUid};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec;
use crate::error::{corrupt, db_err};
use crate::spool::{SealedInbox, SealedNotification, sealed_row, until};

const BODY: &str = "pg_notifications.body";
/// The longest error text kept for an operator.
const MAX_ERROR_CHARS: usize = 500;

/// The sealed body of a notification.
#[derive(Serialize, Deserialize)]
struct Body {
    payment: Option<String>,
    order: Option<String>,
    secret: Option<String>,
    /// The PG's key of one of the payment's cancels (absent from bodies
    /// sealed before cancels could be named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancel: Option<String>,
    ignore_unknown: bool,
    payload: serde_json::Value,
    /// Its signature verified (absent from bodies sealed before it was kept).
    #[serde(default)]
    signed: bool,
}

fn body_of(notice: &PgNotification) -> Body {
    let payload = notice.payload.clone();
    let signed = notice.signed;
    match &notice.target {
        NotificationTarget::Payment { uid, ignore_unknown, order } => Body {
            payment: Some(uid.as_str().to_owned()),
            order: order.as_ref().map(|o| o.as_str().to_owned()),
            secret: None,
            cancel: None,
            ignore_unknown: *ignore_unknown,
            payload,
            signed,
        },
        NotificationTarget::Order { order_id, secret, ignore_unknown } => Body {
            payment: None,
            order: Some(order_id.as_str().to_owned()),
            secret: Some(secret.clone()),
            cancel: None,
            ignore_unknown: *ignore_unknown,
            payload,
            signed,
        },
        NotificationTarget::Cancel { key, ignore_unknown } => Body {
            payment: None,
            order: None,
            secret: None,
            cancel: Some(key.as_str().to_owned()),
            ignore_unknown: *ignore_unknown,
            payload,
            signed,
        },
    }
}

fn notice_of(vendor: VendorCode, body: Body) -> Result<PgNotification, String> {
    let target = match (body.payment, body.order, body.secret, body.cancel) {
        (Some(uid), order, None, None) => NotificationTarget::Payment {
            uid: VendorUid::parse(uid).map_err(|e| e.to_string())?,
            ignore_unknown: body.ignore_unknown,
            order: order.map(OrderId::parse).transpose().map_err(|e| e.to_string())?,
        },
        (None, Some(order), Some(secret), None) => NotificationTarget::Order {
            order_id: OrderId::parse(order).map_err(|e| e.to_string())?,
            secret,
            ignore_unknown: body.ignore_unknown,
        },
        (None, None, None, Some(key)) => NotificationTarget::Cancel {
            key: CancelKey::parse(key).map_err(|e| e.to_string())?,
            ignore_unknown: body.ignore_unknown,
        },
        _ => return Err("neither a payment, an order nor a cancel".to_owned()),
    };
    Ok(PgNotification { vendor, target, payload: body.payload, signed: body.signed })
}

impl Store {
    /// The pending notifications whose sealed body names a key this store's
    /// histories keyring does not hold (they would never open): how many, and
    /// the key ids they name. Reads only the head of each body.
    pub(crate) async fn pending_under_unknown_keys(&self) -> Result<crate::UnknownKeys, RepositoryError> {
        let heads: Vec<String> =
            sqlx::query_scalar("SELECT substr(body, 1, 64) FROM pg_notifications WHERE state = 'pending'")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(crate::UnknownKeys::of(&self.keys.histories, heads.iter().map(String::as_str)))
    }
}

#[async_trait]
impl SealedInbox for Store {
    fn seal(&self, id: Uuid, notice: &PgNotification) -> Result<String, RepositoryError> {
        codec::seal_json(&self.keys.histories, BODY, id, &body_of(notice))
    }

    async fn upsert(&self, row: &SealedNotification, due_at: Timestamp) -> Result<(), RepositoryError> {
        // One row per vendor and target (its id). A repeat refreshes it: the
        // newest body and received-at; pending, the sooner due time and
        // `known` if either was; processed, kept again from scratch; held by
        // a worker, `refreshed` so that its attempt's outcome leaves it
        // pending (the attempt may have read the PG before this change).
        sqlx::query(
            "INSERT INTO pg_notifications (id, vendor_code, body, state, attempts, due_at, received_at, updated_at, \
             known, refreshed) VALUES ($1, $2, $3, 'pending', 0, $4, $5, $5, $6, FALSE) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, received_at = excluded.received_at, \
             updated_at = excluded.updated_at, \
             refreshed = (pg_notifications.lease_token IS NOT NULL), \
             due_at = CASE WHEN pg_notifications.state = 'pending' AND pg_notifications.lease_token IS NULL \
               AND pg_notifications.due_at < excluded.due_at THEN pg_notifications.due_at ELSE excluded.due_at END, \
             known = CASE WHEN pg_notifications.state = 'pending' THEN (pg_notifications.known OR excluded.known) \
               ELSE excluded.known END, \
             attempts = CASE WHEN pg_notifications.state = 'pending' THEN pg_notifications.attempts ELSE 0 END, \
             last_error = CASE WHEN pg_notifications.state = 'pending' THEN pg_notifications.last_error END, \
             state = 'pending'",
        )
        .bind(id_col(row.id))
        .bind(row.vendor.as_str())
        .bind(&row.body)
        .bind(ts_col(due_at))
        .bind(ts_col(row.received_at))
        .bind(row.known)
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl NotificationInbox for Store {
    async fn enqueue(
        &self,
        notice: &PgNotification,
        now: Timestamp,
        due_in: Duration,
        known: bool,
    ) -> Result<Uuid, RepositoryError> {
        let row = sealed_row(self, notice, now, known)?;
        self.upsert(&row, until(now, due_in)).await?;
        Ok(row.id)
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease = Uuid::new_v4();
        let rows = sqlx::query(&format!(
            "UPDATE pg_notifications SET lease_token = $1, lease_until = $2, updated_at = $3, refreshed = FALSE \
             WHERE id IN (SELECT id FROM pg_notifications \
             WHERE state = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
             ORDER BY known DESC, due_at LIMIT $4{SKIP_LOCKED}) \
             RETURNING id, vendor_code, body, attempts, received_at"
        ))
        .bind(id_col(lease))
        .bind(ts_col(until(now, lease_for)))
        .bind(ts_col(now))
        .bind(i64::from(limit))
        .fetch_all(self.writer()?)
        .await
        .map_err(db_err)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = get_id(row, "id")?;
            let read = (|| {
                let vendor: String = get(row, "vendor_code")?;
                let vendor: VendorCode =
                    vendor.parse().map_err(|e| corrupt(format!("vendor of notification {id}"), e))?;
                let sealed: String = get(row, "body")?;
                let body: Body = codec::open_json(&self.keys.histories, BODY, id, &sealed)?;
                notice_of(vendor, body).map_err(|e| corrupt(format!("notification {id}"), e))
            })();
            match read {
                Ok(notice) => {
                    let attempts: i64 = get(row, "attempts")?;
                    items.push(InboxItem {
                        id,
                        notice,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        received_at: get_ts(row, "received_at")?,
                        lease: LeaseToken(lease),
                    });
                }
                // One unreadable notification must not block the others.
                Err(error) => {
                    tracing::error!(notification = %id, %error, "PG notification cannot be read; marked failed");
                    self.settle(id, LeaseToken(lease), InboxOutcome::Failed, Some(error.to_string()), now).await?;
                }
            }
        }
        items.sort_by_key(|item| item.received_at);
        Ok(items)
    }

    async fn settle(
        &self,
        id: Uuid,
        lease: LeaseToken,
        outcome: InboxOutcome,
        error: Option<String>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let (state, due) = match outcome {
            InboxOutcome::Done => ("done", now),
            InboxOutcome::RetryAt(at) => ("pending", at),
            InboxOutcome::Failed => ("failed", now),
        };
        let error = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
        // Refreshed during the attempt: pending still, due as the refresh
        // asked (or at this retry, when sooner).
        let settled = sqlx::query(
            "UPDATE pg_notifications SET state = CASE WHEN refreshed THEN 'pending' ELSE $1 END, \
             due_at = CASE WHEN refreshed AND ($1 <> 'pending' OR due_at < $2) THEN due_at ELSE $2 END, \
             refreshed = FALSE, attempts = attempts + 1, lease_token = NULL, lease_until = NULL, updated_at = $3, \
             last_error = $4 WHERE id = $5 AND lease_token = $6",
        )
        .bind(state)
        .bind(ts_col(due))
        .bind(ts_col(now))
        .bind(error)
        .bind(id_col(id))
        .bind(id_col(lease.0))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(settled.rows_affected() == 1)
    }

    async fn count(&self) -> Result<u64, RepositoryError> {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_notifications").fetch_one(&self.pool).await.map_err(db_err)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let purged = sqlx::query("DELETE FROM pg_notifications WHERE state <> 'pending' AND received_at < $1")
            .bind(ts_col(cutoff))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?;
        Ok(purged.rows_affected())
    }
}
