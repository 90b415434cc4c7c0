//! The outbox of webhook events ([`WebhookOutbox`]): claims under leases and
//! delivery attempts written in batches (group commit).

use super::{Db, IdCol, SKIP_LOCKED, TsCol, from_id, id_col, ts_col};
use std::time::Duration;

use async_trait::async_trait;
use payments_application::ports::{
    DeliveryJob, FeedEvent, JobOutcome, LeaseToken, OutboxStats, RepositoryError, WebhookOutbox,
};
use payments_domain::{ClientId, DeliveryAttempt, EventId, Timestamp};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::codec::{self};
use crate::error::{corrupt, db_err};

use super::store::*;

/// Delivery attempts waiting to be written, recorded together (group
/// commit): every delivery finishing while a batch is being written joins
/// the next one, so the write path holds one transaction per batch instead
/// of one per attempt. No timer: a lone attempt is written at once.
#[derive(Default)]
pub(super) struct AttemptQueue {
    waiting: std::sync::Mutex<Vec<QueuedAttempt>>,
    /// Held by whoever is writing a batch.
    writing: tokio::sync::Mutex<()>,
}

/// One [`WebhookOutbox::record_attempt`] call, sealed and ready to write.
struct QueuedAttempt {
    event: Uuid,
    lease: Uuid,
    state: &'static str,
    due_at: Option<TsCol>,
    at: TsCol,
    response: Uuid,
    status: Option<i64>,
    body: Option<String>,
    done: tokio::sync::oneshot::Sender<Result<bool, RepositoryError>>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a push or a take: never half-done.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The same error for each caller of a batch that failed.
fn share(error: &RepositoryError) -> RepositoryError {
    match error {
        RepositoryError::Conflict(what) => RepositoryError::Conflict(what.clone()),
        RepositoryError::Stale => RepositoryError::Stale,
        RepositoryError::Unavailable(why) => RepositoryError::Unavailable(why.clone()),
        RepositoryError::Corrupt(cause) => RepositoryError::Corrupt(anyhow::anyhow!("{cause:#}")),
        RepositoryError::Other(cause) => RepositoryError::Other(anyhow::anyhow!("{cause:#}")),
    }
}

impl Store {
    /// Writes every queued attempt (ours among them, unless the writer
    /// before us took it) in one transaction and tells each caller whether
    /// its lease still held. A caller that finds the queue emptied waits for
    /// the writer holding `writing`, which answers before letting go.
    async fn flush_attempts(&self) {
        let _writing = self.attempts.writing.lock().await;
        let batch = std::mem::take(&mut *lock(&self.attempts.waiting));
        if batch.is_empty() {
            return;
        }
        match self.write_attempts(&batch).await {
            Ok(settled) => {
                for queued in batch {
                    let _ = queued.done.send(Ok(settled.contains(&queued.event)));
                }
            }
            Err(error) => {
                for queued in batch {
                    let _ = queued.done.send(Err(share(&error)));
                }
            }
        }
    }

