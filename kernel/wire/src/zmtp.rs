//! ZMTP 3 framing, followed byte by byte: the greeting, then frames whose lengths are checked
//! against the limits before any body byte is passed on. A pure state machine with no
//! buffering and no I/O, so the relay can check a stream in pieces of any size and the
//! verdict does not depend on how the bytes were cut.

/// The largest message a peer may send, all its frames together: 64 MiB. A peer that
/// announces more is disconnected before any of the excess is read (ZeroMQ clients reconnect
/// by themselves); ZeroMQ's own `ZMQ_MAXMSGSIZE` behaves the same way.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;
/// The largest ZMTP command frame (READY with its metadata, PING, SUBSCRIBE, ...).
pub const MAX_COMMAND_BYTES: u64 = 64 << 10;
/// The most frames in one message: Jupyter needs identities, a delimiter, five parts and any
/// buffers. Bounded because each frame costs the decoder memory beyond its bytes.
pub const MAX_FRAMES: u32 = 1024;

const GREETING_LEN: usize = 64;

/// Why a peer's bytes were refused, and where in the chunk the refused part begins (bytes
/// before it belong to complete, valid frames and are still passed on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: usize,
    pub why: String,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Bytes of the 64-byte greeting seen so far.
    Greeting(usize),
    Flags,
    /// A length being read: the flags, length bytes still missing, the value so far.
    Length {
        flags: u8,
        missing: u8,
        value: u64,
    },
    Body {
        remaining: u64,
        flags: u8,
    },
}

/// Follows the ZMTP 3 framing of one peer's byte stream without buffering any of it.
#[derive(Debug)]
pub struct ZmtpCheck {
    state: State,
    /// Bytes of the message being received (frames so far).
    message_bytes: u64,
    frames: u32,
}

impl Default for ZmtpCheck {
    fn default() -> Self {
        Self::new()
    }
}

/// A frame flag: more frames of the message follow.
pub const FLAG_MORE: u8 = 0b001;
/// A frame flag: the length is 8 bytes, not 1.
pub const FLAG_LONG: u8 = 0b010;
/// A frame flag: a ZMTP command (READY, PING, …), not a message frame.
pub const FLAG_COMMAND: u8 = 0b100;

impl ZmtpCheck {
    /// A check at the start of a connection (the greeting comes first).
    pub fn new() -> Self {
        ZmtpCheck {
            state: State::Greeting(0),
            message_bytes: 0,
            frames: 0,
        }
    }

