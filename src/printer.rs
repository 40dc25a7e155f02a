//! Where cronix writes what it prints. Every line a command prints (tables, sentences, JSON and YAML
//! documents, errors, warnings, the shim's JSON log lines) passes through `core::escape::terminal`
//! here, so text from outside (a manifest key, a spec or history value, a Redis reply, a crontab
//! line, a peer's error) cannot move the cursor, retitle the window or hide text on a terminal.
//!
//! Owns the writing only; what is printed is decided by the commands. Commands print with the
//! crate's `outln!`/`out!` macros (the `println!`/`print!` of this crate), errors through
//! `crate::error::report`, warnings through `warn`. A reader that went away (`| head -1`) is not an
//! error.
//!
//! Tables are built with [`Grid`]: on a terminal a table is cut to the terminal's width (long cells
//! end in `…`; `-o wide` keeps every cell whole); piped, nothing is cut. Rows marked failed or
//! drifted are coloured only when the terminal library says colour is wanted (a terminal, no
//! `NO_COLOR`).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::{ColumnConstraint, ContentArrangement, Row, Table, Width, presets};

use crate::core::escape;
use crate::settings::Output;

/// `-o wide`: tables keep every cell whole. Set once per process by [`set_output`].
static WIDE: AtomicBool = AtomicBool::new(false);

/// Remember the output format the command line asked for (its tables' width follows it).
pub fn set_output(output: Output) {
    WIDE.store(output == Output::Wide, Ordering::Relaxed);
}

/// The width tables are cut to: the terminal's when stdout is one (and not `-o wide`), else none.
fn table_width() -> Option<u16> {
    if WIDE.load(Ordering::Relaxed) || !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| w.0)
        .filter(|w| *w >= 20)
}

/// An RFC 3339 time as tables show it: UTC, without the `T`, fraction and `Z`, to the second
/// (`2026-03-01 09:00:05`) or, for schedule instants, to the minute (`2026-03-01 09:00`); a value
/// that is not a time is shown as it is.
pub fn table_time(value: &str, seconds: bool) -> String {
    let format = if seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    match value.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime(format).to_string(),
        Err(_) => value.to_string(),
    }
}

/// How a table row is shown on a colour terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mark {
    #[default]
    Plain,
    /// A failed run or check (red).
    Failed,
    /// An entry or job that differs from what it should be (yellow).
    Drifted,
}

impl Mark {
    fn style(self) -> anstyle::Style {
        match self {
            Mark::Plain => anstyle::Style::new(),
            Mark::Failed => anstyle::AnsiColor::Red.on_default(),
            Mark::Drifted => anstyle::AnsiColor::Yellow.on_default(),
        }
    }
}

/// Print one line on stdout, coloured as `mark` when the terminal wants colour.
pub fn marked_line(mark: Mark, text: &str) {
    let mut stdout = anstream::stdout().lock();
    let style = mark.style();
    let _ = writeln!(stdout, "{style}{}{style:#}", escape::terminal(text));
}

/// A borderless table of one line per row, cut to the terminal's width.
pub struct Grid {
    table: Table,
    marks: Vec<Mark>,
}

impl Grid {
    pub fn new<const N: usize>(header: [&str; N]) -> Grid {
        Grid::with_header(header.to_vec())
    }

    /// A table whose columns are known only at run time.
    pub fn with_header(header: Vec<&str>) -> Grid {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        if let Some(width) = table_width() {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width)
                .set_truncation_indicator("…");
        }
        let mut head = Row::from(header);
        head.max_height(1);
        table.set_header(head);
        Grid {
            table,
            marks: Vec::new(),
        }
    }

    /// Never cut these columns (by index): on a narrow terminal the others give way.
    pub fn keep(&mut self, columns: &[usize]) -> &mut Grid {
        for &i in columns {
            if let Some(column) = self.table.column_mut(i) {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
        self
    }

    /// Cut column `i` to no fewer than `width` characters.
    pub fn at_least(&mut self, i: usize, width: u16) -> &mut Grid {
        if let Some(column) = self.table.column_mut(i) {
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
        self
    }

    /// Add a row (each cell escaped as one line).
    pub fn add<const N: usize>(&mut self, cells: [String; N]) -> &mut Grid {
        self.add_marked(Mark::Plain, cells)
    }

    /// Add a row shown with `mark` on a colour terminal.
    pub fn add_marked<const N: usize>(&mut self, mark: Mark, cells: [String; N]) -> &mut Grid {
        self.add_cells(mark, row(cells))
    }

    /// Add a row of any number of cells (each escaped as one line).
    pub fn add_cells(&mut self, mark: Mark, cells: Vec<String>) -> &mut Grid {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| escape::inline(c).into_owned())
            .collect();
        let mut row = Row::from(cells);
        row.max_height(1);
        self.table.add_row(row);
        self.marks.push(mark);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The table as plain text (no colour), without a final newline.
    pub fn text(&self) -> String {
        self.table.trim_fmt()
    }

    /// Print the table on stdout, marked rows coloured when the terminal wants colour.
    pub fn print(&self) {
        let text = self.text();
        let mut stdout = anstream::stdout().lock();
        for (i, line) in text.lines().enumerate() {
            let mark = i
                .checked_sub(1)
                .and_then(|r| self.marks.get(r))
                .copied()
                .unwrap_or_default();
            let line = escape::terminal(line);
            let style = mark.style();
            let _ = writeln!(stdout, "{style}{line}{style:#}");
        }
        let _ = stdout.flush();
    }
}

/// Print a command's document in the structured format asked for: one line of JSON (always one
/// object, documented in `schemas/output/`), or YAML (the same structure). `Output::Table` is the
/// caller's to print; given here, it prints the JSON.
pub fn document<T: serde::Serialize + ?Sized>(output: Output, doc: &T) {
    structured(output, doc);
}

/// A document as `-o json` (one line) or `-o yaml` prints it, ending in a newline; every other
/// output prints JSON.
pub fn structured_text<T: serde::Serialize + ?Sized>(
    output: Output,
    doc: &T,
) -> Result<String, String> {
    match output {
        Output::Yaml => serde_yaml::to_string(doc).map_err(|e| e.to_string()),
        _ => serde_json::to_string(doc)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
    }
}

fn structured<T: serde::Serialize + ?Sized>(output: Output, doc: &T) {
    match structured_text(output, doc) {
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

/// `out`, telling whether the text reached stdout (`false`: the reader went away, as when
/// `cronix logs -f | head` has its lines). For a command that would otherwise print on forever.
pub fn out_reached(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(escape::terminal(text).as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok()
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
