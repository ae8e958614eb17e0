//! Invoices, payments, refunds and processor events (issue 22), on every database.

use super::*;
use onboarding_core::invoicing::{
    InvoiceKind, InvoiceState, InvoiceSubject, IssuedInvoice, Payment, Refund, up_front_invoice,
};

fn invoice(n: u64, sub: u64, at: DateTime<Utc>) -> IssuedInvoice {
    let (_, plans) = onboarding_core::demo::demo_catalog();
    let input = plans.into_iter().next().unwrap();
    let plan = onboarding_core::plan::Plan {
        id: PlanId::from_ulid(ulid(90)),
        product_id: ProductId::from_ulid(ulid(91)),
        name: Label::new(&input.name).unwrap(),
        has_sandbox: input.has_sandbox,
        sandbox_access: input.sandbox_access,
        endpoints: input.endpoints,
        events: input.events,
        test_data: input.test_data,
        form: input.form,
        pricing: input.pricing,
        gates: input.gates,
        integration_min_calls: input.integration_min_calls,
        waive_separation_of_duties: false,
        created_at: at,
        version: 0,
    };
    let subject = InvoiceSubject {
        workspace_id: WorkspaceId::from_ulid(ulid(2)),
        subscription_id: SubscriptionId::from_ulid(ulid(sub)),
        project_id: ProjectId::from_ulid(ulid(4)),
        project_name: "Balance sync".into(),
    };
    up_front_invoice(InvoiceId::from_ulid(ulid(n)), &subject, &plan, at).unwrap()
}

fn payment(n: u64, inv: &IssuedInvoice, amount: Decimal, reference: &str) -> Payment {
    Payment {
        id: PaymentId::from_ulid(ulid(n)),
        workspace_id: inv.workspace_id,
        subscription_id: inv.subscription_id,
        invoice_id: inv.id,
        amount,
        currency: inv.currency.clone(),
        reference: reference.into(),
        recorded_by: Actor::Staff(StaffId::from_ulid(ulid(5))),
        at: inv.issued_at,
    }
}

