//! The in-memory adapter's invoices, payments, refunds and processor events.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::{MemoryStore, conflict};
use crate::ids::{InvoiceId, PaymentId, SubscriptionId, WorkspaceId};
use crate::invoicing::{InvoiceState, IssuedInvoice, Payment, Refund};
use crate::pipeline::{PhaseKind, Subscription};
use crate::ports::{Change, InvoiceStore, StoreError, StoreResult};

/// Everything invoicing keeps.
#[derive(Default, Clone)]
pub(super) struct Books {
    invoices: BTreeMap<InvoiceId, IssuedInvoice>,
    payments: Vec<Payment>,
    refunds: Vec<Refund>,
    events: BTreeSet<String>,
}

impl Books {
    /// Applies one of invoicing's changes (the store's `apply` routes only those here).
    pub(super) fn apply(&mut self, change: Change) -> StoreResult<()> {
        match change {
            Change::RecordPayment(p) => {
                self.payments.push(p);
                Ok(())
            }
            Change::RecordRefund(r) => {
                self.refunds.push(r);
                Ok(())
            }
            Change::InsertInvoice(i) => {
                self.invoices.insert(i.id, i);
                Ok(())
            }
            Change::UpdateInvoice {
                value,
                expected_version,
            } => match self.invoices.get(&value.id) {
                Some(cur) if cur.version == expected_version => {
                    let mut v = value;
                    v.version = expected_version + 1;
                    self.invoices.insert(v.id, v);
                    Ok(())
                }
                _ => Err(conflict("invoice")),
            },
            Change::RecordProcessorEvent { id, .. } => {
                if self.events.insert(id) {
                    Ok(())
                } else {
                    Err(StoreError::Conflict("processor event".into()))
                }
            }
            other => unreachable!("not an invoicing change: {other:?}"),
        }
    }
}

#[async_trait]
impl InvoiceStore for MemoryStore {
    async fn invoice(&self, id: InvoiceId) -> StoreResult<Option<IssuedInvoice>> {
        Ok(self.state.lock().unwrap().books.invoices.get(&id).cloned())
    }

    async fn invoices_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        let s = self.state.lock().unwrap();
        let mut v: Vec<_> = s
            .books
            .invoices
            .values()
            .filter(|i| i.subscription_id == subscription)
            .cloned()
            .collect();
        v.sort_by_key(|i| (i.issued_at, i.id));
        Ok(v)
    }

    async fn invoices_of_workspace(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        let s = self.state.lock().unwrap();
        let mut v: Vec<_> = s
            .books
            .invoices
            .values()
            .filter(|i| i.workspace_id == workspace)
            .cloned()
            .collect();
        v.sort_by_key(|i| std::cmp::Reverse((i.issued_at, i.id)));
        Ok(v)
    }

    async fn invoices_in_state(
        &self,
        state: InvoiceState,
        after: Option<InvoiceId>,
        limit: u64,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        let s = self.state.lock().unwrap();
        Ok(s.books
            .invoices
            .values()
            .filter(|i| i.state == state && after.is_none_or(|a| i.id > a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn payments_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Payment>> {
        let s = self.state.lock().unwrap();
        Ok(s.books
            .payments
            .iter()
            .filter(|p| p.invoice_id == invoice)
            .cloned()
            .collect())
    }

    async fn payment_by_reference(&self, reference: &str) -> StoreResult<Option<Payment>> {
        let s = self.state.lock().unwrap();
        Ok(s.books
            .payments
            .iter()
            .find(|p| p.reference == reference)
            .cloned())
    }

    async fn refunds_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Refund>> {
        let s = self.state.lock().unwrap();
        Ok(s.books
            .refunds
            .iter()
            .filter(|r| r.invoice_id == invoice)
            .cloned()
            .collect())
    }

    async fn payment_by_id(&self, id: PaymentId) -> StoreResult<Option<Payment>> {
        let s = self.state.lock().unwrap();
        Ok(s.books.payments.iter().find(|p| p.id == id).cloned())
    }

    async fn processor_event_seen(&self, id: &str) -> StoreResult<bool> {
        Ok(self.state.lock().unwrap().books.events.contains(id))
    }

    async fn production_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        let s = self.state.lock().unwrap();
        Ok(s.subscriptions
            .values()
            .filter(|x| x.phase.kind() == PhaseKind::Production)
            .cloned()
            .collect())
    }
}
