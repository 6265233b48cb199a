//! Reading a process's (or one thread's) CPU time and memory from `/proc`:
//! each thread's `schedstat` for its time on a CPU to the nanosecond, `stat`
//! for user + system ticks when threads came or went, `status` for VmRSS and
//! VmHWM; and the whole machine's busy time from `/proc/stat`, to see what
//! else ran.
//!
//! Why nanoseconds: a paced run costs a server 0.2–0.3 s of CPU, 20–30 ticks
//! of 10 ms, so a tick is 3–5 % of the figure and a ratio of two servers'
//! moved in steps of 5 % from run to run whatever they did.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context};

/// CPU ticks from a `stat` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    /// Time in user mode.
    pub utime: u64,
    /// Time in kernel mode.
    pub stime: u64,
}

impl CpuTicks {
    /// User plus system time, in seconds.
    pub fn secs(self) -> f64 {
        (self.utime + self.stime) as f64 / clk_tck() as f64
    }
}

/// Memory figures from a `status` file, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kib: u64,
    /// Peak resident set size.
    pub hwm_kib: u64,
}

/// Parses utime and stime (fields 14 and 15) from a `/proc/.../stat` line.
///
/// # Errors
/// When the line does not have the expected shape.
pub fn parse_stat(line: &str) -> anyhow::Result<CpuTicks> {
    // The command name (field 2) may hold spaces and parentheses: the fields
    // are counted from the last ')'.
    let Some(close) = line.rfind(')') else {
        bail!("no ')' in stat line");
    };
    let fields: Vec<&str> = line[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .with_context(|| format!("stat has no field {n}"))?
            .parse()
            .with_context(|| format!("stat field {n} is not a number"))
    };
    Ok(CpuTicks {
        utime: field(14)?,
        stime: field(15)?,
    })
}

/// Parses VmRSS and VmHWM from a `/proc/.../status` file.
///
/// # Errors
/// When either line is missing (for example, a kernel thread).
pub fn parse_status(text: &str) -> anyhow::Result<Memory> {
    let kib = |key: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .with_context(|| format!("status has no {key}"))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("bad {key} line: {line:?}"))
    };
    Ok(Memory {
        rss_kib: kib("VmRSS:")?,
        hwm_kib: kib("VmHWM:")?,
    })
}

/// Clock ticks per second, from `getconf CLK_TCK` (100 when that fails).
pub fn clk_tck() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Where to read figures from: a process, or one thread of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A whole process (CPU and memory).
    Process(u32),
    /// One thread's directory, `/proc/PID/task/TID` (CPU only).
    Thread(PathBuf),
    /// Several processes together (a cluster's nodes and its Redis): CPU
    /// and memory summed.
    Processes(Vec<u32>),
}

/// One reading of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// User + system CPU seconds so far, in whole ticks; it counts threads
    /// that have ended too.
    pub cpu_secs: f64,
    /// Memory, when the probe is a process.
    pub memory: Option<Memory>,
    /// The live threads' time on a CPU to the nanosecond, when every one of
    /// them could be read.
    pub threads: Option<ThreadTimes>,
}

impl Sample {
    /// CPU seconds spent between `earlier` and this reading: to the
    /// nanosecond when the same threads were there both times, else in
    /// ticks (a thread that ended in between took its nanoseconds with it).
    pub fn cpu_since(&self, earlier: &Sample) -> f64 {
        match (self.threads, earlier.threads) {
            (Some(now), Some(then)) if now.same_threads(&then) => {
                now.nanos.saturating_sub(then.nanos) as f64 / 1e9
            }
            _ => self.cpu_secs - earlier.cpu_secs,
        }
    }
}

/// Nanoseconds on a CPU, summed over a set of threads, and which threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadTimes {
    /// Time on a CPU, in nanoseconds.
    pub nanos: u64,
    /// How many threads.
    count: u64,
    /// Their ids mixed together, to tell one set from another.
    ids: u64,
}

