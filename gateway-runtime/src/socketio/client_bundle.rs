//! Serving the official browser client (socket.io's `serveClient`): `/socket.io/socket.io.js`
//! and its minified, ESM and msgpack builds, so a page needs no CDN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// The files socket.io serves, by name under the server's path.
const FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The browser builds of `socket.io-client`, read once from its npm package's `dist`
/// folder, served by [`SocketIoBuilder::serve_client`](super::SocketIoBuilder::serve_client)
/// under the server's path (`/socket.io/socket.io.min.js`, …) as socket.io's `serveClient`
/// does: `Content-Type: application/javascript`, an `ETag` of the client's version, `304 Not
/// Modified` for a matching `If-None-Match`.
///
/// ```no_run
/// use gateway_runtime::socketio::{ClientBundle, SocketIo};
/// let bundle = ClientBundle::from_dir("web/node_modules/socket.io-client/dist").unwrap();
/// let io = SocketIo::builder().serve_client(bundle).build();
/// // <script src="/socket.io/socket.io.min.js"></script> in your page
/// # let _ = io;
/// ```
#[derive(Clone)]
pub struct ClientBundle {
    files: Arc<Vec<(&'static str, Bytes)>>,
    etag: HeaderValue,
    version: String,
}

impl std::fmt::Debug for ClientBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBundle")
            .field("version", &self.version)
            .field(
                "files",
                &self.files.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ClientBundle {
    /// Reads the builds from `dist` (the `dist` folder of the `socket.io-client` npm
    /// package; its version is read from the `package.json` beside it). Files missing from
    /// the folder are not served; `socket.io.js` and `socket.io.min.js` must be there.
    pub fn from_dir(dist: impl AsRef<Path>) -> std::io::Result<Self> {
        let dist = dist.as_ref();
        let mut files = Vec::new();
        for name in FILES {
            match std::fs::read(dist.join(name)) {
                Ok(bytes) => files.push((name, Bytes::from(bytes))),
                Err(e) if name == "socket.io.js" || name == "socket.io.min.js" => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", dist.join(name).display()),
                    ))
                }
                Err(_) => {}
            }
        }
        let version = std::fs::read(dist.join("../package.json"))
            .ok()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
            .and_then(|p| p.get("version")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("len-{}", files[0].1.len()));
        let etag = HeaderValue::from_str(&format!("\"{version}\""))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(Self {
            files: Arc::new(files),
            etag,
            version,
        })
    }

    /// Looks for `node_modules/socket.io-client/dist` in `start` and each folder above it,
    /// and reads the first found; `None` when there is none.
    ///
    /// ```no_run
    /// use gateway_runtime::socketio::ClientBundle;
    /// let bundle = ClientBundle::find_from(std::env::current_dir().unwrap());
    /// # let _ = bundle;
    /// ```
    pub fn find_from(start: impl Into<PathBuf>) -> Option<Self> {
        let start = start.into();
        start
            .ancestors()
            .map(|dir| dir.join("node_modules/socket.io-client/dist"))
            .find(|dist| dist.join("socket.io.min.js").is_file())
            .and_then(|dist| Self::from_dir(dist).ok())
    }

    /// The client's version (from its `package.json`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The names of the files served (under the server's path).
    pub fn file_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files.iter().map(|(n, _)| *n)
    }

    /// The answer to a GET of `name`.
    fn answer(&self, name: &str, headers: &HeaderMap) -> Response {
        let Some((_, body)) = self.files.iter().find(|(n, _)| *n == name) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let content_type = if name.ends_with(".map") {
            "application/json"
        } else {
            "application/javascript; charset=utf-8"
        };
        let cache = [
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=0"),
            ),
            (header::ETAG, self.etag.clone()),
        ];
        if headers.get(header::IF_NONE_MATCH) == Some(&self.etag) {
            return (StatusCode::NOT_MODIFIED, cache).into_response();
        }
        (
            StatusCode::OK,
            cache,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body.clone(),
        )
            .into_response()
    }

    /// The routes serving the files under `path` (the server's path, e.g. `/socket.io/`).
    pub(crate) fn router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> axum::Router<S> {
        let base = path.trim_end_matches('/');
        let mut router = axum::Router::new();
        for name in self.file_names() {
            let bundle = self.clone();
            router = router.route(
                &format!("{base}/{name}"),
                axum::routing::get(move |headers: HeaderMap| {
                    let bundle = bundle.clone();
                    async move { bundle.answer(name, &headers) }
                }),
            );
        }
        router
    }
}
