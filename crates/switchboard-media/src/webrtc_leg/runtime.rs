//! The tokio runtime WebRTC legs run on, with a way for synchronous code to wait for them.
//!
//! The B2BUA's media plane is synchronous, and blocking a thread of the runtime a future runs
//! on can deadlock it (always, on a current-thread runtime). So the legs get a runtime of their
//! own, on threads of their own; the media plane hands it a future and waits on a plain
//! channel. DTLS and SRTP work then also stays off the call control's threads.

use std::fmt;
use std::future::Future;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::WebRtcError;

/// A handle to the runtime WebRTC legs run on.
#[derive(Clone)]
pub struct WebRtcRuntime {
    handle: Handle,
}

impl fmt::Debug for WebRtcRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebRtcRuntime").finish_non_exhaustive()
    }
}

impl WebRtcRuntime {
    /// Legs run on an existing runtime (tests, and async callers that never block on them).
    pub fn on(handle: Handle) -> WebRtcRuntime {
        WebRtcRuntime { handle }
    }

    /// Starts a dedicated multi-thread runtime with `threads` workers, kept for the life of
    /// the process (it serves every call until the server exits).
    pub fn dedicated(threads: usize) -> std::io::Result<WebRtcRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("webrtc")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("webrtc-runtime".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        Ok(WebRtcRuntime { handle })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns `future` on the runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `future` on the runtime and blocks this thread until it is done or `timeout` has
    /// passed. Must not be called from one of the runtime's own threads.
    pub fn block_on<F>(&self, future: F, timeout: Duration) -> Result<F::Output, WebRtcError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std_mpsc::sync_channel(1);
        let task = self.handle.spawn(async move {
            // The receiver is gone only after a timeout; the result is dropped then.
            let _ = tx.send(future.await);
        });
        match rx.recv_timeout(timeout) {
            Ok(out) => Ok(out),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                task.abort();
                Err(WebRtcError::Timeout)
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(WebRtcError::RuntimeGone),
        }
    }
}
