use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Capacity and time-to-live of one fake-server map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most entries kept; inserting beyond it evicts the least recently written.
    pub capacity: usize,
    /// An entry not written for this long is gone.
    pub ttl: Duration,
}

impl Default for StoreLimits {
    /// 1000 entries, 3 minutes: what the original fake servers keep.
    fn default() -> Self {
        Self { capacity: 1000, ttl: Duration::from_secs(180) }
    }
}

/// A bounded, expiring map, safe to share between concurrent requests.
///
/// Every operation holds one short lock and never awaits while holding it.
#[derive(Debug)]
pub struct Store<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    limits: StoreLimits,
}

impl<K: Eq + Hash + Clone, V: Clone> Store<K, V> {
    pub fn new(limits: StoreLimits) -> Self {
        Self { entries: Mutex::new(HashMap::new()), limits }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock cannot leave a half-written map
        // (every write is a single insert), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live(&self, written: Instant, now: Instant) -> bool {
        now.duration_since(written) < self.limits.ttl
    }

    /// Inserts or replaces, evicting expired entries and, at capacity, the
    /// least recently written one.
    pub fn insert(&self, key: K, value: V) {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, (_, written)| now.duration_since(*written) < self.limits.ttl);
        if !entries.contains_key(&key)
            && entries.len() >= self.limits.capacity.max(1)
            && let Some(oldest) = entries.iter().min_by_key(|(_, (_, w))| *w).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (value, now));
    }

    /// A copy of the live value under `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        let entries = self.lock();
        entries.get(key).filter(|(_, w)| self.live(*w, now)).map(|(v, _)| v.clone())
    }

    /// Changes the live value under `key` in place (atomically with respect to
    /// other calls) and returns what `change` returns; `None` when absent.
    pub fn update<R>(&self, key: &K, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        let now = Instant::now();
        let mut entries = self.lock();
        let (value, written) = entries.get_mut(key).filter(|(_, w)| now.duration_since(*w) < self.limits.ttl)?;
        let result = change(value);
        *written = now;
        Some(result)
    }

    pub fn remove(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        self.lock().remove(key).filter(|(_, w)| self.live(*w, now)).map(|(v, _)| v)
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|(_, w)| self.live(*w, now)).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_at_capacity() {
        let store = Store::new(StoreLimits { capacity: 2, ttl: Duration::from_secs(60) });
        store.insert("a", 1);
        store.insert("b", 2);
        store.insert("c", 3);
        assert_eq!(store.get(&"a"), None);
        assert_eq!(store.get(&"b"), Some(2));
        assert_eq!(store.len(), 2);
        store.insert("b", 20); // replacing does not evict
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn entries_expire() {
        let store = Store::new(StoreLimits { capacity: 10, ttl: Duration::from_millis(20) });
        store.insert(1, "x");
        assert_eq!(store.get(&1), Some("x"));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(store.get(&1), None);
        assert_eq!(store.update(&1, |v| *v), None);
        assert!(store.is_empty());
    }

    #[test]
    fn update_is_atomic_under_concurrency() {
        let store = std::sync::Arc::new(Store::new(StoreLimits::default()));
        store.insert("n", 0u32);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        store.update(&"n", |n| *n += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.get(&"n"), Some(8000));
    }
}
