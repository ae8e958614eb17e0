//! The SSRF guard's URL check on arbitrary strings: never panics, and a literal loopback
//! address is refused however it was spelled.
#![no_main]
use libfuzzer_sys::fuzz_target;
use webhooks::AddressPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(u) = url::Url::parse(s) else {
        return;
    };
    let r = AddressPolicy::strict().check_url(&u);
    if let Some(url::Host::Ipv4(ip)) = u.host()
        && ip.is_loopback()
    {
        assert!(r.is_err(), "{s}");
    }
});
