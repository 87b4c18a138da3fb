//! Echo with acknowledgements, closed loop: each client sends `42<id>["echo",<payload>]`
//! and waits for `43<id>[<payload>]` before sending the next.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::client::{connect_many, Client, Error};
use crate::stats::{micros, quantile_ms, CpuMeter};
use crate::{fmt, Opts, Verdict};

/// How long one acknowledgement may take before the client counts an error and stops.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

struct ClientResult {
    acks: u64,
    latencies_us: Vec<u32>,
    error: Option<String>,
}

pub async fn run(opts: &Opts) -> Result<Verdict, Error> {
    let n = opts.clients_or(100);
    let duration = opts.duration_or(10.0);
    let warmup = opts.warmup();
    let setup = Instant::now();
    let clients = connect_many(&opts.target, 0, n, opts.parallel).await?;
    eprintln!(
        "echo: {n} clients connected in {:.2} s; warm-up {:.1} s, measuring {:.1} s",
        setup.elapsed().as_secs_f64(),
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );

    let start = Instant::now() + Duration::from_millis(100);
    let from = start + warmup;
    let to = from + duration;
    let pad = "x".repeat(opts.payload_bytes);
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let pad = pad.clone();
            tokio::spawn(client_loop(client, i, pad, start, from, to))
        })
        .collect();

    tokio::time::sleep_until(from.into()).await;
    let meter = CpuMeter::start(opts.server_pid.as_deref());
    tokio::time::sleep_until(to.into()).await;
    let cpu = meter.stop();

    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await?);
    }
    let errors: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
    let total: u64 = results.iter().map(|r| r.acks).sum();
    let mean = total as f64 / n as f64;
    let slowest = results.iter().map(|r| r.acks).min().unwrap_or(0);
    let fastest = results.iter().map(|r| r.acks).max().unwrap_or(0);
    let fairness = if mean > 0.0 {
        slowest as f64 / mean
    } else {
        0.0
    };
    let mut lat: Vec<u32> = results.into_iter().flat_map(|r| r.latencies_us).collect();
    lat.sort_unstable();
    let secs = duration.as_secs_f64();
    let rate = total as f64 / secs;

    println!(
        "echo: {total} acks in {secs:.1} s = {rate:.0} acks/s; latency p50 {} ms, p99 {} ms, \
         max {} ms",
        fmt(quantile_ms(&lat, 0.5), 3),
        fmt(quantile_ms(&lat, 0.99), 3),
        fmt(quantile_ms(&lat, 1.0), 3)
    );
    println!(
        "echo: per client: slowest {slowest}, mean {mean:.1}, fastest {fastest}; \
         fairness (slowest/mean) {fairness:.3} {}",
        if fairness >= 0.8 {
            "(ok, >= 0.8)"
        } else {
            "(UNFAIR, < 0.8)"
        }
    );
    println!(
        "echo: cpu: server {} of a core (waited for it {}), load generator {} (waited {})",
        fmt(cpu.server, 2),
        fmt(cpu.server_wait, 2),
        fmt(cpu.client, 2),
        fmt(cpu.client_wait, 2)
    );
    for e in errors.iter().take(5) {
        println!("echo: error: {e}");
    }
    println!(
        "RESULT scenario=echo label={} clients={n} payload_bytes={} acks_per_sec={} p50_ms={} \
         p99_ms={} max_ms={} fairness={} errors={} {}",
        opts.label,
        opts.payload_bytes,
        fmt(rate, 0),
        fmt(quantile_ms(&lat, 0.5), 3),
        fmt(quantile_ms(&lat, 0.99), 3),
        fmt(quantile_ms(&lat, 1.0), 3),
        fmt(fairness, 3),
        errors.len(),
        CpuMeter::fields(&cpu)
    );
    Ok(if errors.is_empty() {
        Verdict::Clean
    } else {
        Verdict::Failed
    })
}

async fn client_loop(
    mut client: Client,
    index: usize,
    pad: String,
    start: Instant,
    from: Instant,
    to: Instant,
) -> ClientResult {
    let mut result = ClientResult {
        acks: 0,
        latencies_us: Vec::new(),
        error: None,
    };
    tokio::time::sleep_until(start.into()).await;
    let mut payload = String::new();
    let mut id: u64 = 0;
    // No timer per ack (it would cost the generator more than the server's own work): a
    // missing ack is caught by this client's deadline, ACK_TIMEOUT after the run ends.
    let mut deadline = std::pin::pin!(tokio::time::sleep_until((to + ACK_TIMEOUT).into()));
    loop {
        let sent = Instant::now();
        if sent >= to {
            break;
        }
        id += 1;
        payload.clear();
        let _ = write!(payload, r#"{{"client":{index},"seq":{id},"text":"{pad}"}}"#);
        let frame = format!(r#"42{id}["echo",{payload}]"#);
        if let Err(e) = client.send(frame).await {
            result.error = Some(format!("client {index}: send failed: {e}"));
            break;
        }
        let reply = tokio::select! {
            biased;
            reply = client.next_text() => Ok(reply),
            _ = &mut deadline => Err(()),
        };
        let reply = match reply {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                result.error = Some(format!("client {index}: waiting for ack {id}: {e}"));
                break;
            }
            Err(()) => {
                result.error = Some(format!(
                    "client {index}: no ack {id} {ACK_TIMEOUT:?} after the end of the run"
                ));
                break;
            }
        };
        let done = Instant::now();
        if let Err(e) = check_ack(reply.as_str(), id, &payload) {
            result.error = Some(format!("client {index}: {e}"));
            break;
        }
        if sent >= from {
            result.acks += 1;
            result.latencies_us.push(micros(done - sent));
        }
    }
    if result.error.is_none() {
        client.close().await;
    }
    result
}

/// Checks `43<id>[<payload>]`: the id exactly, the payload as text or, when a server
/// writes the same JSON differently (key order, spacing), as a JSON value.
fn check_ack(reply: &str, id: u64, payload: &str) -> Result<(), String> {
    let body = reply
        .strip_prefix("43")
        .ok_or_else(|| format!("expected an ack, got {reply:?}"))?;
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if body[..digits].parse::<u64>().ok() != Some(id) {
        return Err(format!("expected ack id {id}, got {reply:?}"));
    }
    let args = &body[digits..];
    if args.len() == payload.len() + 2
        && args.starts_with('[')
        && args.ends_with(']')
        && &args[1..args.len() - 1] == payload
    {
        return Ok(());
    }
    let got: serde_json::Value =
        serde_json::from_str(args).map_err(|e| format!("ack {id} is not JSON ({e}): {reply:?}"))?;
    let want: serde_json::Value =
        serde_json::from_str(&format!("[{payload}]")).expect("our payload is JSON");
    if got == want {
        Ok(())
    } else {
        Err(format!("ack {id} carries {args}, expected [{payload}]"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn acks_are_checked() {
        let p = r#"{"client":1,"seq":7,"text":"x"}"#;
        assert!(super::check_ack(&format!("437[{p}]"), 7, p).is_ok());
        assert!(super::check_ack(r#"437[{"seq":7,"text":"x","client":1}]"#, 7, p).is_ok());
        assert!(super::check_ack(&format!("438[{p}]"), 7, p).is_err());
        assert!(super::check_ack(&format!("42[{p}]"), 7, p).is_err());
        assert!(super::check_ack(r#"437[{"client":1,"seq":8,"text":"x"}]"#, 7, p).is_err());
    }
}