impl ThreadTimes {
    fn add(&mut self, id: u64, nanos: u64) {
        self.nanos += nanos;
        self.count += 1;
        // Sums of ids and of their squares tell sets apart (with a sum
        // alone, threads 1 and 6 giving way to 3 and 4 would be no change).
        self.ids = self
            .ids
            .wrapping_add(id)
            .wrapping_add(id.wrapping_mul(id) << 20);
    }

    fn merge(&mut self, other: ThreadTimes) {
        self.nanos += other.nanos;
        self.count += other.count;
        self.ids = self.ids.wrapping_add(other.ids);
    }

    /// Whether both readings are of the same threads.
    pub fn same_threads(&self, other: &ThreadTimes) -> bool {
        self.count == other.count && self.ids == other.ids
    }

    /// Reads the threads of a process directory (`/proc/PID`), or the one
    /// thread of a thread directory (`/proc/PID/task/TID`).
    fn read(dir: &Path, whole_process: bool) -> Option<ThreadTimes> {
        let mut times = ThreadTimes::default();
        if whole_process {
            for entry in std::fs::read_dir(dir.join("task")).ok()? {
                let entry = entry.ok()?;
                let id = entry.file_name().to_str()?.parse().ok()?;
                times.add(id, read_schedstat(&entry.path())?);
            }
        } else {
            let id = dir.file_name()?.to_str()?.parse().ok()?;
            times.add(id, read_schedstat(dir)?);
        }
        Some(times)
    }
}

fn read_schedstat(dir: &Path) -> Option<u64> {
    parse_schedstat(&std::fs::read_to_string(dir.join("schedstat")).ok()?)
}

/// Time on a CPU, in nanoseconds: the first field of a `schedstat` file
/// (then time waiting to run, then how many times it ran).
pub fn parse_schedstat(text: &str) -> Option<u64> {
    let mut fields = text.split_whitespace();
    let nanos = fields.next()?.parse().ok()?;
    // The other two fields must be there too, or this is not a schedstat.
    fields.nth(1)?;
    Some(nanos)
}

impl Probe {
    fn dir(&self) -> PathBuf {
        match self {
            Probe::Process(pid) => Path::new("/proc").join(pid.to_string()),
            Probe::Thread(dir) => dir.clone(),
            Probe::Processes(pids) => {
                Path::new("/proc").join(pids.first().unwrap_or(&0).to_string())
            }
        }
    }

    /// Reads CPU time and (for a process) memory now.
    ///
    /// # Errors
    /// When the process is gone or `/proc` is unreadable.
    pub fn sample(&self) -> anyhow::Result<Sample> {
        if let Probe::Processes(pids) = self {
            let mut total = Sample {
                cpu_secs: 0.0,
                memory: Some(Memory::default()),
                threads: Some(ThreadTimes::default()),
            };
            for pid in pids {
                let one = Probe::Process(*pid).sample()?;
                total.cpu_secs += one.cpu_secs;
                if let (Some(sum), Some(m)) = (total.memory.as_mut(), one.memory) {
                    sum.rss_kib += m.rss_kib;
                    sum.hwm_kib += m.hwm_kib;
                }
                total.threads = total.threads.zip(one.threads).map(|(mut sum, t)| {
                    sum.merge(t);
                    sum
                });
            }
            return Ok(total);
        }
        let dir = self.dir();
        let stat = std::fs::read_to_string(dir.join("stat"))
            .with_context(|| format!("cannot read {}/stat", dir.display()))?;
        let cpu_secs = parse_stat(&stat)?.secs();
        let threads = ThreadTimes::read(&dir, matches!(self, Probe::Process(_)));
        let memory = match self {
            Probe::Process(_) => {
                let status = std::fs::read_to_string(dir.join("status"))
                    .with_context(|| format!("cannot read {}/status", dir.display()))?;
                Some(parse_status(&status)?)
            }
            Probe::Thread(_) | Probe::Processes(_) => None,
        };
        Ok(Sample {
            cpu_secs,
            memory,
            threads,
        })
    }
}

/// CPU seconds the whole machine has been busy (every core, every process:
/// all but idle and I/O wait), from `/proc/stat`.
pub fn machine_busy_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_busy(text.lines().next()?).map(|ticks| ticks as f64 / clk_tck() as f64)
}

