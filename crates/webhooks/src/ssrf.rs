//! The SSRF guard: which addresses a delivery may connect to. Endpoint URLs are chosen by
//! partners, so without it the portal would fetch its own admin interfaces, the cloud
//! metadata service or the office network for anyone who asks.
//!
//! The check runs on the *resolved* address at connect time ([`GuardedResolver`] is reqwest's
//! DNS resolver), so a name that resolves to 127.0.0.1 — or is re-pointed there after the
//! endpoint was saved (DNS rebinding) — is refused all the same. Literal IP hosts skip DNS, so
//! the client checks them with [`AddressPolicy::check_url`] before sending; `url` has already
//! normalised decimal, octal and hex IPv4 forms (`http://2130706433/` is 127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    Unspecified,
    Loopback,
    /// RFC 1918, IPv6 unique local (fc00::/7).
    Private,
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    Multicast,
    /// 169.254.169.254, fd00:ec2::254: instance credentials live there.
    CloudMetadata,
    /// Reserved, broadcast, documentation and benchmarking ranges.
    Reserved,
}

impl Forbidden {
    pub fn as_str(self) -> &'static str {
        match self {
            Forbidden::Unspecified => "unspecified",
            Forbidden::Loopback => "loopback",
            Forbidden::Private => "private",
            Forbidden::LinkLocal => "link-local",
            Forbidden::SharedAddressSpace => "shared address space (CGNAT)",
            Forbidden::Multicast => "multicast",
            Forbidden::CloudMetadata => "cloud metadata",
            Forbidden::Reserved => "reserved",
        }
    }

    /// What "allow private addresses" lets through: the operator's own networks, never the
    /// metadata service, multicast or nonsense addresses.
    fn is_private_kind(self) -> bool {
        matches!(
            self,
            Forbidden::Loopback
                | Forbidden::Private
                | Forbidden::LinkLocal
                | Forbidden::SharedAddressSpace
        )
    }
}

const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Forbidden::CloudMetadata,
        _ if a == 0 => Forbidden::Unspecified,
        _ if ip.is_loopback() => Forbidden::Loopback,
        _ if ip.is_private() => Forbidden::Private,
        _ if ip.is_link_local() => Forbidden::LinkLocal,
        _ if a == 100 && (64..128).contains(&b) => Forbidden::SharedAddressSpace,
        _ if ip.is_multicast() => Forbidden::Multicast,
        _ if a >= 240 => Forbidden::Reserved,
        _ if a == 192 && b == 0 && c == 0 => Forbidden::Reserved,
        _ if ip.is_documentation() => Forbidden::Reserved,
        _ if a == 198 && (b == 18 || b == 19) => Forbidden::Reserved,
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but still parsed) and NAT64
/// (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // `::` and `::1` are IPv6's own unspecified and loopback, not IPv4-compatible.
        [0, 0, 0, 0, 0, 0, _, _] if u32::from(tail) > 1 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s0 = ip.segments()[0];
    Some(match () {
        _ if ip == METADATA_V6 => Forbidden::CloudMetadata,
        _ if ip.is_unspecified() => Forbidden::Unspecified,
        _ if ip.is_loopback() => Forbidden::Loopback,
        _ if s0 & 0xfe00 == 0xfc00 => Forbidden::Private,
        // fe80::/10 link-local, and fec0::/10 (deprecated site-local) with it.
        _ if s0 & 0xffc0 == 0xfe80 || s0 & 0xffc0 == 0xfec0 => Forbidden::LinkLocal,
        _ if ip.is_multicast() => Forbidden::Multicast,
        _ if s0 == 0x2001 && ip.segments()[1] == 0x0db8 => Forbidden::Reserved,
        _ => return None,
    })
}

/// Why `ip` is refused by default, or `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The operator's setting: public addresses only (the default), plus any CIDR listed, plus
/// loopback/private/link-local/CGNAT networks when `allow_private` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: bool,
    pub allowed: Vec<IpNet>,
}

/// A delivery refused before any byte was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused: {host} is {} address ({ip}); the operator has not allowed it",
    article(kind)
)]
pub struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

/// "a loopback", "an unspecified".
fn article(kind: &str) -> String {
    let vowel = kind.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {kind}", if vowel { "an" } else { "a" })
}

/// Registration asks the same policy as delivery, so what is saved can be delivered to.
impl onboarding_core::ports::DestinationPolicy for AddressPolicy {
    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        self.check(&ip.to_string(), ip).map_err(|r| {
            format!(
                "{} is {} address, which webhooks may not reach",
                r.ip,
                article(r.kind)
            )
        })
    }
}

