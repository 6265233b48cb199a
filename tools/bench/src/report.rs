//! Tables: a run's figures as rows, the median of several runs, and two
//! runs side by side with their ratio (the relay beside the baseline, or
//! R busy rooms beside one), printed as Markdown so a run pastes straight
//! into `docs/BENCHMARKS.md`.

use crate::scenario::RelayReport;
use crate::stats::median;

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A whole number.
    Count,
    /// Seconds, three decimals.
    Secs,
    /// Milliseconds, three decimals.
    Millis,
    /// A rate or other large figure, no decimals.
    Rate,
    /// Two decimals.
    Fixed2,
}

/// One named figure of a run; `None` when not measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    /// Row label.
    pub label: &'static str,
    /// Value.
    pub value: Option<f64>,
    /// Display.
    pub unit: Unit,
    /// Whether relay/baseline is worth printing for it.
    pub ratio: bool,
}

fn fig(label: &'static str, value: Option<f64>, unit: Unit, ratio: bool) -> Figure {
    Figure {
        label,
        value,
        unit,
        ratio,
    }
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

/// Every figure of a relay report, in table order.
pub fn figures(r: &RelayReport) -> Vec<Figure> {
    let ms = |d: std::time::Duration| Some(d.as_secs_f64() * 1e3);
    let s = r.server;
    vec![
        fig(
            "deliveries expected",
            Some(r.expected as f64),
            Unit::Count,
            false,
        ),
        fig(
            "deliveries received",
            Some(r.delivered as f64),
            Unit::Count,
            false,
        ),
        fig("missing", Some(r.missing as f64), Unit::Count, false),
        fig("duplicated", Some(r.duplicated as f64), Unit::Count, false),
        fig("corrupted", Some(r.corrupted as f64), Unit::Count, false),
        fig(
            "out of order",
            Some(r.out_of_order as f64),
            Unit::Count,
            false,
        ),
        fig(
            "clients dropped",
            Some(r.dropped_clients as f64),
            Unit::Count,
            false,
        ),
        fig(
            "connect + settle (s)",
            Some(r.connect_time.as_secs_f64()),
            Unit::Secs,
            true,
        ),
        fig(
            "wall time, first send to last delivery (s)",
            Some(r.wall.as_secs_f64()),
            Unit::Secs,
            true,
        ),
        fig(
            "deliveries/s",
            Some(r.deliveries_per_sec()),
            Unit::Rate,
            true,
        ),
        fig("latency p50 (ms)", ms(r.latency.p50), Unit::Millis, true),
        fig("latency p90 (ms)", ms(r.latency.p90), Unit::Millis, true),
        fig("latency p99 (ms)", ms(r.latency.p99), Unit::Millis, true),
        fig("latency max (ms)", ms(r.latency.max), Unit::Millis, true),
        fig(
            "server CPU while connecting (s)",
            s.map(|s| s.connect_cpu_secs),
            Unit::Secs,
            true,
        ),
        fig(
            "server CPU while messages flow (s)",
            s.map(|s| s.cpu_secs),
            Unit::Secs,
            true,
        ),
        fig(
            "server CPU per delivery (µs)",
            r.cpu_us_per_delivery(),
            Unit::Fixed2,
            true,
        ),
        fig(
            "server context switches per 1,000 deliveries",
            r.switches_per_delivery().map(|(_, all)| all * 1e3),
            Unit::Fixed2,
            true,
        ),
        fig(
            "of which voluntary (waits, wake-ups)",
            r.switches_per_delivery()
                .map(|(voluntary, _)| voluntary * 1e3),
            Unit::Fixed2,
            true,
        ),
        fig(
            "server RSS before connects (MiB)",
            mib(s.and_then(|s| s.rss_start_kib)),
            Unit::Fixed2,
            false,
        ),
        fig(
            "server RSS all connected (MiB)",
            mib(s.and_then(|s| s.rss_connected_kib)),
            Unit::Fixed2,
            false,
        ),
        fig(
            "server RSS at end (MiB)",
            mib(s.and_then(|s| s.rss_end_kib)),
            Unit::Fixed2,
            false,
        ),
        fig(
            "server peak RSS, VmHWM (MiB)",
            mib(s.and_then(|s| s.hwm_kib)),
            Unit::Fixed2,
            false,
        ),
        fig(
            "server memory per connection (KiB)",
            r.kib_per_connection(),
            Unit::Fixed2,
            false,
        ),
        fig(
            "gave up: timeout or stall (1 = yes)",
            Some(f64::from(u8::from(r.timed_out))),
            Unit::Count,
            false,
        ),
    ]
}

/// The figures of a rooms run: [`figures`], then how busy the server and
/// the clients kept the machine's cores, which says whose CPU ran out.
pub fn rooms_figures(r: &RelayReport) -> Vec<Figure> {
    let mut all = figures(r);
    let at = all
        .iter()
        .position(|f| f.label.starts_with("server RSS"))
        .unwrap_or(all.len());
    let extra = [
        fig(
            "server CPU busy while messages flow (cores)",
            r.server_cores(),
            Unit::Fixed2,
            true,
        ),
        fig(
            "client process CPU while messages flow (s)",
            r.client_cpu_secs,
            Unit::Secs,
            true,
        ),
        fig(
            "client process CPU busy (cores)",
            r.client_cores(),
            Unit::Fixed2,
            true,
        ),
        fig(
            "other processes CPU busy (cores)",
            r.other_cores(),
            Unit::Fixed2,
            false,
        ),
    ];
    all.splice(at..at, extra);
    all
}

/// The median of each figure over several runs of the same shape.
pub fn median_figures(runs: &[Vec<Figure>]) -> Vec<Figure> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let values: Vec<f64> = runs.iter().filter_map(|r| r.get(i)?.value).collect();
            Figure {
                value: median(&values),
                ..*f
            }
        })
        .collect()
}

