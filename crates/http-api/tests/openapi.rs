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

fn operations(spec: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            out.push((format!("{} {path}", method.to_uppercase()), op));
        }
    }
    out
}

/// Generated clients name their methods after `operationId`: every operation has one, in
/// snake_case, verb first, unique; and every operation has a tag the document declares.
#[test]
fn every_operation_has_a_unique_snake_case_operation_id_and_a_declared_tag() {
    let spec: serde_json::Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let declared: Vec<&str> = spec["tags"]
        .as_array()
        .expect("top-level tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let snake = regex::Regex::new("^[a-z]+(_[a-z0-9]+)*$").unwrap();
    let mut seen = std::collections::BTreeMap::new();
    let ops = operations(&spec);
    assert!(ops.len() > 70, "only {} operations", ops.len());
    for (name, op) in ops {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no operationId"));
        assert!(
            snake.is_match(id),
            "{name}: operationId {id:?} is not snake_case"
        );
        if let Some(other) = seen.insert(id.to_owned(), name.clone()) {
            panic!("{name} and {other} share the operationId {id:?}");
        }
        let tags = op["tags"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(!tags.is_empty(), "{name} has no tag");
        for t in tags {
            let t = t.as_str().unwrap();
            assert!(declared.contains(&t), "{name}: tag {t:?} is not declared");
        }
    }
}

/// Whether a schema (following `$ref`s, `allOf`, arrays) has a property that holds a secret.
fn holds_secret(spec: &serde_json::Value, schema: &serde_json::Value, depth: usize) -> bool {
    const SECRET_FIELDS: [&str; 4] = ["secret", "token", "access_token", "csrf_token"];
    if depth > 8 {
        return false;
    }
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return holds_secret(spec, &spec["components"]["schemas"][name], depth + 1);
    }
    let nested = schema["allOf"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(schema.get("items"))
        .any(|s| holds_secret(spec, s, depth + 1));
    let own = schema["properties"].as_object().is_some_and(|props| {
        props.iter().any(|(name, p)| {
            SECRET_FIELDS.contains(&name.as_str()) || holds_secret(spec, p, depth + 1)
        })
    });
    nested || own
}

/// Every successful answer whose body holds a secret or a token documents (and so sends,
/// the header being part of the response type) `Cache-Control`; the e2e suite checks the
/// value on the wire.
#[test]
fn every_answer_that_holds_a_secret_documents_cache_control() {
    let spec: serde_json::Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let mut secret_bearing = Vec::new();
    for (name, op) in operations(&spec) {
        for (status, resp) in op["responses"].as_object().unwrap() {
            if !status.starts_with('2') {
                continue;
            }
            let bodies = resp["content"].as_object().into_iter().flatten();
            let secret = bodies
                .into_iter()
                .any(|(_, media)| holds_secret(&spec, &media["schema"], 0));
            if secret {
                secret_bearing.push(op["operationId"].as_str().unwrap_or(&name).to_owned());
                let headers = resp["headers"].as_object().into_iter().flatten();
                assert!(
                    headers
                        .into_iter()
                        .any(|(h, _)| h.eq_ignore_ascii_case("cache-control")),
                    "{name} {status} holds a secret but documents no Cache-Control"
                );
            }
        }
    }
    secret_bearing.sort();
    assert_eq!(
        secret_bearing,
        [
            "clone_to_production",
            "create_credential",
            "create_personal_access_token",
            "create_webhook_endpoint",
            "issue_oauth_token",
            "regenerate_credential",
            "rotate_credential",
            "rotate_webhook_signing_secret",
            "sign_in",
            "staff_sign_in",
        ]
    );
}
