//! Any multipart message a client with the key can send: identities, the delimiter, a valid
//! signature and arbitrary header, parent, metadata and content frames. Decoding must never
//! panic; a message it accepts carries the type its header names, and the same message a
//! second time is refused as a replay.
#![no_main]

use bytes::Bytes;
use lakehouse_wire::message::{decode, Signer, WireError};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-key";

fuzz_target!(|data: &[u8]| {
    // Frames are separated by 0xff (never valid UTF-8, so JSON frames cannot contain it).
    let frames: Vec<&[u8]> = data.split(|b| *b == 0xff).collect();
    let mut signer = Signer::new(KEY, "hmac-sha256").expect("the scheme is supported");

    // As sent: whatever the bytes are, unsigned ones included.
    let _ = decode(
        frames.iter().map(|f| Bytes::copy_from_slice(f)).collect(),
        &mut signer,
    );

    // Signed: the first frame is an identity, the next four are the signed parts.
    if frames.len() < 5 {
        return;
    }
    let signature = signer.sign(&frames[1..5]);
    let mut message = vec![
        Bytes::copy_from_slice(frames[0]),
        Bytes::from_static(b"<IDS|MSG>"),
    ];
    message.push(Bytes::from(signature));
    message.extend(frames[1..].iter().map(|f| Bytes::copy_from_slice(f)));
    match decode(message.clone(), &mut signer) {
        Ok(incoming) => {
            // A header serde reads as jupyter-protocol's Header may still hold what serde_json
            // refuses as a Value (a lone surrogate escape in a field Header ignores).
            if let Ok(header) = serde_json::from_slice::<serde_json::Value>(frames[1]) {
                assert_eq!(Some(incoming.msg_type()), header["msg_type"].as_str());
            }
            assert_eq!(incoming.identities.len(), 1);
            assert!(matches!(
                decode(message, &mut signer),
                Err(WireError::Replay)
            ));
        }
        Err(WireError::BadHeader(_)) => {}
        Err(e) => panic!("a signed message with five parts was refused: {e}"),
    }
});
