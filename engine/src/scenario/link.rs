//! The share-link codec: a text payload (the playground puts a scenario and
//! its view in it) packed into a URL fragment, and unpacked again with every
//! limit a hostile link could try to break.
//!
//! A link is `1.` followed by the payload's raw DEFLATE stream (RFC 1951, no
//! zlib header) in base64url without padding (RFC 4648 §5). The number before
//! the first `.` is the format: a later playground that changes the payload
//! writes `2.` and still reads `1.`, and this one says plainly that a `2.`
//! link is newer than it. Decoding refuses, before any work, a fragment longer
//! than [`MAX_LINK_CHARS`]; it stops unpacking at [`MAX_PAYLOAD_BYTES`] (a
//! decompression bomb ends there), and checks the result is UTF-8.
//!
//! Not here: what the payload means (the playground's `share` module reads
//! it as JSON), and any I/O. Decoding never panics, on any input.

use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::{decompress_to_vec_with_limit, TINFLStatus};
use std::fmt;

/// The format this codec writes and the only one it reads.
pub const FORMAT: u32 = 1;
/// The longest fragment decoded: Chromium's URL limit (2 MiB). Longer is refused unread.
pub const MAX_LINK_CHARS: usize = 2 * 1024 * 1024;
/// The most a link may unpack to (16 MiB); unpacking stops there.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Above this many characters the playground warns that chat tools may cut the link.
pub const LONG_LINK: usize = 8 * 1024;
/// The DEFLATE level [`encode`] uses, chosen by measuring (the fastest of
/// several native release runs, `examples/linksize.rs`): on a 1,000-service
/// kube-proxy dump (1.8 MB) level 4 packs to 1% more than level 6 and 1.7%
/// more than level 9, in a third of level 6's time and a sixth of level 9's
/// (18–32 ms against 54–105 and 105–190, over runs on a busy machine); on the playground's 36-rule example
/// every level from 5 up gives the same link and level 4 one 0.6% longer,
/// all in a tenth of a millisecond. The encoder runs on the page's main
/// thread when Share is clicked, so the big case decides.
pub const LEVEL: u8 = 4;

/// Why a link does not open. `Display` is the sentence the page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Longer than [`MAX_LINK_CHARS`] (the length, in characters as given).
    TooLong(usize),
    /// Nothing after the `#`.
    Empty,
    /// No `N.` format prefix: not a playground link at all.
    NoVersion,
    /// A format number above [`FORMAT`]: a newer playground made it.
    NewerVersion(u64),
    /// A prefix that is no format this or any playground writes (cut to 20 characters).
    UnknownVersion(String),
    /// A character outside base64url, at this 1-based position of the link.
    BadChar(usize),
    /// The data ends in the middle of a character group, or does not unpack.
    Damaged,
    /// It unpacks to more than [`MAX_PAYLOAD_BYTES`].
    TooBig,
    /// It unpacks, but not to UTF-8 text.
    NotText,
}

/// `10485760` as `10,485,760`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or(""))
        .collect();
    groups.join(",")
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::TooLong(n) => write!(
                f,
                "The link is too long ({} characters; at most {}).",
                thousands(*n),
                thousands(MAX_LINK_CHARS)
            ),
            LinkError::Empty => f.write_str("The link holds no scenario (nothing after the #)."),
            LinkError::NoVersion => f.write_str(
                "This is not a playground link: it lacks the format number (like `1.`) at its start.",
            ),
            LinkError::NewerVersion(v) => write!(
                f,
                "This link was made by a newer playground (format {v}); this one opens format {FORMAT}."
            ),
            LinkError::UnknownVersion(v) => write!(
                f,
                "This link's format `{v}' is not one any playground writes; this one opens format {FORMAT}."
            ),
            LinkError::BadChar(at) => write!(
                f,
                "The link is damaged (not base64url at character {}).",
                thousands(*at)
            ),
            LinkError::Damaged => {
                f.write_str("The link is cut short or damaged: its data does not unpack.")
            }
            LinkError::TooBig => write!(
                f,
                "The link unpacks to more than {} MiB; not opened.",
                MAX_PAYLOAD_BYTES / (1024 * 1024)
            ),
            LinkError::NotText => f.write_str("The link is damaged: its data is not text."),
        }
    }
}

impl std::error::Error for LinkError {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..chunk.len() + 1 {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decode base64url without padding; `offset` is the 0-based position of
/// `text` in the link, for the error's character number.
fn unbase64url(text: &str, offset: usize) -> Result<Vec<u8>, LinkError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let mut n = 0u32;
        for (j, &c) in chunk.iter().enumerate() {
            // A character number (not a byte offset), 1-based, from the link's start.
            let v = sextet(c).ok_or_else(|| {
                LinkError::BadChar(offset + text_chars_before(text, ci * 4 + j) + 1)
            })?;
            n |= v << (18 - 6 * j);
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]),
            3 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
            2 => out.push((n >> 16) as u8),
            // One character alone carries 6 bits: not even a byte.
            _ => return Err(LinkError::Damaged),
        }
    }
    Ok(out)
}

