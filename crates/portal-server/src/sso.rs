//! Single sign-on configuration (the `[sso]` section of the config file) and its wiring into
//! the web portal. See docs/operations.md ("Single sign-on") and docs/decisions/0045.

use std::sync::Arc;

use onboarding_core::Portal;
use onboarding_core::sso::{RoleMapping, StaffPasswords};
use onboarding_core::values::Email;
use serde::Deserialize;
use sso_oidc::{Audience, Http, Provider, ProviderSettings};

use crate::FIRST_ADMIN_EMAIL;
use crate::config::Secret;

fn yes() -> bool {
    true
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_role_claim() -> String {
    "groups".into()
}

/// `[sso]`: identity providers and whether staff keep local passwords.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// Staff may sign in with a local password (default true). `false` (or
    /// `PORTAL_STAFF_PASSWORDS=false`) leaves passwords only to the break-glass addresses.
    #[serde(default = "yes")]
    pub staff_passwords: bool,
    /// Besides the first-run admin (`admin@portal.local`), addresses that keep a password
    /// when `staff_passwords = false`.
    #[serde(default)]
    pub break_glass: Vec<String>,
    /// `[[sso.providers]]`: at most one for staff, any number for partners.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            staff_passwords: true,
            break_glass: Vec::new(),
            providers: Vec::new(),
        }
    }
}

/// One `[[sso.providers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// In URLs: `/sso/<id>/start`, callback `<public_url>/sso/<id>/callback`.
    pub id: String,
    /// The button's text; default "Sign in with <id>".
    pub label: Option<String>,
    /// `staff` or `partners`.
    pub audience: Audience,
    pub issuer: String,
    pub client_id: String,
    /// Or `PORTAL_SSO_<ID>_CLIENT_SECRET` (the id upper-cased, `-` as `_`), which wins.
    pub client_secret: Option<Secret>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim with groups or roles; a dotted path reads nested claims.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Claim values that grant admin (staff providers).
    #[serde(default)]
    pub admin: Vec<String>,
    /// Claim values that grant reviewer (staff providers).
    #[serde(default)]
    pub reviewer: Vec<String>,
    /// Refuse staff whose `email_verified` is not true (default true; Entra ID omits the claim).
    #[serde(default = "yes")]
    pub require_verified_email: bool,
}

impl SsoConfig {
    /// Applies the environment and checks the section; errors name the key.
    pub fn finish(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = env("PORTAL_STAFF_PASSWORDS") {
            self.staff_passwords = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                other => {
                    return Err(format!(
                        "PORTAL_STAFF_PASSWORDS: `{other}` is not true|false"
                    ));
                }
            };
        }
        for e in &self.break_glass {
            Email::new(e).map_err(|e| format!("sso.break_glass: {e}"))?;
        }
        let mut ids = std::collections::BTreeSet::new();
        for p in &mut self.providers {
            let ok = !p.id.is_empty()
                && p.id.len() <= 40
                && p.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(format!(
                    "sso.providers: id `{}` must be 1-40 lowercase letters, digits or dashes",
                    p.id
                ));
            }
            if !ids.insert(p.id.clone()) {
                return Err(format!("sso.providers: id `{}` is used twice", p.id));
            }
            let var = format!(
                "PORTAL_SSO_{}_CLIENT_SECRET",
                p.id.to_uppercase().replace('-', "_")
            );
            if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
                p.client_secret = Some(Secret::new(v));
            }
            if p.client_secret.is_none() {
                return Err(format!(
                    "sso.providers `{}`: client_secret is missing (or set {var})",
                    p.id
                ));
            }
            if p.audience == Audience::Staff && p.admin.is_empty() && p.reviewer.is_empty() {
                return Err(format!(
                    "sso.providers `{}`: a staff provider needs `admin` or `reviewer` claim values",
                    p.id
                ));
            }
        }
        let staff = self
            .providers
            .iter()
            .filter(|p| p.audience == Audience::Staff)
            .count();
        if staff > 1 {
            return Err("sso.providers: at most one provider has audience = \"staff\"".into());
        }
        if !self.staff_passwords && staff == 0 {
            return Err(
                "sso.staff_passwords = false needs a provider with audience = \"staff\"".into(),
            );
        }
        Ok(())
    }

    /// Who keeps a staff password.
    pub fn password_policy(&self) -> StaffPasswords {
        if self.staff_passwords {
            return StaffPasswords::Allowed;
        }
        let mut list = vec![Email::new(FIRST_ADMIN_EMAIL).expect("a valid address")];
        list.extend(self.break_glass.iter().filter_map(|e| Email::new(e).ok()));
        StaffPasswords::BreakGlassOnly(list)
    }
}