impl AddressPolicy {
    /// Public addresses only.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Also these networks (`"127.0.0.1/32"`, `"10.0.0.0/8"`, a bare address means /32 or /128).
    pub fn allowing<S: AsRef<str>>(cidrs: &[S]) -> Result<Self, String> {
        let allowed = cidrs
            .iter()
            .map(|c| {
                let c = c.as_ref().trim();
                c.parse::<IpNet>()
                    .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{c}` is not a CIDR block or an IP address"))
            })
            .collect::<Result<_, _>>()?;
        Ok(AddressPolicy {
            allow_private: false,
            allowed,
        })
    }

    /// Whether a delivery may connect to `ip`.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        // An IPv4-mapped address is the IPv4 address for the allow-list as well.
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self
            .allowed
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&canonical))
        {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(k) if self.allow_private && k.is_private_kind() => Ok(()),
            Some(k) => Err(Refused {
                host: host.to_owned(),
                ip,
                kind: k.as_str(),
            }),
        }
    }

    /// Checks a URL whose host is a literal IP (those never reach the resolver); names pass
    /// here and are checked once resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let host = url.host_str().unwrap_or_default();
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(host, IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(host, IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }
}

/// reqwest's DNS resolver with the policy applied: resolves with the system resolver and keeps
/// only permitted addresses; a name with none left fails to connect.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<AddressPolicy>) -> Self {
        Self { policy }
    }

    /// The permitted addresses of `host` (port 0: the connector sets the port).
    pub async fn resolve_host(
        policy: &AddressPolicy,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut refused = None;
        let ok: Vec<SocketAddr> = all
            .into_iter()
            .filter(|a| match policy.check(host, a.ip()) {
                Ok(()) => true,
                Err(r) => {
                    refused.get_or_insert(r);
                    false
                }
            })
            .collect();
        match (ok.is_empty(), refused) {
            (true, Some(r)) => Err(Box::new(r)),
            (true, None) => Err(format!("{host} has no address").into()),
            _ => Ok(ok),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs = Self::resolve_host(&policy, name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        AddressPolicy::strict()
            .check("h", s.parse().unwrap())
            .is_err()
    }

    #[test]
    fn refuses_every_non_public_range_in_both_families() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
        assert_eq!(
            classify("169.254.169.254".parse().unwrap()),
            Some(Forbidden::CloudMetadata)
        );
        assert_eq!(
            classify("fd00:ec2::254".parse().unwrap()),
            Some(Forbidden::CloudMetadata)
        );
    }

    #[test]
    fn numeric_ipv4_spellings_are_normalised_by_url_and_refused() {
        let p = AddressPolicy::strict();
        for u in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0xa9fea9fe/",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(p.check_url(&url).is_err(), "{u} -> {:?}", url.host());
        }
        assert!(
            p.check_url(&url::Url::parse("https://hooks.example.com/").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn operator_settings_open_exactly_what_they_name() {
        let p = AddressPolicy::allowing(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        assert!(p.check("h", "127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check("h", "::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check("h", "127.0.0.2".parse().unwrap()).is_err());
        assert!(p.check("h", "10.9.9.9".parse().unwrap()).is_ok());
        assert!(p.check("h", "192.168.0.1".parse().unwrap()).is_err());
        assert!(AddressPolicy::allowing(&["nope"]).is_err());
        let private = AddressPolicy {
            allow_private: true,
            allowed: vec![],
        };
        assert!(private.check("h", "192.168.0.1".parse().unwrap()).is_ok());
        assert!(private.check("h", "::1".parse().unwrap()).is_ok());
        assert!(
            private
                .check("h", "169.254.169.254".parse().unwrap())
                .is_err(),
            "metadata stays shut"
        );
        assert!(private.check("h", "224.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn refusals_read_as_sentences() {
        let r = AddressPolicy::strict()
            .check("0.0.0.0", "0.0.0.0".parse().unwrap())
            .unwrap_err();
        assert!(r.to_string().contains("is an unspecified address"), "{r}");
        let r = AddressPolicy::strict()
            .check("localhost", "127.0.0.1".parse().unwrap())
            .unwrap_err();
        assert!(r.to_string().contains("is a loopback address"), "{r}");
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let err = GuardedResolver::resolve_host(&AddressPolicy::strict(), "localhost")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        let ok = GuardedResolver::resolve_host(
            &AddressPolicy::allowing(&["127.0.0.1", "::1"]).unwrap(),
            "localhost",
        )
        .await
        .unwrap();
        assert!(!ok.is_empty());
    }
}
