//! PG deliveries already answered ([`NotificationReceipts`]), written once
//! for both backends like `store.rs`, whose helpers and column conversions
//! it uses.

use super::store::Store;
use super::ts_col;

use async_trait::async_trait;
use payments_application::ports::{NotificationReceipts, RepositoryError};
use payments_domain::{Timestamp, VendorCode};

use crate::error::db_err;

#[async_trait]
impl NotificationReceipts for Store {
    async fn seen(&self, vendor: VendorCode, digest: &str, now: Timestamp) -> Result<bool, RepositoryError> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM pg_notification_receipts WHERE vendor_code = $1 AND digest = $2 AND kept_until >= $3",
        )
        .bind(vendor.as_str())
        .bind(digest)
        .bind(ts_col(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn remember(&self, vendor: VendorCode, digest: &str, until: Timestamp) -> Result<(), RepositoryError> {
        sqlx::query(
            "INSERT INTO pg_notification_receipts (vendor_code, digest, kept_until) VALUES ($1, $2, $3) \
             ON CONFLICT (vendor_code, digest) DO UPDATE SET kept_until = excluded.kept_until \
             WHERE pg_notification_receipts.kept_until < excluded.kept_until",
        )
        .bind(vendor.as_str())
        .bind(digest)
        .bind(ts_col(until))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        Ok(sqlx::query("DELETE FROM pg_notification_receipts WHERE kept_until < $1")
            .bind(ts_col(cutoff))
            .execute(self.writer()?)
            .await
            .map_err(db_err)?
            .rows_affected())
    }
}
