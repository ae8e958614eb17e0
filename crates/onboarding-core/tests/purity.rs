//! The core stays pure: no database, HTTP, template or runtime crate among its normal
//! dependencies, direct or transitive. Reads `cargo metadata`.

use std::collections::{HashMap, HashSet};
use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "sea-orm",
    "sqlx",
    "poem",
    "poem-openapi",
    "hyper",
    "reqwest",
    "tokio",
    "askama",
    "maud",
    "axum",
    "sea-query",
];

#[test]
fn onboarding_core_has_no_adapter_dependencies() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = names
        .iter()
        .find(|(_, n)| **n == "onboarding-core")
        .map(|(id, _)| *id)
        .unwrap();
    // Walk normal (non-dev, non-build) edges only.
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let bad: Vec<&str> = seen
        .iter()
        .map(|id| names[id])
        .filter(|n| FORBIDDEN.contains(n))
        .collect();
    assert!(
        bad.is_empty(),
        "onboarding-core depends on adapter crates: {bad:?}"
    );
}
