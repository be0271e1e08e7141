//! The spend step around every paid call: a provider paused for every container is not
//! called; a call is taken from the budget before it goes out and given back if it was never
//! billed; an answer that says the account cannot work (out of credits, its key refused)
//! pauses the provider for `ALT_TEXT_PAUSE_SECS`, logged once by the container that saw it
//! first.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Pipeline;
use super::budget::OverBudget;
use crate::provider::{Calls, Caption, Provider, ProviderError};
use crate::store::{ObjectStore, Pause, Period, RecordStore};
use crate::time::{epoch_now, rfc3339};

/// Why a paid call was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hold {
    /// The provider is paused: the object is retried after the pause.
    Paused(String),
    /// The budget is spent (or could not be checked); `retry` unless the user asked to skip.
    Budget { reason: String, retry: bool },
}

/// What one object's chain knows of the ledger: the pauses, read once (alongside the claim,
/// or when the first paid call is due), and whether the budget was found spent.
#[derive(Default)]
pub(super) struct Spend {
    pauses: Option<Vec<Pause>>,
    spent: Option<Hold>,
}

/// A call allowed: the budget period it was taken from, if any.
pub(super) struct Ticket(Option<Period>);

/// What the accounts allow: each paid provider's credits left (where its service tells),
/// and the budget period with its calls left.
#[derive(Debug, Clone, Default)]
pub struct Allowance {
    pub credits: Vec<(String, Result<Option<f64>, ProviderError>)>,
    pub budget: Option<(Period, u64)>,
}

impl<S: ObjectStore, R: RecordStore> Pipeline<S, R> {
    /// Asks each paid provider for its credits, and the table for the budget's calls left.
    pub async fn allowance(&self) -> Result<Allowance, crate::store::StoreError> {
        let mut credits = Vec::new();
        for provider in self.providers.iter().filter(|p| !p.is_free()) {
            credits.push((provider.name().to_string(), provider.credits().await));
        }
        let budget = match self.settings.spend.budget {
            None => None,
            Some(budget) => {
                let period = budget.period(epoch_now());
                let used = self.records.used(&period).await?;
                let left = period.limit.saturating_sub(used);
                Some((period, left))
            }
        };
        Ok(Allowance { credits, budget })
    }

    /// Whether `provider` may be called now; a paid call is taken from the budget.
    pub(super) async fn admit(
        &self,
        provider: &dyn Provider,
        spend: &mut Spend,
    ) -> Result<Ticket, Hold> {
        if provider.is_free() {
            return Ok(Ticket(None));
        }
        if let Some(pause) = self.pause_of(provider.name(), spend).await {
            return Err(Hold::Paused(format!(
                "paused: {} until {}",
                pause.reason,
                rfc3339(pause.until)
            )));
        }
        if let Some(hold) = &spend.spent {
            return Err(hold.clone());
        }
        let Some(budget) = self.settings.spend.budget else {
            return Ok(Ticket(None));
        };
        let period = budget.period(epoch_now());
        let retry = self.settings.spend.over_budget == OverBudget::Retry;
        let hold = match self.records.take(&period).await {
            Ok(Some(left)) => {
                self.usage.budget_left(left);
                return Ok(Ticket(Some(period)));
            }
            Ok(None) => {
                self.usage.budget_left(0);
                Hold::Budget {
                    reason: format!(
                        "budget reached until {} (ALT_TEXT_BUDGET {budget})",
                        rfc3339(period.ends)
                    ),
                    retry,
                }
            }
            Err(err) => Hold::Budget {
                reason: format!("the budget could not be checked: {err}"),
                retry: true,
            },
        };
        spend.spent = Some(hold.clone());
        Err(hold)
    }

    /// After a paid call that sent `sent` requests: a call never billed (nothing sent, or a
    /// refusal that bills nothing) goes back to the budget; an account that cannot work
    /// pauses the provider.
    pub(super) async fn account(
        &self,
        provider: &dyn Provider,
        ticket: Ticket,
        answer: &Result<Vec<Caption>, ProviderError>,
        sent: u64,
        spend: &mut Spend,
    ) {
        let Err(err) = answer else { return };
        if let Some(period) = ticket.0
            && (sent == 0 || never_billed(err))
            && let Err(store) = self.records.give_back(&period).await
        {
            tracing::warn!(error = %store, "a call not billed could not be given back to the budget");
        }
        if err.pauses_provider() && !self.settings.spend.pause.is_zero() {
            self.pause(provider.name(), err, spend).await;
        }
    }

    /// What the chain of one object starts from: the pauses read from the ledger, alongside
    /// the claim, when a paid provider may be called (its read then costs no time of its
    /// own); otherwise they are read when the first paid call is due, if one is.
    pub(super) async fn spend_ahead(&self) -> Spend {
        let paid = self.providers.iter().any(|p| !p.is_free());
        if !paid || self.settings.spend.pause.is_zero() {
            return Spend::default();
        }
        Spend {
            pauses: Some(self.read_pauses().await),
            spent: None,
        }
    }

    /// The pauses running now. Without the ledger the call goes ahead: a pause saves
    /// credits, and the service itself still refuses what it cannot do.
    async fn read_pauses(&self) -> Vec<Pause> {
        self.records
            .pauses(epoch_now())
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "the provider pauses could not be read");
                Vec::new()
            })
    }

    /// The running pause of `provider`, from the ledger read once per object.
    async fn pause_of(&self, provider: &str, spend: &mut Spend) -> Option<Pause> {
        if spend.pauses.is_none() {
            spend.pauses = Some(self.read_pauses().await);
        }
        let now = epoch_now();
        spend
            .pauses
            .iter()
            .flatten()
            .find(|p| p.provider == provider && p.until > now)
            .cloned()
    }

    /// Pauses `provider` for every container; the container that starts the pause logs it.
    async fn pause(&self, provider: &str, err: &ProviderError, spend: &mut Spend) {
        let now = epoch_now();
        let pause = Pause {
            provider: provider.into(),
            until: now + self.settings.spend.pause.as_secs(),
            reason: match err {
                ProviderError::KeyRejected(_) => "its API key was refused".into(),
                _ => "out of credits".into(),
            },
        };
        spend.pauses.get_or_insert_default().push(pause.clone());
        match self.records.pause(&pause, now).await {
            Ok(true) => {
                self.usage.provider_paused();
                tracing::warn!(
                    provider,
                    until = %rfc3339(pause.until),
                    error = %err,
                    "provider paused: no container calls it until then; objects meanwhile end retryable"
                );
            }
            Ok(false) => {}
            Err(store) => {
                tracing::warn!(provider, error = %store, "the pause could not be recorded")
            }
        }
    }
}

/// Counts the requests one call sends, passing each on to the object's count.
pub(super) struct CountedCalls<'a> {
    inner: &'a dyn Calls,
    sent: AtomicU64,
}

impl<'a> CountedCalls<'a> {
    pub(super) fn new(inner: &'a dyn Calls) -> CountedCalls<'a> {
        CountedCalls {
            inner,
            sent: AtomicU64::new(0),
        }
    }

    pub(super) fn requests(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Calls for CountedCalls<'_> {
    fn sent(&self, answered: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.sent(answered);
    }

    fn image(&self, bytes: u64, prepared: bool) {
        self.inner.image(bytes, prepared);
    }
}

/// Whether a failed call was certainly not billed: the service did not take it.
fn never_billed(err: &ProviderError) -> bool {
    matches!(
        err,
        ProviderError::Declined(_)
            | ProviderError::Transient { .. }
            | ProviderError::KeyRejected(_)
            | ProviderError::OutOfCredits(_)
    )
}
