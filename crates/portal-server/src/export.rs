//! `portal-server export usage|audit`: the same streamed export as the HTTP download, written
//! to a file with a progress bar, and recorded in the report history like any export.

use std::io::Write;
use std::path::Path;

use futures_util::StreamExt;
use onboarding_core::Portal;
use onboarding_core::services::{ExportFormat, ExportKind, ExportScope};

/// What an export command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub rows: u64,
    pub bytes: u64,
}

/// Exports `scope` for `period` as `format` into `out`, as the operator (an admin). The file is
/// written under a temporary name and renamed when complete, so a failed export leaves no
/// partial file behind.
pub async fn export_to_file(
    portal: &Portal,
    scope: ExportScope,
    period: &str,
    format: ExportFormat,
    out: &Path,
) -> Result<ExportSummary, String> {
    let grant = portal
        .exports()
        .authorize_export(crate::operator(), scope, period)
        .await
        .map_err(|e| e.to_string())?;
    let bar = match grant.kind() {
        ExportKind::Usage => {
            let b = indicatif::ProgressBar::new(grant.usage_pages());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} usage {bar:30} {pos}/{len} days, {msg}",
                )
                .map_err(|e| e.to_string())?,
            );
            b
        }
        ExportKind::AuditLog => {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} audit log: {msg}")
                    .map_err(|e| e.to_string())?,
            );
            b
        }
    };
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut summary = ExportSummary { rows: 0, bytes: 0 };
    let mut stream = std::pin::pin!(http_api::export::export_stream(
        portal.clone(),
        grant,
        format
    ));
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                bar.abandon_with_message("failed");
                let _ = std::fs::remove_file(&tmp);
                return Err(e.to_string());
            }
        };
        w.write_all(&chunk.bytes)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        summary.rows += chunk.rows;
        summary.bytes += chunk.bytes.len() as u64;
        bar.set_position(chunk.pages);
        bar.set_message(format!("{} rows", summary.rows));
    }
    w.flush()
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    drop(w);
    std::fs::rename(&tmp, out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    bar.finish_with_message(format!("{} rows", summary.rows));
    Ok(summary)
}
