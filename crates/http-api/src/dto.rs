//! Response and request bodies. They are separate from the domain types: responses show what a
//! client needs (never a hash), requests carry only what a client may set (never an id, a
//! version-to-be or a status). Nested shapes that mirror the core's serde form are converted
//! through `serde_json` ([`via`]); money is always a decimal string. Each area keeps its bodies
//! beside its handlers (`api/<area>/dto.rs`); they are re-exported here.

use onboarding_core::roles::RoleSet;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Converts between shapes that share a serde form (domain ↔ DTO). A failure is a bug in this
/// file, caught by the tests, so it panics with the type names.
pub fn via<T: Serialize, U: DeserializeOwned>(v: &T) -> U {
    serde_json::to_value(v)
        .and_then(serde_json::from_value)
        .unwrap_or_else(|e| {
            panic!(
                "{} -> {}: {e}",
                std::any::type_name::<T>(),
                std::any::type_name::<U>()
            )
        })
}

/// The serde string of a unit enum variant (`in_review`, `api_key`, ...).
pub fn tag<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub(crate) fn roles(r: RoleSet) -> Vec<String> {
    r.iter().map(|x| tag(&x)).collect()
}

macro_rules! page {
    ($name:ident, $item:ty) => {
        /// One page of a keyset-paged list; pass `next_cursor` as `cursor` for the next.
        #[derive(Object, Debug, Clone)]
        pub struct $name {
            pub items: Vec<$item>,
            pub next_cursor: Option<String>,
        }
    };
}
// Defines a page type in the area that owns the item type.
pub(crate) use page;

pub use crate::api::accounts::dto::*;
pub use crate::api::audit::dto::*;
pub use crate::api::catalog::dto::*;
pub use crate::api::credentials::dto::*;
pub use crate::api::projects::dto::*;
pub use crate::api::review::dto::*;
pub use crate::api::subscriptions::dto::*;
pub use crate::api::workspaces::dto::*;
