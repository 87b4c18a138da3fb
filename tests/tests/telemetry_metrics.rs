//! Metrics an end-to-end test with the official client cannot easily reach: the bytes
//! queued for a client that does not read (reported at each heartbeat, given back when
//! its session ends). A Prometheus recorder is installed for this test binary only.

mod common;

use std::time::Duration;

use gateway_runtime::socketio::SocketIo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The value of the sample `series` (name and labels as rendered), if reported.
fn sample(handle: &PrometheusHandle, series: &str) -> Option<f64> {
    handle.render().lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

async fn wait_for(
    handle: &PrometheusHandle,
    what: &str,
    check: impl Fn(&PrometheusHandle) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check(handle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not seen in time\n{}",
            handle.render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bytes_queued_for_a_client_that_does_not_read() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");

    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(300))
        .build();
    io.of("/").on_connection(|socket| async move {
        for _ in 0..10 {
            let _ = socket.emit("big", &"x".repeat(1000));
        }
    });
    let addr = common::serve_accept_loop(&io).await;

    // A polling client that connects and then never polls: what the server sends waits.
    let (status, open) = common::polling_request(addr, "GET", "", "").await;
    assert!(status.contains("200"), "{status}");
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("sid in the OPEN packet")
        .to_string();
    let (status, _) = common::polling_request(addr, "POST", &format!("&sid={sid}"), "40").await;
    assert!(status.contains("200"), "{status}");

    wait_for(
        &handle,
        "the queued events, reported at the heartbeat",
        |h| sample(h, "engineio_outgoing_buffered_bytes").is_some_and(|b| b >= 10_000.0),
    )
    .await;
    assert_eq!(
        sample(&handle, "engineio_connections{transport=\"polling\"}"),
        Some(1.0)
    );

    // It never answers the ping either: the session ends and gives its share back.
    wait_for(&handle, "the session gone", |h| {
        sample(h, "engineio_outgoing_buffered_bytes") == Some(0.0)
            && sample(h, "engineio_connections{transport=\"polling\"}") == Some(0.0)
    })
    .await;
    assert_eq!(
        sample(
            &handle,
            "engineio_disconnects_total{reason=\"ping_timeout\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &handle,
            "socketio_disconnects_total{namespace=\"/\",reason=\"ping_timeout\"}"
        ),
        Some(1.0)
    );
}