    /// Checks the next bytes the peer sent, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        let mut pos = 0;
        // Where the frame header being read began in this chunk (0 if in an earlier one).
        let mut header_at = 0;
        let refuse = |at: usize, why: String| Err(Refusal { at, why });
        while pos < chunk.len() {
            match self.state {
                State::Greeting(seen) => {
                    let take = (GREETING_LEN - seen).min(chunk.len() - pos);
                    for (i, &b) in chunk[pos..pos + take].iter().enumerate() {
                        match seen + i {
                            0 if b != 0xff => {
                                return refuse(
                                    0,
                                    format!("not a ZMTP greeting (first byte {b:#04x})"),
                                )
                            }
                            9 if b & 1 != 1 => {
                                return refuse(0, "not a ZMTP 3 greeting (bad signature)".into())
                            }
                            10 if b < 3 => {
                                return refuse(
                                    0,
                                    format!("ZMTP version {b} is not supported (3 is)"),
                                )
                            }
                            _ => {}
                        }
                    }
                    pos += take;
                    self.state = if seen + take == GREETING_LEN {
                        State::Flags
                    } else {
                        State::Greeting(seen + take)
                    };
                }
                State::Flags => {
                    header_at = pos;
                    let flags = chunk[pos];
                    pos += 1;
                    if flags & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
                        return refuse(
                            header_at,
                            format!("reserved frame flag bits set ({flags:#04x})"),
                        );
                    }
                    if flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0 {
                        return refuse(header_at, "a command frame with the MORE flag".into());
                    }
                    let missing = if flags & FLAG_LONG != 0 { 8 } else { 1 };
                    self.state = State::Length {
                        flags,
                        missing,
                        value: 0,
                    };
                }
                State::Length {
                    flags,
                    missing,
                    value,
                } => {
                    let value = (value << 8) | u64::from(chunk[pos]);
                    pos += 1;
                    if missing > 1 {
                        self.state = State::Length {
                            flags,
                            missing: missing - 1,
                            value,
                        };
                        continue;
                    }
                    if let Err(why) = self.begin_frame(flags, value) {
                        return refuse(header_at, why);
                    }
                }
                State::Body { remaining, flags } => {
                    let take = remaining.min((chunk.len() - pos) as u64);
                    pos += take as usize;
                    if take == remaining {
                        self.end_frame(flags);
                    } else {
                        self.state = State::Body {
                            remaining: remaining - take,
                            flags,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn begin_frame(&mut self, flags: u8, len: u64) -> Result<(), String> {
        if flags & FLAG_COMMAND != 0 {
            if len > MAX_COMMAND_BYTES {
                return Err(format!(
                    "a command frame of {len} bytes (the limit is {MAX_COMMAND_BYTES})"
                ));
            }
        } else {
            self.frames += 1;
            if self.frames > MAX_FRAMES {
                return Err(format!(
                    "a message of more than {MAX_FRAMES} frames (the limit)"
                ));
            }
            self.message_bytes = self.message_bytes.saturating_add(len);
            if self.message_bytes > MAX_MESSAGE_BYTES {
                return Err(format!(
                    "a message of at least {} bytes (the limit is {MAX_MESSAGE_BYTES}, 64 MiB)",
                    self.message_bytes
                ));
            }
        }
        if len == 0 {
            self.end_frame(flags);
        } else {
            self.state = State::Body {
                remaining: len,
                flags,
            };
        }
        Ok(())
    }

    /// Bytes at the end of what was fed that belong to a greeting or a frame header not yet
    /// complete (held back by the relay: zeromq must never see a greeting or a length that was
    /// not checked, however the peer cuts its writes).
    pub fn partial_header(&self) -> usize {
        match self.state {
            State::Greeting(seen) => seen,
            State::Length { flags, missing, .. } => {
                let len_bytes = if flags & FLAG_LONG != 0 { 8 } else { 1 };
                1 + len_bytes - missing as usize
            }
            _ => 0,
        }
    }

    /// Bytes still missing from the frame body being received (0 between frames).
    pub fn body_remaining(&self) -> u64 {
        match self.state {
            State::Body { remaining, .. } => remaining,
            _ => 0,
        }
    }

    fn end_frame(&mut self, flags: u8) {
        if flags & FLAG_COMMAND == 0 && flags & FLAG_MORE == 0 {
            self.message_bytes = 0;
            self.frames = 0;
        }
        self.state = State::Flags;
    }
}

/// A ZMTP 3.0 greeting with the NULL mechanism, for tests and fuzz seeds.
pub fn greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// One frame with `flags` (the long form when the body needs it), for tests and fuzz seeds.
pub fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![];
    if body.len() > 255 {
        f.push(flags | FLAG_LONG);
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    } else {
        f.push(flags);
        f.push(body.len() as u8);
    }
    f.extend_from_slice(body);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid conversation: greeting, READY, a multipart message with a long frame.
    fn valid_stream() -> Vec<u8> {
        let mut s = greeting();
        s.extend(frame(
            FLAG_COMMAND,
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER",
        ));
        s.extend(frame(FLAG_MORE, b"<IDS|MSG>"));
        s.extend(frame(FLAG_MORE, &[b'x'; 300]));
        s.extend(frame(0, b"{}"));
        s
    }

    #[test]
    fn valid_framing_passes_in_any_chunking() {
        let s = valid_stream();
        for chunk in [1, 2, 7, 64, 65, 1000] {
            let mut c = ZmtpCheck::new();
            for part in s.chunks(chunk) {
                c.feed(part).unwrap();
            }
            assert!(
                matches!(c.state, State::Flags),
                "chunk {chunk}: {:?}",
                c.state
            );
            assert_eq!(c.message_bytes, 0);
        }
    }

    #[test]
    fn a_huge_frame_length_is_refused_at_its_header() {
        // The packet that aborted the kernel: greeting, then a command frame of 2^62 bytes.
        for flags in [FLAG_COMMAND | FLAG_LONG, FLAG_LONG] {
            let mut s = valid_stream();
            let header_at = s.len();
            s.push(flags);
            s.extend_from_slice(&(1u64 << 62).to_be_bytes());
            let r = ZmtpCheck::new().feed(&s).unwrap_err();
            assert_eq!(r.at, header_at, "{r:?}");
            assert!(r.why.contains(&(1u64 << 62).to_string()), "{}", r.why);
            // Split mid-header: refused in the chunk that completes the length.
            let mut c = ZmtpCheck::new();
            c.feed(&s[..header_at + 3]).unwrap();
            assert_eq!(c.feed(&s[header_at + 3..]).unwrap_err().at, 0);
        }
    }

    #[test]
    fn the_limit_counts_all_frames_of_a_message() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let half = MAX_MESSAGE_BYTES / 2;
        let mut h = vec![FLAG_MORE | FLAG_LONG];
        h.extend_from_slice(&half.to_be_bytes());
        c.feed(&h).unwrap();
        c.feed(&vec![0u8; half as usize]).unwrap();
        // The second half fits exactly; one byte more is refused.
        let mut h = vec![FLAG_MORE | FLAG_LONG];
        h.extend_from_slice(&half.to_be_bytes());
        c.feed(&h).unwrap();
        c.feed(&vec![0u8; half as usize]).unwrap();
        let r = c.feed(&[0, 1, 0]).unwrap_err();
        assert!(r.why.contains("limit"), "{}", r.why);
        // A new message starts from zero.
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        for _ in 0..3 {
            let mut h = vec![FLAG_LONG];
            h.extend_from_slice(&half.to_be_bytes());
            c.feed(&h).unwrap();
            c.feed(&vec![0u8; half as usize]).unwrap();
        }
    }

    #[test]
    fn too_many_frames_and_bad_flags_are_refused() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let empty_more = [FLAG_MORE, 0];
        for _ in 0..MAX_FRAMES {
            c.feed(&empty_more).unwrap();
        }
        assert!(c.feed(&empty_more).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert!(c.feed(&[0x80, 0]).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert!(c.feed(&[FLAG_COMMAND | FLAG_MORE, 0]).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let mut big_cmd = vec![FLAG_COMMAND | FLAG_LONG];
        big_cmd.extend_from_slice(&(MAX_COMMAND_BYTES + 1).to_be_bytes());
        assert!(c.feed(&big_cmd).is_err());
    }

    /// A small deterministic generator (xorshift64*), so the randomized test repeats exactly.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A stream that is mostly valid ZMTP, with now and then a wrong flag, a huge length or a
    /// flipped byte.
    fn random_stream(rng: &mut Rng) -> Vec<u8> {
        let mut s = greeting();
        for _ in 0..rng.below(12) {
            let mut flags = [0, FLAG_MORE, FLAG_COMMAND][rng.below(3) as usize];
            if rng.below(40) == 0 {
                flags |= 1 << (3 + rng.below(5));
            }
            let len = match rng.below(30) {
                0 => rng.next(),
                1 => MAX_MESSAGE_BYTES + rng.below(3),
                2 => MAX_COMMAND_BYTES + rng.below(3),
                _ => rng.below(600),
            };
            if len > 255 || rng.below(10) == 0 {
                s.push(flags | FLAG_LONG);
                s.extend_from_slice(&len.to_be_bytes());
            } else {
                s.push(flags);
                s.push(len as u8);
            }
            let body = len.min(600 + rng.below(100)) as usize;
            s.extend((0..body).map(|_| rng.next() as u8));
        }
        for _ in 0..rng.below(3) {
            if rng.below(4) == 0 && !s.is_empty() {
                let at = rng.below(s.len() as u64) as usize;
                s[at] ^= 1 << rng.below(8);
            }
        }
        s
    }

    #[test]
    fn random_streams_never_panic_and_chunking_never_changes_the_verdict() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut refused, mut passed) = (0, 0);
        for _ in 0..20_000 {
            let s = random_stream(&mut rng);
            let whole = ZmtpCheck::new().feed(&s);
            // The same bytes in random pieces.
            let mut c = ZmtpCheck::new();
            let mut start = 0;
            let mut chunked = Ok(());
            while start < s.len() {
                let end = (start + 1 + rng.below(200) as usize).min(s.len());
                if let Err(r) = c.feed(&s[start..end]) {
                    chunked = Err((start, r));
                    break;
                }
                start = end;
            }
            match (whole, chunked) {
                (Ok(()), Ok(())) => passed += 1,
                (Err(w), Err((chunk_start, r))) => {
                    assert_eq!(w.why, r.why);
                    assert_eq!(chunk_start + r.at, w.at.max(chunk_start), "{w:?} vs {r:?}");
                    refused += 1;
                }
                (w, c) => panic!("whole {w:?}, chunked {c:?}"),
            }
        }
        // Both outcomes were exercised many times.
        assert!(
            refused > 1000 && passed > 1000,
            "refused {refused}, passed {passed}"
        );
    }

    #[test]
    fn partial_headers_and_missing_body_are_known() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 0));
        c.feed(&[FLAG_LONG, 0, 0]).unwrap();
        assert_eq!(c.partial_header(), 3);
        c.feed(&[0, 0, 0, 0, 0x03, 0xe8, b'x']).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 999));
        c.feed(&[b'x'; 999]).unwrap();
        c.feed(&[FLAG_MORE]).unwrap();
        assert_eq!(c.partial_header(), 1);
        c.feed(&[2, b'a', b'b']).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 0));
    }

    #[test]
    fn not_a_greeting_is_refused() {
        assert!(ZmtpCheck::new().feed(b"GET / HTTP/1.1\r\n").is_err());
        let mut old = greeting();
        old[10] = 2;
        assert!(ZmtpCheck::new().feed(&old).is_err());
    }

    /// Found by the `zmtp_frames` fuzz target: a greeting refused at its 10th byte passed the
    /// first 9 on to zeromq when they came in reads of their own, and none when they came in
    /// one read. Greeting bytes are now held like a frame header's until checked.
    #[test]
    fn a_greeting_is_held_until_checked_however_it_is_cut() {
        let mut bad = greeting();
        bad[9] = 0;
        let mut check = ZmtpCheck::new();
        for (i, b) in bad[..9].iter().enumerate() {
            check
                .feed(std::slice::from_ref(b))
                .expect("no verdict before byte 10");
            assert_eq!(check.partial_header(), i + 1);
        }
        let refusal = check.feed(&bad[9..10]).unwrap_err();
        assert_eq!(refusal.at, 0, "{refusal:?}");
        let mut whole = ZmtpCheck::new();
        assert_eq!(whole.feed(&bad).unwrap_err().at, 0);
        let mut good = ZmtpCheck::new();
        good.feed(&greeting()).unwrap();
        assert_eq!(good.partial_header(), 0);
    }
}
