//! Who writes incoming lines to the terminal, and when: straight to it
//! while no line is being edited, through rustyline's `ExternalPrinter`
//! while one is, and held back across the moments in between.
//!
//! Why: rustyline's printer itself writes straight to the terminal when it
//! sees the terminal out of raw mode, and queues the line for the editor
//! otherwise; it looks at a flag and then writes, so a line that arrives
//! just as `readline` starts (a room's own join notice, right after the
//! `/join` it answers) could be written after the new prompt instead of
//! above it (`#rust> [22:03] * alice joined`), and one that arrives just as
//! Enter ends editing could land where the typed line is then erased. The
//! editor's helper tells the gate when editing has really begun (its first
//! hint is asked for after raw mode is on) and when it ends (the typed line
//! is validated before raw mode is off); a line that comes in between
//! waits, its printer blocked for those few moments, so lines keep their
//! order. No lock is held while the editor's queue takes a line: it holds
//! one line at a time and only the editor's own thread empties it.

use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustyline::ExternalPrinter;

/// Where a line printed now goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No line is being edited: straight to the terminal.
    Idle,
    /// `readline` was called but has not drawn its prompt yet: wait.
    Opening,
    /// A line is being edited: to the editor, which prints it above.
    Editing,
    /// Enter was pressed: wait until the typed line is erased.
    Closing,
}

/// How long the end of editing waits for lines being handed to the
/// editor. Only a queue the editor has stopped emptying takes longer (it
/// holds one line, and the editor is the thread that is waiting), and
/// then waiting would never end.
const CLOSING_PATIENCE: Duration = Duration::from_millis(50);

/// The terminal's writers, in one place.
pub struct Gate {
    state: Mutex<State>,
    /// Signalled when the phase changes or a hand-over ends.
    changed: Condvar,
    /// The editor's queue, locked only while a line is handed to it.
    printer: Mutex<Box<dyn ExternalPrinter + Send>>,
}

struct State {
    phase: Phase,
    /// Lines being handed to the editor right now.
    handing: usize,
    out: Box<dyn Write + Send>,
}

