//! Parts of pages rendered once and kept while what they show stays the same: an
//! incident's card, a past incident's entry, a component's strip of 90 days. A page
//! that changes because one incident did renders that incident's part again, not all
//! of them. Keyed by a digest of the part's view, so nothing can be served stale.

use std::{
    cell::RefCell,
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use serde::Serialize;

use super::templates::Renderer;

/// Rendered parts by digest.
pub type Kept = HashMap<u64, Arc<str>>;

/// The parts of one build: those of the previous build it may reuse, and those it used.
pub struct Fragments<'a> {
    renderer: &'a Renderer,
    before: Option<&'a Kept>,
    used: RefCell<Kept>,
}

impl<'a> Fragments<'a> {
    pub fn new(renderer: &'a Renderer, before: Option<&'a Kept>) -> Self {
        Fragments {
            renderer,
            before,
            used: RefCell::new(Kept::new()),
        }
    }

    /// `template` rendered with `view`, or the same part from before.
    pub fn html<V: Serialize + Hash>(&self, template: &str, view: &V) -> String {
        let mut h = DefaultHasher::new();
        (template, view).hash(&mut h);
        let key = h.finish();
        if let Some(hit) = self.used.borrow().get(&key) {
            return hit.to_string();
        }
        let html: Arc<str> = match self.before.and_then(|b| b.get(&key)) {
            Some(hit) => hit.clone(),
            None => match self.renderer.render(template, view) {
                Ok(html) => html.into(),
                Err(e) => {
                    tracing::error!(error = %e, template, "rendering a part failed");
                    return String::new();
                }
            },
        };
        self.used.borrow_mut().insert(key, html.clone());
        html.to_string()
    }

    /// What this build used, for the next one.
    pub fn kept(self) -> Kept {
        self.used.into_inner()
    }
}
