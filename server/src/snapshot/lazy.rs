//! Pages rendered when first asked for (past incidents, older history pages), kept
//! across snapshots within a byte budget each, and dropped when what they show changes.
//! Incident pages and history pages have budgets of their own, so a crawl of one cannot
//! evict the other; ids that do not exist are remembered as such.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use lru::LruCache;

use super::Asset;

/// Bytes of incident pages kept (each with its compressed forms).
const INCIDENT_BUDGET: usize = 16 << 20;
/// Bytes of history pages kept.
const HISTORY_BUDGET: usize = 4 << 20;
/// Unknown incident ids remembered.
const MISSING: usize = 10_000;

fn weight(a: &Asset) -> usize {
    a.identity.len() + a.gzip().map_or(0, |b| b.len()) + a.brotli().map_or(0, |b| b.len())
}

/// An LRU of assets within a byte budget. Each invalidation moves the generation on, so
/// a page rendered from data read before it is not kept after it.
struct Budgeted<K: std::hash::Hash + Eq> {
    entries: LruCache<K, Arc<Asset>>,
    bytes: usize,
    budget: usize,
    generation: u64,
}

impl<K: std::hash::Hash + Eq> Budgeted<K> {
    fn new(budget: usize) -> Self {
        Budgeted {
            entries: LruCache::unbounded(),
            bytes: 0,
            budget,
            generation: 0,
        }
    }

    fn get(&mut self, k: &K) -> Option<Arc<Asset>> {
        self.entries.get(k).cloned()
    }

    fn put(&mut self, k: K, a: Arc<Asset>, generation: u64) {
        let w = weight(&a);
        if generation != self.generation || w > self.budget {
            return;
        }
        if let Some(old) = self.entries.put(k, a) {
            self.bytes -= weight(&old);
        }
        self.bytes += w;
        while self.bytes > self.budget {
            match self.entries.pop_lru() {
                Some((_, old)) => self.bytes -= weight(&old),
                None => break,
            }
        }
    }

    fn remove(&mut self, k: &K) {
        self.generation += 1;
        if let Some(old) = self.entries.pop(k) {
            self.bytes -= weight(&old);
        }
    }

    fn clear(&mut self) {
        self.generation += 1;
        self.entries.clear();
        self.bytes = 0;
    }
}

pub struct Lazy {
    incidents: Mutex<Budgeted<String>>,
    history: Mutex<Budgeted<u64>>,
    missing: Mutex<LruCache<String, ()>>,
}

/// Where a page being rendered stands, to be handed back with the result.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl Default for Lazy {
    fn default() -> Self {
        Lazy::with_budgets(INCIDENT_BUDGET, HISTORY_BUDGET)
    }
}

impl Lazy {
    fn with_budgets(incidents: usize, history: usize) -> Lazy {
        Lazy {
            incidents: Mutex::new(Budgeted::new(incidents)),
            history: Mutex::new(Budgeted::new(history)),
            missing: Mutex::new(LruCache::new(
                NonZeroUsize::new(MISSING).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    pub fn incident(&self, id: &str) -> Result<Arc<Asset>, Ticket> {
        let mut c = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        c.get(&id.to_owned()).ok_or(Ticket(c.generation))
    }

    pub fn keep_incident(&self, id: &str, asset: Arc<Asset>, ticket: Ticket) {
        let mut c = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        c.put(id.to_owned(), asset, ticket.0);
    }

    pub fn is_missing(&self, id: &str) -> bool {
        self.missing
            .lock()
            .map(|mut m| m.get(id).is_some())
            .unwrap_or(false)
    }

    pub fn keep_missing(&self, id: &str) {
        if let Ok(mut m) = self.missing.lock() {
            m.put(id.to_owned(), ());
        }
    }

    pub fn history(&self, page: u64) -> Result<Arc<Asset>, Ticket> {
        let mut c = self.history.lock().unwrap_or_else(|e| e.into_inner());
        c.get(&page).ok_or(Ticket(c.generation))
    }

    pub fn keep_history(&self, page: u64, asset: Arc<Asset>, ticket: Ticket) {
        let mut c = self.history.lock().unwrap_or_else(|e| e.into_inner());
        c.put(page, asset, ticket.0);
    }

    /// An incident changed: its page, and the history pages that list it.
    pub fn forget_incident(&self, id: &str) {
        if let Ok(mut c) = self.incidents.lock() {
            c.remove(&id.to_owned());
        }
        if let Ok(mut c) = self.history.lock() {
            c.clear();
        }
    }

    /// A component's status changed: past incidents' pages say how they are now.
    pub fn forget_incidents(&self) {
        if let Ok(mut c) = self.incidents.lock() {
            c.clear();
        }
    }

    /// A new incident: an id remembered as unknown may exist now.
    pub fn forget_missing(&self) {
        if let Ok(mut m) = self.missing.lock() {
            m.clear();
        }
    }

    /// The frame every page shows changed (the page's settings, component names).
    pub fn forget_all(&self) {
        if let Ok(mut c) = self.incidents.lock() {
            c.clear();
        }
        if let Ok(mut c) = self.history.lock() {
            c.clear();
        }
        self.forget_missing();
    }

    /// Bytes held, incident pages and history pages.
    pub fn bytes(&self) -> (usize, usize) {
        (
            self.incidents.lock().map(|c| c.bytes).unwrap_or(0),
            self.history.lock().map(|c| c.bytes).unwrap_or(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Caching;

    fn asset(n: usize) -> Arc<Asset> {
        Arc::new(Asset::new(
            "text/plain",
            vec![b'x'; n],
            Caching::Live,
            false,
        ))
    }

    #[test]
    fn budgets_hold_and_changes_drop_what_was_rendered_before() {
        let mut b: Budgeted<u32> = Budgeted::new(1000);
        for i in 0..10 {
            b.put(i, asset(200), 0);
        }
        assert!(b.bytes <= 1000, "{}", b.bytes);
        assert!(
            b.get(&9).is_some() && b.get(&0).is_none(),
            "the least recent went"
        );
        // A page rendered before an invalidation is not kept after it.
        let before = b.generation;
        b.remove(&9);
        b.put(9, asset(10), before);
        assert!(b.get(&9).is_none());
        b.put(9, asset(10), b.generation);
        assert!(b.get(&9).is_some());
    }

    #[test]
    fn one_kind_cannot_evict_the_other() {
        let lazy = Lazy::with_budgets(1000, 1000);
        let t = lazy.incident("a").err().unwrap_or(Ticket(0));
        lazy.keep_incident("a", asset(200), t);
        for p in 0..100 {
            let t = lazy.history(p).err().unwrap_or(Ticket(0));
            lazy.keep_history(p, asset(200), t);
        }
        assert!(lazy.incident("a").is_ok());
        assert!(lazy.bytes().1 <= 1000);
    }
}
