//! Context switches of a probed process (every thread) or thread, from the
//! `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` lines of
//! `/proc/.../status`: how often the server's threads went to sleep and
//! were woken, or were preempted, which a relay that hands each line to
//! another thread pays per delivery.

use std::path::Path;

use crate::procfs::Probe;

/// Switches counted in one `status` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Switches {
    /// The thread gave up the CPU (waited for something).
    pub voluntary: u64,
    /// The thread was preempted.
    pub nonvoluntary: u64,
}

impl Switches {
    /// Both kinds.
    pub fn total(self) -> u64 {
        self.voluntary + self.nonvoluntary
    }

    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            nonvoluntary: self.nonvoluntary.saturating_sub(earlier.nonvoluntary),
        }
    }

    fn add(self, other: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary + other.voluntary,
            nonvoluntary: self.nonvoluntary + other.nonvoluntary,
        }
    }
}

/// The two switch counts of a `status` file; `None` when either is missing.
pub fn parse_switches(status: &str) -> Option<Switches> {
    let count = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().parse().ok()
    };
    Some(Switches {
        voluntary: count("voluntary_ctxt_switches:")?,
        nonvoluntary: count("nonvoluntary_ctxt_switches:")?,
    })
}

fn read_one(dir: &Path) -> Option<Switches> {
    parse_switches(&std::fs::read_to_string(dir.join("status")).ok()?)
}

/// Every thread of a process, summed over `/proc/PID/task/*/status` (the
/// process's own `status` counts only its main thread). A thread that ended
/// before the reading is not counted.
fn process_total(pid: u32) -> Option<Switches> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut sum = Switches::default();
    for entry in std::fs::read_dir(tasks).ok()? {
        // A thread may end between the listing and the reading.
        if let Some(one) = read_one(&entry.ok()?.path()) {
            sum = sum.add(one);
        }
    }
    Some(sum)
}

/// The probe's context switches so far: every thread of a process (or of
/// each process), or the one thread.
pub fn read(probe: &Probe) -> Option<Switches> {
    match probe {
        Probe::Process(pid) => process_total(*pid),
        Probe::Thread(dir) => read_one(dir),
        Probe::Processes(pids) => pids.iter().try_fold(Switches::default(), |sum, pid| {
            Some(sum.add(process_total(*pid)?))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_both_kinds() {
        let text = "Name:\tchat-server\nvoluntary_ctxt_switches:\t1200\n\
                    nonvoluntary_ctxt_switches:\t34\n";
        let s = parse_switches(text).expect("valid");
        assert_eq!(
            s,
            Switches {
                voluntary: 1200,
                nonvoluntary: 34
            }
        );
        assert_eq!(s.total(), 1234);
        let later = Switches {
            voluntary: 1300,
            nonvoluntary: 40,
        };
        assert_eq!(later.since(s).total(), 106);
        assert_eq!(parse_switches("voluntary_ctxt_switches: 3\n"), None);
    }

    #[test]
    fn reads_this_process_and_thread() {
        // The thread first: the process, read later, includes at least that.
        let thread = read(&Probe::Thread(
            crate::procfs::this_thread().expect("thread-self"),
        ))
        .expect("thread");
        let process = read(&Probe::Process(std::process::id())).expect("process");
        assert!(process.total() >= thread.total());
        assert!(read(&Probe::Processes(vec![std::process::id()])).is_some());
    }
}