    /// One transaction: settles the jobs whose lease still holds (one
    /// statement) and records their attempts (one insert); answers the
    /// settled events.
    async fn write_attempts(
        &self,
        batch: &[QueuedAttempt],
    ) -> Result<std::collections::HashSet<Uuid>, RepositoryError> {
        let mut settle = QueryBuilder::<Db>::new(
            "UPDATE payment_webhook_outbox SET state = v.new_state, due_at = COALESCE(v.new_due_at, due_at), \
             attempts = attempts + 1, lease_token = NULL, lease_until = NULL, updated_at = v.settled_at FROM (",
        );
        for (n, queued) in batch.iter().enumerate() {
            settle.push(if n == 0 { "SELECT " } else { " UNION ALL SELECT " });
            settle.push_bind(id_col(queued.event)).push(" AS job_id, ");
            settle.push_bind(id_col(queued.lease)).push(" AS job_lease, ");
            settle.push_bind(queued.state).push(" AS new_state, ");
            settle.push_bind(queued.due_at).push(" AS new_due_at, ");
            settle.push_bind(queued.at).push(" AS settled_at");
        }
        settle.push(
            ") AS v WHERE payment_webhook_outbox.event_id = v.job_id AND lease_token = v.job_lease \
             AND state = 'pending' RETURNING event_id",
        );
        let mut tx = self.begin_write().await?;
        let mut settled = std::collections::HashSet::with_capacity(batch.len());
        for row in settle.build().fetch_all(&mut *tx).await.map_err(db_err)? {
            settled.insert(get_id(&row, "event_id")?);
        }
        if settled.is_empty() {
            tx.rollback().await.map_err(db_err)?;
            return Ok(settled);
        }
        let mut record = QueryBuilder::<Db>::new(
            "INSERT INTO payment_history_webhook_responses (id, payment_history_webhook_id, status, body, created_at) ",
        );
        record.push_values(batch.iter().filter(|q| settled.contains(&q.event)), |mut b, queued| {
            b.push_bind(id_col(queued.response))
                .push_bind(id_col(queued.event))
                .push_bind(queued.status)
                .push_bind(queued.body.clone())
                .push_bind(queued.at);
        });
        record.build().execute(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(settled)
    }
}

#[async_trait]
impl WebhookOutbox for Store {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<DeliveryJob>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease = Uuid::new_v4();
        let lease_for = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
        let until = now.checked_add_signed(lease_for).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        // One statement picks and leases the jobs (SQLite: under the write
        // lock; PostgreSQL: skipping rows another worker is claiming).
        let claimed = sqlx::query(&format!(
            "UPDATE payment_webhook_outbox SET lease_token = $1, lease_until = $2, updated_at = $3 \
             WHERE event_id IN (SELECT event_id FROM payment_webhook_outbox \
             WHERE state = 'pending' AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
             ORDER BY due_at LIMIT $4{SKIP_LOCKED}) \
             RETURNING event_id, attempts, due_at"
        ))
        .bind(id_col(lease))
        .bind(ts_col(until))
        .bind(ts_col(now))
        .bind(i64::from(limit))
        .fetch_all(self.writer()?)
        .await
        .map_err(db_err)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut jobs = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let attempts: i64 = get(row, "attempts")?;
            jobs.push((get_id(row, "event_id")?, u32::try_from(attempts).unwrap_or(u32::MAX), get_ts(row, "due_at")?));
        }
        jobs.sort_by_key(|(_, _, due)| *due);
        let mut select = QueryBuilder::<Db>::new(
            "SELECT id, previous, current, data, created_at FROM payment_history_webhooks WHERE id IN (",
        );
        let mut ids = select.separated(", ");
        for (id, _, _) in &jobs {
            ids.push_bind(id_col(*id));
        }
        select.push(")");
        let mut events = std::collections::HashMap::with_capacity(jobs.len());
        for row in select.build().fetch_all(&self.pool).await.map_err(db_err)? {
            let row = event_row(&row)?;
            events.insert(row.id, row);
        }
        let mut ready = Vec::with_capacity(jobs.len());
        for (id, attempts_made, _) in jobs {
            let event = events
                .remove(&id)
                .ok_or_else(|| corrupt("webhook outbox", format!("event {id} is missing")))
                .and_then(|row| codec::event(&self.keys, row));
            match event {
                Ok(event) => ready.push(DeliveryJob { event, attempts_made, lease: LeaseToken(lease) }),
                // One unreadable event must not block the queue behind it: park
                // it as failed (an operator can redeliver it once the key is
                // configured again) and deliver the others.
                Err(error) => {
                    tracing::error!(event = %id, %error, "webhook event cannot be read; marked failed");
                    sqlx::query(
                        "UPDATE payment_webhook_outbox SET state = 'failed', lease_token = NULL, lease_until = NULL, \
                         updated_at = $1 WHERE event_id = $2 AND lease_token = $3",
                    )
                    .bind(ts_col(now))
                    .bind(id_col(id))
                    .bind(id_col(lease))
                    .execute(self.writer()?)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        Ok(ready)
    }

    async fn record_attempt(
        &self,
        event: EventId,
        lease: LeaseToken,
        attempt: &DeliveryAttempt,
        outcome: JobOutcome,
    ) -> Result<bool, RepositoryError> {
        let (state, due_at) = match outcome {
            JobOutcome::Delivered => ("delivered", None),
            JobOutcome::RetryAt(at) => ("pending", Some(at)),
            JobOutcome::Failed => ("failed", None),
        };
        let response = Uuid::now_v7();
        let body = match attempt.body.as_deref() {
            Some(body) => Some(codec::seal_json(&self.keys.histories, codec::RESPONSE_BODY, response, body)?),
            None => None,
        };
        let (done, result) = tokio::sync::oneshot::channel();
        lock(&self.attempts.waiting).push(QueuedAttempt {
            event: event.as_uuid(),
            lease: lease.0,
            state,
            due_at: due_at.map(ts_col),
            at: ts_col(attempt.created_at),
            response,
            status: attempt.status.map(i64::from),
            body,
            done,
        });
        self.flush_attempts().await;
        result.await.unwrap_or_else(|_| Err(RepositoryError::Unavailable("the attempt was not written".into())))
    }

    async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), RepositoryError> {
        sqlx::query(
            "UPDATE payment_webhook_outbox SET lease_token = NULL, lease_until = NULL \
             WHERE event_id = $1 AND lease_token = $2 AND state = 'pending'",
        )
        .bind(id_col(event.as_uuid()))
        .bind(id_col(lease.0))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn purge_settled_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepositoryError> {
        // The job and its attempts go with their event (ON DELETE CASCADE).
        let purged = sqlx::query(
            "DELETE FROM payment_history_webhooks WHERE id IN (\
             SELECT event_id FROM payment_webhook_outbox \
             WHERE state IN ('delivered', 'failed') AND updated_at < $1 ORDER BY updated_at LIMIT $2)",
        )
        .bind(ts_col(cutoff))
        .bind(i64::from(limit))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(purged.rows_affected())
    }

    async fn redeliver(&self, event: EventId, now: Timestamp) -> Result<bool, RepositoryError> {
        // A job purged after its retention is made again.
        let updated = sqlx::query(
            "INSERT INTO payment_webhook_outbox (event_id, state, due_at, attempts, created_at, updated_at) \
             SELECT id, 'pending', $1, 0, $1, $1 FROM payment_history_webhooks WHERE id = $2 \
             ON CONFLICT (event_id) DO UPDATE SET state = 'pending', due_at = $1, attempts = 0, \
             lease_token = NULL, lease_until = NULL, updated_at = $1",
        )
        .bind(ts_col(now))
        .bind(id_col(event.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(updated > 0)
    }

    async fn client_events(
        &self,
        client: ClientId,
        after: Option<EventId>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<FeedEvent>, RepositoryError> {
        let owner = if client.is_legacy() { "h.client_id IS NULL" } else { "h.client_id = $4" };
        let sql = format!(
            "SELECT e.id, e.previous, e.current, e.data, e.created_at, o.state, o.attempts \
             FROM payment_history_webhooks e JOIN payment_histories h ON h.id = e.payment_history_id \
             LEFT JOIN payment_webhook_outbox o ON o.event_id = e.id \
             WHERE {owner} AND e.id > $1 AND e.created_at >= $2 ORDER BY e.id LIMIT $3"
        );
        let mut query = sqlx::query(&sql)
            .bind(id_col(after.map_or(Uuid::nil(), |a| a.as_uuid())))
            .bind(ts_col(since))
            .bind(i64::from(limit));
        if !client.is_legacy() {
            query = query.bind(id_col(client.as_uuid()));
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        let mut feed = Vec::with_capacity(rows.len());
        for row in &rows {
            feed.push(FeedEvent { event: codec::event(&self.keys, event_row(row)?)?, delivery: feed_delivery(row)? });
        }
        Ok(feed)
    }

    async fn event_client(&self, event: EventId) -> Result<Option<ClientId>, RepositoryError> {
        let row = sqlx::query(
            "SELECT h.client_id FROM payment_history_webhooks e JOIN payment_histories h \
             ON h.id = e.payment_history_id WHERE e.id = $1",
        )
        .bind(id_col(event.as_uuid()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            Ok(get::<Option<IdCol>>(&row, "client_id")?.map_or(ClientId::LEGACY, |c| ClientId::from_uuid(from_id(c))))
        })
        .transpose()
    }

    async fn attempts(&self, event: EventId) -> Result<Vec<DeliveryAttempt>, RepositoryError> {
        let rows = sqlx::query(
            "SELECT id, status, body, created_at FROM payment_history_webhook_responses \
             WHERE payment_history_webhook_id = $1 ORDER BY created_at, id",
        )
        .bind(id_col(event.as_uuid()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let status = get::<Option<i64>>(row, "status")?
                    .map(|s| u16::try_from(s).map_err(|e| corrupt(format!("status of an attempt of {event}"), e)))
                    .transpose()?;
                let body = match get::<Option<String>>(row, "body")? {
                    Some(sealed) => {
                        let id = get_id(row, "id")?;
                        Some(codec::open_json::<String>(&self.keys.histories, codec::RESPONSE_BODY, id, &sealed)?)
                    }
                    None => None,
                };
                Ok(DeliveryAttempt { status, body, created_at: get_ts(row, "created_at")? })
            })
            .collect()
    }

    async fn stats(&self, now: Timestamp) -> Result<OutboxStats, RepositoryError> {
        let row = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN state = 'pending' AND attempts = 0 THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS retrying, \
             COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
             COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
             MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest \
             FROM payment_webhook_outbox",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let oldest = get_opt_ts(&row, "oldest")?;
        Ok(OutboxStats {
            pending: to_u64(get(&row, "pending")?),
            retrying: to_u64(get(&row, "retrying")?),
            delivered: to_u64(get(&row, "delivered")?),
            failed: to_u64(get(&row, "failed")?),
            oldest_pending_age: oldest.map(|at| (now - at).to_std().unwrap_or(Duration::ZERO)),
        })
    }
}
