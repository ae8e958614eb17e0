//! Strings in request bodies, strictly typed and exactly documented.
//!
//! poem-openapi's `String` also accepts a JSON number or boolean and turns it into text
//! (`{"name": false}` would name a workspace "false"). These types accept a JSON string and
//! nothing else, and their OpenAPI schema states the rule the core applies to the value, so
//! that a client (or a schema-driven fuzzer) can tell valid from invalid input before sending.
//! The core stays the one place that enforces the rule; the schema here must describe the
//! same set of strings, which `tests::name_pattern_is_the_labels_rule` checks.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::LazyLock;

use regex::Regex;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// The characters `str::trim` removes (Unicode `White_Space`) that are not control
/// characters; the control characters among them (`\t`, `\n`, ...) are excluded as controls.
const SPACE_NOT_CONTROL: &str = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// `char::is_control`: the `Cc` category.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";
/// Everything `str::trim` removes.
const TRIMMED: &str =
    r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The core's `Label` rule (names, purposes): 1 to 120 characters once trimmed, no control
/// characters inside.
pub fn label_pattern() -> String {
    let edge = format!("[^{CONTROL}{SPACE_NOT_CONTROL}]");
    let inner = format!("[^{CONTROL}]");
    format!("^[{TRIMMED}]*{edge}({inner}{{0,118}}{edge})?[{TRIMMED}]*$")
}

