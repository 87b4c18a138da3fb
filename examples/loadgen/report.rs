//! `loadgen report FILE`: one Markdown table of medians from the RESULT lines that
//! `bench/run.sh` collected, with the ratios of the project's server ("gateway") to the
//! peers.

use std::collections::BTreeMap;

use crate::client::Error;

/// Server labels, in column order; the first is ours.
const OURS: &str = "gateway";
const ENHANCED: &str = "gateway+enhancers";
/// Plain runs taking turns with the enhanced ones (bench/run.sh's `overhead` scenario).
const PLAIN: &str = "gateway-plain";
const PEERS: [&str; 2] = ["socketioxide", "socket.io"];

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
    /// No ratio (fairness, counts of failures, CPU use).
    None,
}

struct Row {
    title: &'static str,
    scenario: &'static str,
    /// Only RESULT lines with this `clients=` (None: any).
    clients: Option<&'static str>,
    metric: &'static str,
    better: Better,
    /// Show the largest value of the runs instead of the median (failure counts).
    worst: bool,
    decimals: usize,
}

const fn row(
    title: &'static str,
    scenario: &'static str,
    clients: Option<&'static str>,
    metric: &'static str,
    better: Better,
    decimals: usize,
) -> Row {
    Row {
        title,
        scenario,
        clients,
        metric,
        better,
        worst: false,
        decimals,
    }
}

const fn worst(title: &'static str, scenario: &'static str, metric: &'static str) -> Row {
    Row {
        title,
        scenario,
        clients: None,
        metric,
        better: Better::None,
        worst: true,
        decimals: 0,
    }
}

const ROWS: &[Row] = &[
    row(
        "connects/s (100 handshakes in flight)",
        "connects",
        None,
        "connects_per_sec",
        Better::Higher,
        0,
    ),
    row(
        "connects: handshake p99 ms",
        "connects",
        None,
        "p99_ms",
        Better::Lower,
        2,
    ),
    row(
        "connects: server CPU (cores)",
        "connects",
        None,
        "server_cpu",
        Better::None,
        2,
    ),
    row(
        "connects: server CPU µs per handshake",
        "connects",
        None,
        "server_us_per_op",
        Better::Lower,
        1,
    ),
    row(
        "upgrades/s (polling, then WebSocket; 100 in flight)",
        "upgrades",
        None,
        "connects_per_sec",
        Better::Higher,
        0,
    ),
    row(
        "upgrades: server CPU µs per connection",
        "upgrades",
        None,
        "server_us_per_op",
        Better::Lower,
        1,
    ),
    row(
        "idle: server KiB per connection",
        "idle",
        None,
        "kib_per_conn",
        Better::Lower,
        2,
    ),
    row(
        "echo, 100 clients: acks/s",
        "echo",
        Some("100"),
        "acks_per_sec",
        Better::Higher,
        0,
    ),
    row(
        "echo, 100 clients: p99 ms",
        "echo",
        Some("100"),
        "p99_ms",
        Better::Lower,
        2,
    ),
    row(
        "echo, 100 clients: fairness (slowest/mean)",
        "echo",
        Some("100"),
        "fairness",
        Better::None,
        3,
    ),
    row(
        "echo, 100 clients: server CPU (cores)",
        "echo",
        Some("100"),
        "server_cpu",
        Better::None,
        2,
    ),
    row(
        "echo, 100 clients: loadgen CPU (cores)",
        "echo",
        Some("100"),
        "client_cpu",
        Better::None,
        2,
    ),
    row(
        "echo, 100 clients: server CPU µs per ack",
        "echo",
        Some("100"),
        "server_us_per_op",
        Better::Lower,
        2,
    ),
    row(
        "echo, 1000 clients: acks/s",
        "echo",
        Some("1000"),
        "acks_per_sec",
        Better::Higher,
        0,
    ),
    row(
        "echo, 1000 clients: p99 ms",
        "echo",
        Some("1000"),
        "p99_ms",
        Better::Lower,
        2,
    ),
    row(
        "echo, 1000 clients: fairness (slowest/mean)",
        "echo",
        Some("1000"),
        "fairness",
        Better::None,
        3,
    ),
    row(
        "echo, 1000 clients: server CPU (cores)",
        "echo",
        Some("1000"),
        "server_cpu",
        Better::None,
        2,
    ),
    row(
        "echo, 1000 clients: server CPU µs per ack",
        "echo",
        Some("1000"),
        "server_us_per_op",
        Better::Lower,
        2,
    ),
    row(
        "broadcast, 1000 clients × 200: deliveries/s",
        "broadcast",
        None,
        "deliveries_per_sec",
        Better::Higher,
        0,
    ),
    row(
        "broadcast: server CPU (cores)",
        "broadcast",
        None,
        "server_cpu",
        Better::None,
        2,
    ),
    row(
        "broadcast: server CPU µs per delivery",
        "broadcast",
        None,
        "server_us_per_op",
        Better::Lower,
        3,
    ),
    worst("broadcast: dropped (worst run)", "broadcast", "dropped"),
    worst(
        "broadcast: out of order (worst run)",
        "broadcast",
        "out_of_order",
    ),
];

