//! The Standard Webhooks signature header parser (`signing::verify`) on arbitrary input:
//! never panics, and a random header never verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use webhooks::signing::verify;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut parts = s.splitn(3, '\n');
    let (ts, header, body) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let now = ts.trim().parse::<i64>().unwrap_or(0);
    let r = verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_fuzz",
        ts,
        header,
        body.as_bytes(),
        now,
        300,
    );
    let _ = r;
    let _ = verify(header, ts, body, header, data, now, i64::MAX);
});
