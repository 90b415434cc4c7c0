//! Saved cards (the original SDK's "reservations"): registering, reading, and marking one the
//! PG removed.

use payments_domain::{ClientId, Password, SavedCard, SavedCardId, VendorCode};

use crate::commands::{SaveCard, SavedCardLocator};
use crate::error::{AppError, RecordKind};
use crate::keys::lookup_digest;
use crate::ports::SecretKey;
use crate::service::PaymentService;

impl PaymentService {
    /// Registers a card saved at the PG.
    ///
    /// # Errors
    /// `AlreadyRegistered`; `PgNotFound` when the PG does not know it; a PG
    /// refusal when it belongs to another customer; a PG failure or timeout.
    pub async fn save_card(&self, input: SaveCard) -> Result<SavedCard, AppError> {
        self.check_new_password(&input.password)?;
        if self.reservations().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "vendor.uid",
                message: format!("saved card {} of {} is already registered", input.vendor.uid, input.vendor.code),
            });
        }
        if self.reservations().find_by_source(input.client, &input.source).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "source",
                message: "a saved card is already registered for this source".into(),
            });
        }
        let gateway = self.deps.gateways.get(input.vendor.code)?;
        let card = gateway.fetch_saved_card(&input.vendor.store_id, &input.vendor.uid, &input.source.id).await?;
        let password_hash = self.hash(&input.password).await?;
        let reservation = SavedCard {
            id: SavedCardId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            title: input.title,
            data: card.data,
            key_digest: Some(lookup_digest(&card.key)),
            created_at: self.deps.clock.now(),
            removed_at: None,
            client: input.client,
        };
        self.reservations().insert(&reservation, &password_hash).await?;
        Ok(reservation)
    }

    /// A PG says it removed the saved card whose charging key is `key`: every
    /// record of it is marked removed (kept, never charged again). Returns how
    /// many were marked (0 for a card not registered here).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn process_card_removed(&self, vendor: VendorCode, key: &SecretKey) -> Result<u64, AppError> {
        let digest = lookup_digest(&key.0);
        Ok(self.reservations().mark_removed(vendor, &digest, self.deps.clock.now()).await?)
    }

    /// Reads a saved card with its password.
    ///
    /// # Errors
    /// As for reading a history.
    pub async fn get_saved_card(
        &self,
        client: ClientId,
        locator: SavedCardLocator,
        password: &Password,
    ) -> Result<SavedCard, AppError> {
        Ok(self.opened_saved_card(client, &locator, password).await?.reservation)
    }

    /// Removes a saved card with its password: at the PG where its API
    /// offers that (Iamport), and here (marked removed, its charging key
    /// erased). Payments charged from it stay. Removing a removed card
    /// answers it as it is.
    ///
    /// # Errors
    /// As for reading; a PG failure or timeout.
    pub async fn remove_saved_card(
        &self,
        client: ClientId,
        locator: SavedCardLocator,
        password: &payments_domain::Password,
    ) -> Result<SavedCard, AppError> {
        let card = self.opened_saved_card(client, &locator, password).await?.reservation;
        self.remove_card(card).await
    }

    /// A saved card removed by an operator of the console: found by its id,
    /// whichever client's it is (the role is the gate, the audit trail
    /// names them), then removed as [`PaymentService::remove_saved_card`]
    /// removes it.
    ///
    /// # Errors
    /// `RecordNotFound`; a PG failure or timeout.
    pub async fn remove_saved_card_by_operator(&self, id: payments_domain::SavedCardId) -> Result<SavedCard, AppError> {
        let stored = self.reservations().find_by_id(id).await?;
        let card = stored.ok_or(AppError::RecordNotFound(RecordKind::SavedCard))?.reservation;
        self.remove_card(card).await
    }

    async fn remove_card(&self, mut card: SavedCard) -> Result<SavedCard, AppError> {
        if card.removed_at.is_some() {
            return Ok(card);
        }
        let gateway = self.deps.gateways.get(card.vendor.code)?;
        card.data = gateway.remove_saved_card(&card.vendor.store_id, &card.vendor.uid, &card.data).await?;
        let now = self.deps.clock.now();
        card.removed_at = Some(now);
        if !self.reservations().remove(&card, now).await? {
            return Err(AppError::RecordNotFound(RecordKind::SavedCard));
        }
        Ok(card)
    }
}