/// How many characters `text` has before byte `at`.
fn text_chars_before(text: &str, at: usize) -> usize {
    text.char_indices().take_while(|(i, _)| *i < at).count()
}

/// Pack `payload` into a link fragment (without the `#`): `1.` and the
/// base64url of its raw DEFLATE at [`LEVEL`].
pub fn encode(payload: &str) -> String {
    let packed = compress_to_vec(payload.as_bytes(), LEVEL);
    let mut out = format!("{FORMAT}.");
    out.push_str(&base64url(&packed));
    out
}

/// Unpack a fragment [`encode`] made, with or without its leading `#`.
pub fn decode(fragment: &str) -> Result<String, LinkError> {
    let link = fragment.strip_prefix('#').unwrap_or(fragment);
    if link.len() > MAX_LINK_CHARS {
        return Err(LinkError::TooLong(link.len()));
    }
    if link.trim().is_empty() {
        return Err(LinkError::Empty);
    }
    let Some((version, data)) = link.split_once('.') else {
        return Err(LinkError::NoVersion);
    };
    if version != FORMAT.to_string() {
        let digits = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
        return Err(match version.trim_start_matches('0').parse::<u64>() {
            Ok(v) if digits && v > FORMAT as u64 => LinkError::NewerVersion(v),
            // Digits too many for a u64 are a newer format too, however absurd.
            Err(_) if digits && !version.trim_start_matches('0').is_empty() => {
                LinkError::NewerVersion(u64::MAX)
            }
            _ => LinkError::UnknownVersion(version.chars().take(20).collect()),
        });
    }
    let packed = unbase64url(data, version.len() + 1)?;
    let bytes =
        decompress_to_vec_with_limit(&packed, MAX_PAYLOAD_BYTES).map_err(|e| match e.status {
            TINFLStatus::HasMoreOutput => LinkError::TooBig,
            _ => LinkError::Damaged,
        })?;
    String::from_utf8(bytes).map_err(|_| LinkError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (2_097_152, "2,097,152"),
            (10_485_760, "10,485,760"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }

    #[test]
    fn round_trips() {
        let big: String = (0..20_000)
            .map(|i| format!("-A KUBE-SVC-{i:05} -m statistic --probability 0.{i} -j X\n"))
            .collect();
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "-A INPUT -j ACCEPT\n",
            "→ «ünïcødé» 🦀 \u{0} \u{10ffff}",
            big.as_str(),
        ] {
            let link = encode(s);
            assert!(link.starts_with("1."));
            assert!(link[2..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(decode(&link).as_deref(), Ok(s));
            assert_eq!(decode(&format!("#{link}")).as_deref(), Ok(s));
        }
        assert!(encode(&big).len() < big.len() / 5, "{}", encode(&big).len());
    }

    #[test]
    fn base64url_matches_rfc_4648() {
        // RFC 4648 §10, in the URL alphabet and without padding.
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(raw.as_bytes()), enc);
            assert_eq!(unbase64url(enc, 0).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64url(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(unbase64url("-_-_", 0).unwrap(), [0xfb, 0xff, 0xbf]);
    }

    /// A raw DEFLATE stream of `n` zero bytes, written by hand (fixed Huffman
    /// codes: a literal 0, then matches of length 258 at distance 1): 13 bits
    /// per 258 bytes, so 100 MB is 630 KB of stream.
    fn zeros_deflated(n: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u64,
            len: u32,
        }
        impl Bits {
            /// `len` bits of `v`, least significant first.
            fn put(&mut self, v: u32, len: u32) {
                self.acc |= (v as u64) << self.len;
                self.len += len;
                while self.len >= 8 {
                    self.out.push(self.acc as u8);
                    self.acc >>= 8;
                    self.len -= 8;
                }
            }
            /// A Huffman code, most significant bit first.
            fn code(&mut self, code: u32, len: u32) {
                for i in (0..len).rev() {
                    self.put(code >> i & 1, 1);
                }
            }
        }
        let mut b = Bits {
            out: Vec::new(),
            acc: 0,
            len: 0,
        };
        b.put(1, 1); // BFINAL
        b.put(1, 2); // BTYPE 01: fixed Huffman codes
        b.code(0b0011_0000, 8); // literal 0
        let mut left = n - 1;
        while left >= 258 {
            b.code(0b1100_0101, 8); // length symbol 285: 258 bytes
            b.code(0, 5); // distance symbol 0: distance 1
            left -= 258;
        }
        for _ in 0..left {
            b.code(0b0011_0000, 8);
        }
        b.code(0, 7); // end of block
        b.put(0, 7);
        b.out
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_cap_and_fast() {
        let small = zeros_deflated(1000);
        assert_eq!(
            decompress_to_vec_with_limit(&small, 2000).unwrap(),
            vec![0u8; 1000]
        );
        let bomb = zeros_deflated(100_000_000);
        let link = format!("1.{}", base64url(&bomb));
        assert!(link.len() < MAX_LINK_CHARS, "{}", link.len());
        let t = std::time::Instant::now();
        assert_eq!(decode(&link), Err(LinkError::TooBig));
        // Unoptimised test builds included; the cap is what keeps it quick.
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
        assert_eq!(
            LinkError::TooBig.to_string(),
            "The link unpacks to more than 16 MiB; not opened."
        );
        // Exactly the cap opens (NUL bytes are UTF-8 text); one byte more does not.
        let ok = format!("1.{}", base64url(&zeros_deflated(MAX_PAYLOAD_BYTES)));
        assert_eq!(decode(&ok).map(|s| s.len()), Ok(MAX_PAYLOAD_BYTES));
        let over = format!("1.{}", base64url(&zeros_deflated(MAX_PAYLOAD_BYTES + 1)));
        assert_eq!(decode(&over), Err(LinkError::TooBig));
    }

    #[test]
    fn every_error_has_its_sentence() {
        let huge = "A".repeat(10 * 1024 * 1024);
        let e = decode(&format!("#1.{huge}")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The link is too long (10,485,762 characters; at most 2,097,152)."
        );
        assert_eq!(
            decode(&"A".repeat(10_485_760)).unwrap_err().to_string(),
            "The link is too long (10,485,760 characters; at most 2,097,152)."
        );
        assert_eq!(
            decode("2.abc").unwrap_err().to_string(),
            "This link was made by a newer playground (format 2); this one opens format 1."
        );
        assert_eq!(decode("02.abc"), Err(LinkError::NewerVersion(2)));
        assert_eq!(
            decode("99999999999999999999999.abc"),
            Err(LinkError::NewerVersion(u64::MAX))
        );
        assert_eq!(decode("0.abc"), Err(LinkError::UnknownVersion("0".into())));
        assert_eq!(decode(".abc"), Err(LinkError::UnknownVersion("".into())));
        assert_eq!(
            decode("v1.abc").unwrap_err().to_string(),
            "This link's format `v1' is not one any playground writes; this one opens format 1."
        );
        assert_eq!(decode("#"), Err(LinkError::Empty));
        assert_eq!(decode(""), Err(LinkError::Empty));
        assert_eq!(decode("abc"), Err(LinkError::NoVersion));
        let rules: String = (0..400u32)
            .map(|i| format!("-A X -s 10.{}.{}.0/24 -j DROP\n", i % 251, i * 7 % 253))
            .collect();
        let good = encode(&rules);
        assert!(good.len() > 1234, "{}", good.len());
        // A character outside the alphabet, counted from the link's start.
        let mut bad = good.clone();
        bad.replace_range(1233..1234, "+");
        assert_eq!(
            decode(&bad).unwrap_err().to_string(),
            "The link is damaged (not base64url at character 1,234)."
        );
        assert_eq!(decode("1.ab=c"), Err(LinkError::BadChar(5)));
        assert_eq!(decode("#1.ab c"), Err(LinkError::BadChar(5)));
        assert_eq!(decode("1.éa"), Err(LinkError::BadChar(3)));
        assert_eq!(decode("1.aé"), Err(LinkError::BadChar(4)));
        // Cut short: at every length, an error and never a panic.
        for cut in 2..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let cut = &good[..good.len() - 5];
        assert_eq!(
            decode(cut).unwrap_err().to_string(),
            "The link is cut short or damaged: its data does not unpack."
        );
        assert_eq!(decode("1."), Err(LinkError::Damaged));
        assert_eq!(decode("1.A"), Err(LinkError::Damaged));
        // Unpacks, but to bytes that are not UTF-8.
        let latin1 = format!("1.{}", base64url(&compress_to_vec(b"caf\xe9", 6)));
        assert_eq!(
            decode(&latin1).unwrap_err().to_string(),
            "The link is damaged: its data is not text."
        );
        // A ruleset with a script in a comment is just text.
        let s = "-A INPUT -m comment --comment \"<script>alert(1)</script>\" -j ACCEPT\n";
        assert_eq!(decode(&encode(s)).as_deref(), Ok(s));
    }
}
