//! The staff inbox (spec §6): the queues of subscriptions that wait on provider staff or that
//! staff chase, each oldest first. Which queue a subscription is in is a pure function of the
//! subscription, its plan's pricing and whether it was paid.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PlanId, SubscriptionId, WorkspaceId};
use crate::pipeline::{Phase, SandboxAccess, Subscription};
use crate::ports::QueueCursor;

/// One queue of the staff inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::VariantArray)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboxQueue {
    /// Submitted and waiting for a decision (the go-live queue), since submission.
    InReview,
    /// An `approval_required` plan's sandbox access waiting for a reviewer, since requested.
    SandboxAccess,
    /// Approved on a paid plan with no payment recorded, since approval.
    AwaitingPayment,
    /// Sent back with Changes Requested and not resubmitted yet, since the request.
    ChangesRequested,
}

impl InboxQueue {
    /// Every queue, in the order the staff navigation lists them.
    pub const ALL: &'static [InboxQueue] = <InboxQueue as strum::VariantArray>::VARIANTS;

    /// The snake_case name used in storage, URLs and the API (`awaiting_payment`).
    pub fn as_str(self) -> &'static str {
        match self {
            InboxQueue::InReview => "in_review",
            InboxQueue::SandboxAccess => "sandbox_access",
            InboxQueue::AwaitingPayment => "awaiting_payment",
            InboxQueue::ChangesRequested => "changes_requested",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|q| q.as_str() == s)
    }

    /// The queue's title in the staff navigation.
    pub fn title(self) -> &'static str {
        match self {
            InboxQueue::InReview => "In review",
            InboxQueue::SandboxAccess => "Sandbox access requests",
            InboxQueue::AwaitingPayment => "Awaiting payment",
            InboxQueue::ChangesRequested => "Changes requested",
        }
    }

    /// What the queue holds and who acts on it, one sentence for its page.
    pub fn describe(self) -> &'static str {
        match self {
            InboxQueue::InReview => {
                "Submissions waiting for a decision, oldest first, each with its remaining gate."
            }
            InboxQueue::SandboxAccess => {
                "Subscriptions to approval-required plans waiting for a reviewer to grant or decline sandbox access."
            }
            InboxQueue::AwaitingPayment => {
                "Approved subscriptions on paid plans with no payment recorded: production credentials stay locked until an admin confirms payment."
            }
            InboxQueue::ChangesRequested => {
                "Submissions sent back with Changes Requested that the partner has not resubmitted yet."
            }
        }
    }

    /// The queue the subscription waits in as far as its own phase says, and since when.
    /// Every approved subscription is a *candidate* for [`AwaitingPayment`](Self::AwaitingPayment):
    /// [`InboxQuery::admits`] narrows it by the plan's pricing and the payment. Stores keep
    /// this pair beside the row so that each queue pages by an index.
    pub fn candidate(s: &Subscription) -> Option<(InboxQueue, DateTime<Utc>)> {
        match (&s.phase, &s.sandbox_access) {
            (Phase::InReview { submitted_at, .. }, _) => {
                Some((InboxQueue::InReview, *submitted_at))
            }
            (Phase::Sandbox { .. }, SandboxAccess::Requested { at }) => {
                Some((InboxQueue::SandboxAccess, *at))
            }
            (
                Phase::Sandbox {
                    changes_requested: Some(c),
                },
                _,
            ) => Some((InboxQueue::ChangesRequested, c.at)),
            (Phase::Production { approved_at, .. }, _) => {
                Some((InboxQueue::AwaitingPayment, *approved_at))
            }
            _ => None,
        }
    }
}

/// What a store is asked for: one queue, narrowed to some plans and one workspace, after a
/// cursor, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    /// The queue.
    pub queue: InboxQueue,
    /// Only subscriptions to these plans; `None` for every plan. The service always names the
    /// paid plans for [`InboxQueue::AwaitingPayment`].
    pub plans: Option<Vec<PlanId>>,
    /// Only this workspace's subscriptions.
    pub workspace: Option<WorkspaceId>,
    /// The (waiting since, id) of the last row seen.
    pub after: Option<QueueCursor>,
    /// At most this many rows.
    pub limit: u64,
}

impl InboxQuery {
    /// Whether the subscription belongs on this query's page (ignoring the cursor and limit);
    /// `paid` is whether a payment was recorded for it. The in-memory store filters with this;
    /// the database adapter expresses the same rule in SQL and the conformance suite compares.
    pub fn admits(&self, s: &Subscription, paid: bool) -> bool {
        let Some((queue, _)) = InboxQueue::candidate(s) else {
            return false;
        };
        queue == self.queue
            && (queue != InboxQueue::AwaitingPayment || !paid)
            && self.plans.as_ref().is_none_or(|p| p.contains(&s.plan_id))
            && self.workspace.is_none_or(|w| w == s.workspace_id)
    }

