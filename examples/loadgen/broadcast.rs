//! Broadcast: one client emits `broadcast` with sequence numbers 0..M; the server
//! re-emits each as `bcast` to every client (sender included), and every client must see
//! all M in order.

use std::time::{Duration, Instant};

use crate::client::{connect_many, Client, Error};
use crate::stats::CpuMeter;
use crate::{fmt, Opts, Verdict};

#[derive(Default)]
struct Received {
    distinct: u64,
    out_of_order: u64,
    duplicates: u64,
    next: u64,
    seen: Vec<bool>,
    finished: Option<Instant>,
    error: Option<String>,
}

impl Received {
    fn new(messages: u64) -> Self {
        Self {
            seen: vec![false; messages as usize],
            ..Self::default()
        }
    }

    fn done(&self) -> bool {
        self.distinct == self.seen.len() as u64
    }

    /// Takes one packet; false when it is not a `bcast` event with a known number.
    fn take(&mut self, text: &str) -> bool {
        let Some(seq) = text
            .strip_prefix(r#"42["bcast","#)
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.trim().parse::<u64>().ok())
        else {
            return false;
        };
        let Some(slot) = self.seen.get_mut(seq as usize) else {
            return false;
        };
        if *slot {
            self.duplicates += 1;
            return true;
        }
        *slot = true;
        self.distinct += 1;
        if seq != self.next {
            self.out_of_order += 1;
        }
        self.next = seq + 1;
        if self.done() {
            self.finished = Some(Instant::now());
        }
        true
    }

    /// Reads one packet before `deadline`; false when reading must stop.
    async fn read_one(&mut self, client: &mut Client, deadline: Instant) -> bool {
        match tokio::time::timeout_at(deadline.into(), client.next_text()).await {
            Ok(Ok(text)) => {
                if !self.take(text.as_str()) {
                    self.error = Some(format!("unexpected packet {:?}", text.as_str()));
                }
                true
            }
            Ok(Err(e)) => {
                self.error = Some(e.to_string());
                false
            }
            Err(_) => false, // timed out: what is missing counts as dropped
        }
    }
}

pub async fn run(opts: &Opts) -> Result<Verdict, Error> {
    let n = opts.clients_or(1000);
    let m = opts.messages;
    let window = opts.window;
    let setup = Instant::now();
    let mut clients = connect_many(&opts.target, 0, n, opts.parallel).await?;
    eprintln!(
        "broadcast: {n} clients connected in {:.2} s; {m} broadcasts, window {window}",
        setup.elapsed().as_secs_f64()
    );
    // Let the server settle after the connection burst.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + Duration::from_secs_f64(opts.timeout);
    let emitter = clients.remove(0);
    let mut tasks = Vec::with_capacity(n);
    tasks.push(tokio::spawn(emit(emitter, m, window, start, deadline)));
    for mut client in clients {
        tasks.push(tokio::spawn(async move {
            let mut r = Received::new(m);
            while !r.done() && r.read_one(&mut client, deadline).await {}
            drop(client);
            r
        }));
    }
    tokio::time::sleep_until(start.into()).await;
    let meter = CpuMeter::start(opts.server_pid.as_deref());
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await?);
    }
    let cpu = meter.stop();

    let expected = n as u64 * m;
    let delivered: u64 = results.iter().map(|r| r.distinct).sum();
    let dropped = expected - delivered;
    let out_of_order: u64 = results.iter().map(|r| r.out_of_order).sum();
    let duplicates: u64 = results.iter().map(|r| r.duplicates).sum();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.error.as_ref()).collect();
    let last = results
        .iter()
        .map(|r| r.finished.unwrap_or(deadline))
        .max()
        .unwrap_or(start);
    let elapsed = last.saturating_duration_since(start).as_secs_f64();
    let rate = delivered as f64 / elapsed;
    println!(
        "broadcast: {delivered} of {expected} deliveries in {:.1} ms = {rate:.0} deliveries/s; \
         {dropped} dropped, {out_of_order} out of order, {duplicates} duplicates",
        elapsed * 1000.0
    );
    println!(
        "broadcast: cpu: server {} of a core (waited for it {}), load generator {} (waited {})",
        fmt(cpu.server, 2),
        fmt(cpu.server_wait, 2),
        fmt(cpu.client, 2),
        fmt(cpu.client_wait, 2)
    );
    for e in errors.iter().take(5) {
        println!("broadcast: error: {e}");
    }
    println!(
        "RESULT scenario=broadcast label={} clients={n} messages={m} window={window} \
         deliveries_per_sec={} elapsed_ms={} dropped={dropped} out_of_order={out_of_order} \
         duplicates={duplicates} errors={} {}",
        opts.label,
        fmt(rate, 0),
        fmt(elapsed * 1000.0, 1),
        errors.len(),
        CpuMeter::fields(&cpu)
    );
    let clean = dropped == 0 && out_of_order == 0 && duplicates == 0 && errors.is_empty();
    Ok(if clean {
        Verdict::Clean
    } else {
        Verdict::Failed
    })
}

/// The emitting client: keeps at most `window` broadcasts in flight (sent but not yet
/// received back), and checks its own copies like every other client.
async fn emit(
    mut client: Client,
    m: u64,
    window: u64,
    start: Instant,
    deadline: Instant,
) -> Received {
    let mut r = Received::new(m);
    tokio::time::sleep_until(start.into()).await;
    let mut sent = 0u64;
    loop {
        if sent < m && sent - r.distinct.min(sent) < window {
            while sent < m && sent - r.distinct.min(sent) < window {
                let frame = format!(r#"42["broadcast",{sent}]"#);
                if let Err(e) = client.feed(frame).await {
                    r.error = Some(format!("send failed: {e}"));
                    return r;
                }
                sent += 1;
            }
            if let Err(e) = client.flush().await {
                r.error = Some(format!("send failed: {e}"));
                return r;
            }
        }
        if r.done() || !r.read_one(&mut client, deadline).await {
            return r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Received;

    #[test]
    fn order_and_drops_are_counted() {
        let mut r = Received::new(4);
        assert!(r.take(r#"42["bcast",0]"#));
        assert!(r.take(r#"42["bcast",2]"#));
        assert!(r.take(r#"42["bcast",1]"#));
        assert!(r.take(r#"42["bcast",1]"#));
        assert!(!r.take(r#"42["other",3]"#));
        assert!(!r.take(r#"42["bcast",9]"#));
        assert_eq!((r.distinct, r.out_of_order, r.duplicates), (3, 2, 1));
        assert!(!r.done());
        assert!(r.take(r#"42["bcast",3]"#));
        assert!(r.done());
    }
}
