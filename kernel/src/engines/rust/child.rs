//! Runs in evcxr's child process (this binary, started with `EVCXR_IS_RUNTIME`), before
//! `evcxr::runtime_hook` takes over.
//!
//! When a cell returns early through `?`, evcxr prints the error on stderr and a line
//! `EVCXR_ERROR_OCCURRED` on stdout, which its parent side swallows: the cell would look
//! successful, and papermill would run on. So the child's stdout goes through a pipe that
//! puts [`USER_ERROR_MARKER`] before that line; the kernel sees the marker and fails the cell.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;

/// The line evcxr's generated code prints after a `?` error (evcxr_internal_runtime).
const EVCXR_USER_ERROR: &[u8] = b"EVCXR_ERROR_OCCURRED";

/// What the kernel reads as "the cell failed through `?`".
pub const USER_ERROR_MARKER: &str = "LAKEHOUSE_USER_ERROR";

/// In evcxr's child process, routes stdout through the marking pipe; elsewhere does nothing.
pub fn filter_child_stdout() {
    if std::env::var_os("EVCXR_IS_RUNTIME").is_none() {
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: plain POSIX calls on descriptors this function owns; fd 1 is replaced by the
    // pipe's write end only once every step before has succeeded.
    let (read_end, real_stdout) = unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return;
        }
        let real = libc::dup(1);
        if real < 0 || libc::dup2(fds[1], 1) < 0 {
            libc::close(fds[0]);
            libc::close(fds[1]);
            return;
        }
        libc::close(fds[1]);
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(real),
        )
    };
    std::thread::spawn(move || {
        let mut out = real_stdout;
        for line in BufReader::new(read_end).split(b'\n') {
            let Ok(line) = line else { break };
            let mut chunk = Vec::with_capacity(line.len() + 24);
            if line == EVCXR_USER_ERROR {
                chunk.extend_from_slice(USER_ERROR_MARKER.as_bytes());
                chunk.push(b'\n');
            }
            chunk.extend_from_slice(&line);
            chunk.push(b'\n');
            if out.write_all(&chunk).and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    });
}
