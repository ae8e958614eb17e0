//! The webhook endpoint URL validator on arbitrary strings: never panics, and what it accepts
//! is http(s) without credentials.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onboarding_core::project::Environment;
use onboarding_core::webhook::validate_endpoint_url;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for env in [Environment::Sandbox, Environment::Production] {
        if let Ok(u) = validate_endpoint_url(s, env) {
            assert!(matches!(u.scheme(), "http" | "https"));
            assert!(u.username().is_empty() && u.password().is_none());
        }
    }
});
