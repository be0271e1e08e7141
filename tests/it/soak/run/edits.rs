//! A person's edits, as a person makes them: `set`, `set --clear`, `import` of a CSV with the
//! ETag it was exported with, and the review page's Save; some with the tag write failing.

use std::process::Command;

use super::super::model::LANGS;
use super::{KEYS, Soak};
use crate::support::proxy::s3_slow_down;
use crate::support::review::ReviewPage;

impl Soak {
    /// A person's words for one language of key `k`, by `how`.
    pub(super) async fn edit(&mut self, k: usize, how: &str) {
        let lang = LANGS[self.rng.below(LANGS.len() as u64) as usize];
        let words = format!("Person {how} words {}", self.rng.below(10_000));
        let tag_fails = self.rng.chance(15);
        if tag_fails {
            *self
                .figures
                .faults
                .entry("S3 PutObjectTagging (edit)")
                .or_default() += 1;
            self.proxy.fail("PutObjectTagging", 8, s3_slow_down());
        }
        match how {
            "set" => {
                self.command(&[
                    "set",
                    "--bucket",
                    &self.stack.bucket.clone(),
                    "--key",
                    KEYS[k],
                    "--lang",
                    lang,
                    &words,
                ]);
            }
            "import" => {
                let etag = self.keys[k]
                    .obj
                    .as_ref()
                    .map(|o| o.etag.clone())
                    .unwrap_or_default();
                let file = tempfile::NamedTempFile::new().unwrap();
                let mut csv = csv::Writer::from_writer(Vec::new());
                csv.write_record(["key", "lang", "alt_text", "etag"])
                    .unwrap();
                csv.write_record([KEYS[k], lang, &words, &etag]).unwrap();
                std::fs::write(file.path(), csv.into_inner().unwrap()).unwrap();
                let path = file.path().to_str().unwrap().to_string();
                self.command(&["import", "--bucket", &self.stack.bucket.clone(), &path]);
            }
            _ => {
                if self.review.is_none() {
                    let page = ReviewPage::start_with(&self.stack, &self.env);
                    self.review = Some(page);
                }
                let page = self.review.as_ref().unwrap();
                let forms = page.forms(KEYS[k]).await;
                if let Some(form) = forms
                    .into_iter()
                    .find(|f| f.action == "/save" && f.field("lang") == Some(lang))
                {
                    page.post(&form.with("text", &words)).await;
                }
            }
        }
        self.heal();
        // The words count once the record holds them (a failed tag write leaves them there).
        let record = self.stack.record(KEYS[k]).await;
        let held = record
            .and_then(|r| r.captions.get(lang).map(|c| c.text.clone()))
            .is_some_and(|t| t == words);
        if held {
            self.keys[k].person.insert(lang.into(), words);
            self.keys[k].cleared.retain(|l| l != lang);
        }
        if tag_fails {
            self.keys[k].fault();
            // As promised to the person: the next event or backfill writes the tag.
            self.redeliver(k, false).await;
        }
    }

    /// `set --clear` of one language; then, half the time, the event delivered again (as
    /// a backfill would) to caption it.
    pub(super) async fn clear(&mut self, k: usize) {
        let lang = LANGS[self.rng.below(LANGS.len() as u64) as usize];
        if !self.keys[k].person.contains_key(lang) {
            return self.redeliver(k, false).await;
        }
        let out = self.command(&[
            "set",
            "--bucket",
            &self.stack.bucket.clone(),
            "--key",
            KEYS[k],
            "--lang",
            lang,
            "--clear",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.keys[k].clear(lang);
        if self.rng.chance(50) {
            self.redeliver(k, false).await;
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new(crate::support::binary())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .output()
            .unwrap()
    }
}