type Fields = BTreeMap<String, String>;

fn parse(line: &str) -> Option<Fields> {
    let rest = line.trim().strip_prefix("RESULT ")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Whether a run's answers did not all check out.
fn failed(f: &Fields) -> bool {
    [
        "error",
        "errors",
        "lost",
        "dropped",
        "out_of_order",
        "duplicates",
    ]
    .iter()
    .any(|k| f.get(*k).is_some_and(|v| v != "0"))
}

fn number(f: &Fields, key: &str) -> Option<f64> {
    f.get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Whether other work took the cores during a run: more than 10% of the server's or the
/// load generator's core went to other processes (or to the kernel's softirq threads).
fn disturbed(f: &Fields) -> bool {
    ["server_core_other", "client_core_other"]
        .iter()
        .any(|k| number(f, k).is_some_and(|w| w > 0.10))
}

/// Whether the load generator was (nearly) saturated: the server may be faster than shown.
fn generator_bound(f: &Fields) -> bool {
    number(f, "client_cpu").is_some_and(|c| c >= 0.93)
}

/// A metric of one run: a field of its RESULT line, or `server_us_per_op`, the server's
/// CPU time per completed operation (handshake, ack or delivery) in microseconds, which
/// stays comparable when the load generator rather than the server is the bottleneck.
fn metric(f: &Fields, name: &str) -> Option<f64> {
    if name == "server_us_per_op" {
        let cpu = number(f, "server_cpu")?;
        let rate = ["acks_per_sec", "connects_per_sec", "deliveries_per_sec"]
            .iter()
            .find_map(|k| number(f, k))
            .filter(|r| *r > 0.0)?;
        return Some(cpu / rate * 1e6);
    }
    f.get(name)?.parse().ok()
}

struct Cell {
    value: Option<f64>,
    runs: usize,
    flagged: bool,
    disturbed: bool,
    generator_bound: bool,
}

fn cell(results: &[Fields], label: &str, r: &Row) -> Cell {
    let runs: Vec<&Fields> = results
        .iter()
        .filter(|f| f.get("label").map(String::as_str) == Some(label))
        .filter(|f| f.get("scenario").map(String::as_str) == Some(r.scenario))
        .filter(|f| match r.clients {
            Some(c) => f.get("clients").map(String::as_str) == Some(c),
            None => true,
        })
        .collect();
    let values: Vec<f64> = runs.iter().filter_map(|f| metric(f, r.metric)).collect();
    let value = if r.worst {
        values
            .iter()
            .copied()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    } else {
        median(values)
    };
    Cell {
        value,
        runs: runs.len(),
        flagged: runs.iter().any(|f| failed(f)),
        disturbed: runs.iter().any(|f| disturbed(f)),
        generator_bound: runs.iter().any(|f| generator_bound(f)),
    }
}

fn show(c: &Cell, decimals: usize, flag_failures: bool, mark_bound: bool) -> String {
    match c.value {
        None if c.runs > 0 => "failed".to_owned(),
        None => "–".to_owned(),
        Some(v) => {
            let mut s = format!("{v:.decimals$}");
            if flag_failures && c.flagged {
                s.push_str(" ⚠");
            }
            if c.disturbed {
                s.push_str(" †");
            }
            if mark_bound && c.generator_bound {
                s.push_str(" ‡");
            }
            s
        }
    }
}

fn ratio(ours: &Cell, theirs: &Cell, better: Better) -> String {
    let (Some(a), Some(b)) = (ours.value, theirs.value) else {
        return "–".to_owned();
    };
    let r = match better {
        Better::Higher => a / b,
        Better::Lower => b / a,
        Better::None => return "".to_owned(),
    };
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "–".to_owned()
    }
}

pub fn run(path: &str) -> Result<(), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let results: Vec<Fields> = text.lines().filter_map(parse).collect();
    let has = |label: &str| {
        results
            .iter()
            .any(|f| f.get("label").map(String::as_str) == Some(label))
    };
    let peers: Vec<&str> = PEERS.iter().copied().filter(|p| has(p)).collect();

    let mut head = format!("| scenario (median of runs) | {OURS} |");
    let mut rule = "|---|--:|".to_owned();
    for p in &peers {
        head.push_str(&format!(" {p} |"));
        rule.push_str("--:|");
    }
    for p in &peers {
        head.push_str(&format!(" {OURS} vs {p} |"));
        rule.push_str("--:|");
    }
    println!("{head}\n{rule}");
    for r in ROWS {
        let ours = cell(&results, OURS, r);
        let theirs: Vec<Cell> = peers.iter().map(|p| cell(&results, p, r)).collect();
        if ours.runs == 0 && theirs.iter().all(|c| c.runs == 0) {
            continue;
        }
        let flag = !r.worst;
        let bound = r.better == Better::Higher && r.metric != "server_us_per_op";
        let mut line = format!("| {} | {} |", r.title, show(&ours, r.decimals, flag, bound));
        for c in &theirs {
            line.push_str(&format!(" {} |", show(c, r.decimals, flag, bound)));
        }
        for c in &theirs {
            line.push_str(&format!(" {} |", ratio(&ours, c, r.better)));
        }
        println!("{line}");
    }
    // Framework overhead: echo with 100 clients, with and without the enhancers.
    let echo100 = ROWS
        .iter()
        .find(|r| r.scenario == "echo" && r.clients == Some("100") && r.metric == "acks_per_sec")
        .expect("the echo 100 row");
    let mut plain = cell(&results, PLAIN, echo100);
    if plain.runs == 0 {
        plain = cell(&results, OURS, echo100);
    }
    let enhanced = cell(&results, ENHANCED, echo100);
    if enhanced.runs > 0 {
        let pad = " |".repeat(peers.len() * 2);
        println!(
            "| overhead: echo 100 acks/s with BENCH_ENHANCERS=1 | {} |{pad}",
            show(&enhanced, 0, true, true)
        );
        let r = match (enhanced.value, plain.value) {
            (Some(e), Some(p)) if p > 0.0 => format!("{:.3}", e / p),
            _ => "–".to_owned(),
        };
        println!(
            "| overhead: echo 100 acks/s without enhancers | {} |{pad}",
            show(&plain, 0, true, true)
        );
        println!("| overhead: with / without enhancers (acks/s) | {r} |{pad}");
    }
    println!();
    println!(
        "Ratios: above 1× the {OURS} server is better (throughput: ours/theirs; memory and \
         latency: theirs/ours). ⚠: at least one run had errors, lost connections, drops or \
         reordering (see the raw RESULT lines). †: in at least one run other processes took \
         more than 10% of the server's or the load generator's core. ‡: the load generator \
         used 93% or more of its core in at least one run: the server may be faster than shown."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_flags() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
        let f = parse("RESULT scenario=broadcast label=x dropped=0 out_of_order=3").unwrap();
        assert!(failed(&f));
        let f = parse("RESULT scenario=echo label=x errors=0").unwrap();
        assert!(!failed(&f));
    }
}
