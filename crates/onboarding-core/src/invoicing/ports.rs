//! The ports of invoicing: where invoices are read, and how a partner pays (the payment
//! processor). Writes go through [`crate::ports::UnitOfWork`] like every other change.

use async_trait::async_trait;

use super::{InvoiceState, IssuedInvoice, Payment, Refund};
use crate::ids::{InvoiceId, PaymentId, SubscriptionId, WorkspaceId};
use crate::pipeline::Subscription;
use crate::ports::StoreResult;

/// Reads of issued invoices, their payments and refunds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InvoiceStore: Send + Sync {
    /// One invoice.
    async fn invoice(&self, id: InvoiceId) -> StoreResult<Option<IssuedInvoice>>;
    /// A subscription's invoices, oldest first.
    async fn invoices_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<IssuedInvoice>>;
    /// A workspace's invoices, newest first.
    async fn invoices_of_workspace(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<IssuedInvoice>>;
    /// Every invoice in a state, oldest first, after `after` (for paging), at most `limit`.
    async fn invoices_in_state(
        &self,
        state: InvoiceState,
        after: Option<InvoiceId>,
        limit: u64,
    ) -> StoreResult<Vec<IssuedInvoice>>;
    /// An invoice's payments, oldest first.
    async fn payments_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Payment>>;
    /// The payment a processor reported under this reference, if any.
    async fn payment_by_reference(&self, reference: &str) -> StoreResult<Option<Payment>>;
    /// An invoice's refunds, oldest first.
    async fn refunds_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Refund>>;
    /// One payment.
    async fn payment_by_id(&self, id: PaymentId) -> StoreResult<Option<Payment>>;
    /// Whether a payment processor's event id was already handled.
    async fn processor_event_seen(&self, id: &str) -> StoreResult<bool>;
    /// Every subscription in production: the ones a period's invoices may bill.
    async fn production_subscriptions(&self) -> StoreResult<Vec<Subscription>>;
}

/// How a partner pays, as the configured processor offers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// The partner transfers the money and an admin records it; the text says how (bank
    /// details, reference to quote).
    Manual {
        /// The provider's payment instructions.
        instructions: String,
    },
    /// The partner pays on the processor's hosted page (a Pay button).
    Checkout {
        /// The processor's name, for the button's neighbourhood ("Stripe").
        provider: String,
    },
}

/// Where the hosted checkout sends the partner back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutUrls {
    /// After a completed payment.
    pub success: String,
    /// When the partner gives up.
    pub cancel: String,
}

/// A hosted checkout the partner is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// The processor's session id (`cs_…`).
    pub id: String,
    /// The page the partner pays on.
    pub url: String,
}

/// Why the processor could not start a checkout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The configured method has no hosted checkout (manual payments).
    #[error("payments are recorded by the provider; follow the payment instructions")]
    NoCheckout,
    /// The amount cannot be charged in this currency's minor units.
    #[error("the amount cannot be charged in minor units")]
    Amount,
    /// The processor did not answer or refused; the text is for logs only.
    #[error("payment processor unavailable: {0}")]
    Unavailable(String),
}

/// The payment processor: manual (the default, [`ManualPayments`]) or a hosted checkout
/// (the Stripe adapter).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// How partners pay.
    fn method(&self) -> PaymentMethod;
    /// Starts a hosted checkout for what is due on `invoice`.
    async fn checkout(
        &self,
        invoice: &IssuedInvoice,
        urls: &CheckoutUrls,
    ) -> Result<CheckoutSession, GatewayError>;
}

/// The default processor: the partner follows the provider's instructions; an admin records
/// the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPayments {
    /// The provider's payment instructions, shown with the amount and the reference.
    pub instructions: String,
}

impl Default for ManualPayments {
    fn default() -> Self {
        Self {
            instructions: "Pay by bank transfer, quoting the invoice reference. Your API provider records the payment when it arrives.".into(),
        }
    }
}

#[async_trait]
impl PaymentGateway for ManualPayments {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::Manual {
            instructions: self.instructions.clone(),
        }
    }

    async fn checkout(
        &self,
        _invoice: &IssuedInvoice,
        _urls: &CheckoutUrls,
    ) -> Result<CheckoutSession, GatewayError> {
        Err(GatewayError::NoCheckout)
    }
}
