//! Opening and finishing recordings on threads of their own, with one file-system sync for every
//! batch of finished recordings.
//!
//! A call's recording is opened when its media starts and finished when it ends; both are
//! blocking file IO that must stay off the async threads. Finishing used to `fsync` each file:
//! at 1,500 calls a second that is 1,500 synchronous disk writes a second, and on a virtual disk
//! the queue of waiting syncs, not the CPU, capped the call rate (`tests/bench.sh sip-cps`
//! failed at 1,500 CPS with the CPU 50 % idle; without the syncs the same step passed).
//!
//! So [`RecordingFiles`] runs the blocking work on a few worker threads and hands each finished
//! recording to one sync thread, which commits group-wise: it syncs the recordings' file system
//! once (`syncfs(2)`) for every recording that finished while the previous sync ran, then answers
//! each of them. A recording's [`RecordingInfo`] (and so its store row with the SHA-256) is
//! given out only after its bytes are on disk, as before; under load one sync covers hundreds of
//! files. A crash before the sync loses nothing the old order kept: the header on disk is at most
//! a second old (see [`crate::recorder`]) and `recordings repair` fixes the rest.

use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use switchboard_core::{CallId, Timestamp};

use crate::layout::Layout;
use crate::recorder::{Recorder, RecorderConfig, RecorderError, RecordingInfo};

/// What went wrong opening or finishing a recording.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The group sync failed, so the recording may not be on disk.
    #[error("syncing the recordings' file system failed: {0}")]
    Sync(String),
    #[error("cannot open the recordings directory {path}: {source}")]
    Root { path: String, source: io::Error },
    #[error("cannot start a recording thread: {0}")]
    Thread(io::Error),
    /// A recording thread died (a panic), so the job could not be done.
    #[error("the recording threads have stopped")]
    Stopped,
}

/// Commits written files to disk; [`SyncFs`] in production, a fake in tests.
pub trait FsSync: Send + 'static {
    fn sync(&mut self) -> io::Result<()>;
}

/// `syncfs(2)` of the file system holding a directory.
#[derive(Debug)]
pub struct SyncFs(File);

impl SyncFs {
    /// Opens `dir` (creating it) to sync its file system later.
    pub fn open(dir: &std::path::Path) -> Result<SyncFs, FilesError> {
        let root = |source| FilesError::Root {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(root)?;
        File::open(dir).map(SyncFs).map_err(root)
    }
}

impl FsSync for SyncFs {
    fn sync(&mut self) -> io::Result<()> {
        nix::unistd::syncfs(&self.0).map_err(io::Error::from)
    }
}

type Reply<T> = Box<dyn FnOnce(Result<T, FilesError>) + Send>;

enum Job {
    Create {
        call: CallId,
        started: Timestamp,
        now: Timestamp,
        reply: Reply<Recorder>,
    },
    Finish {
        // Boxed: a recorder is large and a job is moved through a channel.
        recorder: Box<Recorder>,
        now: Timestamp,
        reply: Reply<RecordingInfo>,
    },
}

/// A recording whose file is complete, waiting for the next sync.
struct Unsynced {
    info: RecordingInfo,
    reply: Reply<RecordingInfo>,
}

/// Opens and finishes the recordings of a [`Layout`] on background threads (see the module
/// documentation). Cloning shares the threads; they stop when the last clone is dropped, after
/// the jobs already handed in.
#[derive(Clone)]
pub struct RecordingFiles {
    layout: Layout,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for RecordingFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingFiles")
            .field("root", &self.layout.root())
            .finish_non_exhaustive()
    }
}

impl RecordingFiles {
    /// Starts `workers` (at least one) file threads and the sync thread for `layout`, whose root
    /// directory is created if missing.
    pub fn start(layout: Layout, workers: usize) -> Result<RecordingFiles, FilesError> {
        let sync = SyncFs::open(layout.root())?;
        Self::start_with(layout, workers, sync)
    }

