//! The OpenAPI document in `docs/openapi.json` is the one the code serves. Regenerate it with
//! `UPDATE_OPENAPI=1 cargo test -p http-api --test openapi`.

#[test]
fn docs_openapi_json_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let spec = http_api::openapi_json();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(path, &spec).expect("write docs/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == spec,
        "docs/openapi.json differs from the code: run `UPDATE_OPENAPI=1 cargo test -p http-api --test openapi`"
    );
}

#[test]
fn money_is_never_a_number_and_security_schemes_are_documented() {
    let spec: serde_json::Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let schemes = &spec["components"]["securitySchemes"];
    for s in ["SessionCookie", "PersonalAccessToken", "GatewayToken"] {
        assert!(schemes.get(s).is_some(), "{s} missing: {schemes}");
    }
    let pricing = &spec["components"]["schemas"]["PricingDto"]["properties"];
    assert_eq!(pricing["monthly_fee"]["type"], "string");
    assert_eq!(pricing["price_per_request"]["type"], "string");
}
