//! Where cronix writes what it prints. Every line a command prints (tables, sentences, JSON and YAML
//! documents, errors, warnings, the shim's JSON log lines) passes through `core::escape::terminal`
//! here, so text from outside (a manifest key, a spec or history value, a Redis reply, a crontab
//! line, a peer's error) cannot move the cursor, retitle the window or hide text on a terminal.
//!
//! Owns the writing only; what is printed is decided by the commands. Commands print with the
//! crate's `outln!`/`out!` macros (the `println!`/`print!` of this crate), errors through
//! `crate::error::report`, warnings through `warn`. A reader that went away (`| head -1`) is not an
//! error.

use std::io::Write;

use crate::core::escape;
use crate::settings::Output;

/// Print a command's document in the structured format asked for: one line of JSON, or YAML (the
/// same structure). `Output::Table` is the caller's to print; given here, it prints the JSON.
pub fn document<T: serde::Serialize + ?Sized>(output: Output, doc: &T) {
    structured(output, doc, false);
}

/// `document` with indented JSON (for the documents that were always printed indented).
pub fn document_pretty<T: serde::Serialize + ?Sized>(output: Output, doc: &T) {
    structured(output, doc, true);
}

fn structured<T: serde::Serialize + ?Sized>(output: Output, doc: &T, pretty: bool) {
    let text = match output {
        Output::Yaml => serde_yaml::to_string(doc).map_err(|e| e.to_string()),
        _ if pretty => serde_json::to_string_pretty(doc)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
        _ => serde_json::to_string(doc)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => out(&text),
        Err(e) => err_line("cronix: error: ", &format!("cannot encode the output: {e}")),
    }
}

/// Write `text` to stdout, escaped (newlines and tabs kept).
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(escape::terminal(text).as_bytes());
    if !text.ends_with('\n') {
        let _ = stdout.flush();
    }
}

/// Write one line to stderr, escaped, with `prefix` (which may hold colour styles of our own) in
/// front of it.
pub fn err_line(prefix: &str, text: &str) {
    let mut stderr = anstream::stderr();
    let _ = writeln!(stderr, "{prefix}{}", escape::terminal(text));
}

/// A table row with every cell escaped as one line (a value holding a newline would otherwise start
/// a line of the table's own).
pub fn row<const N: usize>(cells: [String; N]) -> Vec<String> {
    cells
        .iter()
        .map(|c| escape::inline(c).into_owned())
        .collect()
}

/// Print warnings on stderr, one `cronix: warning:` line each.
pub fn warn(warnings: &[String]) {
    for w in warnings {
        err_line("cronix: warning: ", w);
    }
}

/// A writer that escapes each complete line before passing it on in one write (for the JSON log
/// lines, whose strings serde_json leaves holding C1 and bidirectional characters). A line is held
/// until its newline arrives, so a character split across two writes is escaped whole.
pub struct EscapedLines<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> EscapedLines<W> {
    pub fn new(inner: W) -> EscapedLines<W> {
        EscapedLines {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        self.inner.write_all(escape::terminal(&text).as_bytes())
    }
}

impl<W: Write> Write for EscapedLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let lines = std::mem::replace(&mut self.pending, rest);
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let lines = std::mem::take(&mut self.pending);
            self.emit(&lines)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for EscapedLines<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_escaped_whole_even_when_a_character_is_split_across_writes() {
        let mut out = EscapedLines::new(Vec::new());
        let csi = "\u{9b}".as_bytes();
        out.write_all(b"{\"msg\":\"a").unwrap();
        out.write_all(&csi[..1]).unwrap();
        out.write_all(&csi[1..]).unwrap();
        out.write_all(b"\\u001b\"}\nnext").unwrap();
        out.flush().unwrap();
        let text = String::from_utf8(out.inner.clone()).unwrap();
        assert_eq!(text, "{\"msg\":\"a\\u009b\\u001b\"}\nnext");
    }
}
