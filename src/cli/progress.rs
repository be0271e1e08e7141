//! The progress of a backfill: a bar on a terminal, progress lines elsewhere.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::backfill::Progress;

/// A progress bar on a terminal; elsewhere (CI, a pipe), a line every tenth of the way.
pub struct Display {
    bar: Option<ProgressBar>,
    counts: Mutex<(u64, u64, Instant)>,
}

impl Display {
    pub fn new() -> Display {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:40}] {pos}/{len} {per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Display {
            bar,
            counts: Mutex::new((0, 0, Instant::now())),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message("done");
        }
    }
}

impl Progress for Display {
    fn listed(&self, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.1 += n;
        if let Some(bar) = &self.bar {
            bar.set_length(counts.1);
        }
    }

    fn done(&self, _key: &str, outcome: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.0 += 1;
        let (done, listed, started) = *counts;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(outcome.to_string());
            }
            None => {
                let step = (listed / 10).max(1);
                if done % step == 0 || done == listed {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "progress: {done}/{listed} objects ({:.0}%), {secs:.1} s",
                        done as f64 * 100.0 / listed.max(1) as f64
                    );
                }
            }
        }
    }
}
