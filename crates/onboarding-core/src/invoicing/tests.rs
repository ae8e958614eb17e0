use chrono::TimeZone;
use rust_decimal_macros::dec;

use super::*;
use crate::test_fixtures::*;

fn eur() -> Currency {
    Currency::new("EUR").unwrap()
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap()
}

fn subject(sub: SubscriptionId) -> InvoiceSubject {
    InvoiceSubject {
        workspace_id: workspace_id(),
        subscription_id: sub,
        project_id: sandbox_project().id,
        project_name: "Balance sync".into(),
    }
}

fn inv(n: u64) -> InvoiceId {
    InvoiceId::from_ulid(ulid::Ulid::from_parts(n, 7))
}

fn up_front() -> IssuedInvoice {
    up_front_invoice(inv(1), &subject(subscription_id()), &standard_plan(), at(1)).unwrap()
}

#[test]
fn the_up_front_invoice_bills_the_plans_fee_for_the_approval_month() {
    let i = up_front();
    assert_eq!(i.kind, InvoiceKind::UpFront);
    assert_eq!(i.period, "2026-12");
    assert_eq!((i.total, i.currency.as_str()), (dec!(49.00), "EUR"));
    assert_eq!(i.lines.len(), 1);
    assert_eq!(i.lines[0].plan_name, standard_plan().name.to_string());
    assert_eq!(i.lines[0].project_name, "Balance sync");
    assert_eq!(i.state, InvoiceState::Open);
    assert_eq!(i.amount_due(), dec!(49.00));
    let mut free = standard_plan();
    free.pricing = Pricing::Free;
    assert!(up_front_invoice(inv(1), &subject(subscription_id()), &free, at(1)).is_none());
}

#[test]
fn only_a_full_payment_in_the_invoices_currency_opens_the_lock() {
    let plan = standard_plan();
    let sub = subscription_id();
    let i = up_front();
    let standing =
        |invoices: &[IssuedInvoice]| payment_standing(sub, &plan.pricing, invoices, at(2));
    assert!(matches!(
        standing(std::slice::from_ref(&i)),
        PaymentStanding::Due { invoice: Some(_) }
    ));

    // A partial payment is recorded and leaves the invoice open, and the lock closed.
    let partial = i.pay(dec!(20.00), &eur(), at(2)).unwrap();
    assert_eq!(partial.state, InvoiceState::Open);
    assert_eq!(partial.amount_due(), dec!(29.00));
    assert!(!standing(std::slice::from_ref(&partial)).is_settled());

    // Another currency is refused and changes nothing.
    let usd = Currency::new("USD").unwrap();
    assert_eq!(
        partial.pay(dec!(29.00), &usd, at(2)),
        Err(InvoiceError::WrongCurrency {
            expected: "EUR".into(),
            got: "USD".into()
        })
    );
    // More than is due is refused.
    assert!(matches!(
        partial.pay(dec!(29.01), &eur(), at(2)),
        Err(InvoiceError::Overpayment { .. })
    ));
    assert_eq!(
        partial.pay(dec!(0), &eur(), at(2)),
        Err(InvoiceError::NotPositive)
    );

    let paid = partial.pay(dec!(29.00), &eur(), at(3)).unwrap();
    assert_eq!(paid.state, InvoiceState::Paid);
    assert_eq!(paid.paid_at, Some(at(3)));
    assert!(standing(std::slice::from_ref(&paid)).is_settled());
    assert_eq!(
        paid.pay(dec!(1), &eur(), at(3)),
        Err(InvoiceError::State {
            state: InvoiceState::Paid
        })
    );
}

#[test]
fn another_subscriptions_paid_invoice_leaves_the_lock_closed() {
    let plan = standard_plan();
    let other = SubscriptionId::from_ulid(ulid::Ulid::from_parts(99, 9));
    let theirs = up_front_invoice(inv(2), &subject(other), &plan, at(1))
        .unwrap()
        .pay(dec!(49.00), &eur(), at(1))
        .unwrap();
    let s = payment_standing(
        subscription_id(),
        &plan.pricing,
        std::slice::from_ref(&theirs),
        at(2),
    );
    assert_eq!(s, PaymentStanding::Due { invoice: None });
    // And their payment settles theirs.
    assert!(payment_standing(other, &plan.pricing, &[theirs], at(2)).is_settled());
}

