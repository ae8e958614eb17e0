//! Schema migrations of the portal's database (SQLite and PostgreSQL).
//!
//! Migrations describe tables with local `DeriveIden` enums and never import the entities, so
//! that an old migration keeps meaning what it meant when it shipped.

pub use sea_orm_migration::prelude::*;

mod m20250101_000001_initial;
mod m20250601_000001_credential_changes;
mod m20250602_000001_webhook_deliveries;
mod m20251201_000001_delivery_queue_order;
mod m20261203_000001_vault_check;
mod m20261203_000002_audit_chain_heads;
mod m20261203_000003_at_most_one;
mod m20261207_000040_staff_inbox;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_initial::Migration),
            Box::new(m20250601_000001_credential_changes::Migration),
            Box::new(m20250602_000001_webhook_deliveries::Migration),
            Box::new(m20251201_000001_delivery_queue_order::Migration),
            Box::new(m20261203_000001_vault_check::Migration),
            Box::new(m20261203_000002_audit_chain_heads::Migration),
            Box::new(m20261203_000003_at_most_one::Migration),
            Box::new(m20261207_000040_staff_inbox::Migration),
        ]
    }
}
