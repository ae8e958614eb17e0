//! Typed identifiers. Each is a ULID with a readable prefix in its string form
//! (`sub_01J...`), so an id pasted into the wrong field is refused instead of
//! silently looking up the wrong table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// A string that is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by a ULID)")]
pub struct IdParseError {
    /// Which kind of id was expected (`subscription`, `project`, ...), for the error message.
    pub kind: &'static str,
    /// The prefix that kind of id carries before the `_` (e.g. `sub`).
    pub prefix: &'static str,
    /// The string that was refused, as given.
    pub value: String,
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The prefix of this id's string form.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps a ULID produced by the [`IdGenerator`](crate::ports::IdGenerator) port.
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// The underlying ULID.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = || IdParseError { kind: stringify!($name), prefix: $prefix, value: s.chars().take(64).collect() };
                let rest = s.strip_prefix($prefix).and_then(|r| r.strip_prefix('_')).ok_or_else(err)?;
                Ulid::from_string(rest).map(Self).map_err(|_| err())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(/// A consumer-side person who signs in.
    AccountId, "acct");
define_id!(/// A member of the provider's staff directory (admin or reviewer).
    StaffId, "staff");
define_id!(/// A workspace (shown to users as their organization).
    WorkspaceId, "ws");
define_id!(/// An invitation to join a workspace.
    InvitationId, "inv");
define_id!(/// A request from an account to join a workspace.
    JoinRequestId, "joinreq");
define_id!(/// An API product offered by the provider.
    ProductId, "prod");
define_id!(/// A plan of an API product.
    PlanId, "plan");
define_id!(/// A project: one workload in one environment.
    ProjectId, "proj");
define_id!(/// A subscription tying a sandbox project to a plan.
    SubscriptionId, "sub");
define_id!(/// An API key or OAuth client.
    CredentialId, "cred");
define_id!(/// A webhook endpoint registered by a project.
    WebhookEndpointId, "whep");
define_id!(/// An audit event.
    AuditEventId, "evt");
define_id!(/// An outbox message (the `webhook-id` of its deliveries).
    MessageId, "msg");
define_id!(/// One delivery of an outbox message to one webhook endpoint.
    DeliveryId, "whdlv");
define_id!(/// An alert threshold of a project.
    AlertThresholdId, "alrt");
define_id!(/// A recorded payment.
    PaymentId, "pay");
define_id!(/// An issued invoice.
    InvoiceId, "inv");
define_id!(/// A refund of a payment.
    RefundId, "re");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_prefixed_string_form() {
        let id = SubscriptionId::from_ulid(Ulid::from_parts(1_700_000_000_000, 42));
        let text = id.to_string();
        assert!(text.starts_with("sub_"));
        assert_eq!(text.parse::<SubscriptionId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<SubscriptionId>(&json).unwrap(), id);
    }

    #[test]
    fn refuses_another_kinds_prefix_and_garbage() {
        let id = ProjectId::from_ulid(Ulid::from_parts(1, 1)).to_string();
        let err = id.parse::<SubscriptionId>().unwrap_err();
        assert_eq!(err.prefix, "sub");
        assert!("sub_".parse::<SubscriptionId>().is_err());
        assert!("sub_not-a-ulid".parse::<SubscriptionId>().is_err());
        assert!("".parse::<WorkspaceId>().is_err());
    }
}