impl Gate {
    /// A gate over `printer` (for lines while editing) and `out` (the
    /// terminal, for lines while not).
    pub fn new(printer: Box<dyn ExternalPrinter + Send>, out: Box<dyn Write + Send>) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Idle,
                handing: 0,
                out,
            }),
            changed: Condvar::new(),
            printer: Mutex::new(printer),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while printing leaves nothing half-done that matters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        self.lock().phase = phase;
        self.changed.notify_all();
    }

    /// Prints `text` (a whole line, its `\n` included) where it belongs,
    /// waiting while the editor is starting or ending.
    pub fn print(&self, text: String) {
        let mut state = self.lock();
        while matches!(state.phase, Phase::Opening | Phase::Closing) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.phase == Phase::Idle {
            // Under the lock: `readline` cannot start halfway through.
            let _ = state
                .out
                .write_all(text.as_bytes())
                .and_then(|()| state.out.flush());
            return;
        }
        state.handing += 1;
        drop(state);
        {
            let mut printer = self.printer.lock().unwrap_or_else(PoisonError::into_inner);
            // If the terminal is gone there is nowhere to report it.
            let _ = printer.print(text);
        }
        self.lock().handing -= 1;
        self.changed.notify_all();
    }

    /// `readline` is about to be called: lines wait until it has begun.
    pub fn opening(&self) {
        self.set(Phase::Opening);
    }

    /// Called from the editor once it is in raw mode (the helper's hint,
    /// asked for on every repaint): waiting lines go to the editor.
    pub fn editing(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Opening {
            state.phase = Phase::Editing;
            drop(state);
            self.changed.notify_all();
        }
    }

    /// Called from the editor when Enter is pressed, before it leaves raw
    /// mode: lines wait until the typed line is erased, and lines already
    /// being handed to the editor get there first.
    pub fn closing(&self) {
        let mut state = self.lock();
        state.phase = Phase::Closing;
        let (_state, _waited) = self
            .changed
            .wait_timeout_while(state, CLOSING_PATIENCE, |s| s.handing > 0)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// `readline` has returned and the terminal is ours: waiting lines, and
    /// later ones, go straight to the terminal.
    pub fn idle(&self) {
        self.set(Phase::Idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;

    /// Long enough for a line that should wait to have gone if it did not.
    const SETTLE: Duration = Duration::from_millis(100);
    const DEADLINE: Duration = Duration::from_secs(5);

    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<String>>>);

    impl Record {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock().expect("record"))
        }
    }

    impl ExternalPrinter for Record {
        fn print(&mut self, msg: String) -> rustyline::Result<()> {
            self.0.lock().expect("record").push(msg);
            Ok(())
        }
    }

    impl Write for Record {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let text = String::from_utf8_lossy(buf).into_owned();
            self.0.lock().expect("record").push(text);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn gate() -> (Arc<Gate>, Record, Record) {
        let (editor, terminal) = (Record::default(), Record::default());
        let gate = Gate::new(Box::new(editor.clone()), Box::new(terminal.clone()));
        (Arc::new(gate), editor, terminal)
    }

    /// Prints `text` on another thread; the receiver hears when it is done.
    fn print_later(gate: &Arc<Gate>, text: &str) -> mpsc::Receiver<()> {
        let (done, printed) = mpsc::channel();
        let (gate, text) = (gate.clone(), text.to_owned());
        std::thread::spawn(move || {
            gate.print(text);
            let _ = done.send(());
        });
        printed
    }

    #[test]
    fn a_line_while_the_editor_opens_waits_and_then_goes_to_it() {
        let (gate, editor, terminal) = gate();
        gate.print("connecting\n".into());
        assert_eq!(terminal.take(), ["connecting\n"]);
        gate.opening();
        let printed = print_later(&gate, "joined\n");
        assert!(
            printed.recv_timeout(SETTLE).is_err(),
            "printed while opening"
        );
        assert!(terminal.take().is_empty() && editor.take().is_empty());
        gate.editing();
        printed
            .recv_timeout(DEADLINE)
            .expect("printed once editing");
        assert_eq!(editor.take(), ["joined\n"]);
        gate.print("hello\n".into());
        assert_eq!(editor.take(), ["hello\n"]);
        assert!(terminal.take().is_empty());
    }

    #[test]
    fn a_line_after_enter_waits_for_the_erased_line() {
        let (gate, editor, terminal) = gate();
        gate.opening();
        gate.editing();
        gate.closing();
        let printed = print_later(&gate, "one\n");
        assert!(
            printed.recv_timeout(SETTLE).is_err(),
            "printed while closing"
        );
        gate.idle();
        printed.recv_timeout(DEADLINE).expect("printed once idle");
        assert_eq!(terminal.take(), ["one\n"]);
        assert!(editor.take().is_empty());
    }

    #[test]
    fn a_readline_that_never_drew_its_prompt_still_lets_lines_out() {
        let (gate, editor, terminal) = gate();
        gate.opening();
        let printed = print_later(&gate, "after an error\n");
        gate.idle();
        printed.recv_timeout(DEADLINE).expect("printed once idle");
        assert_eq!(terminal.take(), ["after an error\n"]);
        assert!(editor.take().is_empty());
    }

    /// An editor's queue that takes nothing until told to: full, as when
    /// the editor has stopped emptying it.
    struct Stuck(Arc<(Mutex<bool>, Condvar)>);

    impl ExternalPrinter for Stuck {
        fn print(&mut self, _msg: String) -> rustyline::Result<()> {
            let (open, turned) = &*self.0;
            let mut open = open.lock().expect("stuck");
            while !*open {
                open = turned.wait(open).expect("stuck");
            }
            Ok(())
        }
    }

    #[test]
    fn the_end_of_editing_does_not_wait_forever_for_a_full_queue() {
        let valve = Arc::new((Mutex::new(false), Condvar::new()));
        let gate = Arc::new(Gate::new(
            Box::new(Stuck(valve.clone())),
            Box::new(Record::default()),
        ));
        gate.opening();
        gate.editing();
        let printed = print_later(&gate, "stuck\n");
        assert!(printed.recv_timeout(SETTLE).is_err(), "the queue took it");
        let (done, closed) = mpsc::channel();
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.closing();
                let _ = done.send(());
            })
        };
        closed
            .recv_timeout(DEADLINE)
            .expect("closing gave up on the full queue");
        closer.join().expect("closing thread");
        gate.idle();
        *valve.0.lock().expect("valve") = true;
        valve.1.notify_all();
        printed.recv_timeout(DEADLINE).expect("handed over at last");
    }
}