/// Formats a value for a table cell.
pub fn cell(value: Option<f64>, unit: Unit) -> String {
    match value {
        None => "–".to_owned(),
        Some(v) => match unit {
            Unit::Count | Unit::Rate => format!("{v:.0}"),
            Unit::Secs | Unit::Millis => format!("{v:.3}"),
            Unit::Fixed2 => format!("{v:.2}"),
        },
    }
}

/// One run (or a median) as a two-column Markdown table.
pub fn single_table(title: &str, figures: &[Figure]) -> String {
    let mut out = format!("| {title} | |\n|---|---:|\n");
    for f in figures.iter().filter(|f| f.value.is_some()) {
        out.push_str(&format!("| {} | {} |\n", f.label, cell(f.value, f.unit)));
    }
    out
}

/// Relay beside baseline, with relay/baseline where it means something.
pub fn comparison_table(title: &str, relay: &[Figure], baseline: &[Figure]) -> String {
    labelled_comparison(title, ["relay", "baseline"], relay, baseline)
}

/// Two runs side by side under `labels`, with first/second where it means
/// something (`4 rooms | 1 room | 4 rooms / 1 room`).
pub fn labelled_comparison(
    title: &str,
    labels: [&str; 2],
    relay: &[Figure],
    baseline: &[Figure],
) -> String {
    let [a, b] = labels;
    let mut out = format!("| {title} | {a} | {b} | {a} / {b} |\n|---|---:|---:|---:|\n");
    for (r, b) in relay.iter().zip(baseline) {
        if r.value.is_none() && b.value.is_none() {
            continue;
        }
        let ratio = match (r.ratio, r.value, b.value) {
            (true, Some(x), Some(y)) if y != 0.0 => format!("{:.2}", x / y),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.label,
            cell(r.value, r.unit),
            cell(b.value, b.unit),
            ratio
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_show_values_medians_and_ratios() {
        let mut a = RelayReport {
            expected: 10,
            delivered: 10,
            ..Default::default()
        };
        a.wall = std::time::Duration::from_secs(2);
        let mut b = a.clone();
        b.wall = std::time::Duration::from_secs(1);
        let fa = figures(&a);
        let fb = figures(&b);
        let table = comparison_table("x", &fa, &fb);
        assert!(
            table.contains("| deliveries/s | 5 | 10 | 0.50 |"),
            "{table}"
        );
        assert!(
            !table.contains("server CPU"),
            "unmeasured rows are left out"
        );
        let m = median_figures(&[fa.clone(), fb.clone(), fa.clone()]);
        let wall = m
            .iter()
            .find(|f| f.label.starts_with("wall"))
            .and_then(|f| f.value);
        assert_eq!(wall, Some(2.0));
        assert!(single_table("t", &fb).contains("| missing | 0 |"));
        let rooms = labelled_comparison("r", ["4 rooms", "1 room"], &fb, &fa);
        assert!(rooms.starts_with("| r | 4 rooms | 1 room | 4 rooms / 1 room |"));
        assert!(
            rooms.contains("| deliveries/s | 10 | 5 | 2.00 |"),
            "{rooms}"
        );
        assert_eq!(cell(None, Unit::Count), "–");
    }

    #[test]
    fn rooms_figures_say_how_busy_each_side_was() {
        let r = RelayReport {
            delivered: 100,
            wall: std::time::Duration::from_secs(2),
            client_cpu_secs: Some(3.0),
            machine_cpu_secs: Some(4.5),
            server: Some(crate::scenario::ServerFigures {
                cpu_secs: 1.0,
                ..Default::default()
            }),
            ..Default::default()
        };
        let table = single_table("t", &rooms_figures(&r));
        assert!(
            table.contains("| server CPU busy while messages flow (cores) | 0.50 |"),
            "{table}"
        );
        assert!(
            table.contains("| client process CPU busy (cores) | 1.50 |"),
            "{table}"
        );
        assert!(
            table.contains("| other processes CPU busy (cores) | 0.25 |"),
            "{table}"
        );
        assert_eq!(rooms_figures(&r).len(), figures(&r).len() + 4);
    }
}
