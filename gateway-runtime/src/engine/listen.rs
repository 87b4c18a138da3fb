//! Opening the listening socket, the signals that stop a server, and the process-wide
//! allocator setting that lets large buffers go.

use std::io;

use tokio::net::{TcpListener, TcpSocket};

/// The listen backlog of [`bind`] when none is chosen: 511, as Node's `server.listen`.
/// (The kernel caps it at `net.core.somaxconn`.) With the 128 many defaults use, a burst of
/// a thousand connecting clients waits on SYN retries (a second or more).
pub const DEFAULT_BACKLOG: u32 = 511;

/// Binds a TCP listener on `addr` (`"0.0.0.0:3000"`, `"[::]:3000"`, `"localhost:3000"`:
/// the first address it resolves to) with `SO_REUSEADDR` and a listen backlog of
/// `backlog` connections not yet accepted.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use gateway_runtime::engine::{bind, DEFAULT_BACKLOG};
/// let listener = bind("0.0.0.0:3000", DEFAULT_BACKLOG).await?;
/// # let _ = listener; Ok(()) }
/// ```
pub async fn bind(addr: &str, backlog: u32) -> io::Result<TcpListener> {
    let addr = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM — the signal orchestrators such as
/// Kubernetes and systemd send before they kill a process. Used by
/// [`App::serve`](crate::app::App::serve) to start the graceful shutdown.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Fixes glibc malloc's mmap threshold at 128 KiB, once per process (see
/// [`EngineConfig::release_large_buffers`](super::EngineConfig::release_large_buffers)).
pub(crate) fn release_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes a malloc parameter; any value is valid for
            // M_MMAP_THRESHOLD up to 32 MiB. (The one unsafe call of the workspace.)
            #[allow(unsafe_code)]
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_and_accepts() {
        let listener = bind("127.0.0.1:0", DEFAULT_BACKLOG).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr);
        let (accepted, connected) = tokio::join!(listener.accept(), client);
        assert!(accepted.is_ok() && connected.is_ok());
    }
}
