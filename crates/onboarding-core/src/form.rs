//! Submission forms (spec §3): ordered steps of typed fields, always ending in a review step,
//! and the validation of a developer's answers against them.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::{Email, FieldError};

/// The kinds of field a form step may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// One of `options`.
    Select,
    /// Any subset of `options`, answered as an array of strings.
    Multiselect,
    /// A yes/no answer (a boolean); a required checkbox must be ticked.
    Checkbox,
    /// An absolute `http(s)` URL.
    Url,
    /// An e-mail address.
    Email,
}

/// One field of a form step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    /// Stable key the answers use (`^[a-z][a-z0-9_]{0,63}$`).
    pub key: String,
    /// The question as shown to the developer.
    pub label: String,
    /// How the field is rendered and its answer validated.
    pub kind: FieldKind,
    /// Whether an answer is mandatory (blank text counts as missing).
    #[serde(default)]
    pub required: bool,
    /// The allowed values of a `select` or `multiselect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Help text shown under the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// One step of the multi-step form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormStep {
    /// The step's title in the form's stepper.
    pub title: String,
    /// The step's fields, in order.
    pub fields: Vec<FormField>,
}

/// The provider's submission form. The review step that ends every form is not stored: the
/// portal always appends it (it shows the answers back before the developer submits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SubmissionForm {
    /// The steps, in order; the review step is implied after the last.
    pub steps: Vec<FormStep>,
}

/// A developer's answers, by field key. Text-like fields hold strings, `multiselect` an array
/// of strings, `checkbox` a boolean.
pub type Answers = BTreeMap<String, Value>;

/// Answers that passed [`SubmissionForm::validate_answers`]: unknown keys dropped, text trimmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ValidAnswers(Answers);

impl ValidAnswers {
    /// The answer to `key`, if given.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A non-blank text answer.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// All answers, by key.
    pub fn as_map(&self) -> &Answers {
        &self.0
    }

    /// Rebuilds stored answers (already validated when they were submitted).
    pub fn from_stored(answers: Answers) -> Self {
        Self(answers)
    }
}

/// Every problem with a set of answers, each naming its field (`answers.<key>`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} answer(s) refused; first: {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
pub struct AnswerErrors(pub Vec<FieldError>);

const MAX_TEXT: usize = 10_000;

impl SubmissionForm {
    /// Every field of every step, in order.
    pub fn fields(&self) -> impl Iterator<Item = &FormField> {
        self.steps.iter().flat_map(|s| s.fields.iter())
    }

    /// The field with this key, if any.
    pub fn field(&self, key: &str) -> Option<&FormField> {
        self.fields().find(|f| f.key == key)
    }

