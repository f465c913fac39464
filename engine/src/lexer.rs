//! Splitting one line of input into words, the way the consuming program does.
//!
//! Two tokenisers: [`restore_words`] splits like `iptables-restore` (its
//! `add_param_to_argv`): blanks separate words, double quotes group, a backslash
//! inside double quotes escapes the next character, single quotes are ordinary
//! characters. [`shell_words`] splits like a POSIX shell does for a simple command
//! (single quotes, double quotes, backslashes, `#` comments), for scripts of
//! `iptables` commands. Neither knows what the words mean.

use crate::span::Span;

/// One word of a line, with the span of its source text (quotes included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
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

/// Split `line` (which starts at byte `base` of the whole text) like iptables-restore.
/// An unterminated double quote is not fatal there: the rest of the line becomes
/// one word. That case comes back as the words plus a [`LexError`] to warn about.
pub fn restore_words(line: &str, base: usize) -> (Vec<Word>, Option<LexError>) {
    let mut words = Vec::new();
    let mut buf = String::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    let mut quote_open: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if let Some(_) = quote_open {
            if escaped {
                buf.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quote_open = None;
                // iptables-restore ends the word at a closing quote.
                words.push(Word {
                    text: std::mem::take(&mut buf),
                    span: Span::new(base + start.unwrap_or(i), base + i + 1),
                    quoted: true,
                });
                start = None;
                quoted = false;
            } else {
                buf.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quote_open = Some(i);
                quoted = true;
                if start.is_none() {
                    start = Some(i);
                } else {
                    // "abc"def: the unquoted part before the quote is its own word.
                    words.push(Word {
                        text: std::mem::take(&mut buf),
                        span: Span::new(base + start.unwrap(), base + i),
                        quoted: false,
                    });
                    start = Some(i);
                }
            }
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(s) = start.take() {
                    words.push(Word {
                        text: std::mem::take(&mut buf),
                        span: Span::new(base + s, base + i),
                        quoted,
                    });
                    quoted = false;
                }
            }
            _ => {
                if start.is_none() {
                    start = Some(i);
                }
                buf.push(c);
            }
        }
    }
    let warning = quote_open.map(|q| LexError {
        span: Span::new(base + q, base + line.len()),
        message: "unterminated double quote: iptables-restore takes the rest of the line as one word".into(),
    });
    if let Some(s) = start {
        words.push(Word { text: buf, span: Span::new(base + s, base + line.len()), quoted });
    }
    (words, warning)
}

/// Split `line` like a POSIX shell splits a simple command. A `#` at the start of
/// a word begins a comment that runs to the end of the line.
pub fn shell_words(line: &str, base: usize) -> Result<Vec<Word>, LexError> {
    let mut words = Vec::new();
    let mut buf = String::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if let Some(s) = start.take() {
                    words.push(Word { text: std::mem::take(&mut buf), span: Span::new(base + s, base + i), quoted });
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
            '\\' => {
                start.get_or_insert(i);
                if let Some((_, n)) = chars.next() {
                    if n != '\n' {
                        buf.push(n);
                    }
                }
            }
            _ => {
                start.get_or_insert(i);
                buf.push(c);
            }
        }
    }
    if let Some(s) = start {
        words.push(Word { text: buf, span: Span::new(base + s, base + line.len()), quoted });
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(w: &[Word]) -> Vec<&str> {
        w.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn restore_splits_on_blanks_and_double_quotes_only() {
        let (w, warn) = restore_words(r#"-A X -m comment --comment "a \"b\" c" -j 'ACCEPT'"#, 0);
        assert!(warn.is_none());
        assert_eq!(texts(&w), ["-A", "X", "-m", "comment", "--comment", "a \"b\" c", "-j", "'ACCEPT'"]);
        assert!(w[5].quoted);
        assert_eq!(w[5].span, Span::new(26, 37));
    }

    #[test]
    fn restore_takes_the_rest_of_the_line_after_an_unterminated_quote() {
        let (w, warn) = restore_words(r#"--comment "abc -j X"#, 10);
        assert_eq!(texts(&w), ["--comment", "abc -j X"]);
        assert_eq!(warn.unwrap().span.start, 20);
    }

    #[test]
    fn shell_handles_single_quotes_escapes_and_comments() {
        let w = shell_words(r#"sudo iptables -m comment --comment 'it''s' -j LOG\ X # tail"#, 0).unwrap();
        assert_eq!(texts(&w), ["sudo", "iptables", "-m", "comment", "--comment", "its", "-j", "LOG X"]);
    }
}
