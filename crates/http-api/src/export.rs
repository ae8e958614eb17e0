//! Export files (CSV and JSON lines) rendered page by page as a stream, so that a period of
//! usage or audit events is never held in memory whole. The HTTP download and the operator's
//! `portal-server export` command both read this stream; when it ends, the export is
//! recorded in the report history (before the last byte is released, so a client that has
//! the whole file can already see it listed).

use futures_util::Stream;
use onboarding_core::audit::{Actor, AuditEvent};
use onboarding_core::services::{ExportFormat, ExportGrant, ExportKind};
use onboarding_core::usage::UsageBucket;
use onboarding_core::{Portal, ServiceError};

/// Audit events read per page.
const AUDIT_PAGE: u64 = 500;

/// A rendered piece of an export file.
#[derive(Debug, Clone)]
pub struct ExportChunk {
    pub bytes: Vec<u8>,
    /// Rows in this chunk.
    pub rows: u64,
    /// Pages read so far (usage: days of the period; audit: pages of the chain).
    pub pages: u64,
}

/// The file name offered for a download.
pub fn file_name(grant: &ExportGrant, format: ExportFormat) -> String {
    let what = match grant.kind() {
        ExportKind::Usage => format!(
            "usage-{}",
            grant
                .project_id()
                .map(|p| p.to_string())
                .unwrap_or_default()
        ),
        ExportKind::AuditLog => format!("audit-{}", grant.workspace_id()),
    };
    format!("{what}-{}.{}", grant.period(), format.as_str())
}

pub fn content_type(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Jsonl => "application/x-ndjson",
    }
}

/// One CSV field: quoted when it holds a separator, a quote or a line break; a leading
/// `=`, `+`, `-` or `@` is escaped with `'` so that spreadsheets do not run it as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

const USAGE_HEADER: &str = "bucket_start,credential_id,environment,endpoint,requests,errors\n";
const AUDIT_HEADER: &str =
    "seq,id,at,actor_kind,actor_id,project_id,action,target,details,prev_hash,hash\n";

fn usage_row(b: &UsageBucket, format: ExportFormat, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Csv => {
            let line = format!(
                "{},{},{},{},{},{}\n",
                b.bucket_start
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                b.credential_id,
                b.environment.as_str(),
                csv_field(&b.endpoint),
                b.requests,
                b.errors
            );
            out.extend_from_slice(line.as_bytes());
        }
        ExportFormat::Jsonl => {
            let _ = serde_json::to_writer(&mut *out, b);
            out.push(b'\n');
        }
    }
}

fn audit_row(e: &AuditEvent, format: ExportFormat, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Csv => {
            let (kind, id) = match e.draft.actor {
                Actor::Account(a) => ("account", a.to_string()),
                Actor::Staff(s) => ("staff", s.to_string()),
                Actor::Credential(c) => ("credential", c.to_string()),
                Actor::System => ("system", String::new()),
            };
            let line = format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                e.seq,
                e.draft.id,
                e.draft
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                kind,
                id,
                e.draft
                    .project_id
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                csv_field(&e.draft.action),
                csv_field(&e.draft.target),
                csv_field(&e.draft.details.to_string()),
                e.prev_hash,
                e.hash
            );
            out.extend_from_slice(line.as_bytes());
        }
        ExportFormat::Jsonl => {
            let _ = serde_json::to_writer(&mut *out, e);
            out.push(b'\n');
        }
    }
}

enum Cursor {
    Header,
    Usage(chrono::DateTime<chrono::Utc>),
    Audit(i64),
    Record,
    Done,
}

struct State {
    portal: Portal,
    grant: ExportGrant,
    format: ExportFormat,
    cursor: Cursor,
    rows: u64,
    pages: u64,
}

impl State {
    fn first_page(&self) -> Cursor {
        match self.grant.kind() {
            ExportKind::Usage => Cursor::Usage(self.grant.first_usage_cursor()),
            ExportKind::AuditLog => Cursor::Audit(0),
        }
    }

    async fn step(&mut self) -> Result<Option<ExportChunk>, ServiceError> {
        let mut out = Vec::new();
        let mut rows = 0;
        match std::mem::replace(&mut self.cursor, Cursor::Done) {
            Cursor::Header => {
                if self.format == ExportFormat::Csv {
                    out.extend_from_slice(match self.grant.kind() {
                        ExportKind::Usage => USAGE_HEADER.as_bytes(),
                        ExportKind::AuditLog => AUDIT_HEADER.as_bytes(),
                    });
                }
                self.cursor = self.first_page();
            }
            Cursor::Usage(at) => {
                let (page, next) = self
                    .portal
                    .exports()
                    .export_usage_page(&self.grant, at)
                    .await?;
                for b in &page {
                    usage_row(b, self.format, &mut out);
                }
                rows = page.len() as u64;
                self.pages += 1;
                self.cursor = next.map_or(Cursor::Record, Cursor::Usage);
            }
            Cursor::Audit(after) => {
                let (page, next) = self
                    .portal
                    .exports()
                    .export_audit_page(&self.grant, after, AUDIT_PAGE)
                    .await?;
                for e in &page {
                    audit_row(e, self.format, &mut out);
                }
                rows = page.len() as u64;
                self.pages += 1;
                self.cursor = next.map_or(Cursor::Record, Cursor::Audit);
            }
            Cursor::Record => {
                self.portal
                    .exports()
                    .record_export(&self.grant, self.format, self.rows)
                    .await?;
                return Ok(None);
            }
            Cursor::Done => return Ok(None),
        }
        self.rows += rows;
        Ok(Some(ExportChunk {
            bytes: out,
            rows,
            pages: self.pages,
        }))
    }
}

/// The export as a stream of chunks; it records the export once the last page is read.
/// A failure ends the stream with the error (an HTTP client then sees a cut body).
pub fn export_stream(
    portal: Portal,
    grant: ExportGrant,
    format: ExportFormat,
) -> impl Stream<Item = Result<ExportChunk, ServiceError>> + Send + 'static {
    let state = State {
        portal,
        grant,
        format,
        cursor: Cursor::Header,
        rows: 0,
        pages: 0,
    };
    futures_util::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.step().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(state))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The export as an HTTP body of bytes (empty chunks skipped).
pub fn export_body(portal: Portal, grant: ExportGrant, format: ExportFormat) -> poem::Body {
    use futures_util::StreamExt;
    let bytes = export_stream(portal, grant, format).filter_map(|r| async move {
        match r {
            Ok(c) if c.bytes.is_empty() => None,
            Ok(c) => Some(Ok::<_, std::io::Error>(c.bytes)),
            Err(e) => {
                tracing::error!(error = %e, "export failed mid-stream");
                Some(Err(std::io::Error::other("export failed")))
            }
        }
    });
    poem::Body::from_bytes_stream(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("GET /a"), "GET /a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