async fn commit(store: &SeaOrmStore, changes: Vec<Change>) -> StoreResult<()> {
    store
        .commit(ChangeSet {
            changes,
            ..Default::default()
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_round_trips_exactly() {
    on_each_db(|store| async move {
        let mut inv = invoice(1, 3, t0());
        let amount = Decimal::from_str("12345678901234.0123456789").unwrap();
        inv.total = amount;
        inv.lines[0].amount = amount;
        let p = payment(6, &inv, amount, "INV-9");
        commit(
            &store,
            vec![
                Change::InsertInvoice(inv.clone()),
                Change::RecordPayment(p.clone()),
            ],
        )
        .await
        .unwrap();
        let back = store.payments_of_invoice(inv.id).await.unwrap();
        assert_eq!(back, vec![p.clone()]);
        assert_eq!(back[0].amount.to_string(), "12345678901234.0123456789");
        let read = store.invoice(inv.id).await.unwrap().unwrap();
        assert_eq!(read, inv);
        assert_eq!(read.total.to_string(), "12345678901234.0123456789");
        assert_eq!(
            store.payment_by_reference("INV-9").await.unwrap(),
            Some(p.clone())
        );
        assert_eq!(store.payment_by_id(p.id).await.unwrap(), Some(p));
        assert_eq!(store.payment_by_reference("INV-0").await.unwrap(), None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_moves_under_its_version_and_refunds_are_kept() {
    on_each_db(|store| async move {
        let inv = invoice(1, 3, t0());
        let later = invoice(2, 3, t0() + TimeDelta::days(31));
        let theirs = invoice(7, 8, t0());
        commit(
            &store,
            vec![
                Change::InsertInvoice(inv.clone()),
                Change::InsertInvoice(later.clone()),
                Change::InsertInvoice(theirs.clone()),
            ],
        )
        .await
        .unwrap();
        let ids = |v: Vec<IssuedInvoice>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        let sub = SubscriptionId::from_ulid(ulid(3));
        assert_eq!(
            ids(store.invoices_of_subscription(sub).await.unwrap()),
            vec![inv.id, later.id]
        );
        let ws = WorkspaceId::from_ulid(ulid(2));
        assert_eq!(
            ids(store.invoices_of_workspace(ws).await.unwrap()),
            vec![later.id, theirs.id, inv.id]
        );

        let paid = inv.pay(inv.total, &inv.currency, t0()).unwrap();
        let update = |value: IssuedInvoice, expected_version| Change::UpdateInvoice {
            value,
            expected_version,
        };
        let p = payment(6, &inv, inv.total, "pi_1");
        commit(
            &store,
            vec![update(paid.clone(), 0), Change::RecordPayment(p.clone())],
        )
        .await
        .unwrap();
        // A second payment read at the same version loses, and writes nothing.
        let p2 = payment(9, &inv, inv.total, "pi_2");
        let lost = commit(
            &store,
            vec![Change::RecordPayment(p2), update(paid.clone(), 0)],
        )
        .await;
        assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
        assert_eq!(
            store.payments_of_invoice(inv.id).await.unwrap(),
            vec![p.clone()]
        );
        let stored = store.invoice(inv.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.state, stored.version, stored.paid_at),
            (InvoiceState::Paid, 1, Some(t0()))
        );

        let refunded = stored.refund(Decimal::new(900, 2)).unwrap();
        let r = Refund {
            id: RefundId::from_ulid(ulid(10)),
            workspace_id: ws,
            invoice_id: inv.id,
            payment_id: p.id,
            amount: Decimal::new(900, 2),
            currency: inv.currency.clone(),
            reference: "re_1".into(),
            recorded_by: Actor::System,
            at: t0(),
        };
        commit(
            &store,
            vec![update(refunded, 1), Change::RecordRefund(r.clone())],
        )
        .await
        .unwrap();
        assert_eq!(store.refunds_of_invoice(inv.id).await.unwrap(), vec![r]);
        let open = store
            .invoices_in_state(InvoiceState::Open, None, 10)
            .await
            .unwrap();
        assert_eq!(ids(open), vec![inv.id, later.id, theirs.id]);
        let page = store
            .invoices_in_state(InvoiceState::Open, Some(inv.id), 1)
            .await
            .unwrap();
        assert_eq!(ids(page), vec![later.id]);
        assert_eq!(
            store.invoice(later.id).await.unwrap().unwrap().kind,
            InvoiceKind::UpFront
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_event_is_recorded_once_and_a_replay_rolls_back_its_change_set() {
    on_each_db(|store| async move {
        let inv = invoice(1, 3, t0());
        commit(&store, vec![Change::InsertInvoice(inv.clone())])
            .await
            .unwrap();
        let event = || Change::RecordProcessorEvent {
            id: "evt_1".into(),
            at: t0(),
        };
        assert!(!store.processor_event_seen("evt_1").await.unwrap());
        commit(
            &store,
            vec![
                event(),
                Change::RecordPayment(payment(6, &inv, inv.total, "pi_1")),
            ],
        )
        .await
        .unwrap();
        assert!(store.processor_event_seen("evt_1").await.unwrap());
        let replay = commit(
            &store,
            vec![
                Change::RecordPayment(payment(9, &inv, inv.total, "pi_1")),
                event(),
            ],
        )
        .await;
        assert!(matches!(replay, Err(StoreError::Conflict(_))), "{replay:?}");
        assert_eq!(store.payments_of_invoice(inv.id).await.unwrap().len(), 1);
    })
    .await;
}

/// Payments recorded before invoices each unlocked their subscription: the upgrade gives each
/// such subscription one paid up-front invoice for the sum of its payments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_turns_earlier_payments_into_a_paid_up_front_invoice() {
    use migration::{Migrator, MigratorTrait};
    on_each_db(|store| async move {
        let db = store.connection();
        Migrator::down(db, Some(1)).await.unwrap();
        let sub = SubscriptionId::from_ulid(ulid(3));
        for (n, amount) in [(6, "20.00"), (7, "29.00")] {
            let sql = format!(
                "INSERT INTO payment (id, workspace_id, subscription_id, amount, currency, \
                 reference, confirmed_by, at) VALUES ('{}', '{}', '{sub}', '{amount}', 'EUR', \
                 'TR-{n}', '{}', '2026-11-0{n} 10:00:00+00:00')",
                PaymentId::from_ulid(ulid(n)),
                WorkspaceId::from_ulid(ulid(2)),
                StaffId::from_ulid(ulid(5)),
            );
            db.execute_unprepared(&sql).await.unwrap();
        }
        Migrator::up(db, None).await.unwrap();
        let invoices = store.invoices_of_subscription(sub).await.unwrap();
        assert_eq!(invoices.len(), 1, "{invoices:?}");
        let i = &invoices[0];
        assert_eq!(i.id, InvoiceId::from_ulid(ulid(6)));
        assert_eq!(
            (i.kind, i.state, i.period.as_str()),
            (InvoiceKind::UpFront, InvoiceState::Paid, "2026-11")
        );
        assert_eq!(i.total, Decimal::new(4900, 2));
        assert_eq!(i.amount_due(), Decimal::ZERO);
        let payments = store.payments_of_invoice(i.id).await.unwrap();
        assert_eq!(payments.len(), 2);
        assert_eq!(
            payments[0].recorded_by,
            Actor::Staff(StaffId::from_ulid(ulid(5)))
        );
    })
    .await;
}