/// Busy ticks from the `cpu` line of `/proc/stat`: user, nice, system, irq,
/// softirq and steal (idle and iowait left out; guest time is already in
/// user).
pub fn parse_machine_busy(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    Some(user + nice + system + irq + softirq + steal)
}

/// This process's soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&text)
}

/// The soft "Max open files" figure of a `limits` file.
pub fn parse_open_files_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The `/proc` directory of the calling thread.
pub fn this_thread() -> Option<PathBuf> {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .map(|rel| Path::new("/proc").join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_counted_after_the_command() {
        let line = "4242 (chat server) (x)) S 1 4242 4242 0 -1 4194560 1500 0 0 0 \
                    731 215 0 0 20 0 3 0 123 456789 1234 18446744073709551615";
        assert_eq!(
            parse_stat(line).expect("valid"),
            CpuTicks {
                utime: 731,
                stime: 215
            }
        );
        assert!(parse_stat("12 (x) S 1 2").is_err());
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn schedstat_first_of_three_fields() {
        assert_eq!(parse_schedstat("341536356 595943 54\n"), Some(341_536_356));
        assert_eq!(parse_schedstat("341536356 595943"), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn cpu_in_nanoseconds_only_across_the_same_threads() {
        let mut a = ThreadTimes::default();
        a.add(10, 1_000_000);
        a.add(11, 2_000_000);
        let mut b = ThreadTimes::default();
        b.add(10, 1_500_000);
        b.add(11, 2_250_000);
        let then = Sample {
            cpu_secs: 0.01,
            memory: None,
            threads: Some(a),
        };
        let now = Sample {
            cpu_secs: 0.02,
            memory: None,
            threads: Some(b),
        };
        assert!((now.cpu_since(&then) - 0.000_75).abs() < 1e-12);
        // Thread 11 ended and 12 began: back to ticks.
        let mut c = ThreadTimes::default();
        c.add(10, 1_500_000);
        c.add(12, 250_000);
        let changed = Sample {
            threads: Some(c),
            ..now
        };
        assert!((changed.cpu_since(&then) - 0.01).abs() < 1e-12);
        // Ids with the same sum are still a different set.
        let mut d = ThreadTimes::default();
        d.add(9, 1_500_000);
        d.add(12, 250_000);
        assert!(!d.same_threads(&a));
    }

    #[test]
    fn status_memory_lines() {
        let text =
            "Name:\tchat-server\nVmPeak:\t  100 kB\nVmHWM:\t   24400 kB\nVmRSS:\t   11700 kB\n";
        assert_eq!(
            parse_status(text).expect("valid"),
            Memory {
                rss_kib: 11700,
                hwm_kib: 24400
            }
        );
        assert!(parse_status("Name: kthread\n").is_err());
    }

    #[test]
    fn machine_busy_leaves_out_idle_and_iowait() {
        let line = "cpu  100 5 50 9000 40 3 2 1 0 0";
        assert_eq!(parse_machine_busy(line), Some(161));
        assert_eq!(parse_machine_busy("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_machine_busy("cpu 1 2 x"), None);
        assert!(machine_busy_secs().is_some_and(|s| s > 0.0));
    }

    #[test]
    fn open_files_line() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             95000                95000                processes \n\
                    Max open files            20000                40000                files     \n";
        assert_eq!(parse_open_files_limit(text), Some(20000));
        assert_eq!(parse_open_files_limit("nothing"), None);
        assert!(open_files_limit().is_some());
    }

    #[test]
    fn reads_this_process_and_thread() {
        let me = Probe::Process(std::process::id()).sample().expect("self");
        assert!(me.memory.expect("process has memory").rss_kib > 0);
        assert!(me.threads.is_some_and(|t| t.nanos > 0 && t.count >= 1));
        let thread = Probe::Thread(this_thread().expect("thread-self"))
            .sample()
            .expect("thread");
        assert!(thread.memory.is_none());
        assert_eq!(thread.threads.map(|t| t.count), Some(1));
        assert!(clk_tck() > 0);
    }
}
