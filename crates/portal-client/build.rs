//! Generates the client from `docs/openapi.json` at build time: a change to the API that the
//! document records (a renamed operation, a changed body) changes this crate's types, and so
//! breaks the build of anything that drives the API through it.

use std::path::Path;

fn main() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    println!("cargo::rerun-if-changed={}", doc.display());
    let text = std::fs::read_to_string(&doc).expect("docs/openapi.json");
    let spec: openapiv3::OpenAPI = serde_json::from_str(&text).expect("an OpenAPI 3.0 document");
    let mut settings = progenitor::GenerationSettings::default();
    settings.with_interface(progenitor::InterfaceStyle::Positional);
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client: {e}"));
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("portal_client.rs");
    std::fs::write(out, tokens.to_string()).expect("write the generated client");
}
