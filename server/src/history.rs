//! Every room's history in one SQLite file, written in batches by a dedicated
//! thread so that storing never slows the relay.
//!
//! Room brokers hand each relayed message to [`Store::append`], which only
//! queues it; the writer thread commits whatever has queued in one
//! transaction, then trims the rooms it wrote to down to the retention limit
//! ([`Keep`]). The database runs in WAL mode with `synchronous=NORMAL`: a
//! committed batch survives `kill -9` (the loss window is what is still
//! queued, normally one batch), and a clean shutdown drains the queue first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use chat_core::protocol::{ChatMessage, MessageKind, Replayed};

use crate::access::{Ban, BanTarget};
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
    /// Another server holds the database.
    #[error("history database {path} is in use by another chat-server ({holder}); give each server its own --history-db")]
    InUse {
        /// The database file.
        path: PathBuf,
        /// Who holds it, as it wrote in the lock file.
        holder: String,
    },
    /// The lock beside the database cannot be taken.
    #[error("cannot lock history database {path}: {source}")]
    Lock {
        /// The database file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// One database, one server: held for the server's lifetime, an exclusive
/// lock on `DB.lock` beside the database, which says who holds it. Two
/// servers numbering one room's messages independently would repeat
/// sequence numbers.
#[derive(Debug)]
pub struct DbLock {
    _file: std::fs::File,
}

impl DbLock {
    /// Takes the lock for the database at `path`; `owner` (the process and
    /// address) is written into it for whoever is refused.
    ///
    /// # Errors
    /// [`HistoryError::InUse`] when another server holds it.
    pub fn take(path: &Path, owner: &str) -> Result<DbLock, HistoryError> {
        use std::io::{Read, Seek, Write};
        create_parent(path)?;
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let failed = |source| HistoryError::Lock {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(HistoryError::InUse {
                    path: path.to_owned(),
                    holder: if holder.is_empty() {
                        "unknown".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        writeln!(file, "{owner}").map_err(failed)?;
        Ok(DbLock { _file: file })
    }
}

fn create_parent(path: &Path) -> Result<(), HistoryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| HistoryError::Directory {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// How much history each room keeps: the database would otherwise grow for
/// ever now that anyone can create rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The newest N messages of each room.
    Count(u64),
    /// Messages younger than this.
    Age(Duration),
    /// Everything.
    All,
}

impl Default for Keep {
    /// The newest 10,000 messages of each room.
    fn default() -> Self {
        Keep::Count(10_000)
    }
}

impl std::str::FromStr for Keep {
    type Err = String;

    /// `10000` (messages), `30d`, `12h`, `90m` (age) or `all`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("all") {
            return Ok(Keep::All);
        }
        let bad =
            || format!("expected a count (10000), an age (30d, 12h, 90m) or all, not {spec:?}");
        let (number, unit) = spec.split_at(
            spec.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(spec.len()),
        );
        let n: u64 = number.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(
                "--history-keep must be above 0 (use --no-history to keep nothing)".to_owned(),
            );
        }
        let secs = match unit {
            "" => return Ok(Keep::Count(n)),
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(bad()),
        };
        Ok(Keep::Age(Duration::from_secs(n.saturating_mul(secs))))
    }
}

/// What the store holds for a room when the room starts.
#[derive(Debug)]
pub struct Loaded {
    /// The newest messages of the room, oldest first.
    pub recent: Vec<Replayed>,
    /// The sequence number the next message gets: numbers keep rising
    /// across restarts.
    pub next_seq: u64,
}

/// What the writer thread is asked to do.
enum Job {
    Append(String, Replayed),
    /// Answer once everything queued before is committed.
    Flush(SyncSender<()>),
}

/// The open history: a queue into the writer thread.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    queue: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Append(room, item) => write!(f, "Append({room}, {})", item.message.seq),
            Job::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, checks it, and moves a
    /// version-1 (one room) history into the per-room table.
    ///
    /// # Errors
    /// A [`HistoryError`] that names the file and says what is wrong.
    pub fn open(path: &Path, keep: Keep) -> Result<Store, HistoryError> {
        create_parent(path)?;
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
        // Each room numbers its own messages, so the key is (room, seq);
        // `room` holds the room's key (case folded).
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS room_messages (
                 room   TEXT    NOT NULL,
                 seq    INTEGER NOT NULL,
                 time   INTEGER NOT NULL,
                 kind   TEXT    NOT NULL,
                 sender TEXT    NOT NULL,
                 text   TEXT    NOT NULL,
                 PRIMARY KEY (room, seq)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS room_messages_time ON room_messages (time);",
        )
        .map_err(|source| classify(path, source))?;
        migrate_one_room_table(&conn).map_err(|source| classify(path, source))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bans (
                 kind   TEXT    NOT NULL,
                 target TEXT    NOT NULL,
                 by     TEXT    NOT NULL,
                 time   INTEGER NOT NULL,
                 until  INTEGER,
                 reason TEXT,
                 PRIMARY KEY (kind, target)
             );",
        )
        .map_err(|source| classify(path, source))?;
        // Find out now, not at the first message, if the file is read-only.
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(|source| HistoryError::ReadOnly {
                path: path.to_owned(),
                source,
            })?;
        let (queue, pending) = mpsc::sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_batches(conn, keep, pending))
            .map_err(|e| HistoryError::Corrupt {
                path: path.to_owned(),
                detail: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Store {
            path: path.to_owned(),
            queue: Some(queue),
            writer: Some(writer),
        })
    }

    /// What the database holds for the room with key `room`: its newest
    /// `recent` messages and the number its next message gets. Waits until
    /// everything queued is stored first, so a room that closed and opens
    /// again continues where it stopped. Blocks: call from a blocking thread.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn load(&self, room: &str, recent: usize) -> Result<Loaded, HistoryError> {
        self.flush();
        let conn = connect(&self.path, true)?;
        let last: Option<i64> = conn
            .query_row(
                "SELECT MAX(seq) FROM room_messages WHERE room = ?1",
                [room],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        // After the highest stored number, and never below the clock in
        // microseconds: messages lost in a crash had numbers above what is
        // stored, and clients that saw them must not see them reused.
        let after_stored = last.map_or(1, |s| u64::try_from(s).unwrap_or(0) + 1);
        let next_seq = after_stored.max(chat_core::protocol::now_millis().saturating_mul(1000));
        let recent = page(&conn, room, None, u32::try_from(recent).unwrap_or(MAX_PAGE))?;
        Ok(Loaded { recent, next_seq })
    }

    /// The bans stored, those run out left out. Blocks.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub(crate) fn bans(&self) -> Result<Vec<Ban>, HistoryError> {
        let conn = connect(&self.path, true)?;
        let mut statement =
            conn.prepare("SELECT kind, target, by, time, until, reason FROM bans ORDER BY time")?;
        let rows = statement.query_map([], |row| {
            let kind: String = row.get(0)?;
            let target: String = row.get(1)?;
            let until: Option<i64> = row.get(4)?;
            Ok((
                kind,
                target,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                until,
                row.get::<_, Option<String>>(5)?,
            ))
        })?;
        let now = chat_core::protocol::now_millis();
        let mut bans = Vec::new();
        for row in rows {
            let (kind, target, by, time, until, reason) = row?;
            let target = match kind.as_str() {
                "address" => match target.parse() {
                    Ok(ip) => BanTarget::Address(ip),
                    Err(_) => continue,
                },
                _ => BanTarget::Name(target),
            };
            let until = until.map(|u| u64::try_from(u).unwrap_or(0));
            if until.is_some_and(|u| u <= now) {
                continue;
            }
            bans.push(Ban {
                target,
                by,
                time: u64::try_from(time).unwrap_or(0),
                until,
                reason,
            });
        }
        Ok(bans)
    }

    /// Stores a ban (replacing one on the same target). Blocks.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub(crate) fn save_ban(&self, ban: &Ban) -> Result<(), HistoryError> {
        let conn = connect(&self.path, false)?;
        let (kind, target) = ban_key(&ban.target);
        conn.execute(
            "INSERT OR REPLACE INTO bans (kind, target, by, time, until, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                kind,
                target,
                ban.by,
                i64::try_from(ban.time).unwrap_or(i64::MAX),
                ban.until.map(|u| i64::try_from(u).unwrap_or(i64::MAX)),
                ban.reason
            ],
        )?;
        Ok(())
    }

    /// Forgets a stored ban. Blocks.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub(crate) fn delete_ban(&self, target: &BanTarget) -> Result<(), HistoryError> {
        let conn = connect(&self.path, false)?;
        let (kind, target) = ban_key(target);
        conn.execute(
            "DELETE FROM bans WHERE kind = ?1 AND target = ?2",
            params![kind, target],
        )?;
        Ok(())
    }

    /// Waits until everything queued so far is committed. Blocks.
    pub fn flush(&self) {
        if let Some(queue) = &self.queue {
            let (done, flushed) = mpsc::sync_channel(1);
            if queue.send(Job::Flush(done)).is_ok() {
                let _ = flushed.recv();
            }
        }
    }

    /// Queues a relayed message of the room with key `room` for the
    /// writer; never blocks.
    pub fn append(&self, room: &str, message: Replayed) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(Job::Append(room.to_owned(), message)) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                warn!(?job, "history writer is behind; message not stored");
            }
            Err(TrySendError::Disconnected(job)) => {
                error!(?job, "history writer has stopped; message not stored");
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader for the history requests of the room with key `room`,
    /// usable from a blocking thread.
    pub fn reader(&self, room: &str) -> Reader {
        Reader {
            path: self.path.clone(),
            room: room.to_owned(),
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
        "SELECT seq, time, kind, sender, text FROM room_messages
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

fn ban_key(target: &BanTarget) -> (&'static str, String) {
    match target {
        BanTarget::Name(name) => ("name", name.clone()),
        BanTarget::Address(ip) => ("address", ip.to_string()),
    }
}

/// Moves the messages of a version-1 database (one room, numbered by a
/// single key) into `room_messages`, once.
fn migrate_one_room_table(conn: &Connection) -> rusqlite::Result<()> {
    let old: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if old.is_some() {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT OR IGNORE INTO room_messages (room, seq, time, kind, sender, text)
                 SELECT lower(room), seq, time, kind, sender, text FROM messages;
             DROP TABLE messages;
             COMMIT;",
        )?;
    }
    Ok(())
}

fn write_batches(mut conn: Connection, keep: Keep, pending: Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Ok(first) = pending.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append(room, item) => batch.push((room, item)),
                Job::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH {
                next = pending.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if let Err(e) = insert(&mut conn, &batch) {
                error!(error = %e, lost = batch.len(), "cannot store history batch");
            }
            let rooms: HashSet<&str> = batch.iter().map(|(room, _)| room.as_str()).collect();
            if let Err(e) = trim(&conn, keep, rooms) {
                warn!(error = %e, "cannot trim history to --history-keep");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Deletes what is beyond the retention limit in the rooms just written to.
fn trim<'a>(
    conn: &Connection,
    keep: Keep,
    rooms: impl IntoIterator<Item = &'a str>,
) -> rusqlite::Result<()> {
    match keep {
        Keep::All => {}
        Keep::Count(n) => {
            let mut statement = conn.prepare_cached(
                "DELETE FROM room_messages WHERE room = ?1 AND seq <= (
                     SELECT seq FROM room_messages WHERE room = ?1
                     ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
            )?;
            for room in rooms {
                statement.execute(params![room, i64::try_from(n).unwrap_or(i64::MAX)])?;
            }
        }
        Keep::Age(age) => {
            let cutoff = chat_core::protocol::now_millis()
                .saturating_sub(u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
            let mut statement =
                conn.prepare_cached("DELETE FROM room_messages WHERE room = ?1 AND time < ?2")?;
            for room in rooms {
                statement.execute(params![room, i64::try_from(cutoff).unwrap_or(i64::MAX)])?;
            }
        }
    }
    Ok(())
}

fn insert(conn: &mut Connection, batch: &[(String, Replayed)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut statement = tx.prepare_cached(
            "INSERT OR REPLACE INTO room_messages (room, seq, time, kind, sender, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (room, item) in batch {
            let m = &item.message;
            let kind = match item.kind {
                MessageKind::Message => "message",
                MessageKind::Action => "action",
            };
            statement.execute(params![
                room,
                i64::try_from(m.seq).unwrap_or(i64::MAX),
                i64::try_from(m.time).unwrap_or(i64::MAX),
                kind,
                m.from,
                m.text
            ])?;
        }
    }
    tx.commit()
}
