//! Saved cards ([`SavedCardRepository`]).

use super::{DbRow, id_col, ts_col};

use async_trait::async_trait;
use payments_application::ports::{RepositoryError, SavedCardRepository, StoredSavedCard};
use payments_domain::{ClientId, PasswordHash, SavedCard, SavedCardId, Source, Timestamp, VendorCode, VendorUid};

use crate::codec::{self};
use crate::error::{db_err, insert_error};

use super::store::*;

pub(super) const RESERVATION_COLUMNS: &str = "id, vendor_code, vendor_store_id, vendor_uid, source_schema, source_table, \
     source_id, title, data, password, created_at, vendor_key_digest, removed_at, client_id";

impl Store {
    async fn find_saved_card(&self, row: Option<DbRow>) -> Result<Option<StoredSavedCard>, RepositoryError> {
        row.map(|row| codec::reservation(&self.keys, reservation_row(&row)?)).transpose()
    }
}

#[async_trait]
impl SavedCardRepository for Store {
    async fn mark_removed(&self, code: VendorCode, key_digest: &str, at: Timestamp) -> Result<u64, RepositoryError> {
        let marked = sqlx::query(
            "UPDATE payment_reservations SET removed_at = $1 \
             WHERE vendor_code = $2 AND vendor_key_digest = $3 AND removed_at IS NULL",
        )
        .bind(ts_col(at))
        .bind(code.as_str())
        .bind(key_digest)
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(marked.rows_affected())
    }

    async fn remove(&self, reservation: &SavedCard, at: Timestamp) -> Result<bool, RepositoryError> {
        let id = reservation.id;
        let data = codec::seal_json(&self.keys.reservations, codec::RESERVATION_DATA, id, &reservation.data)?;
        let removed = sqlx::query(
            "UPDATE payment_reservations SET removed_at = COALESCE(removed_at, $1), data = $2 WHERE id = $3",
        )
        .bind(ts_col(at))
        .bind(data)
        .bind(id_col(id.as_uuid()))
        .execute(self.writer()?)
        .await
        .map_err(db_err)?;
        Ok(removed.rows_affected() == 1)
    }

    async fn insert(&self, reservation: &SavedCard, password_hash: &PasswordHash) -> Result<(), RepositoryError> {
        let id = reservation.id;
        let data = codec::seal_json(&self.keys.reservations, codec::RESERVATION_DATA, id, &reservation.data)?;
        let vendor = &reservation.vendor;
        let source = &reservation.source;
        sqlx::query(
            "INSERT INTO payment_reservations (id, vendor_code, vendor_store_id, vendor_uid, source_schema, \
             source_table, source_id, title, data, password, created_at, vendor_key_digest, removed_at, client_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(id_col(id.as_uuid()))
        .bind(vendor.code.as_str())
        .bind(vendor.store_id.as_str())
        .bind(vendor.uid.as_str())
        .bind(source.schema.as_str())
        .bind(source.table.as_str())
        .bind(source.id.as_str())
        .bind(reservation.title.as_str())
        .bind(data)
        .bind(password_hash.as_str())
        .bind(ts_col(reservation.created_at))
        .bind(reservation.key_digest.as_deref())
        .bind(reservation.removed_at.map(ts_col))
        .bind(client_col(reservation.client))
        .execute(self.writer()?)
        .await
        .map_err(|e| insert_error(e, "saved card", vendor.code.as_str(), vendor.uid.as_str()))?;
        Ok(())
    }

    async fn find_by_id(&self, id: SavedCardId) -> Result<Option<StoredSavedCard>, RepositoryError> {
        let row = sqlx::query(&format!("SELECT {RESERVATION_COLUMNS} FROM payment_reservations WHERE id = $1"))
            .bind(id_col(id.as_uuid()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        self.find_saved_card(row).await
    }

    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredSavedCard>, RepositoryError> {
        let row =
            sqlx::query(&format!("SELECT {RESERVATION_COLUMNS} FROM payment_reservations WHERE {SOURCE_OF_CLIENT}"))
                .bind(source.schema.as_str())
                .bind(source.table.as_str())
                .bind(source.id.as_str())
                .bind(client_col(client))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        self.find_saved_card(row).await
    }

    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredSavedCard>, RepositoryError> {
        let row = sqlx::query(&format!(
            "SELECT {RESERVATION_COLUMNS} FROM payment_reservations WHERE vendor_code = $1 AND vendor_uid = $2"
        ))
        .bind(code.as_str())
        .bind(uid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        self.find_saved_card(row).await
    }
}
