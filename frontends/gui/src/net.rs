//! The network side: one async-std task per session owns the `TcpSession`
//! and hands its events to the UI thread in batches.
//!
//! Delivery goes through druid's `ExtEventSink::add_idle_callback`, never
//! `submit_command`: `submit_command` wakes the UI *before* it queues the
//! command, so the newest item can sit undelivered until the next one
//! arrives. An idle callback carries its own work, so once it is scheduled
//! it runs. [`Bridge`] keeps at most one callback in flight: the task appends
//! to a shared batch and schedules a callback only when none is pending; the
//! callback takes the whole batch. Whatever is appended after a callback
//! took the batch schedules a new one, so the last event is always
//! delivered, and a busy room costs one UI update per batch, not per message.

use std::sync::{Arc, Mutex, PoisonError};

use chat_core::protocol::ErrorCode;
use chat_core::{ChatError, ChatSession, Input, SessionConfig, TcpSession};
use druid::ExtEventSink;
use futures::future::{AbortHandle, Abortable};
use futures::StreamExt;

use crate::state::{AppState, Cancel, ConnectSpec, Connector, NetMsg, Outbox, BAD_PASSWORD_HINT};

/// Work for the UI thread.
pub type UiWork = Box<dyn FnOnce(&mut AppState) + Send>;

/// Runs work on the UI thread with the app's data. Implemented by druid's
/// `ExtEventSink`; tests use their own.
pub trait UiQueue: Send + Sync + 'static {
    /// Runs `work` on the UI thread, soon.
    fn schedule(&self, work: UiWork);
}

impl UiQueue for ExtEventSink {
    fn schedule(&self, work: UiWork) {
        self.add_idle_callback(move |state: &mut AppState| work(state));
    }
}

#[derive(Default)]
struct Batch {
    msgs: Vec<NetMsg>,
    scheduled: bool,
}

/// Hands one session's reports to the UI, batched; see the module docs.
/// Clones share the batch.
pub struct Bridge<Q: UiQueue> {
    queue: Arc<Q>,
    generation: u64,
    batch: Arc<Mutex<Batch>>,
}

impl<Q: UiQueue> Clone for Bridge<Q> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            generation: self.generation,
            batch: self.batch.clone(),
        }
    }
}

impl<Q: UiQueue> Bridge<Q> {
    /// A bridge for the session of `generation`.
    pub fn new(queue: Arc<Q>, generation: u64) -> Self {
        Self {
            queue,
            generation,
            batch: Arc::default(),
        }
    }

    /// Queues `msg` for the UI.
    pub fn push(&self, msg: NetMsg) {
        let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        batch.msgs.push(msg);
        if batch.scheduled {
            return;
        }
        batch.scheduled = true;
        let shared = self.batch.clone();
        let generation = self.generation;
        // Scheduled under the lock: the callback cannot take the batch (and
        // clear `scheduled`) before this push has finished.
        self.queue.schedule(Box::new(move |state: &mut AppState| {
            let msgs = {
                let mut batch = shared.lock().unwrap_or_else(PoisonError::into_inner);
                batch.scheduled = false;
                std::mem::take(&mut batch.msgs)
            };
            state.apply(generation, msgs);
        }));
    }
}

/// Connects sessions for the app; the UI reaches it through [`Connector`].
pub struct Net<Q: UiQueue> {
    queue: Arc<Q>,
}

impl<Q: UiQueue> Net<Q> {
    /// Delivers to the UI through `queue`.
    pub fn new(queue: Q) -> Self {
        Self {
            queue: Arc::new(queue),
        }
    }
}

struct AbortOnCancel(AbortHandle);

impl Cancel for AbortOnCancel {
    fn cancel(&self) {
        self.0.abort();
    }
}

impl<Q: UiQueue> Connector for Net<Q> {
    fn start(&self, generation: u64, spec: ConnectSpec) -> Box<dyn Cancel> {
        let bridge = Bridge::new(self.queue.clone(), generation);
        let (handle, registration) = AbortHandle::new_pair();
        // Aborting drops the session's event stream and sender, which ends
        // it (a polite quit was queued first when connected).
        async_std::task::spawn(Abortable::new(run(bridge, spec), registration));
        Box::new(AbortOnCancel(handle))
    }
}

