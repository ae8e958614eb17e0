//! A rule tested against strict mocks, as an embedder would with the `testing` feature: the
//! set-up is the mock kit's builder, one expectation, and one call.

use onboarding_core::roles::Role;
use onboarding_core::testing::MockPorts;
use onboarding_core::testing::fixtures::{dev, sandbox_subscription, subscription_id};
use onboarding_core::{Caller, ServiceError};

#[tokio::test]
async fn a_developer_may_not_submit_and_nothing_is_written() {
    let mut ports = MockPorts::new()
        .member(&[Role::Developer])
        .subscription(sandbox_subscription());
    ports.uow.expect_commit().never();
    let portal = ports.into_portal();

    let err = portal
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap_err();

    assert!(matches!(err, ServiceError::Forbidden { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "your roles do not allow you to submit for review"
    );
}
