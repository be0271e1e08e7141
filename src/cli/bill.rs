//! What a backfill would cost against what the accounts allow: the calls each provider
//! would be asked, its credits left where its service tells, and the budget's calls left.
//! A run that would spend past either does not start unless told to.

use std::collections::BTreeMap;

use crate::pipeline::Allowance;
use crate::time::rfc3339;

/// The calls needed, by provider, and what the accounts allow.
pub struct Bill<'a> {
    pub need: &'a BTreeMap<String, u64>,
    pub allowance: &'a Allowance,
}

impl Bill<'_> {
    /// The lines of the report: each provider's calls against its credits, the budget.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (provider, credits) in &self.allowance.credits {
            let need = self.need.get(provider).copied().unwrap_or(0);
            let told = match credits {
                Ok(Some(left)) => format!("{left} credits left"),
                Ok(None) => "its service does not tell the credits left".into(),
                Err(err) => format!("credits unknown: {err}"),
            };
            lines.push(format!("  {provider:<17}  {need} calls; {told}"));
        }
        if let Some((period, left)) = &self.allowance.budget {
            lines.push(format!(
                "  budget             {left} of {} calls left until {}",
                period.limit,
                rfc3339(period.ends)
            ));
        }
        lines
    }

    /// Why the run would spend more than the accounts allow; empty when it would not.
    pub fn over(&self) -> Vec<String> {
        let mut over = Vec::new();
        for (provider, credits) in &self.allowance.credits {
            let need = self.need.get(provider).copied().unwrap_or(0);
            if let Ok(Some(left)) = credits
                && need as f64 > *left
            {
                over.push(format!(
                    "{provider} would be asked {need} calls with {left} credits left"
                ));
            }
        }
        let total: u64 = self.need.values().sum();
        if let Some((period, left)) = &self.allowance.budget
            && total > *left
        {
            over.push(format!(
                "{total} calls would be made with {left} left in the budget until {}",
                rfc3339(period.ends)
            ));
        }
        over
    }

    /// Whether anything is known to weigh the need against: credits told, or a budget.
    pub fn can_be_checked(allowance: &Allowance) -> bool {
        allowance.budget.is_some()
            || allowance
                .credits
                .iter()
                .any(|(_, c)| matches!(c, Ok(Some(_))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderError;
    use crate::store::Period;

    #[test]
    fn the_need_is_weighed_against_credits_and_budget() {
        let need = BTreeMap::from([("alttextai".to_string(), 120), ("autoalt".to_string(), 5)]);
        let allowance = Allowance {
            credits: vec![
                ("alttextai".into(), Ok(Some(100.0))),
                ("autoalt".into(), Ok(None)),
                ("openai".into(), Err(ProviderError::transient("down"))),
            ],
            budget: Some((
                Period {
                    name: "day 2026-12-02".into(),
                    limit: 500,
                    ends: 1_796_256_000,
                },
                110,
            )),
        };
        let bill = Bill {
            need: &need,
            allowance: &allowance,
        };
        assert_eq!(
            bill.over(),
            [
                "alttextai would be asked 120 calls with 100 credits left",
                "125 calls would be made with 110 left in the budget until 2026-12-03T00:00:00Z"
            ]
        );
        let lines = bill.lines().join("\n");
        assert!(
            lines.contains("alttextai          120 calls; 100 credits left"),
            "{lines}"
        );
        assert!(
            lines.contains("autoalt            5 calls; its service does not tell"),
            "{lines}"
        );
        assert!(
            lines.contains("budget             110 of 500 calls left until 2026-12-03T00:00:00Z"),
            "{lines}"
        );
        assert!(Bill::can_be_checked(&allowance));
        let enough = Allowance {
            credits: vec![("alttextai".into(), Ok(Some(500.0)))],
            budget: None,
        };
        let bill = Bill {
            need: &need,
            allowance: &enough,
        };
        assert!(bill.over().is_empty());
    }
}
