//! End-to-end test fixtures.

/// Binds the fixture's listener: on `host`, at `PORT` (default `default_port`; 0 = any free
/// port), and prints `listening on http://<addr>`, the line the JavaScript tests wait for.
pub async fn listen(host: &str, default_port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default_port);
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}