/// The session's configuration for `spec`.
fn session_config(spec: ConnectSpec) -> SessionConfig {
    let mut config = SessionConfig::new(spec.addr, spec.name)
        .reconnecting()
        .with_client(format!("chat-gui/{}", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = spec.tls {
        config = config.with_tls(tls);
    }
    if let Some(password) = spec.password {
        config = config.with_password(password);
    }
    if let Some((ping_after, dead_after)) = spec.liveness {
        config = config.with_liveness(ping_after, dead_after);
    }
    config
}

/// A failed connection, said for the window: what happened and what to do.
pub fn explain(error: &ChatError) -> String {
    match error {
        ChatError::Refused {
            code: ErrorCode::BadPassword,
            message,
        } => format!("{BAD_PASSWORD_HINT}: the server said \"{message}\"; type it again and connect"),
        ChatError::Refused { message, .. } if message.contains("requires TLS") => {
            format!("{error}; tick TLS and connect again")
        }
        ChatError::NotTls { addr } => format!(
            "the server at {addr} does not speak TLS (it answered in plain text); untick TLS and connect again"
        ),
        // chat-core's own hint names the --ca flag; the window has a field.
        ChatError::UntrustedCertificate { addr, message } => format!(
            "TLS with {addr} failed: {message}. The server's certificate is not trusted: \
             put the very certificate it serves (the chat-cert.pem written by chat-server \
             gen-cert), or its CA's, in the CA file field (… picks it) and connect again"
        ),
        ChatError::Tls { message, .. } if message.contains("certificate") => format!(
            "{error}. The server's certificate is not trusted: start chat-gui with --ca FILE \
             holding the server's (or its CA's) certificate"
        ),
        _ => error.to_string(),
    }
}

/// One session: connect, then forward every event until it ends.
async fn run<Q: UiQueue>(bridge: Bridge<Q>, spec: ConnectSpec) {
    let session = match TcpSession::connect(session_config(spec)).await {
        Ok(session) => session,
        Err(e) => return bridge.push(NetMsg::Failed(explain(&e))),
    };
    let (sender, mut events) = session.split();
    let asker = sender.clone();
    let switcher = sender.clone();
    let reporter = bridge.clone();
    let outbox = Outbox::new(move |input: Input| {
        sender.try_send(input).map(drop).map_err(|e| e.to_string())
    })
    .with_switch(move |room| switcher.switch_room(room).map_err(|e| e.to_string()))
    .with_history(move |room, before, limit| {
        // chat-core has no non-blocking history call; checking here keeps
        // the common refusal synchronous, and the rare late failure comes
        // back as a report.
        if !asker.is_connected() {
            return Err(ChatError::NotConnected.to_string());
        }
        let asker = asker.clone();
        let reporter = reporter.clone();
        let room = room.to_owned();
        async_std::task::spawn(async move {
            if let Err(e) = asker.history_in(Some(&room), before, limit).await {
                reporter.push(NetMsg::HistoryFailed(format!(
                    "cannot ask for older messages: {e}"
                )));
            }
        });
        Ok(())
    });
    bridge.push(NetMsg::Ready(outbox));
    while let Some(event) = events.next().await {
        bridge.push(NetMsg::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::protocol::ChatMessage;
    use chat_core::Event;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A stand-in for the UI thread: callbacks queue up and a separate
    /// thread runs them in order, at its own pace.
    struct ThreadQueue(Mutex<mpsc::Sender<UiWork>>);

    impl UiQueue for ThreadQueue {
        fn schedule(&self, work: UiWork) {
            let _ = self.0.lock().unwrap().send(work);
        }
    }

    fn message(n: usize) -> NetMsg {
        NetMsg::Event(Event::Message(ChatMessage {
            room: None,
            seq: n as u64,
            time: 0,
            from: "bob".into(),
            text: format!("m{n}"),
            id: None,
        }))
    }

    #[test]
    fn every_message_and_the_last_one_reach_the_ui_in_order() {
        const N: usize = 20_000;
        let (tx, rx) = mpsc::channel::<UiWork>();
        let queue = Arc::new(ThreadQueue(Mutex::new(tx)));
        let (done_tx, done_rx) = mpsc::channel();
        let ui = std::thread::spawn(move || {
            let mut state = AppState::new("a:1", "me").with_scrollback(N + 10);
            state.connect();
            let mut callbacks = 0usize;
            while let Ok(work) = rx.recv_timeout(Duration::from_secs(10)) {
                work(&mut state);
                callbacks += 1;
                if state.log().len() == N + 1 {
                    break;
                }
                if callbacks.is_multiple_of(7) {
                    // A slow frame now and then, so batches form.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let _ = done_tx.send((state, callbacks));
        });
        let bridge = Bridge::new(queue, 1);
        for n in 0..N {
            bridge.push(message(n));
            if n % 1000 == 0 {
                std::thread::yield_now();
            }
        }
        let (state, callbacks) = done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the UI thread saw every message");
        ui.join().unwrap();
        let texts: Vec<&str> = state
            .log()
            .lines()
            .iter()
            .skip(1)
            .map(|l| l.text.as_ref())
            .collect();
        assert_eq!(texts.len(), N);
        assert_eq!(texts.last().copied(), Some(format!("m{}", N - 1).as_str()));
        assert!(texts.iter().enumerate().all(|(i, t)| *t == format!("m{i}")));
        assert!(callbacks <= N, "never more callbacks than messages");
    }

    #[test]
    fn a_lone_last_message_is_delivered_without_a_successor() {
        let (tx, rx) = mpsc::channel::<UiWork>();
        let bridge = Bridge::new(Arc::new(ThreadQueue(Mutex::new(tx))), 1);
        let mut state = AppState::new("a:1", "me");
        state.connect();
        bridge.push(message(1));
        // The first callback is in flight; run it, then push one more: it
        // must schedule a callback of its own.
        rx.recv_timeout(Duration::from_secs(5)).unwrap()(&mut state);
        bridge.push(message(2));
        rx.recv_timeout(Duration::from_secs(5)).unwrap()(&mut state);
        assert_eq!(state.log().lines().last().unwrap().text.as_ref(), "m2");
        assert!(rx.try_recv().is_err(), "nothing left over");
    }
}
