//! Export forms and the report history, shared by the project and workspace pages.

use maud::{Markup, html};
use onboarding_core::Caller;
use onboarding_core::services::{ExportFormat, ExportKind, ExportScope, ReportRecord};
use poem::Request;

use crate::http::{Ctx, Errs, FormErrors};
use crate::ui::{self, Field, form_errors};

fn format_label(f: &str) -> &str {
    match f {
        "csv" => "CSV",
        "jsonl" => "JSON lines",
        other => other,
    }
}

pub(crate) const EXPORT_FORMATS: [(&str, &str); 2] = [("csv", "CSV"), ("jsonl", "JSON lines")];

/// The report history (who, when, what, format, period, rows) as a table.
pub(crate) fn report_table(rows: &[(String, &ReportRecord)]) -> Markup {
    html! {
        @if rows.is_empty() { p #report-history-empty { "No exports yet." } }
        @else {
            table #report-history {
                caption.visually-hidden { "Report history, newest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Format" } th scope="col" { "Period" } th scope="col" { "Rows" } } }
                tbody {
                    @for (who, r) in rows {
                        tr {
                            td { (ui::when(r.at)) }
                            td { (who) }
                            td { @match r.kind { ExportKind::Usage => "Usage export", ExportKind::AuditLog => "Audit log export" } }
                            td { (format_label(&r.format)) }
                            td { (r.period) }
                            td { (r.rows) }
                        }
                    }
                }
            }
        }
    }
}

/// The export form: a plain GET to the portal, which checks the period and the role with the
/// core and then sends the browser on to the API's streaming download (same origin, same
/// session cookie). No CSRF token: a GET must not carry it in its URL.
pub(crate) fn export_form(action: &str, label: &str, period_now: &str, e: Errs) -> Markup {
    html! {
        form.export method="get" action=(action) novalidate {
            (form_errors(e))
            (Field::new("export", "period", "Period").required().value(period_now)
                .help("A calendar month, written YYYY-MM (UTC).").input(e))
            (Field::new("export", "format", "Format").value("csv")
                .select(e, &EXPORT_FORMATS.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect::<Vec<_>>()))
            button.button.secondary type="submit" { (label) }
        }
    }
}

/// The query of a GET form, as form data.
pub(crate) fn query_form(req: &Request) -> crate::http::FormData {
    crate::http::FormData::parse(req.uri().query().unwrap_or("").as_bytes())
}

/// Checks an export request with the core (period, role), then sends the browser to the API's
/// streaming download; a refused request is shown with its error beside the field.
pub(crate) async fn check_export(
    ctx: &Ctx,
    caller: Caller,
    scope: ExportScope,
    form: &crate::http::FormData,
) -> Result<String, FormErrors> {
    let Some(format) = ExportFormat::parse(form.text("format")) else {
        return Err(
            FormErrors::new("export", form.clone()).field("format", "choose CSV or JSON lines")
        );
    };
    let period = form.text("period").trim();
    match ctx
        .state
        .portal
        .exports()
        .authorize_export(caller, scope, period)
        .await
    {
        Ok(grant) => Ok(match scope {
            ExportScope::ProjectUsage(p) => format!(
                "/api/v1/projects/{p}/exports/usage?period={}&format={}",
                grant.period(),
                format.as_str()
            ),
            ExportScope::WorkspaceAudit(w) => format!(
                "/api/v1/workspaces/{w}/exports/audit?period={}&format={}",
                grant.period(),
                format.as_str()
            ),
        }),
        Err(e) => match FormErrors::from_service("export", form.clone(), e) {
            Ok(fe) => Err(fe),
            Err(other) => {
                let mut fe = FormErrors::new("export", form.clone());
                fe.general = Some(other.to_string());
                fe.status = 403;
                Err(fe)
            }
        },
    }
}
