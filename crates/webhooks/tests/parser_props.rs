//! No panic on hostile input (the proptest twin of the cargo-fuzz targets in `fuzz/`, so the
//! normal test suite checks it without a nightly toolchain):
//! - the signature header parser (`signing::verify`) on random headers, timestamps, secrets;
//! - the SSRF guard's URL check on random strings and on random URL-shaped strings.

use proptest::prelude::*;
use webhooks::AddressPolicy;
use webhooks::signing::{sign, verify};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn verify_never_panics_on_random_headers(
        secret in any::<String>(),
        id in any::<String>(),
        ts in any::<String>(),
        header in any::<String>(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
        tolerance in any::<i64>(),
    ) {
        let _ = verify(&secret, &id, &ts, &header, &body, now, tolerance);
        let _ = verify(SECRET, &id, &ts, &header, &body, now, tolerance);
    }

    #[test]
    fn verify_never_panics_on_signature_shaped_headers(
        parts in proptest::collection::vec("(v1|v1a|v2|)[,]?[A-Za-z0-9+/=]{0,60}", 0..6),
        ts in any::<i64>(),
    ) {
        let header = parts.join(" ");
        let r = verify(SECRET, "msg_1", &ts.to_string(), &header, b"{}", ts, 300);
        // Random signatures never verify.
        prop_assert!(r.is_err());
    }

    #[test]
    fn a_signature_with_one_bit_flipped_is_refused(body in proptest::collection::vec(any::<u8>(), 0..64), ts in 0i64..4_000_000_000, bit in 0usize..256) {
        let sig = sign(SECRET, "msg_1", ts, &body).unwrap();
        prop_assert!(verify(SECRET, "msg_1", &ts.to_string(), &sig, &body, ts, 300).is_ok());
        let (v, b64) = sig.split_once(',').unwrap();
        use base64::Engine;
        let mut raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let len = raw.len();
        raw[(bit / 8) % len] ^= 1 << (bit % 8);
        let forged = format!("{v},{}", base64::engine::general_purpose::STANDARD.encode(raw));
        prop_assert!(verify(SECRET, "msg_1", &ts.to_string(), &forged, &body, ts, 300).is_err());
    }

    #[test]
    fn the_url_check_never_panics(s in any::<String>()) {
        if let Ok(u) = url::Url::parse(&s) {
            let _ = AddressPolicy::strict().check_url(&u);
        }
    }

    #[test]
    fn url_shaped_hosts_are_checked_without_panicking(
        scheme in "(http|https|ftp|HTTP)",
        host in "(\\[[0-9a-fA-F:.]{0,40}\\]|[0-9xXa-fA-F.]{1,30}|[a-z0-9.-]{1,30})",
        port in proptest::option::of(any::<u16>()),
    ) {
        let s = match port {
            Some(p) => format!("{scheme}://{host}:{p}/hook"),
            None => format!("{scheme}://{host}/hook"),
        };
        if let Ok(u) = url::Url::parse(&s) {
            let r = AddressPolicy::strict().check_url(&u);
            // Any literal loopback the parser produced is refused, however it was spelled.
            if let Some(url::Host::Ipv4(ip)) = u.host()
                && ip.is_loopback()
            {
                prop_assert!(r.is_err(), "{s}");
            }
        }
    }
}
