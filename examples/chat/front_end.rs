//! The React front end (`web/`): built with npm when missing or older than its sources,
//! then served from memory (only the files of `web/dist`, nothing else of the disk).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::SystemTime;

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use gateway_runtime::socketio::ClientBundle;

/// The front end's directory.
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("chat/web")
}

/// The newest modification time of `path` (a file, or a directory read recursively,
/// `node_modules` and `dist` left out).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| !matches!(e.file_name().to_str(), Some("node_modules" | "dist")))
        .filter_map(|e| newest(&e.path()))
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn npm(web: &Path, args: &[&str]) -> Result<(), String> {
    tracing::info!("front end: npm {} in {}", args.join(" "), web.display());
    match Command::new("npm").args(args).current_dir(web).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("npm {} failed ({status})", args.join(" "))),
        Err(e) => Err(format!("cannot run npm ({e}): install Node.js 20 or later")),
    }
}

/// Installs the npm packages when missing or older than the lock file, and builds
/// `web/dist` when missing or older than the sources.
pub fn ensure_built(web: &Path) -> Result<(), String> {
    let lock = modified(&web.join("package-lock.json"));
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || lock > installed {
        npm(web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    let built = modified(&web.join("dist/index.html"));
    if built.is_none() || newest(web) > built {
        npm(web, &["run", "build", "--silent"])?;
    }
    Ok(())
}

/// The built files, by URL path (`/index.html`, `/assets/index-…js`).
#[derive(Clone, Default)]
pub struct FrontEnd {
    files: Arc<HashMap<String, (&'static str, Vec<u8>)>>,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut HashMap<String, (&'static str, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if let (Ok(rel), Ok(bytes)) = (path.strip_prefix(root), std::fs::read(&path)) {
            let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
            out.insert(url.clone(), (content_type(&url), bytes));
        }
    }
}

impl FrontEnd {
    /// Builds the front end when needed and loads `web/dist`; empty (a page that says
    /// why) when it cannot be built.
    pub fn load() -> Self {
        let web = web_dir();
        if let Err(e) = ensure_built(&web) {
            tracing::error!("the front end could not be built: {e}; `/` says so");
            return Self::default();
        }
        let mut files = HashMap::new();
        read_tree(&web.join("dist"), &web.join("dist"), &mut files);
        tracing::info!(
            files = files.len(),
            "front end loaded from {}",
            web.join("dist").display()
        );
        Self {
            files: Arc::new(files),
        }
    }

    /// Answers a GET: a built file, else `index.html` for page paths (no extension),
    /// else 404.
    pub fn serve(&self, uri: &Uri) -> Response {
        let path = match uri.path() {
            "/" => "/index.html",
            p => p,
        };
        let page = !path.rsplit('/').next().unwrap_or("").contains('.');
        let found = self.files.get(path).map(|f| (path, f)).or_else(|| {
            page.then(|| self.files.get("/index.html").map(|f| ("/index.html", f)))
                .flatten()
        });
        match found {
            Some((path, (ty, bytes))) => {
                // Vite names assets by content hash: they never change under one name.
                let cache = if path.starts_with("/assets/") {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                (
                    [(header::CONTENT_TYPE, *ty), (header::CACHE_CONTROL, cache)],
                    bytes.clone(),
                )
                    .into_response()
            }
            None if self.files.is_empty() && page => (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(
                    "<h1>Chat</h1><p>The front end is not built: see the server's log \
                     (it runs <code>npm ci</code> and <code>npm run build</code> in \
                     <code>examples/chat/web</code> at start, which needs Node.js 20+).</p>",
                ),
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// The official browser client at `/socket.io/socket.io.min.js`, for pages other than
/// the React app (which bundles it), from `web/node_modules`.
pub fn client_bundle(web: &Path) -> Option<ClientBundle> {
    let bundle = ClientBundle::find_from(web);
    if bundle.is_none() {
        tracing::warn!(
            "socket.io-client is not in {}/node_modules: /socket.io/socket.io.min.js is a 404",
            web.display()
        );
    }
    bundle
}
