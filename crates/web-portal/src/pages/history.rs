//! The decision history card, shared by the subscription page and the review page: every
//! round's decisions with who, when and the notes, so earlier Changes Requested stay visible.

use maud::{Markup, html};
use onboarding_core::services::{HistoryEntry, decision_label};

use crate::ui;

pub fn card(history: &[HistoryEntry]) -> Markup {
    let last = history.last().map_or(0, |h| h.round);
    html! {
        section.card #history aria-labelledby="history-title" {
            h2 #history-title { "Decision history" }
            @if history.is_empty() {
                p { "Nothing has been decided yet." }
            } @else {
                @for round in 0..=last {
                    @let rows: Vec<&HistoryEntry> = history.iter().filter(|h| h.round == round).collect();
                    @if !rows.is_empty() {
                        h3 { @if round == 0 { "Before the first submission" } @else { "Round " (round) } }
                        ol.history {
                            @for h in rows {
                                li {
                                    (ui::when(h.at)) " — "
                                    strong { (decision_label(h.action)) } " by "
                                    @if h.by_you { "you" } @else { (h.by) }
                                    @if let Some(n) = &h.notes { blockquote { (n.as_str()) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
