//! The text log format's field formatter: every field value (the message
//! included, and the fields of spans) is written with its control characters
//! escaped, so one event is one line whatever it carries.
//!
//! Untrusted text reaches log lines in many places: a PG's error page, a
//! notification's ids before they are parsed, a caller's free text, an error
//! whose message quotes any of these. Escaping each call site would leave the
//! next one open; escaping where values are written closes them all. The
//! JSON format needs nothing: JSON strings escape control characters.
//!
//! tracing-subscriber's own text formatter escapes ESC and a few others in
//! messages only (0.3.20), not line breaks, and writes `%value` fields raw:
//! a newline in one would start a log line of the sender's choosing.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// Formats fields as tracing-subscriber's default text format does (`message`
/// bare, then `name=value`, space-separated; `str` values quoted), with every
/// control character of a value (`char::is_control`: C0 including newline
/// and tab, DEL, C1) and the Unicode line and paragraph separators written
/// as escapes (`\n`, `\r`, `\t`, `\u{1b}`). `log.*` fields (from the `log`
/// bridge) are left out, as the default format does.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor { writer, first: true, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() && !field.name().starts_with("log.") {
            self.result = self.try_write(field, value);
        }
    }

    fn try_write(&mut self, field: &Field, value: fmt::Arguments<'_>) -> fmt::Result {
        let name = field.name().strip_prefix("r#").unwrap_or(field.name());
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        if name != "message" {
            write!(self.writer, "{name}=")?;
        }
        write!(Escaping(&mut self.writer), "{value}")
    }
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(chain, ": {cause}");
            source = cause.source();
        }
        self.write(field, format_args!("{chain}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// Writes through to `W`, escaping what could break a line or drive a terminal.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escaping(c)) {
            self.0.write_str(&rest[..at])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

fn needs_escaping(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Failure(String);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Failure {}

    /// Whatever a value holds, each event is one line, with no control
    /// character but its final newline; the escaped text is still there to read.
    #[test]
    fn every_event_is_one_line_whatever_its_values_hold() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(EscapedFields)
            .with_writer(move || writer.clone())
            .finish();
        let forged = "imp_1\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200\u{1b}[2K\r\u{85}\u{2028}";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", uid = %forged);
            let _entered = span.enter();
            tracing::warn!(why = %forged, quoted = forged, debugged = ?forged, "kept for a retry: {forged}");
            let failure = Failure(forged.to_owned());
            tracing::error!(error = &failure as &(dyn std::error::Error + 'static), "failed");
            tracing::info!(status = 200, elapsed_ms = 3_u64, "request");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(!text.trim_end_matches('\n').chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(text.matches('\n').count(), 3, "{text:?}");
        assert!(
            lines[0].contains(
                r"why=imp_1\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200\u{1b}[2K\r\u{85}\u{2028}"
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(r#"quoted="imp_1\n2026"#), "{}", lines[0]);
        assert!(lines[0].contains(r"kept for a retry: imp_1\n2026"), "{}", lines[0]);
        assert!(lines[0].contains(r"request{uid=imp_1\n2026"), "span fields too: {}", lines[0]);
        assert!(lines[1].contains(r"error=imp_1\n2026"), "{}", lines[1]);
        assert!(lines[2].ends_with("request status=200 elapsed_ms=3"), "{}", lines[2]);
    }
}
