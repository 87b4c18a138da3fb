//! Idle connections: the server's resident memory per connected Socket.IO client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{connect_many, rss_kib, Error};
use crate::{fmt, Opts, Verdict};

pub async fn run(opts: &Opts) -> Result<Verdict, Error> {
    let n = opts.clients_or(10_000);
    let hold = opts.duration_or(5.0);
    let pid = opts.server_pid.as_deref();
    if pid.is_none() {
        eprintln!("idle: no --server-pid: connecting and holding only, no memory figure");
    }
    let before = pid.and_then(rss_kib);
    let t0 = Instant::now();
    let clients = connect_many(&opts.target, 0, n, opts.parallel).await?;
    let connect_secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "idle: {n} clients connected in {connect_secs:.2} s; holding {:.1} s",
        hold.as_secs_f64()
    );

    // Each client answers heartbeats while it waits; anything else is a failure.
    let lost = Arc::new(AtomicU64::new(0));
    let unexpected = Arc::new(AtomicU64::new(0));
    for mut client in clients {
        let lost = lost.clone();
        let unexpected = unexpected.clone();
        tokio::spawn(async move {
            loop {
                match client.next_text().await {
                    Ok(_) => {
                        unexpected.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        lost.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        });
    }
    let end = Instant::now() + hold;
    let mut peak = before.unwrap_or(0);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(500).min(end - Instant::now())).await;
        if let Some(rss) = pid.and_then(rss_kib) {
            peak = peak.max(rss);
        }
    }
    let after = pid.and_then(rss_kib);
    let lost = lost.load(Ordering::Relaxed);
    let unexpected = unexpected.load(Ordering::Relaxed);
    let per_conn = match (before, after) {
        (Some(b), Some(a)) => (a as f64 - b as f64) / n as f64,
        _ => f64::NAN,
    };
    println!(
        "idle: {n} connections; server RSS {} KiB before, {} KiB after (peak {peak} KiB): \
         {} KiB per connection; {lost} lost, {unexpected} unexpected packets",
        before.map_or("?".into(), |v| v.to_string()),
        after.map_or("?".into(), |v| v.to_string()),
        fmt(per_conn, 2)
    );
    println!(
        "RESULT scenario=idle label={} clients={n} kib_per_conn={} rss_before_kib={} \
         rss_after_kib={} connect_secs={} lost={lost} errors={unexpected}",
        opts.label,
        fmt(per_conn, 2),
        before.unwrap_or(0),
        after.unwrap_or(0),
        fmt(connect_secs, 2),
    );
    Ok(if lost == 0 && unexpected == 0 {
        Verdict::Clean
    } else {
        Verdict::Failed
    })
}
