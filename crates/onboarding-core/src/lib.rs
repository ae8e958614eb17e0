//! # onboarding-core
//!
//! The pure domain of the onboarding portal: what it takes for a partner developer to go from
//! first sign-in to live production traffic, as rules a contributor can test without a database.
//!
//! - [`pipeline`]: a subscription's phases (Sandbox, In Review, Production, Rejected) and the only
//!   transitions between them;
//! - [`gates`]: the seven production gates, evaluated from a facts snapshot, and the first live
//!   operating pass;
//! - [`roles`]: the permission table, a pure function of a member's role set;
//! - [`next_step`]: the one next step for an account, workspace, project or subscription;
//! - [`credential`]: secret format, rotation with grace, the verification decision, the production lock;
//! - [`form`], [`plan`], [`project`], [`workspace`], [`webhook`], [`usage`], [`billing`], [`audit`];
//! - [`ports`]: async traits for everything outside (stores, clock, randomness, payment, outbox);
//! - [`services`]: the use cases, which authorize, apply the rules, and commit each change with its
//!   audit event as one unit of work;
//! - [`memory`]: in-memory adapters of every port, for examples, embedding and tests;
//! - `testing` (feature `testing`): strict mocks of every port turned into a ready portal in
//!   one call, and fixtures.
//!
//! The crate reads no clock and opens no connection: time, ids and randomness come in through
//! ports, so every rule is a function of its arguments.
//!
//! ```
//! use onboarding_core::pipeline::PhaseKind;
//! use onboarding_core::roles::{allowed, Action, Role, RoleSet};
//!
//! // A developer may create sandbox credentials but not submit for review.
//! let dev = RoleSet::of(&[Role::Developer]);
//! assert!(allowed(dev, Action::CreateSandboxCredential));
//! assert!(!allowed(dev, Action::SubmitForReview));
//! assert_eq!(PhaseKind::InReview.as_str(), "in_review");
//! ```

#![warn(missing_docs)]

pub mod audit;
pub mod billing;
pub mod credential;
pub mod demo;
pub mod form;
pub mod gates;
pub mod ids;
pub mod inbox;
pub mod memory;
pub mod next_step;
pub mod pipeline;
pub mod plan;
pub mod ports;
pub mod project;
pub mod roles;
pub mod services;
pub mod usage;
pub mod values;
pub mod webhook;
pub mod workspace;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// docs/embedding.md, compiled: its examples run as doc-tests.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../../docs/embedding.md")]
pub struct EmbeddingGuide;
#[cfg(test)]
pub(crate) use testing::fixtures as test_fixtures;

pub use services::{
    Accounts, Audit, Billing, Caller, Catalog, Credentials, Endpoints, Exports, Infrastructure,
    Metering, Pipeline, Portal, Ports, Projects, RefusalCode, ServiceError, ServiceResult, Store,
    Webhooks, Workspaces,
};
