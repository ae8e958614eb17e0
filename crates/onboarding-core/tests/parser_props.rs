//! No panic on hostile input (the proptest twin of the cargo-fuzz targets in `fuzz/`, so the
//! normal test suite checks it without a nightly toolchain): the secret parser, submission
//! answers against the demo form, and the webhook URL validator.

use std::collections::BTreeMap;

use onboarding_core::credential::{SecretFormatError, parse_secret};
use onboarding_core::form::SubmissionForm;
use onboarding_core::project::Environment;
use onboarding_core::webhook::validate_endpoint_url;
use proptest::prelude::*;
use serde_json::Value;

fn demo_form() -> SubmissionForm {
    let (_, plans) = onboarding_core::demo::demo_catalog();
    plans
        .into_iter()
        .find_map(|p| p.form)
        .expect("the demo catalog has a form")
}

/// Arbitrary JSON, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z_]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_secret_never_panics(s in any::<String>()) {
        let _ = parse_secret(&s);
    }

    #[test]
    fn parse_secret_never_panics_on_secret_shaped_input(
        kind in "(sk|cs|at|pat|)", env in "(sbx|prod|)", body in "[A-Za-z0-9_é]{0,60}"
    ) {
        let _ = parse_secret(&format!("{kind}_{env}_{body}"));
    }

    #[test]
    fn a_one_character_change_fails_the_checksum(pos in 0usize..40, c in "[A-Za-z0-9]") {
        // A well-formed secret of the right shape, from the issuing code.
        let s = onboarding_core::credential::IssuedSecret::new(
            onboarding_core::credential::SecretKind::ApiKey,
            Environment::Sandbox,
            "Zx9Qa7Lm3Np5Rt1Vw8Yb2Cd4Ef6Gh0Jk",
        )
        .unwrap();
        let s = s.expose().to_owned();
        prop_assert!(parse_secret(&s).is_ok());
        // Any character after `sk_sbx_`: the random body or the checksum.
        let prefix = "sk_sbx_".len();
        let i = prefix + pos % (s.len() - prefix);
        let mut b = s.clone().into_bytes();
        if b[i] == c.as_bytes()[0] { return Ok(()); }
        b[i] = c.as_bytes()[0];
        let changed = String::from_utf8(b).unwrap();
        prop_assert_eq!(parse_secret(&changed), Err(SecretFormatError::BadChecksum));
    }

    #[test]
    fn form_answers_never_panic(answers in proptest::collection::btree_map("[a-z_]{0,20}", json(), 0..12)) {
        let form = demo_form();
        let _ = form.validate_answers(&answers);
    }

    #[test]
    fn form_answers_with_the_forms_own_keys_never_panic(values in proptest::collection::vec(json(), 0..40)) {
        let form = demo_form();
        let answers: BTreeMap<String, Value> = form
            .fields()
            .map(|f| f.key.clone())
            .zip(values)
            .collect();
        let _ = form.validate_answers(&answers);
    }

    #[test]
    fn endpoint_url_validation_never_panics(s in any::<String>()) {
        let _ = validate_endpoint_url(&s, Environment::Sandbox);
        let _ = validate_endpoint_url(&s, Environment::Production);
    }

    #[test]
    fn url_shaped_input_never_panics(
        scheme in "(http|https|ftp|javascript|)", sep in "(://|:/|:)",
        userinfo in "([a-z]{0,5}(:[a-z]{0,5})?@)?", host in "[a-zA-Z0-9.\\[\\]:%-]{0,40}",
        rest in "[ -~]{0,40}"
    ) {
        let s = format!("{scheme}{sep}{userinfo}{host}{rest}");
        for env in [Environment::Sandbox, Environment::Production] {
            if let Ok(u) = validate_endpoint_url(&s, env) {
                prop_assert!(matches!(u.scheme(), "http" | "https"));
                prop_assert!(u.username().is_empty() && u.password().is_none());
            }
        }
    }
}
