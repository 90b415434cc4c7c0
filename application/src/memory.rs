//! In-memory implementations of ports with the storage's rules, for other
//! crates' tests (feature `mocks`) and this crate's.

use payments_domain::{CancelKey, HistoryId};

use crate::ports::{CancelIntent, CancelIntentRepository, IntentBegin, RepositoryError};

/// Cancel intents in memory, with the storage's rules (one open intent per
/// payment; ids unique).
#[derive(Default)]
pub struct MemoryIntents {
    pub rows: std::sync::Mutex<Vec<CancelIntent>>,
}

impl MemoryIntents {
    pub fn all(&self) -> Vec<CancelIntent> {
        self.rows.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl CancelIntentRepository for MemoryIntents {
    async fn begin(&self, intent: &CancelIntent) -> Result<IntentBegin, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        if let Some(existing) = rows.iter().find(|i| i.id == intent.id) {
            return Ok(IntentBegin::Exists(existing.clone()));
        }
        if let Some(open) = rows.iter().find(|i| i.history == intent.history && i.state.is_open()) {
            return Ok(IntentBegin::Busy(open.clone()));
        }
        rows.push(intent.clone());
        Ok(IntentBegin::Begun)
    }

    async fn update(&self, intent: &CancelIntent) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        match rows.iter_mut().find(|i| i.id == intent.id) {
            Some(row) => {
                *row = intent.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn claimed_cancel_keys(&self, history: HistoryId) -> Result<Vec<CancelKey>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().filter(|i| i.history == history).filter_map(|i| i.cancel_key.clone()).collect())
    }

    async fn open(&self, limit: u32) -> Result<Vec<CancelIntent>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().filter(|i| i.state.is_open()).take(limit as usize).cloned().collect())
    }
}
