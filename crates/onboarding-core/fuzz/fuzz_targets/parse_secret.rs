//! The secret parser on arbitrary bytes: never panics; a success round-trips its hash.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onboarding_core::credential::{SecretHash, parse_secret};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(p) = parse_secret(s)
    {
        assert_eq!(p.hash, SecretHash::of(s));
    }
});