/// The portal with the staff password policy applied.
pub fn apply_policy(portal: Portal, config: &SsoConfig) -> Portal {
    portal.with_staff_passwords(config.password_policy())
}

/// The web portal's providers; callbacks under `base_url`.
pub fn web_sso(
    config: &SsoConfig,
    base_url: &str,
    portal: &Portal,
) -> Result<Option<web_portal::Sso>, String> {
    if config.providers.is_empty() {
        return Ok(None);
    }
    let http = Http::new().map_err(|e| format!("single sign-on HTTP client: {e}"))?;
    let mut providers = Vec::new();
    for p in &config.providers {
        let settings = ProviderSettings {
            id: p.id.clone(),
            label: p
                .label
                .clone()
                .unwrap_or_else(|| format!("Sign in with {}", p.id)),
            audience: p.audience,
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret: openidconnect_secret(p),
            scopes: p.scopes.clone(),
            role_claim: p.role_claim.clone(),
            roles: RoleMapping {
                admin: p.admin.clone(),
                reviewer: p.reviewer.clone(),
            },
            require_verified_email: p.require_verified_email,
        };
        let redirect = format!("{}/sso/{}/callback", base_url.trim_end_matches('/'), p.id);
        let provider = Provider::new(settings, &redirect, http.clone())
            .map_err(|e| format!("sso.providers `{}`: {e}", p.id))?;
        tracing::info!(provider = %p.id, issuer = %p.issuer, redirect = %redirect, "single sign-on provider");
        providers.push(Arc::new(provider));
    }
    Ok(Some(web_portal::Sso {
        providers,
        vault: portal.ports().vault.clone(),
        staff_passwords_off: !config.staff_passwords,
    }))
}

fn openidconnect_secret(p: &ProviderConfig) -> sso_oidc::ClientSecret {
    let s = p
        .client_secret
        .as_ref()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    sso_oidc::ClientSecret::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SsoConfig {
        #[derive(Deserialize)]
        struct F {
            sso: SsoConfig,
        }
        toml::from_str::<F>(text).unwrap().sso
    }

    const STAFF: &str = r#"
[sso]
staff_passwords = false
[[sso.providers]]
id = "corp"
audience = "staff"
issuer = "https://idp.example/realms/corp"
client_id = "portal"
reviewer = ["portal-reviewers"]
"#;

    #[test]
    fn the_client_secret_comes_from_the_environment_and_never_prints() {
        let mut c = parse(STAFF);
        let e = c.clone().finish(&|_| None).unwrap_err();
        assert!(e.contains("PORTAL_SSO_CORP_CLIENT_SECRET"), "{e}");
        c.finish(&|k| (k == "PORTAL_SSO_CORP_CLIENT_SECRET").then(|| "s3cret".into()))
            .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(
            c.password_policy(),
            StaffPasswords::BreakGlassOnly(vec![Email::new(FIRST_ADMIN_EMAIL).unwrap()])
        );
    }

    #[test]
    fn bad_sections_are_refused_with_the_key_named() {
        let env = |k: &str| k.ends_with("_CLIENT_SECRET").then(|| "x".to_owned());
        let mut c = parse(&STAFF.replace("reviewer = [\"portal-reviewers\"]", ""));
        assert!(c.finish(&env).unwrap_err().contains("claim values"));
        let mut c = parse(&STAFF.replace("id = \"corp\"", "id = \"Corp SSO\""));
        assert!(c.finish(&env).unwrap_err().contains("lowercase"));
        let mut c = parse(&STAFF.replace("audience = \"staff\"", "audience = \"partners\""));
        assert!(
            c.finish(&env)
                .unwrap_err()
                .contains("staff_passwords = false")
        );
        let mut c = parse(&format!("{STAFF}\n{}", &STAFF[STAFF.find("[[").unwrap()..]));
        assert!(c.finish(&env).unwrap_err().contains("twice"));
        let mut c = SsoConfig::default();
        assert!(
            c.finish(&|k| (k == "PORTAL_STAFF_PASSWORDS").then(|| "maybe".into()))
                .is_err()
        );
        assert_eq!(
            SsoConfig::default().password_policy(),
            StaffPasswords::Allowed
        );
    }
}
