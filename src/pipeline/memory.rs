//! The memory budget: the image bytes (and their encodings) that provider calls hold at
//! once, across the objects of an invocation, stay within a share of the function's memory,
//! so that a batch of large images waits for room instead of running out of memory.

use std::time::Instant;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::env::{ConfigError, Env};
use crate::provider::ProviderError;

/// The share of the function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`) image bytes may
/// take; the rest is the runtime's, the SDK's buffers' and the allocator's.
pub const SHARE_OF_MEMORY: f64 = 0.5;
/// The budget outside Lambda (a terminal command), in MiB.
pub const DEFAULT_MIB: u64 = 1024;

/// The budget in bytes: half of `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB), or 1 GiB outside
/// Lambda.
pub fn budget_from_env(env: &Env) -> Result<u64, ConfigError> {
    let memory_mib = env.number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0, 128, 10_240)?;
    Ok(if memory_mib == 0 {
        DEFAULT_MIB << 20
    } else {
        ((memory_mib << 20) as f64 * SHARE_OF_MEMORY) as u64
    })
}

/// Room for image bytes in flight, counted in KiB.
#[derive(Debug)]
pub struct MemoryBudget {
    room: Semaphore,
    kib: u32,
}

impl MemoryBudget {
    pub fn new(bytes: u64) -> MemoryBudget {
        let kib = (bytes / 1024).clamp(1, u64::from(u32::MAX >> 3)) as u32;
        MemoryBudget {
            room: Semaphore::new(kib as usize),
            kib,
        }
    }

    /// Waits, in turn, for room for `bytes` (all of the budget for a need larger than it:
    /// such an image is sent alone), for as long as the call could still start. The room
    /// is given back when the permit drops.
    pub async fn reserve(
        &self,
        bytes: u64,
        deadline: Instant,
    ) -> Result<Option<SemaphorePermit<'_>>, ProviderError> {
        if bytes == 0 {
            return Ok(None);
        }
        let kib = bytes.div_ceil(1024).min(u64::from(self.kib)) as u32;
        match tokio::time::timeout_at(deadline.into(), self.room.acquire_many(kib)).await {
            Ok(permit) => Ok(Some(permit.expect("the budget is never closed"))),
            Err(_) => Err(ProviderError::transient(format!(
                "no room in the memory budget for this image's {} MB before the invocation's deadline (other large images held it)",
                bytes.div_ceil(1 << 20)
            ))),
        }
    }

    /// The room free now, in bytes.
    pub fn free(&self) -> u64 {
        self.room.available_permits() as u64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_budget_is_half_the_functions_memory() {
        let lambda = |name: &str| (name == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE").then(|| "256".into());
        assert_eq!(budget_from_env(&Env::new(&lambda)).unwrap(), 128 << 20);
        let terminal = |_: &str| None;
        assert_eq!(budget_from_env(&Env::new(&terminal)).unwrap(), 1 << 30);
    }

    #[tokio::test]
    async fn calls_wait_for_room_and_give_it_back() {
        let budget = MemoryBudget::new(100 << 20);
        let far = Instant::now() + Duration::from_secs(5);
        let first = budget.reserve(60 << 20, far).await.unwrap();
        assert_eq!(budget.free(), 40 << 20);
        // A second 60 MB need waits until the first is given back.
        let soon = Instant::now() + Duration::from_millis(100);
        let err = budget.reserve(60 << 20, soon).await.unwrap_err();
        assert!(matches!(err, ProviderError::Transient { .. }), "{err:?}");
        assert_eq!(budget.free(), 40 << 20, "a call that gave up holds nothing");
        let (second, ()) = tokio::join!(budget.reserve(60 << 20, far), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(first);
        });
        let second = second.unwrap();
        assert!(second.is_some());
        assert_eq!(budget.free(), 40 << 20);
        drop(second);
        assert_eq!(budget.free(), 100 << 20);
    }

    #[tokio::test]
    async fn a_need_larger_than_the_budget_runs_alone() {
        let budget = MemoryBudget::new(10 << 20);
        let far = Instant::now() + Duration::from_secs(5);
        let whole = budget.reserve(50 << 20, far).await.unwrap();
        assert_eq!(budget.free(), 0);
        drop(whole);
        assert!(budget.reserve(0, far).await.unwrap().is_none());
        assert_eq!(budget.free(), 10 << 20);
    }
}