    /// The keyset position of a subscription this query admits.
    pub fn key(s: &Subscription) -> Option<(DateTime<Utc>, SubscriptionId)> {
        InboxQueue::candidate(s).map(|(_, at)| (at, s.id))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ulid::Ulid;

    use super::*;
    use crate::ids::{AccountId, ProjectId, StaffId};
    use crate::pipeline::ChangesRequested;
    use crate::values::Notes;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    fn sub(phase: Phase, access: SandboxAccess) -> Subscription {
        Subscription {
            id: SubscriptionId::from_ulid(Ulid::from_parts(1, 1)),
            workspace_id: WorkspaceId::from_ulid(Ulid::from_parts(1, 2)),
            project_id: ProjectId::from_ulid(Ulid::from_parts(1, 3)),
            plan_id: PlanId::from_ulid(Ulid::from_parts(1, 4)),
            phase,
            sandbox_access: access,
            answers: None,
            sign_offs: vec![],
            history: vec![],
            production_project_id: None,
            created_at: at(1),
            created_by: AccountId::from_ulid(Ulid::from_parts(1, 5)),
            version: 1,
        }
    }

    fn staff() -> StaffId {
        StaffId::from_ulid(Ulid::from_parts(1, 6))
    }

    #[test]
    fn each_phase_waits_in_its_queue_since_the_moment_it_started_waiting() {
        let granted = SandboxAccess::Granted {
            at: at(2),
            by: None,
        };
        let cases = [
            (
                sub(
                    Phase::Sandbox {
                        changes_requested: None,
                    },
                    SandboxAccess::Requested { at: at(2) },
                ),
                Some((InboxQueue::SandboxAccess, at(2))),
            ),
            (
                sub(
                    Phase::Sandbox {
                        changes_requested: None,
                    },
                    granted,
                ),
                None,
            ),
            (
                sub(
                    Phase::InReview {
                        submitted_at: at(3),
                        submitted_by: AccountId::from_ulid(Ulid::from_parts(1, 5)),
                    },
                    granted,
                ),
                Some((InboxQueue::InReview, at(3))),
            ),
            (
                sub(
                    Phase::Sandbox {
                        changes_requested: Some(ChangesRequested {
                            notes: Notes::new("Explain consent withdrawal").unwrap(),
                            at: at(4),
                            by: staff(),
                        }),
                    },
                    granted,
                ),
                Some((InboxQueue::ChangesRequested, at(4))),
            ),
            (
                sub(
                    Phase::Production {
                        approved_at: at(5),
                        approved_by: staff(),
                    },
                    granted,
                ),
                Some((InboxQueue::AwaitingPayment, at(5))),
            ),
            (
                sub(
                    Phase::Rejected {
                        notes: None,
                        at: at(6),
                        by: staff(),
                    },
                    SandboxAccess::Declined {
                        at: at(6),
                        by: staff(),
                    },
                ),
                None,
            ),
        ];
        for (s, want) in cases {
            assert_eq!(InboxQueue::candidate(&s), want, "{:?}", s.phase);
        }
    }

    #[test]
    fn a_payment_takes_an_approved_subscription_out_of_the_payment_queue() {
        let s = sub(
            Phase::Production {
                approved_at: at(5),
                approved_by: staff(),
            },
            SandboxAccess::Granted {
                at: at(2),
                by: None,
            },
        );
        let q = InboxQuery {
            queue: InboxQueue::AwaitingPayment,
            plans: Some(vec![s.plan_id]),
            workspace: None,
            after: None,
            limit: 50,
        };
        assert!(q.admits(&s, false));
        assert!(!q.admits(&s, true));
        // A free plan is never named among the paid plans, so it never waits for payment.
        assert!(
            !InboxQuery {
                plans: Some(vec![]),
                ..q.clone()
            }
            .admits(&s, false)
        );
        let other = WorkspaceId::from_ulid(Ulid::from_parts(9, 9));
        assert!(
            !InboxQuery {
                workspace: Some(other),
                ..q.clone()
            }
            .admits(&s, false)
        );
        assert!(
            !InboxQuery {
                queue: InboxQueue::InReview,
                ..q
            }
            .admits(&s, false)
        );
    }

    #[test]
    fn queue_names_round_trip() {
        for q in InboxQueue::ALL {
            assert_eq!(InboxQueue::parse(q.as_str()), Some(*q));
        }
        assert_eq!(InboxQueue::parse("paid"), None);
    }
}
