//! Criterion micro-benchmarks of the core's hot functions (issue 7): parsing a presented
//! secret (prefix, checksum and SHA-256), gate evaluation and invoice computation.
//! `cargo bench -p onboarding-core`; `cargo test` only compiles this file.
use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use onboarding_core::billing::{BillableUsage, compute_invoice};
use onboarding_core::credential::{IssuedSecret, SecretKind, parse_secret};
use onboarding_core::gates::{GateFacts, Responsible, evaluate};
use onboarding_core::ids::{PlanId, ProductId, ProjectId, WorkspaceId};
use onboarding_core::plan::{Currency, Plan, Pricing};
use onboarding_core::project::Environment;
use onboarding_core::values::Label;
use rust_decimal_macros::dec;
use ulid::Ulid;

fn secret(c: &mut Criterion) {
    let s = IssuedSecret::new(
        SecretKind::ApiKey,
        Environment::Production,
        "0123456789abcdefghijABCDEFGHIJxy",
    )
    .unwrap();
    let good = s.expose().to_owned();
    let mut bad = good.clone();
    bad.pop();
    bad.push('!');
    c.bench_function("parse_secret (checksum + sha256)", |b| {
        b.iter(|| parse_secret(black_box(&good)))
    });
    c.bench_function("parse_secret (refused)", |b| {
        b.iter(|| parse_secret(black_box(&bad)))
    });
}

fn gates(c: &mut Criterion) {
    let (_, plans) = onboarding_core::demo::demo_catalog();
    let input = plans.into_iter().next().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let plan = Plan {
        id: PlanId::from_ulid(Ulid::from_parts(1, 7)),
        product_id: ProductId::from_ulid(Ulid::from_parts(1, 8)),
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
        created_at: t0,
        version: 0,
    };
    let facts = GateFacts {
        verified_webhook_endpoint: true,
        last_test_delivery: Some((t0, true)),
        successful_sandbox_calls: 25,
        billing_owner: Responsible::Named,
        audit_contact: Responsible::Named,
        security_owner: Responsible::Named,
        ..GateFacts::default()
    };
    c.bench_function("gates::evaluate", |b| {
        b.iter(|| evaluate(black_box(&plan), black_box(&facts), t0))
    });
}

fn invoice(c: &mut Criterion) {
    let usage: Vec<BillableUsage> = (0..20u64)
        .map(|i| BillableUsage {
            project_id: ProjectId::from_ulid(Ulid::from_parts(1, u128::from(i))),
            project_name: format!("project {i}"),
            plan_name: "Growth".into(),
            pricing: Pricing::Paid {
                currency: Currency::new(if i % 2 == 0 { "EUR" } else { "USD" }).unwrap(),
                monthly_fee: dec!(499.00),
                included_requests: 100_000,
                price_per_request: dec!(0.0012),
            },
            requests: 90_000 + i * 7_919,
        })
        .collect();
    let ws = WorkspaceId::from_ulid(Ulid::from_parts(1, 1));
    c.bench_function("compute_invoice (20 lines)", |b| {
        b.iter(|| compute_invoice(ws, "2026-11", black_box(&usage)))
    });
}

criterion_group!(hot, secret, gates, invoice);
criterion_main!(hot);
