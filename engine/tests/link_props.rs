//! Property tests of the share-link codec (`nfsim::scenario::link`): decoding never
//! panics on any string (random text, links with random damage, random
//! base64url after a format prefix), and any text survives a round trip.
//! The cargo-fuzz target `engine/fuzz/fuzz_targets/link.rs` checks the same
//! on raw bytes for longer. `NFSIM_FUZZ_CASES` sets the case count (512).

use nfsim::scenario::link::{decode, encode, LinkError};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("NFSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

/// Ruleset-like text: what payloads mostly are, with some Unicode.
fn payload() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-A-Za-z0-9 ./:\"\n<>]{0,2000}",
        prop::collection::vec(
            prop::sample::select(vec![
                "-A INPUT ",
                "-j ACCEPT\n",
                "-m comment --comment \"<script>\" ",
                "é",
                "\u{0}",
                "🦀",
                "{\"scenario\":",
                "\\n",
                "COMMIT\n",
            ]),
            0..300,
        )
        .prop_map(|w| w.concat()),
    ]
}

/// A good link, then damaged: a cut, a changed character, an insertion.
fn damaged() -> impl Strategy<Value = String> {
    (
        payload(),
        any::<prop::sample::Index>(),
        any::<char>(),
        0..3u8,
    )
        .prop_map(|(p, at, c, how)| {
            let mut link = encode(&p);
            let i = at.index(link.len() + 1);
            match how {
                0 => link.truncate(i),
                1 if i < link.len() => {
                    link.replace_range(i..i + 1, &c.to_string());
                }
                _ => link.insert(i, c),
            }
            link
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_any_string(s in any::<String>()) {
        let _ = decode(&s);
        let _ = decode(&format!("#{s}"));
        let _ = decode(&format!("1.{s}"));
    }

    #[test]
    fn decode_never_panics_on_random_base64url(s in "[A-Za-z0-9_-]{0,3000}") {
        match decode(&format!("1.{s}")) {
            Ok(_) | Err(LinkError::Damaged | LinkError::TooBig | LinkError::NotText) => {}
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn damaged_links_give_an_error_or_some_text(link in damaged()) {
        if let Err(e) = decode(&link) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn any_text_round_trips(p in payload()) {
        let link = encode(&p);
        prop_assert!(link.starts_with("1."));
        prop_assert_eq!(decode(&link), Ok(p.clone()));
        prop_assert_eq!(decode(&format!("#{link}")), Ok(p));
    }
}
