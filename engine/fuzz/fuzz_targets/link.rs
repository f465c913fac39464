//! libFuzzer target for the share-link codec: any bytes, read as a link (with
//! and without `#`, and after the `1.` prefix) never panic, and read as a
//! payload they survive encode → decode unchanged.
//! Run: `cd engine && RUSTC_BOOTSTRAP=1 cargo fuzz run link`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nfsim::scenario::link::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = decode(&text);
    let _ = decode(&format!("#{text}"));
    let _ = decode(&format!("1.{text}"));
    assert_eq!(decode(&encode(&text)).as_deref(), Ok(&*text));
});