macro_rules! request_string {
    ($(#[$doc:meta])* $name:ident, $type_name:literal, |$schema:ident| $build:block) => {
        request_string!($(#[$doc])* $name, $type_name, |$schema| $build, enforced: |_| true);
    };
    ($(#[$doc:meta])* $name:ident, $type_name:literal, |$schema:ident| $build:block, enforced: $enforced:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl From<$name> for String {
            fn from(t: $name) -> String {
                t.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = String;
            type RawElementValueType = String;

            fn name() -> Cow<'static, str> {
                $type_name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                #[allow(unused_mut)]
                let mut $schema = MetaSchema::new("string");
                $build
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(std::iter::once(&self.0))
            }

            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let enforced: fn(&str) -> bool = $enforced;
                match value.unwrap_or_default() {
                    Value::String(s) if enforced(&s) => Ok(Self(s)),
                    Value::String(_) => Err(ParseError::custom(concat!(
                        "not a valid ",
                        $type_name
                    ))),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

/// A list entry (an endpoint such as `GET /v1/accounts`, an event type): 1 to 200
/// characters once trimmed.
pub fn entry_pattern() -> String {
    format!("^[{TRIMMED}]*[^{TRIMMED}]([\\s\\S]{{0,198}}[^{TRIMMED}])?[{TRIMMED}]*$")
}

/// The texts as the core takes them.
pub fn strings<T: AsRef<str>>(texts: &[T]) -> Vec<String> {
    texts.iter().map(|t| t.as_ref().to_owned()).collect()
}

request_string!(
    /// Any JSON string; the operation documents what it means.
    Text,
    "string",
    |s| {}
);

request_string!(
    /// A name or purpose label: 1 to 120 characters once trimmed, no control characters.
    Name,
    "string(label)",
    |s| {
        s.pattern = Some(label_pattern());
    }
);

request_string!(
    /// An entry of a list of endpoints or events: 1 to 200 characters once trimmed.
    Entry,
    "string(entry)",
    |s| {
        s.pattern = Some(entry_pattern());
    }
);

/// Where a pattern is a subset of what the core accepts rather than the same set (e-mail
/// addresses, URLs: their full rules are not regular), the request is held to the pattern
/// here, so that what the document calls valid the core always takes, and the rest is refused
/// before it. Rust's `regex` and JSON Schema's ECMA-262 agree on these ASCII-only patterns.
const EMAIL_PATTERN: &str = concat!(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@",
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+",
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
);
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(EMAIL_PATTERN).expect("e-mail pattern"));

/// `http(s)://`, a host name (its last label starts with a letter, so it is never read as an
/// IPv4 address), a dotted-quad IPv4 address or a bracketed IPv6 address (RFC 4291 text forms,
/// with or without `::`, optionally ending in a dotted quad; no zone), an optional port, an
/// optional path and query; no credentials, no fragment.
const URL_PATTERN: &str = concat!(
    r"^https?://(",
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r"|\[(",
    r"([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}",
    r"|([0-9A-Fa-f]{1,4}:){1,7}:",
    r"|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}",
    r"|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}",
    r"|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}",
    r"|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}",
    r"|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}",
    r"|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}",
    r"|:((:[0-9A-Fa-f]{1,4}){1,7}|:)",
    r"|([0-9A-Fa-f]{1,4}:){6}((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r"|::([Ff]{4}(:0{1,4})?:)?((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r"|([0-9A-Fa-f]{1,4}:){1,4}:((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r")\]",
    r")(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    r"([/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
);
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(URL_PATTERN).expect("URL pattern"));

request_string!(
    /// A webhook URL (at most 2048 characters); the core also refuses plain HTTP for
    /// production projects.
    WebhookUrl,
    "string(url)",
    |s| {
        s.max_length = Some(2048);
        s.pattern = Some(URL_PATTERN.into());
    },
    enforced: |s| URL.is_match(s)
);

request_string!(
    /// An e-mail address (compared case-insensitively).
    EmailAddress,
    "string(email)",
    |s| {
        s.max_length = Some(254);
        s.pattern = Some(EMAIL_PATTERN.into());
    },
    enforced: |s| EMAIL.is_match(s)
);

/// A positive decimal amount as a string (`"12.50"`): what `rust_decimal` reads, greater
/// than zero, at most 18 digits before the point and 10 after.
const AMOUNT_PATTERN: &str = r"^([1-9][0-9]{0,17}(\.[0-9]{1,10})?|0\.[0-9]{0,9}[1-9][0-9]{0,9})$";
static AMOUNT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(AMOUNT_PATTERN).expect("amount pattern"));

request_string!(
    /// A positive decimal amount as a string (money and thresholds are never JSON numbers).
    Amount,
    "string(decimal)",
    |s| {
        s.pattern = Some(AMOUNT_PATTERN.into());
    },
    enforced: |s| AMOUNT.is_match(s)
);

request_string!(
    /// An ISO 4217 currency code (`EUR`).
    CurrencyCode,
    "string(currency)",
    |s| {
        s.pattern = Some("^[A-Z]{3}$".into());
    },
    enforced: |s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
);

/// What an endpoint may subscribe to: every event type the portal sends except the two
/// targeted ones (verification, test), and `family.*` for each family.
pub fn subscribable_events() -> Vec<String> {
    use onboarding_core::webhook::{EVENT_TYPES, is_targeted_event};
    let mut out: Vec<String> = EVENT_TYPES
        .iter()
        .filter(|t| !is_targeted_event(t))
        .map(|t| (*t).to_owned())
        .collect();
    for t in EVENT_TYPES {
        if let Some((family, _)) = t.split_once('.') {
            let wildcard = format!("{family}.*");
            if !out.contains(&wildcard) {
                out.push(wildcard);
            }
        }
    }
    out
}

static SUBSCRIBABLE: LazyLock<Vec<String>> = LazyLock::new(subscribable_events);

request_string!(
    /// An event type an endpoint subscribes to, or a `family.*` wildcard.
    EventType,
    "string(event_type)",
    |s| {
        s.enum_items = SUBSCRIBABLE.iter().map(|e| Value::String(e.clone())).collect();
    },
    enforced: |s| SUBSCRIBABLE.iter().any(|e| e == s)
);

/// `<prefix>_` and a ULID in Crockford base32, as the core prints ids.
fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|u| {
            u.len() == 26
                && u.as_bytes()[0] <= b'7'
                && u.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'H' | b'J' | b'K' | b'M' | b'N' | b'P'..=b'T' | b'V'..=b'Z'))
        })
}

request_string!(
    /// A plan id (`plan_` and a ULID).
    PlanRef,
    "string(plan_id)",
    |s| {
        s.pattern = Some("^plan_[0-7][0-9A-HJKMNP-TV-Z]{25}$".into());
    },
    enforced: |s| is_id(s, "plan")
);

request_string!(
    /// An account id (`acct_` and a ULID).
    AccountRef,
    "string(account_id)",
    |s| {
        s.pattern = Some("^acct_[0-7][0-9A-HJKMNP-TV-Z]{25}$".into());
    },
    enforced: |s| is_id(s, "acct")
);

request_string!(
    /// A new password: 10 to 1024 characters (a passphrase beats complexity rules).
    Password,
    "string(password)",
    |s| {
        s.min_length = Some(10);
        s.max_length = Some(1024);
    }
);

request_string!(
    /// The OAuth 2.0 `grant_type`, documented as the one grant the token endpoint supports.
    /// Parsed as any string, so that the endpoint answers another grant in RFC 6749's own
    /// form (`unsupported_grant_type`) rather than as a request-parsing problem.
    GrantType,
    "string(grant_type)",
    |s| {
        s.enum_items = vec![Value::String("client_credentials".into())];
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use onboarding_core::values::Label;

    /// The documented pattern and the core's `Label` accept the same strings, on the edges
    /// where they could differ: each white-space and control character, at each position.
    #[test]
    fn name_pattern_is_the_labels_rule() {
        let re = regex::Regex::new(&label_pattern()).unwrap();
        let mut specials: Vec<char> = (0u32..=0x3000)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace() || c.is_control())
            .collect();
        specials.extend(['a', 'é', '漢', '\u{200b}', '\u{feff}', '\u{1f600}']);
        let mut samples: Vec<String> = vec![String::new(), "x".repeat(120), "x".repeat(121)];
        for &c in &specials {
            for s in [
                format!("{c}"),
                format!("{c}x"),
                format!("x{c}"),
                format!("x{c}y"),
                format!("{c}{c}"),
                format!("{c}{}{c}", "y".repeat(119)),
                format!("{c}{}", "y".repeat(120)),
            ] {
                samples.push(s);
            }
        }
        for s in samples {
            assert_eq!(
                re.is_match(&s),
                Label::new(&s).is_ok(),
                "pattern and Label disagree on {s:?}"
            );
        }
    }

    #[test]
    fn entry_pattern_is_the_list_rule() {
        let re = regex::Regex::new(&entry_pattern()).unwrap();
        for (s, ok) in [
            ("GET /v1/accounts", true),
            ("", false),
            ("  ", false),
            ("\t x \n", true),
            ("a\nb", true),
            (&"y".repeat(200), true),
            (&"y".repeat(201), false),
            (&format!(" {} ", "é".repeat(200)), true),
        ] {
            assert_eq!(re.is_match(s), ok, "{s:?}");
        }
    }

    /// What the patterns let through, the core accepts.
    #[test]
    fn enforced_patterns_are_within_the_cores_rules() {
        use onboarding_core::project::Environment;
        use onboarding_core::values::Email;
        use onboarding_core::webhook::validate_endpoint_url;
        for e in [
            "dev@acme.example",
            "a.b+c@x-y.z.io",
            "0@0.a",
            &format!("{}@a.io", "x".repeat(64)),
        ] {
            assert!(EMAIL.is_match(e), "{e}");
            assert!(Email::new(e).is_ok(), "{e}");
        }
        for e in [
            "",
            "a@b",
            "a@-b.io",
            "a b@c.io",
            "a@b..io",
            &format!("{}@a.io", "x".repeat(65)),
        ] {
            assert!(!EMAIL.is_match(e), "{e}");
        }
        for u in [
            "http://localhost:65535/hook",
            "https://hooks.acme.example/a/b?c=d&e=%20",
            "http://127.0.0.1:8080/",
            "http://x",
            "https://a-1.b2.c/~x@y:z",
            "http://[::1]/",
            "http://[::]/",
            "https://[2606:4700::1111]:8443/hook",
            "https://[::ffff:93.184.216.34]/",
            "https://[64:ff9b::93.184.216.34]/",
            "https://[1:2:3:4:5:6:7:8]/",
            "https://[1:2:3:4:5:6:1.2.3.4]/",
            "https://[fe80::]/",
            "https://[1::]/",
        ] {
            assert!(URL.is_match(u), "{u}");
            assert!(
                validate_endpoint_url(u, Environment::Sandbox).is_ok(),
                "{u}"
            );
        }
        for u in [
            "ftp://x.io",
            "http://u:p@x.io",
            "http://x.io/#f",
            "http://1.2.3.4.5",
            "http://x.io:65536",
            "http://[example]/",
            "http://[::1/",
            "http://[:::]/",
            "http://[1::2::3]/",
            "http://[12345::]/",
            "http://[fe80::1%25eth0]/",
            "http://[1:2:3:4:5:6:7:8:9]/",
            " http://x.io",
        ] {
            assert!(!URL.is_match(u), "{u}");
        }
    }

    #[test]
    fn every_documented_event_is_one_the_core_takes() {
        for e in subscribable_events() {
            assert!(
                onboarding_core::webhook::validate_event_filter(std::slice::from_ref(&e)).is_ok(),
                "{e}"
            );
        }
    }

    /// `max_items = 19` on an endpoint's events is the core's bound.
    #[test]
    fn webhook_event_lists_are_bounded_as_in_the_core() {
        assert_eq!(onboarding_core::webhook::EVENT_TYPES.len(), 19);
    }

    #[test]
    fn ids_the_patterns_let_through_parse() {
        use onboarding_core::ids::{AccountId, PlanId};
        let plan = PlanId::from_ulid(ulid::Ulid::from_parts(1, 2)).to_string();
        let account =
            AccountId::from_ulid(ulid::Ulid::from_parts(u64::MAX >> 16, u128::MAX)).to_string();
        assert!(
            is_id(&plan, "plan") && plan.parse::<PlanId>().is_ok(),
            "{plan}"
        );
        assert!(
            is_id(&account, "acct") && account.parse::<AccountId>().is_ok(),
            "{account}"
        );
        let re = regex::Regex::new("^plan_[0-7][0-9A-HJKMNP-TV-Z]{25}$").unwrap();
        for s in [
            plan.as_str(),
            "plan_7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "plan_8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "plan_01m8sdyf3rxwr9b9mes0dh1mrp",
            "acct_01M8SDYF3RXWR9B9MES0DH1MRP",
        ] {
            assert_eq!(re.is_match(s), is_id(s, "plan"), "{s}");
            if is_id(s, "plan") {
                assert!(s.parse::<PlanId>().is_ok(), "{s}");
            }
        }
    }

    #[test]
    fn amounts_the_pattern_lets_through_are_positive_decimals() {
        for a in [
            "1",
            "12.50",
            "0.0000000001",
            "999999999999999999.9999999999",
            "0.1",
        ] {
            assert!(AMOUNT.is_match(a), "{a}");
            assert!(a.parse::<rust_decimal::Decimal>().unwrap() > rust_decimal::Decimal::ZERO);
        }
        for a in ["0", "0.0", "-1", "1.", ".5", "01", "1e3", " 1", "1,5"] {
            assert!(!AMOUNT.is_match(a), "{a}");
        }
    }

    #[test]
    fn only_json_strings_parse() {
        assert_eq!(
            Name::parse_from_json(Some(Value::String("Acme".into()))).unwrap(),
            Name("Acme".into())
        );
        for v in [
            Value::Bool(false),
            serde_json::json!(12),
            Value::Null,
            serde_json::json!([]),
        ] {
            assert!(Name::parse_from_json(Some(v)).is_err());
        }
    }
}