    /// Checks the form itself, as an admin saves it: at least one step, titled steps, unique
    /// well-formed keys, labels, and options exactly where a choice field needs them.
    pub fn validate_schema(&self) -> Result<(), FieldError> {
        if self.steps.is_empty() {
            return Err(FieldError::new(
                "submission_form.steps",
                "a form needs at least one step",
            ));
        }
        if self.steps.len() > 20 {
            return Err(FieldError::new(
                "submission_form.steps",
                "a form has at most 20 steps",
            ));
        }
        let mut seen = HashSet::new();
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("submission_form.steps[{i}]");
            if step.title.trim().is_empty() {
                return Err(FieldError::new(
                    format!("{at}.title"),
                    "a step needs a title",
                ));
            }
            if step.fields.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.fields"),
                    "a step needs at least one field",
                ));
            }
            for (j, f) in step.fields.iter().enumerate() {
                let fat = format!("{at}.fields[{j}]");
                let key_ok = f.key.len() <= 64
                    && f.key.starts_with(|c: char| c.is_ascii_lowercase())
                    && f.key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !key_ok {
                    return Err(FieldError::new(
                        format!("{fat}.key"),
                        "a key is 1-64 characters of a-z, 0-9 and _, starting with a letter",
                    ));
                }
                if !seen.insert(f.key.as_str()) {
                    return Err(FieldError::new(
                        format!("{fat}.key"),
                        format!("key `{}` is used twice", f.key),
                    ));
                }
                if f.label.trim().is_empty() {
                    return Err(FieldError::new(
                        format!("{fat}.label"),
                        "a field needs a label",
                    ));
                }
                let choice = matches!(f.kind, FieldKind::Select | FieldKind::Multiselect);
                if choice && f.options.is_empty() {
                    return Err(FieldError::new(
                        format!("{fat}.options"),
                        "a select field needs options",
                    ));
                }
                if !choice && !f.options.is_empty() {
                    return Err(FieldError::new(
                        format!("{fat}.options"),
                        "only select fields take options",
                    ));
                }
                let mut opts = HashSet::new();
                if f.options
                    .iter()
                    .any(|o| o.trim().is_empty() || !opts.insert(o.as_str()))
                {
                    return Err(FieldError::new(
                        format!("{fat}.options"),
                        "options must be unique and not blank",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Validates answers against the form: required fields present, values of the field's type,
    /// choices among the options. Keys the form does not know are refused too, so a typo is
    /// reported instead of silently dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use onboarding_core::form::{Answers, FieldKind, FormField, FormStep, SubmissionForm};
    /// use serde_json::json;
    ///
    /// let field = |key: &str, kind, required| FormField {
    ///     key: key.into(),
    ///     label: key.replace('_', " "),
    ///     kind,
    ///     required,
    ///     options: vec![],
    ///     help: None,
    /// };
    /// let form = SubmissionForm {
    ///     steps: vec![FormStep {
    ///         title: "Use case".into(),
    ///         fields: vec![
    ///             field("use_case", FieldKind::Textarea, true),
    ///             field("homepage", FieldKind::Url, false),
    ///         ],
    ///     }],
    /// };
    ///
    /// let mut answers = Answers::new();
    /// answers.insert("use_case".into(), json!("  Nightly balance sync for bookkeeping  "));
    /// let valid = form.validate_answers(&answers).unwrap();
    /// assert_eq!(valid.text("use_case"), Some("Nightly balance sync for bookkeeping"));
    ///
    /// // A missing required answer and an unknown key are both reported, each naming its field.
    /// let mut bad = Answers::new();
    /// bad.insert("use_cas".into(), json!("typo"));
    /// let errors = form.validate_answers(&bad).unwrap_err();
    /// assert!(errors.0.iter().any(|e| e.field == "answers.use_case"));
    /// assert!(errors.0.iter().any(|e| e.field == "answers.use_cas"));
    /// ```
    pub fn validate_answers(&self, answers: &Answers) -> Result<ValidAnswers, AnswerErrors> {
        let mut errors = Vec::new();
        let mut valid = Answers::new();
        for key in answers.keys() {
            if self.field(key).is_none() {
                errors.push(FieldError::new(
                    format!("answers.{key}"),
                    "this form has no such field",
                ));
            }
        }
        for f in self.fields() {
            let name = format!("answers.{}", f.key);
            match validate_one(f, answers.get(&f.key)) {
                Ok(Some(v)) => {
                    valid.insert(f.key.clone(), v);
                }
                Ok(None) if f.required => {
                    errors.push(FieldError::new(name, format!("`{}` is required", f.label)))
                }
                Ok(None) => {}
                Err(reason) => errors.push(FieldError::new(name, reason)),
            }
        }
        if errors.is_empty() {
            Ok(ValidAnswers(valid))
        } else {
            Err(AnswerErrors(errors))
        }
    }
}

/// `Ok(None)` means "no answer" (absent, null, blank, unchecked, empty selection).
fn validate_one(f: &FormField, v: Option<&Value>) -> Result<Option<Value>, String> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let text = |v: &Value| -> Result<Option<String>, String> {
        let s = v
            .as_str()
            .ok_or_else(|| "expected text".to_owned())?
            .trim()
            .to_owned();
        if s.chars().count() > MAX_TEXT {
            return Err(format!("at most {MAX_TEXT} characters"));
        }
        Ok((!s.is_empty()).then_some(s))
    };
    Ok(match f.kind {
        FieldKind::Text | FieldKind::Textarea => text(v)?.map(Value::String),
        FieldKind::Url => match text(v)? {
            None => None,
            Some(s) => {
                let u = url::Url::parse(&s)
                    .map_err(|_| "expected an absolute http(s) URL".to_owned())?;
                if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                    return Err("expected an absolute http(s) URL".to_owned());
                }
                Some(Value::String(s))
            }
        },
        FieldKind::Email => match text(v)? {
            None => None,
            Some(s) => Some(Value::String(
                Email::new(&s).map_err(|e| e.reason)?.to_string(),
            )),
        },
        FieldKind::Select => match text(v)? {
            None => None,
            Some(s) if f.options.contains(&s) => Some(Value::String(s)),
            Some(s) => {
                return Err(format!(
                    "`{}` is not one of the options",
                    crate::values::truncate(&s, 60)
                ));
            }
        },
        FieldKind::Multiselect => {
            let arr = v
                .as_array()
                .ok_or_else(|| "expected a list of options".to_owned())?;
            let mut picked = Vec::new();
            for item in arr {
                let s = item
                    .as_str()
                    .ok_or_else(|| "expected a list of options".to_owned())?;
                if !f.options.iter().any(|o| o == s) {
                    return Err(format!(
                        "`{}` is not one of the options",
                        crate::values::truncate(s, 60)
                    ));
                }
                if !picked.contains(&s) {
                    picked.push(s);
                }
            }
            (!picked.is_empty()).then(|| Value::from(picked))
        }
        FieldKind::Checkbox => match v {
            Value::Bool(true) => Some(Value::Bool(true)),
            Value::Bool(false) => None,
            _ => return Err("expected true or false".to_owned()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> SubmissionForm {
        serde_json::from_value(json!({"steps": [
            {"title": "Company", "fields": [
                {"key": "legal_name", "label": "Legal entity name", "kind": "text", "required": true},
                {"key": "website", "label": "Company website", "kind": "url", "required": true},
                {"key": "contact_email", "label": "Contact", "kind": "email", "required": false}
            ]},
            {"title": "Use", "fields": [
                {"key": "use_case", "label": "Use case", "kind": "select", "required": true, "options": ["a", "b"]},
                {"key": "cats", "label": "Data", "kind": "multiselect", "required": true, "options": ["x", "y"]},
                {"key": "terms", "label": "Terms", "kind": "checkbox", "required": true}
            ]}
        ]}))
        .unwrap()
    }

    fn good() -> Answers {
        serde_json::from_value(json!({
            "legal_name": " Acme Ltd ", "website": "https://acme.example", "use_case": "a",
            "cats": ["x", "y", "x"], "terms": true
        }))
        .unwrap()
    }

    #[test]
    fn valid_answers_are_trimmed_and_deduplicated() {
        let v = form().validate_answers(&good()).unwrap();
        assert_eq!(v.text("legal_name"), Some("Acme Ltd"));
        assert_eq!(v.get("cats"), Some(&json!(["x", "y"])));
        assert!(v.get("contact_email").is_none());
    }

    fn refused(mutate: impl FnOnce(&mut Answers)) -> Vec<String> {
        let mut a = good();
        mutate(&mut a);
        form()
            .validate_answers(&a)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn missing_required_fields_are_named() {
        assert_eq!(
            refused(|a| drop(a.remove("legal_name"))),
            ["answers.legal_name"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("legal_name".into(), json!("  ")))),
            ["answers.legal_name"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("terms".into(), json!(false)))),
            ["answers.terms"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("cats".into(), json!([])))),
            ["answers.cats"]
        );
    }

    #[test]
    fn wrong_types_and_unknown_options_are_refused() {
        assert_eq!(
            refused(|a| drop(a.insert("legal_name".into(), json!(42)))),
            ["answers.legal_name"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("website".into(), json!("not a url")))),
            ["answers.website"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("website".into(), json!("ftp://x.example")))),
            ["answers.website"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("contact_email".into(), json!("nope")))),
            ["answers.contact_email"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("use_case".into(), json!("c")))),
            ["answers.use_case"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("cats".into(), json!(["z"])))),
            ["answers.cats"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("cats".into(), json!("x")))),
            ["answers.cats"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("terms".into(), json!("yes")))),
            ["answers.terms"]
        );
        assert_eq!(
            refused(|a| drop(a.insert("shoe_size".into(), json!("9")))),
            ["answers.shoe_size"]
        );
    }

    #[test]
    fn schema_validation_names_the_bad_part() {
        assert!(form().validate_schema().is_ok());
        assert!(SubmissionForm::default().validate_schema().is_err());
        let mut f = form();
        f.steps[1].fields[0].options.clear();
        assert_eq!(
            f.validate_schema().unwrap_err().field,
            "submission_form.steps[1].fields[0].options"
        );
        let mut f = form();
        f.steps[1].fields[1].key = "legal_name".into();
        assert!(
            f.validate_schema()
                .unwrap_err()
                .reason
                .contains("used twice")
        );
        let mut f = form();
        f.steps[0].fields[0].key = "Bad Key".into();
        assert!(f.validate_schema().is_err());
    }
}
