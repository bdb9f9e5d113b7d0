//! Any byte stream a peer can send to one of the kernel's five ports, cut into pieces of any
//! size: the ZMTP check must never panic, and its verdict (where it refuses, and why) must not
//! depend on how the stream was cut (how many bytes reach zeromq before a refusal, and why):
//! the relay sees TCP reads of arbitrary sizes.
#![no_main]

use lakehouse_wire::zmtp::{Refusal, ZmtpCheck};
use libfuzzer_sys::fuzz_target;

/// Feeds `chunks` in order, as the relay does (`front::relay`): the bytes it would pass on to
/// zeromq before the refusal, and why, if the stream is refused. A frame header split across
/// reads is held back until complete, and a refusal's `at` counts from the start of the chunk,
/// 0 when the refused header began in an earlier one (its held bytes are dropped).
fn verdict<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Option<(usize, String)> {
    let mut check = ZmtpCheck::new();
    let mut offset = 0;
    let mut held = 0;
    for chunk in chunks {
        if let Err(Refusal { at, why }) = check.feed(chunk) {
            assert!(
                at <= chunk.len(),
                "refusal at {at} beyond a chunk of {}",
                chunk.len()
            );
            let passed = if at == 0 { offset - held } else { offset + at };
            return Some((passed, why));
        }
        offset += chunk.len();
        held = check.partial_header();
        assert!(held <= offset && held <= 64, "{held} held bytes");
    }
    None
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the cut sizes (1 to 256 bytes), the rest is the stream.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = verdict(std::iter::once(stream));
    let step = usize::from(cut) + 1;
    let pieces = verdict(stream.chunks(step));
    let bytes = verdict(stream.chunks(1));
    assert_eq!(whole, pieces, "cut every {step} bytes");
    assert_eq!(whole, bytes, "cut every byte");
});