#[test]
fn a_later_period_unpaid_past_the_grace_locks_again_with_its_invoice() {
    let plan = standard_plan(); // 14 days of grace
    let sub = subscription_id();
    let first = up_front().pay(dec!(49.00), &eur(), at(1)).unwrap();
    let jan = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let later = period_invoice(inv(3), &subject(sub), &plan, "2027-01", dec!(5.8625), jan).unwrap();
    assert_eq!(
        later.total,
        dec!(54.86),
        "fee plus last month's usage, to the cent"
    );
    let books = [first.clone(), later.clone()];
    let on = |d: i64| payment_standing(sub, &plan.pricing, &books, jan + Duration::days(d));
    assert!(on(14).is_settled(), "within the grace");
    assert_eq!(
        on(15),
        PaymentStanding::Overdue {
            invoice: later.clone()
        }
    );
    // Paying it opens the lock again; writing it off keeps it locked; voiding it does not.
    let paid = later
        .pay(dec!(54.86), &eur(), jan + Duration::days(20))
        .unwrap();
    assert!(
        payment_standing(
            sub,
            &plan.pricing,
            &[first.clone(), paid],
            jan + Duration::days(30)
        )
        .is_settled()
    );
    let written_off = later.mark_uncollectible().unwrap();
    assert!(matches!(
        payment_standing(
            sub,
            &plan.pricing,
            &[first.clone(), written_off.clone()],
            jan + Duration::days(30)
        ),
        PaymentStanding::Overdue { .. }
    ));
    // An uncollectible invoice is still payable.
    assert_eq!(
        written_off.pay(dec!(54.86), &eur(), jan).unwrap().state,
        InvoiceState::Paid
    );
    let voided = later.void().unwrap();
    assert!(
        payment_standing(
            sub,
            &plan.pricing,
            &[first, voided],
            jan + Duration::days(30)
        )
        .is_settled()
    );
}

#[test]
fn a_refund_reopens_a_paid_invoice_and_cannot_exceed_what_was_paid() {
    let paid = up_front().pay(dec!(49.00), &eur(), at(1)).unwrap();
    assert!(matches!(
        paid.refund(dec!(49.01)),
        Err(InvoiceError::OverRefund { .. })
    ));
    let part = paid.refund(dec!(9.00)).unwrap();
    assert_eq!(part.state, InvoiceState::Open);
    assert_eq!(part.amount_due(), dec!(9.00));
    assert_eq!(part.paid_at, None);
    assert!(
        !payment_standing(
            subscription_id(),
            &standard_plan().pricing,
            std::slice::from_ref(&part),
            at(2)
        )
        .is_settled()
    );
    let all = part.refund(dec!(40.00)).unwrap();
    assert_eq!(all.net_paid(), dec!(0));
    assert_eq!(
        all.refund(dec!(0.01)),
        Err(InvoiceError::OverRefund {
            refundable: dec!(0),
            currency: "EUR".into()
        })
    );
}

#[test]
fn only_an_invoice_holding_no_money_is_voided() {
    let i = up_front();
    let v = i.void().unwrap();
    assert_eq!((v.state, v.amount_due()), (InvoiceState::Void, dec!(0)));
    assert_eq!(
        v.pay(dec!(1), &eur(), at(2)),
        Err(InvoiceError::State {
            state: InvoiceState::Void
        })
    );
    assert_eq!(
        v.void(),
        Err(InvoiceError::State {
            state: InvoiceState::Void
        })
    );
    let partial = i.pay(dec!(1), &eur(), at(2)).unwrap();
    assert_eq!(partial.void(), Err(InvoiceError::HasPayments));
    let refunded = partial.refund(dec!(1)).unwrap();
    assert_eq!(refunded.void().unwrap().state, InvoiceState::Void);
    // A voided up-front invoice is the provider waiving it: nothing blocks production.
    assert!(
        payment_standing(subscription_id(), &standard_plan().pricing, &[v], at(2)).is_settled()
    );
}

#[test]
fn free_plans_are_always_settled() {
    assert!(payment_standing(subscription_id(), &Pricing::Free, &[], at(1)).is_settled());
    assert_eq!(
        payment_standing(subscription_id(), &standard_plan().pricing, &[], at(1)),
        PaymentStanding::Due { invoice: None }
    );
}

#[test]
fn minor_units_follow_the_currency() {
    assert_eq!(minor_units(dec!(49.00), &eur()), Some(4900));
    assert_eq!(
        minor_units(dec!(0.005), &eur()),
        None,
        "no fraction of a cent"
    );
    let jpy = Currency::new("JPY").unwrap();
    assert_eq!(minor_units(dec!(4900), &jpy), Some(4900));
    assert_eq!(from_minor_units(4900, &eur()).to_string(), "49.00");
    assert_eq!(from_minor_units(4900, &jpy), dec!(4900));
}
