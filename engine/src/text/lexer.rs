//! Splitting one line of input into words, the way the consuming program does.
//!
//! Two tokenisers: [`restore_words`] splits like `iptables-restore` (its
//! `add_param_to_argv`): blanks separate words, double quotes group, a backslash
//! inside double quotes escapes the next character, single quotes are ordinary
//! characters. [`shell_words`] splits like a POSIX shell does for a simple command
//! (single quotes, double quotes, backslashes, `#` comments), for scripts of
//! `iptables` commands. Neither knows what the words mean.

use crate::text::span::Span;
use std::borrow::Cow;

/// One word of a line, with the span of its source text (quotes included).
/// Words without quotes or escapes borrow from the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: Cow<'a, str>,
    pub span: Span,
    /// Whether any part of the word was quoted (a quoted `!` is not negation).
    pub quoted: bool,
}

/// A tokenising problem: an unterminated quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub span: Span,
    pub message: String,
}

/// Bytes that end an unquoted word in iptables-restore's splitting.
const ENDS_WORD: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'"' as usize] = true;
    t
};

/// Split `line` (which starts at byte `base` of the whole text) like iptables-restore.
/// An unterminated double quote is not fatal there: the rest of the line becomes
/// one word. That case comes back as the words plus a [`LexError`] to warn about.
pub fn restore_words(line: &str, base: usize) -> (Vec<Word<'_>>, Option<LexError>) {
    let mut words = Vec::with_capacity(16);
    let warning = restore_words_into(line, base, &mut words);
    (words, warning)
}

/// [`restore_words`] into a caller's buffer (cleared first), so that a parser
/// reading many lines reuses one allocation.
pub fn restore_words_into<'a>(
    line: &'a str,
    base: usize,
    words: &mut Vec<Word<'a>>,
) -> Option<LexError> {
    words.clear();
    // Every delimiter is ASCII, so scanning bytes keeps UTF-8 boundaries intact.
    let bytes = line.as_bytes();
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                // A quoted word: backslash escapes the next character; it ends at the closing quote.
                let start = i;
                i += 1;
                let mut buf = String::new();
                let mut seg = i;
                let mut closed = false;
                while i < n {
                    match memchr::memchr2(b'\\', b'"', &bytes[i..]) {
                        None => {
                            i = n;
                            break;
                        }
                        Some(p) => i += p,
                    }
                    if bytes[i] == b'"' {
                        closed = true;
                        break;
                    }
                    if i + 1 < n {
                        buf.push_str(&line[seg..i]);
                        let ch = line[i + 1..].chars().next().unwrap();
                        buf.push(ch);
                        i += 1 + ch.len_utf8();
                        seg = i;
                    } else {
                        i += 1;
                    }
                }
                let text = if buf.is_empty() {
                    Cow::Borrowed(&line[seg..i])
                } else {
                    buf.push_str(&line[seg..i]);
                    Cow::Owned(buf)
                };
                if !closed {
                    words.push(Word {
                        text,
                        span: Span::new(base + start, base + n),
                        quoted: true,
                    });
                    return Some(LexError {
                        span: Span::new(base + start, base + n),
                        message: "unterminated double quote: iptables-restore takes the rest of the line as one word".into(),
                    });
                }
                i += 1;
                words.push(Word {
                    text,
                    span: Span::new(base + start, base + i),
                    quoted: true,
                });
            }
            _ => {
                // A bare word runs to a blank or a double quote ("abc"def is two words).
                let start = i;
                while i < n && !ENDS_WORD[bytes[i] as usize] {
                    i += 1;
                }
                words.push(Word {
                    text: Cow::Borrowed(&line[start..i]),
                    span: Span::new(base + start, base + i),
                    quoted: false,
                });
            }
        }
    }
    None
}

/// Split `line` like a POSIX shell splits a simple command. A `#` at the start of
/// a word begins a comment that runs to the end of the line.
pub fn shell_words(line: &str, base: usize) -> Result<Vec<Word<'static>>, LexError> {
    let mut words = Vec::new();
    let mut buf = String::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if let Some(s) = start.take() {
                    words.push(Word {
                        text: Cow::Owned(std::mem::take(&mut buf)),
                        span: Span::new(base + s, base + i),
                        quoted,
                    });
                    quoted = false;
                }
            }
            '#' if start.is_none() => break,
            '\'' => {
                start.get_or_insert(i);
                quoted = true;
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    buf.push(c);
                }
                if !closed {
                    return Err(LexError {
                        span: Span::new(base + i, base + line.len()),
                        message: "unterminated single quote".into(),
                    });
                }
            }
            '"' => {
                start.get_or_insert(i);
                quoted = true;
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.peek() {
                            Some(&(_, n)) if matches!(n, '"' | '\\' | '$' | '`') => {
                                buf.push(n);
                                chars.next();
                            }
                            _ => buf.push('\\'),
                        },
                        _ => buf.push(c),
                    }
                }
                if !closed {
                    return Err(LexError {
                        span: Span::new(base + i, base + line.len()),
                        message: "unterminated double quote".into(),
                    });
                }
            }
            '\\' => match chars.next() {
                // A continuation joins lines and is not part of any word.
                Some((_, '\n')) => {}
                Some((_, n)) => {
                    start.get_or_insert(i);
                    buf.push(n);
                }
                None => {}
            },
            _ => {
                start.get_or_insert(i);
                buf.push(c);
            }
        }
    }
    if let Some(s) = start {
        words.push(Word {
            text: Cow::Owned(buf),
            span: Span::new(base + s, base + line.len()),
            quoted,
        });
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(w: &'a [Word]) -> Vec<&'a str> {
        w.iter().map(|w| w.text.as_ref()).collect()
    }

    #[test]
    fn restore_splits_on_blanks_and_double_quotes_only() {
        let (w, warn) = restore_words(r#"-A X -m comment --comment "a \"b\" c" -j 'ACCEPT'"#, 0);
        assert!(warn.is_none());
        assert_eq!(
            texts(&w),
            [
                "-A",
                "X",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "'ACCEPT'"
            ]
        );
        assert!(w[5].quoted);
        assert_eq!(w[5].span, Span::new(26, 37));
    }

    #[test]
    fn restore_takes_the_rest_of_the_line_after_an_unterminated_quote() {
        let (w, warn) = restore_words(r#"--comment "abc -j X"#, 10);
        assert_eq!(texts(&w), ["--comment", "abc -j X"]);
        assert_eq!(warn.unwrap().span.lo(), 20);
    }

    #[test]
    fn shell_handles_single_quotes_escapes_and_comments() {
        let w = shell_words(
            r#"sudo iptables -m comment --comment 'it''s' -j LOG\ X # tail"#,
            0,
        )
        .unwrap();
        assert_eq!(
            texts(&w),
            [
                "sudo",
                "iptables",
                "-m",
                "comment",
                "--comment",
                "its",
                "-j",
                "LOG X"
            ]
        );
    }
}
