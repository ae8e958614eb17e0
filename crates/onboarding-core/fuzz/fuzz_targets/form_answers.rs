//! Submission answers (arbitrary JSON) against the demo form: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onboarding_core::form::Answers;

fuzz_target!(|data: &[u8]| {
    let Ok(answers) = serde_json::from_slice::<Answers>(data) else {
        return;
    };
    let (_, plans) = onboarding_core::demo::demo_catalog();
    for form in plans.into_iter().filter_map(|p| p.form) {
        let _ = form.validate_answers(&answers);
    }
});
