//! Which credentials serve which store: a PG account per store id, and one
//! for every store not listed (as the original server's single key pair).

use std::collections::HashMap;

use payments_application::ports::GatewayError;
use payments_domain::VendorCode;

/// Credentials `C` per store id, and for the rest.
#[derive(Clone)]
pub struct Stores<C> {
    by_id: HashMap<String, C>,
    default: Option<C>,
}

impl<C> Default for Stores<C> {
    fn default() -> Self {
        Self { by_id: HashMap::new(), default: None }
    }
}

impl<C> std::fmt::Debug for Stores<C> {
    /// The store ids only: credentials never print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.by_id.keys().collect();
        ids.sort();
        f.debug_struct("Stores").field("ids", &ids).field("default", &self.default.is_some()).finish()
    }
}

impl<C> Stores<C> {
    /// Adds (or replaces) a store's credentials.
    #[must_use]
    pub fn with_store(mut self, store: impl Into<String>, credentials: C) -> Self {
        self.by_id.insert(store.into(), credentials);
        self
    }

    /// Sets the credentials of every store not listed.
    #[must_use]
    pub fn with_default(mut self, credentials: C) -> Self {
        self.default = Some(credentials);
        self
    }

    /// Whether every store is served by default credentials.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }

    /// The credentials of `store`.
    ///
    /// # Errors
    /// `UnknownStore` when it is not listed and there is no default.
    pub fn get(&self, vendor: VendorCode, store: &str) -> Result<&C, GatewayError> {
        self.by_id
            .get(store)
            .or(self.default.as_ref())
            .ok_or_else(|| GatewayError::UnknownStore { vendor, store: store.to_owned() })
    }

    /// The same stores with each credential turned into `D` (a client's state).
    pub fn map<D>(self, f: impl Fn(C) -> D) -> Stores<D> {
        Stores { by_id: self.by_id.into_iter().map(|(id, c)| (id, f(c))).collect(), default: self.default.map(f) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_store_has_its_own_credentials_and_the_rest_the_default() {
        let stores = Stores::default().with_store("a", 1).with_default(0);
        assert_eq!(stores.get(VendorCode::TossPayments, "a").unwrap(), &1);
        assert_eq!(stores.get(VendorCode::TossPayments, "b").unwrap(), &0);
        let only = Stores::default().with_store("a", 1).map(|n| n * 10);
        assert_eq!(only.get(VendorCode::Iamport, "a").unwrap(), &10);
        let unknown = only.get(VendorCode::Iamport, "b").unwrap_err();
        assert!(
            matches!(unknown, GatewayError::UnknownStore { vendor: VendorCode::Iamport, ref store } if store == "b")
        );
        assert_eq!(format!("{only:?}"), r#"Stores { ids: ["a"], default: false }"#);
    }
}
