//! Text from outside cronix (manifest keys and values, spec and history files, Redis replies, crontab
//! lines, error texts of peers) made safe for a terminal: every character that a terminal could act
//! on is replaced by a visible `\uXXXX` escape.
//!
//! Escaped: the C0 controls (U+0000–U+001F, ESC among them) but the newline and the tab when they are
//! kept, DEL (U+007F), the C1 controls (U+0080–U+009F, which some terminals read as CSI, OSC, …), the
//! bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the
//! line and paragraph separators (U+2028, U+2029). `\uXXXX` is also a valid JSON string escape, so the
//! same function serves serialized JSON (whose strings serde_json has already stripped of C0).
//! Pure: text in, text out; the printer applies it to every line it writes.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as itself.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` for a terminal, newlines and tabs kept (whole lines and tables, messages of several
/// lines).
pub fn terminal(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// `text` for a terminal as one line: newlines and tabs escaped too (a value inside a sentence, such
/// as a JSON key in an error, must not start a line of its own).
pub fn inline(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// The first `limit` characters of `text` (then `…`), as one escaped line: outside text of any
/// length (a JSON path, a value read from Redis) shown inside a sentence.
pub fn inline_cut(text: &str, limit: usize) -> String {
    let mut cut: String = text.chars().take(limit).collect();
    if text.chars().nth(limit).is_some() {
        cut.push('…');
    }
    inline(&cut).into_owned()
}

fn escape(text: &str, keep_layout: bool) -> Cow<'_, str> {
    let kept = |c: char| keep_layout && (c == '\n' || c == '\t');
    if !text.chars().any(|c| is_unsafe(c) && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) && !kept(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(terminal("a\u{1b}[31mred"), "a\\u001b[31mred");
        assert_eq!(terminal("csi\u{9b}2J"), "csi\\u009b2J");
        assert_eq!(terminal("bell\u{7}del\u{7f}"), "bell\\u0007del\\u007f");
        assert_eq!(terminal("cr\rback"), "cr\\u000dback");
        assert_eq!(terminal("rtl\u{202e}txt\u{2066}"), "rtl\\u202etxt\\u2066");
        assert_eq!(terminal("ls\u{2028}ps\u{2029}"), "ls\\u2028ps\\u2029");
    }

    #[test]
    fn layout_is_kept_by_terminal_and_escaped_by_inline() {
        assert_eq!(terminal("a\tb\nc"), "a\tb\nc");
        assert_eq!(inline("a\tb\nc"), "a\\u0009b\\u000ac");
    }

    #[test]
    fn clean_text_is_borrowed_and_unchanged() {
        let text = "plain text, ünïcödé, emoji 🎉, tab\tand newline\n";
        assert!(matches!(terminal(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn escaped_json_stays_valid_json_with_the_same_value() {
        let value = serde_json::json!({"k\u{9b}": "v\u{1b}\u{202e}\u{85}"});
        let text = serde_json::to_string(&value).unwrap();
        let escaped = terminal(&text);
        assert!(!escaped.chars().any(is_unsafe), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