    /// [`RecordingFiles::start`] with another way of syncing (tests).
    pub fn start_with(
        layout: Layout,
        workers: usize,
        sync: impl FsSync,
    ) -> Result<RecordingFiles, FilesError> {
        let (unsynced_tx, unsynced_rx) = mpsc::channel::<Unsynced>();
        std::thread::Builder::new()
            .name("rec-sync".into())
            .spawn(move || sync_loop(sync, unsynced_rx))
            .map_err(FilesError::Thread)?;
        let (jobs, jobs_rx) = mpsc::channel::<Job>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        for i in 0..workers.max(1) {
            let jobs_rx = jobs_rx.clone();
            let unsynced = unsynced_tx.clone();
            let layout = layout.clone();
            std::thread::Builder::new()
                .name(format!("rec-io-{i}"))
                .spawn(move || worker_loop(&layout, &jobs_rx, &unsynced))
                .map_err(FilesError::Thread)?;
        }
        Ok(RecordingFiles { layout, jobs })
    }

    /// Where the recordings go.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Creates the recording of `call` (dated by `started`, starting at `now`); `reply` gets the
    /// recorder on a file thread. Its finish must come back here ([`RecordingFiles::finish`]),
    /// which syncs it.
    pub fn create(
        &self,
        call: CallId,
        started: Timestamp,
        now: Timestamp,
        reply: impl FnOnce(Result<Recorder, FilesError>) + Send + 'static,
    ) {
        self.submit(Job::Create {
            call,
            started,
            now,
            reply: Box::new(reply),
        });
    }

    /// Finishes `recorder` at `now`; `reply` gets its info once the file is on disk (on the sync
    /// thread), or the error.
    pub fn finish(
        &self,
        recorder: Recorder,
        now: Timestamp,
        reply: impl FnOnce(Result<RecordingInfo, FilesError>) + Send + 'static,
    ) {
        self.submit(Job::Finish {
            recorder: Box::new(recorder),
            now,
            reply: Box::new(reply),
        });
    }

    fn submit(&self, job: Job) {
        // The threads live as long as a sender does, and we hold one: a send fails only if a
        // thread died by panicking, and then the job is answered here rather than lost.
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            match job {
                Job::Create { reply, .. } => reply(Err(FilesError::Stopped)),
                Job::Finish { reply, .. } => reply(Err(FilesError::Stopped)),
            }
        }
    }
}

/// The recorders this module creates leave the syncing to the sync thread.
fn recorder_config() -> RecorderConfig {
    RecorderConfig {
        sync_on_finish: false,
        ..RecorderConfig::default()
    }
}

fn worker_loop(
    layout: &Layout,
    jobs: &Mutex<mpsc::Receiver<Job>>,
    unsynced: &mpsc::Sender<Unsynced>,
) {
    loop {
        // One worker waits in `recv` holding the lock, the others wait for the lock.
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(mpsc::RecvError) => return,
        };
        match job {
            Job::Create {
                call,
                started,
                now,
                reply,
            } => reply(
                Recorder::create(layout, &call, started, now, recorder_config())
                    .map_err(FilesError::from),
            ),
            Job::Finish {
                recorder,
                now,
                reply,
            } => match recorder.finish(now) {
                Ok(info) => {
                    if let Err(mpsc::SendError(u)) = unsynced.send(Unsynced { info, reply }) {
                        (u.reply)(Err(FilesError::Stopped));
                    }
                }
                Err(e) => reply(Err(e.into())),
            },
        }
    }
}

/// Group commit: take what finished, sync once, answer all of it; what finishes meanwhile
/// waits for the next round.
fn sync_loop(mut sync: impl FsSync, unsynced: mpsc::Receiver<Unsynced>) {
    while let Ok(first) = unsynced.recv() {
        let mut batch = vec![first];
        batch.extend(unsynced.try_iter());
        let result = sync.sync().map_err(|e| e.to_string());
        for Unsynced { info, reply } in batch {
            reply(result.clone().map(|()| info).map_err(FilesError::Sync));
        }
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
