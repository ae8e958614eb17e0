//! Values that must be valid, validated once in a constructor and trusted afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A refused value: which field, and why. Every validator in the core answers with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The field at fault, as the API and the forms name it (`notes`, `answers.website`, ...).
    pub field: String,
    /// What is wrong, in a sentence a user can act on.
    pub reason: String,
}

impl FieldError {
    /// A field error on `field` (the API field's name, e.g. `name` or `answers.use_case`) for
    /// `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The validated value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::new(&s)
            }
        }
    };
}

string_value!(/// Reviewer notes: never blank after trimming.
    Notes);
string_value!(/// An e-mail address, kept lower-cased so that look-ups are exact.
    Email);
string_value!(/// A short human label (workspace, project or plan name): 1 to 120 characters, trimmed.
    Label);

impl Notes {
    /// Refuses notes that are blank after trimming, or longer than 10 000 characters.
    pub fn new(text: &str) -> Result<Self, FieldError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(FieldError::new(
                "notes",
                "notes are required and must not be blank",
            ));
        }
        if t.chars().count() > 10_000 {
            return Err(FieldError::new(
                "notes",
                "notes must be at most 10000 characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }
}

impl Email {
    /// A pragmatic check (one `@`, a dotted domain, no spaces, at most 254 characters): what a
    /// sign-up form can check without sending mail.
    pub fn new(text: &str) -> Result<Self, FieldError> {
        let t = text.trim().to_lowercase();
        let bad = || {
            FieldError::new(
                "email",
                format!("`{}` is not a valid e-mail address", truncate(text, 80)),
            )
        };
        if t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = t.split_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(bad());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(bad());
        }
        Ok(Self(t))
    }
}

impl Label {
    /// Refuses blank labels and labels over 120 characters; the field name is `label`,
    /// use [`Label::for_field`] to name it.
    pub fn new(text: &str) -> Result<Self, FieldError> {
        Self::for_field("name", text)
    }

    /// Like [`Label::new`], naming the field in the error.
    pub fn for_field(field: &str, text: &str) -> Result<Self, FieldError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(FieldError::new(field, "must not be blank"));
        }
        if t.chars().count() > 120 {
            return Err(FieldError::new(field, "must be at most 120 characters"));
        }
        if t.chars().any(|c| c.is_control()) {
            return Err(FieldError::new(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_refuse_blank_text() {
        for blank in ["", "   ", "\n\t "] {
            assert_eq!(Notes::new(blank).unwrap_err().field, "notes");
        }
        assert_eq!(
            Notes::new("  fix the consent text ").unwrap().as_str(),
            "fix the consent text"
        );
    }

    #[test]
    fn emails_are_validated_and_lowercased() {
        assert_eq!(
            Email::new(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@-x.com",
        ] {
            let e = Email::new(bad).unwrap_err();
            assert_eq!(e.field, "email", "{bad}");
        }
    }

    #[test]
    fn labels_refuse_blank_and_overlong_text() {
        assert!(Label::new(" ").is_err());
        assert!(Label::new(&"x".repeat(121)).is_err());
        assert_eq!(
            Label::for_field("purpose", "").unwrap_err().field,
            "purpose"
        );
        assert_eq!(Label::new(" Payments ").unwrap().as_str(), "Payments");
    }
}
