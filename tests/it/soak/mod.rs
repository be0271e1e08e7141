//! The model-based soak: a seeded random sequence of operations on a few keys (uploads of
//! new and the same bytes, with and without tags of the user's own, a person's `alt-text`
//! tag, decorative marks; deletions; `set`, `set --clear`, `import`, the review page's Save;
//! events delivered twice, at once, late and out of order) with faults injected at random
//! (the provider failing, out of credits, refusing the key; S3 and DynamoDB failing through
//! the fault proxy; the function's process killed mid-invocation). Everything goes through
//! the binary: the Lambda function under a Runtime API, the commands as a person runs
//! them. After each operation, once its deliveries are done, a model (`model.rs`) says
//! what must be true of every object, and the stack is checked against it.
//!
//! `SOAK_OPS` (default 300: the quick run of the test command) and `SOAK_SEED` choose the
//! run (`scripts/soak.sh --ops N --seed S` for a long one); a failure prints the seed and
//! the shortest prefix of its operations that still fails.

mod model;
mod run;

use std::time::Instant;

use run::Soak;

/// Runs `ops` operations of `seed`; the first violation, if any.
async fn soak(seed: u64, ops: usize) -> Result<run::Figures, String> {
    let mut soak = Soak::start(seed).await;
    for n in 0..ops {
        soak.step(n)
            .await
            .map_err(|v| format!("operation {n}: {v}"))?;
    }
    Ok(soak.finish())
}

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_words_survive_every_mix_of_events_and_faults() {
    let seed = var("SOAK_SEED", 20261207);
    let ops = var("SOAK_OPS", 300) as usize;
    let started = Instant::now();
    match soak(seed, ops).await {
        Ok(figures) => {
            println!(
                "soak: seed {seed}, {ops} operations, {:.1} s\n{figures}",
                started.elapsed().as_secs_f64()
            );
        }
        Err(violation) => {
            eprintln!("soak violation with SOAK_SEED={seed}: {violation}; shrinking");
            // The shortest prefix of the same run that still fails.
            let (mut good, mut bad) = (0, ops);
            while bad - good > 1 {
                let mid = (good + bad) / 2;
                if soak(seed, mid).await.is_ok() {
                    good = mid;
                } else {
                    bad = mid;
                }
            }
            let shortest = soak(seed, bad).await.err().unwrap_or_default();
            panic!(
                "soak violation with SOAK_SEED={seed} SOAK_OPS={ops}: {violation}\n\
                 shortest failing run: SOAK_SEED={seed} SOAK_OPS={bad}: {shortest}"
            );
        }
    }
}
