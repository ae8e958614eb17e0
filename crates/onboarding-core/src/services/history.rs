//! The decision history of a subscription, round by round (issue 20): who did what and when,
//! with the reviewer's notes, named for the person reading it.

use serde::Serialize;

use super::*;
use crate::pipeline::{Decision, PipelineAction};
use crate::values::Notes;

/// One recorded decision, as the subscription and review pages show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The submission round: 1 from the first submit, 2 from the second...; 0 before any.
    pub round: u32,
    /// What was decided.
    pub action: PipelineAction,
    /// Who decided, by name ("Rita Reviewer (API provider)"); see `by_you`.
    pub by: String,
    /// Whether the reader is the one who decided ("you").
    pub by_you: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// The notes shown to the developer, if any.
    pub notes: Option<Notes>,
}

/// The round of each decision: every submit opens the next round; what happens before the
/// first submit (sandbox access) is round 0.
pub fn rounds(history: &[Decision]) -> Vec<u32> {
    let mut round = 0;
    history
        .iter()
        .map(|d| {
            if d.action == PipelineAction::Submit {
                round += 1;
            }
            round
        })
        .collect()
}

/// The decision in words, past tense ("Requested changes").
pub fn decision_label(a: PipelineAction) -> &'static str {
    match a {
        PipelineAction::Submit => "Submitted for review",
        PipelineAction::Withdraw => "Withdrew the submission",
        PipelineAction::Approve => "Approved",
        PipelineAction::Reject => "Rejected",
        PipelineAction::RequestChanges => "Requested changes",
        PipelineAction::Reopen => "Reopened to sandbox",
        PipelineAction::GrantSandboxAccess => "Granted sandbox access",
        PipelineAction::DeclineSandboxAccess => "Declined sandbox access",
    }
}

impl Pipeline {
    /// Every decision on the subscription, oldest first, with its round and the actor's name
    /// (members of its workspace and staff).
    pub async fn decision_history(
        &self,
        caller: Caller,
        id: SubscriptionId,
    ) -> ServiceResult<Vec<HistoryEntry>> {
        let s = self.cx.load_subscription(id).await?;
        self.cx
            .require_read_on("subscription", caller, s.workspace_id)
            .await?;
        let mut out = Vec::with_capacity(s.history.len());
        for (d, round) in s.history.iter().zip(rounds(&s.history)) {
            let (by, by_you) = match d.by {
                Actor::Account(a) => (
                    self.cx
                        .p
                        .accounts
                        .account(a)
                        .await?
                        .map_or_else(|| "a former member".to_owned(), |x| x.name.to_string()),
                    caller == Caller::Account(a),
                ),
                Actor::Staff(st) => (
                    self.cx.p.accounts.staff(st).await?.map_or_else(
                        || "the API provider".to_owned(),
                        |x| format!("{} (API provider)", x.name),
                    ),
                    matches!(caller, Caller::Staff { id, .. } if id == st),
                ),
                _ => ("the portal".to_owned(), false),
            };
            out.push(HistoryEntry {
                round,
                action: d.action,
                by,
                by_you,
                at: d.at,
                notes: d.notes.clone(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn d(action: PipelineAction) -> Decision {
        Decision {
            action,
            by: Actor::System,
            at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            notes: None,
        }
    }

    #[test]
    fn every_submit_opens_a_round() {
        use PipelineAction::*;
        let h: Vec<Decision> = [
            GrantSandboxAccess,
            Submit,
            RequestChanges,
            Submit,
            Withdraw,
            Submit,
            Approve,
        ]
        .into_iter()
        .map(d)
        .collect();
        assert_eq!(rounds(&h), [0, 1, 1, 2, 2, 3, 3]);
    }
}
