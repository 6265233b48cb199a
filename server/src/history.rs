//! The room's history in SQLite, written in batches by a dedicated thread so
//! that storing never slows the relay.
//!
//! The broker hands each relayed message to [`Store::append`], which only
//! queues it; the writer thread commits whatever has queued in one
//! transaction. The database runs in WAL mode with `synchronous=NORMAL`: a
//! committed batch survives `kill -9` (the loss window is what is still
//! queued, normally one batch), and a clean shutdown drains the queue first.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use chat_core::protocol::{ChatMessage, MessageKind, Replayed};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tracing::{error, warn};

/// Messages waiting for the writer before new ones are dropped (with a
/// warning) rather than letting a stalled disk grow memory without bound.
const QUEUE: usize = 100_000;
/// Most messages committed in one transaction.
const BATCH: usize = 4096;
/// Most messages one history request returns.
pub const MAX_PAGE: u32 = 500;

/// Why the history database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be opened or created.
    #[error("cannot open history database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The directory for the file could not be created.
    #[error("cannot create directory for history database {path}: {source}")]
    Directory {
        /// The database file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a usable history database.
    #[error("history database {path} is corrupt or not a chat history: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite found.
        detail: String,
    },
    /// The file can be read but not written.
    #[error("history database {path} is not writable: {source}")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("history query failed: {0}")]
    Query(#[from] rusqlite::Error),
}

/// What the store held when it was opened.
#[derive(Debug)]
pub struct Loaded {
    /// The newest messages of the room, oldest first.
    pub recent: Vec<Replayed>,
    /// The sequence number the next message gets: numbers keep rising
    /// across restarts.
    pub next_seq: u64,
}

/// The open history: a queue into the writer thread.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    room: String,
    queue: Option<SyncSender<Replayed>>,
    writer: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens (or creates) the database at `path` for `room`, checks it, and
    /// loads the newest `recent` messages.
    ///
    /// # Errors
    /// A [`HistoryError`] that names the file and says what is wrong.
    pub fn open(path: &Path, room: &str, recent: usize) -> Result<(Store, Loaded), HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Directory {
                path: path.to_owned(),
                source,
            })?;
        }
        let conn = connect(path, false)?;
        let corrupt = |e: rusqlite::Error| HistoryError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(HistoryError::Corrupt {
                path: path.to_owned(),
                detail: check,
            });
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 seq    INTEGER PRIMARY KEY,
                 room   TEXT    NOT NULL,
                 time   INTEGER NOT NULL,
                 kind   TEXT    NOT NULL,
                 sender TEXT    NOT NULL,
                 text   TEXT    NOT NULL
             );
             CREATE INDEX IF NOT EXISTS messages_room_seq ON messages (room, seq);",
        )
        .map_err(|source| classify(path, source))?;
        // Find out now, not at the first message, if the file is read-only.
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(|source| HistoryError::ReadOnly {
                path: path.to_owned(),
                source,
            })?;
        let last: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM messages", [], |row| row.get(0))
            .optional()
            .map_err(corrupt)?
            .flatten();
        // After the highest stored number, and never below the clock in
        // microseconds: messages lost in a crash had numbers above what is
        // stored, and clients that saw them must not see them reused.
        let after_stored = last.map_or(1, |s| u64::try_from(s).unwrap_or(0) + 1);
        let next_seq = after_stored.max(chat_core::protocol::now_millis().saturating_mul(1000));
        let recent = page(&conn, room, None, u32::try_from(recent).unwrap_or(MAX_PAGE))?;

        let (queue, pending) = mpsc::sync_channel(QUEUE);
        let writer_room = room.to_owned();
        let writer = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_batches(conn, writer_room, pending))
            .map_err(|e| HistoryError::Corrupt {
                path: path.to_owned(),
                detail: format!("cannot start the writer thread: {e}"),
            })?;
        let store = Store {
            path: path.to_owned(),
            room: room.to_owned(),
            queue: Some(queue),
            writer: Some(writer),
        };
        Ok((store, Loaded { recent, next_seq }))
    }

    /// Queues a relayed message for the writer; never blocks.
    pub fn append(&self, message: Replayed) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(m)) => {
                warn!(
                    seq = m.message.seq,
                    "history writer is behind; message not stored"
                );
            }
            Err(TrySendError::Disconnected(m)) => {
                error!(
                    seq = m.message.seq,
                    "history writer has stopped; message not stored"
                );
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader for history requests, usable from a blocking thread.
    pub fn reader(&self) -> Reader {
        Reader {
            path: self.path.clone(),
            room: self.room.clone(),
        }
    }

    /// Stores everything queued, then stops the writer. Blocks.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                error!("history writer panicked");
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads pages of history with its own connection (WAL lets it read while
/// the writer writes).
#[derive(Debug, Clone)]
pub struct Reader {
    path: PathBuf,
    room: String,
}

impl Reader {
    /// Up to `limit` messages before `before` (or the newest), oldest first,
    /// and whether older ones remain. Blocks: call from a blocking thread.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn page(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<Replayed>, bool), HistoryError> {
        let conn = connect(&self.path, true)?;
        let limit = limit.min(MAX_PAGE);
        let mut items = page(&conn, &self.room, before, limit.saturating_add(1))?;
        let more = items.len() > limit as usize;
        if more {
            items.remove(0);
        }
        Ok((items, more))
    }
}

fn connect(path: &Path, read_only: bool) -> Result<Connection, HistoryError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|source| HistoryError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|source| classify(path, source))?;
    if !read_only {
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(|source| classify(path, source))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL;")
            .map_err(|source| classify(path, source))?;
    }
    Ok(conn)
}

/// "file is not a database" means corrupt; anything else is an open error.
fn classify(path: &Path, source: rusqlite::Error) -> HistoryError {
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            HistoryError::Corrupt {
                path: path.to_owned(),
                detail: source.to_string(),
            }
        }
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
            HistoryError::ReadOnly {
                path: path.to_owned(),
                source,
            }
        }
        _ => HistoryError::Open {
            path: path.to_owned(),
            source,
        },
    }
}

fn page(
    conn: &Connection,
    room: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<Replayed>, HistoryError> {
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let mut statement = conn.prepare_cached(
        "SELECT seq, time, kind, sender, text FROM messages
         WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(params![room, before, limit], |row| {
        let kind: String = row.get(2)?;
        Ok(Replayed {
            kind: if kind == "action" {
                MessageKind::Action
            } else {
                MessageKind::Message
            },
            message: ChatMessage {
                room: None,
                seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                time: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                from: row.get(3)?,
                text: row.get(4)?,
                id: None,
            },
        })
    })?;
    let mut items = rows.collect::<Result<Vec<_>, _>>()?;
    items.reverse();
    Ok(items)
}

fn write_batches(mut conn: Connection, room: String, pending: Receiver<Replayed>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = pending.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if let Err(e) = insert(&mut conn, &room, &batch) {
            error!(error = %e, lost = batch.len(), "cannot store history batch");
        }
        batch.clear();
    }
}

fn insert(conn: &mut Connection, room: &str, batch: &[Replayed]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut statement = tx.prepare_cached(
            "INSERT OR REPLACE INTO messages (seq, room, time, kind, sender, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for item in batch {
            let m = &item.message;
            let kind = match item.kind {
                MessageKind::Message => "message",
                MessageKind::Action => "action",
            };
            statement.execute(params![
                i64::try_from(m.seq).unwrap_or(i64::MAX),
                room,
                i64::try_from(m.time).unwrap_or(i64::MAX),
                kind,
                m.from,
                m.text
            ])?;
        }
    }
    tx.commit()
}
