//! The spend ledger: what every container must agree on before a paid call. A provider
//! paused (out of credits, its key refused) and the calls taken from a budget period live in
//! the record table, so concurrent containers see the same pause and never overspend.

use std::future::Future;

use super::StoreError;

/// A provider no container calls until `until` (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub provider: String,
    pub until: u64,
    /// Why: the service's own words.
    pub reason: String,
}

/// A period's budget of paid calls: its name (such as `day 2026-12-02`), its limit, and when
/// it ends (seconds since the Unix epoch); a counter stays in the table after its period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub name: String,
    pub limit: u64,
    pub ends: u64,
}

/// Pauses and budget counters, shared by every container.
pub trait Ledger: Send + Sync {
    /// The pauses still running at `now`.
    fn pauses(&self, now: u64) -> impl Future<Output = Result<Vec<Pause>, StoreError>> + Send;
    /// Pauses a provider unless a pause of it still runs at `now`; `true` when this call
    /// started the pause (so it is logged once, whichever container saw it first).
    fn pause(
        &self,
        pause: &Pause,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes one call from the period's budget in one atomic step: the calls left after it,
    /// or `None` when the budget is spent (nothing taken).
    fn take(&self, period: &Period)
    -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Gives back a call taken for a request that was never billed.
    fn give_back(&self, period: &Period) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Calls taken in the period so far.
    fn used(&self, period: &Period) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
