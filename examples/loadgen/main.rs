//! Load generator for Socket.IO servers, speaking Engine.IO v4 / Socket.IO v5 by hand over
//! WebSocket. It drives any server with the benchmark contract of `bench_server.rs`
//! (`echo` acknowledged with its argument, `broadcast` re-emitted to everyone as `bcast`),
//! checks every answer, and prints its figures, ending with one machine-readable line:
//!
//! ```text
//! RESULT scenario=echo label=gateway clients=100 acks_per_sec=... p99_ms=... fairness=...
//! ```
//!
//! ```text
//! cargo run --release --example loadgen -- <connects|idle|echo|broadcast> \
//!     --url ws://127.0.0.1:3000/socket.io/ --clients N --duration S [options]
//! ```
//!
//! It runs on one thread (pin it with `taskset -c 1`; the server goes on another core).
//! See `bench/README.md` for the method and `--help` for the options.

mod broadcast;
mod client;
mod connects;
mod echo;
mod idle;
mod report;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use client::Target;

const HELP: &str = "\
usage: loadgen <scenario> [options]

scenarios:
  connects   full handshakes (WebSocket + Engine.IO OPEN + Socket.IO CONNECT to /) with
             --clients in flight, each connection ended right after (--close); completed
             handshakes per second (with --transport upgrade: over long-polling, then
             upgraded to WebSocket)
  idle       --clients idle connections (default 10000); server RSS per connection
             (needs --server-pid)
  echo       --clients clients, each sending 42<id>[\"echo\",<payload>] and waiting for
             43<id>[<payload>] (closed loop); acks/s, latency, fairness
  broadcast  --clients clients (default 1000); the first emits `broadcast` --messages times,
             everyone must receive every `bcast` in order; deliveries/s, drops, reorders
  report     `loadgen report FILE`: a Markdown table of medians from the RESULT lines in
             FILE (what bench/run.sh collects), with ratios to the peers

options:
  --url URL             server (default ws://127.0.0.1:3000/socket.io/)
  --clients N           clients (connects: handshakes in flight)
                        defaults: connects 100, idle 10000, echo 100, broadcast 1000
  --duration S          measured seconds (connects, echo; idle: how long to hold) [10; idle 5]
  --warmup S            unmeasured seconds before (connects, echo) [2]
  --payload-bytes N     length of the text in each echo payload [32]
  --messages M          broadcasts to send [200]
  --window W            broadcasts the emitter may have in flight (not yet received back) [32]
  --timeout S           give up on missing broadcasts after S seconds [60]
  --server-pid PID      read the server's RSS and CPU time from /proc/PID
  --label NAME          server name to print in the RESULT line [server]
  --src-addrs K         spread clients over 127.0.0.2 .. 127.0.0.(K+1) [200; 0 = no bind]
  --parallel P          handshakes in flight while setting up clients [256]
  --close MODE          connects: end each connection with a TCP `reset` (SO_LINGER 0, no
                        TIME_WAIT) or a `clean` WebSocket close handshake [reset]
  --transport T         how each client opens: `websocket` (the WebSocket from the start) or
                        `upgrade` (socket.io-client's default: the Engine.IO handshake and
                        the Socket.IO CONNECT over HTTP long-polling, then the upgrade to
                        WebSocket with its probe) [websocket]
";

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Opts {
    pub scenario: String,
    pub target: Target,
    pub clients: Option<usize>,
    pub duration: Option<f64>,
    pub warmup: f64,
    pub payload_bytes: usize,
    pub messages: u64,
    pub window: u64,
    pub timeout: f64,
    pub server_pid: Option<String>,
    pub label: String,
    pub parallel: usize,
    pub clean_close: bool,
}

impl Opts {
    pub fn clients_or(&self, default: usize) -> usize {
        self.clients.unwrap_or(default)
    }

    pub fn duration_or(&self, default: f64) -> Duration {
        Duration::from_secs_f64(self.duration.unwrap_or(default))
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }
}

fn parse_args() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut scenario = None;
    let mut url = "ws://127.0.0.1:3000/socket.io/".to_owned();
    let mut src_addrs = 200u32;
    let mut upgrade = false;
    let mut opts = Opts {
        scenario: String::new(),
        target: Target::parse("ws://127.0.0.1:3000/", 0).map_err(|e| e.to_string())?,
        clients: None,
        duration: None,
        warmup: 2.0,
        payload_bytes: 32,
        messages: 200,
        window: 32,
        timeout: 60.0,
        server_pid: None,
        label: "server".to_owned(),
        parallel: 256,
        clean_close: false,
    };
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
        if !arg.starts_with("--") {
            if scenario.replace(arg.clone()).is_some() {
                return Err(format!("unexpected argument {arg:?}"));
            }
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a number: {v:?}"))
        }
        match name.as_str() {
            "--url" => url = value,
            "--clients" => opts.clients = Some(num(&name, &value)?),
            "--duration" => opts.duration = Some(num(&name, &value)?),
            "--warmup" => opts.warmup = num(&name, &value)?,
            "--payload-bytes" => opts.payload_bytes = num(&name, &value)?,
            "--messages" => opts.messages = num(&name, &value)?,
            "--window" => opts.window = num::<u64>(&name, &value)?.max(1),
            "--timeout" => opts.timeout = num(&name, &value)?,
            "--server-pid" => opts.server_pid = Some(value),
            "--label" => opts.label = value,
            "--src-addrs" => src_addrs = num(&name, &value)?,
            "--transport" => {
                upgrade = match value.as_str() {
                    "upgrade" => true,
                    "websocket" => false,
                    _ => return Err(format!("--transport: websocket or upgrade, not {value:?}")),
                }
            }
            "--parallel" => opts.parallel = num::<usize>(&name, &value)?.max(1),
            "--close" => {
                opts.clean_close = match value.as_str() {
                    "clean" => true,
                    "reset" => false,
                    _ => return Err(format!("--close: reset or clean, not {value:?}")),
                }
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    opts.scenario = scenario.ok_or("no scenario given")?;
    opts.target = Target::parse(&url, src_addrs).map_err(|e| format!("--url: {e}"))?;
    opts.target.upgrade = upgrade;
    Ok(opts)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("report") {
        let Some(path) = argv.get(2) else {
            eprintln!("usage: loadgen report RESULTS_FILE");
            return ExitCode::from(64);
        };
        return match report::run(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            eprintln!("loadgen: {e}\n\n{HELP}");
            return ExitCode::from(64);
        }
    };
    // One thread: the load generator gets one core, like the server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = rt.block_on(async {
        match opts.scenario.as_str() {
            "connects" => connects::run(&opts).await,
            "idle" => idle::run(&opts).await,
            "echo" => echo::run(&opts).await,
            "broadcast" => broadcast::run(&opts).await,
            other => Err(format!("unknown scenario {other:?}").into()),
        }
    });
    match outcome {
        Ok(Verdict::Clean) => ExitCode::SUCCESS,
        Ok(Verdict::Failed) => {
            eprintln!("loadgen: some answers were wrong or missing (see above)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            println!(
                "RESULT scenario={} label={} error=1",
                opts.scenario, opts.label
            );
            ExitCode::from(1)
        }
    }
}

/// Whether every answer checked out.
pub enum Verdict {
    Clean,
    Failed,
}

/// Formats a float for the RESULT line.
pub fn fmt(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "nan".to_owned()
    }
}
