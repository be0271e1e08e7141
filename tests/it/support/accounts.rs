//! A service account as the fakes keep it: the credits left, what was charged, and
//! AltText.ai's library of assets (an image it has captioned before, by `asset_id`, is
//! answered from it free of charge unless the request asks to overwrite it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Credits, charges and the asset library of one fake's account.
#[derive(Default)]
pub struct Account {
    /// Credits left; `None` for an account that never runs out.
    credits: Mutex<Option<u64>>,
    charged: AtomicUsize,
    assets: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// AltText.ai answers `alt_texts` as a list of `{lang, alt_text}` rather than a map.
    pub list_form: AtomicBool,
}

impl Account {
    pub fn set_credits(&self, credits: Option<u64>) {
        *self.credits.lock().unwrap() = credits;
    }

    /// The credits left, as the account endpoints report them.
    pub fn credits_left(&self) -> u64 {
        self.credits.lock().unwrap().unwrap_or(1_000_000)
    }

    pub fn has_credits(&self) -> bool {
        self.credits_left() > 0
    }

    /// Requests that cost a credit.
    pub fn charged(&self) -> usize {
        self.charged.load(Ordering::SeqCst)
    }

    /// One caption billed.
    pub fn charge(&self) {
        self.charged.fetch_add(1, Ordering::SeqCst);
        if let Some(left) = self.credits.lock().unwrap().as_mut() {
            *left = left.saturating_sub(1);
        }
    }

    /// The captions stored for `asset_id`, if it has every language of `langs`.
    pub fn asset(&self, asset_id: &str, langs: &[String]) -> Option<Vec<(String, String)>> {
        let assets = self.assets.lock().unwrap();
        let texts = assets.get(asset_id)?;
        langs
            .iter()
            .all(|l| texts.iter().any(|(have, _)| have == l))
            .then(|| texts.clone())
    }

    pub fn keep_asset(&self, asset_id: &str, texts: Vec<(String, String)>) {
        self.assets
            .lock()
            .unwrap()
            .insert(asset_id.to_string(), texts);
    }
}

/// AltText.ai's rule for an `asset_id`: at most 128 characters, none of `? & # \ / % < > +`.
pub fn check_asset_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().count() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if id.chars().any(|c| "?&#\\/%<>+".contains(c)) {
        return Err("must not contain ? & # \\ / % < > +".into());
    }
    Ok(())
}
