//! The Jupyter wire, pure: ZMTP 3 framing checked byte by byte against stated limits
//! ([`zmtp`]), and Jupyter messages decoded, verified and signed ([`message`]). No sockets and
//! no I/O: the kernel's front and server use it, and so do the fuzz targets (`kernel/fuzz`).

pub mod message;
pub mod zmtp;
