//! Connection rate: `--clients` workers each loop over connect (TCP, WebSocket upgrade,
//! Engine.IO OPEN, Socket.IO CONNECT to `/`, CONNECT answer) and close. With
//! `--transport upgrade` each connection opens over long-polling and then upgrades, and
//! the RESULT line names the scenario `upgrades`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, Error};
use crate::stats::{micros, quantile_ms, CpuMeter};
use crate::{fmt, Opts, Verdict};

struct WorkerResult {
    done: u64,
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run(opts: &Opts) -> Result<Verdict, Error> {
    let workers = opts.clients_or(100);
    let duration = opts.duration_or(10.0);
    let warmup = opts.warmup();
    eprintln!(
        "connects: {workers} handshakes in flight, each connection then {}; warm-up {:.1} s, \
         measuring {:.1} s",
        if opts.clean_close {
            "closed (WebSocket close handshake)"
        } else {
            "reset"
        },
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );
    let start = Instant::now();
    let from = start + warmup;
    let to = from + duration;
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let target = opts.target.clone();
            let next = next.clone();
            let clean_close = opts.clean_close;
            tokio::spawn(async move {
                let mut r = WorkerResult {
                    done: 0,
                    latencies_us: Vec::new(),
                    errors: 0,
                    first_error: None,
                };
                loop {
                    let t0 = Instant::now();
                    if t0 >= to {
                        break;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    match Client::connect(&target, n).await {
                        Ok(client) => {
                            let t1 = Instant::now();
                            if t1 >= from && t1 < to {
                                r.done += 1;
                                r.latencies_us.push(micros(t1 - t0));
                            }
                            if clean_close {
                                client.close().await;
                            } else {
                                client.reset();
                            }
                        }
                        Err(e) => {
                            r.errors += 1;
                            r.first_error.get_or_insert_with(|| e.to_string());
                            // Do not spin on a refusing server.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                r
            })
        })
        .collect();

    tokio::time::sleep_until(from.into()).await;
    let meter = CpuMeter::start(opts.server_pid.as_deref());
    tokio::time::sleep_until(to.into()).await;
    let cpu = meter.stop();

    let mut done = 0;
    let mut errors = 0;
    let mut first_error = None;
    let mut lat = Vec::new();
    for t in tasks {
        let r = t.await?;
        done += r.done;
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        lat.extend(r.latencies_us);
    }
    lat.sort_unstable();
    let secs = duration.as_secs_f64();
    let rate = done as f64 / secs;
    println!(
        "connects: {done} handshakes in {secs:.1} s = {rate:.0}/s; handshake p50 {} ms, \
         p99 {} ms; {errors} failed",
        fmt(quantile_ms(&lat, 0.5), 3),
        fmt(quantile_ms(&lat, 0.99), 3)
    );
    println!(
        "connects: cpu: server {} of a core (waited for it {}), load generator {} (waited {})",
        fmt(cpu.server, 2),
        fmt(cpu.server_wait, 2),
        fmt(cpu.client, 2),
        fmt(cpu.client_wait, 2)
    );
    if let Some(e) = &first_error {
        println!("connects: first error: {e}");
    }
    println!(
        "RESULT scenario={} label={} clients={workers} close={} connects_per_sec={} p50_ms={} \
         p99_ms={} errors={errors} {}",
        if opts.target.upgrade {
            "upgrades"
        } else {
            "connects"
        },
        opts.label,
        if opts.clean_close { "clean" } else { "reset" },
        fmt(rate, 0),
        fmt(quantile_ms(&lat, 0.5), 3),
        fmt(quantile_ms(&lat, 0.99), 3),
        CpuMeter::fields(&cpu)
    );
    Ok(if errors == 0 {
        Verdict::Clean
    } else {
        Verdict::Failed
    })
}
