//! JSON Web Tokens: [`JwtService`] signs and verifies with one pinned algorithm;
//! [`JwtGuard`] authenticates a connection or a message and stores the claims on the socket.
//!
//! The guard reads the token from the handshake's `auth.token`, an `Authorization: Bearer`
//! header, or a query parameter (`token` by default, see [`JwtGuard::query_key`]).
//! Handlers read the claims with a `#[claims] user: MyClaims` parameter.
//!
//! ```
//! use gateway_runtime::jwt::JwtService;
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Claims { sub: String, exp: u64 }
//! let jwt = JwtService::hs256(b"secret").with_issuer("chat");
//! let token = jwt.sign(&Claims { sub: "ada".into(), exp: jwt.now() + 60 }).unwrap();
//! let claims: Claims = jwt.verify(&token).unwrap();
//! assert_eq!(claims.sub, "ada");
//! assert!(JwtService::hs256(b"other").verify::<Claims>(&token).is_err());
//! ```

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::{
    Container, Dependency, DiError, Exception, ExecutionContext, Guard, Injectable, WsException,
};
use crate::socketio::Socket;

/// A token that failed verification, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtError(pub String);

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwtError {}

impl From<jsonwebtoken::errors::Error> for JwtError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        JwtError(match e.kind() {
            ErrorKind::ExpiredSignature => "token expired".into(),
            ErrorKind::ImmatureSignature => "token not valid yet".into(),
            ErrorKind::InvalidAlgorithm => "token signed with an unexpected algorithm".into(),
            ErrorKind::InvalidSignature => "invalid token signature".into(),
            ErrorKind::InvalidIssuer => "unexpected token issuer".into(),
            ErrorKind::InvalidAudience => "unexpected token audience".into(),
            ErrorKind::MissingRequiredClaim(claim) => {
                format!("invalid token: no `{claim}` claim")
            }
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                "invalid token: not a JWT".into()
            }
            // What the parser says (e.g. the algorithms it knows) stays in the log: a
            // client is told only what it can act on.
            kind => {
                tracing::debug!(error = ?kind, "token refused");
                "invalid token".into()
            }
        })
    }
}

/// Signs and verifies tokens with one algorithm (the algorithm in a token's header must
/// match it), checking `exp`, `nbf` and, when configured, `iss` and `aud`.
#[derive(Clone)]
pub struct JwtService {
    algorithm: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtService")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwtService {
    fn new(algorithm: Algorithm, encoding: Option<EncodingKey>, decoding: DecodingKey) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = 0;
        validation.required_spec_claims = ["exp".to_string()].into();
        Self {
            algorithm,
            encoding,
            decoding,
            validation,
        }
    }

    /// HMAC-SHA256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(
            Algorithm::HS256,
            Some(EncodingKey::from_secret(secret)),
            DecodingKey::from_secret(secret),
        )
    }

    /// HMAC-SHA256 with the secret in environment variable `var`.
    pub fn hs256_from_env(var: &str) -> Result<Self, JwtError> {
        let secret = std::env::var(var)
            .map_err(|_| JwtError(format!("environment variable {var} is not set")))?;
        if secret.is_empty() {
            // An empty key signs tokens anyone can forge.
            return Err(JwtError(format!("environment variable {var} is empty")));
        }
        Ok(Self::hs256(secret.as_bytes()))
    }

    /// HMAC with SHA-256/384/512 (`Algorithm::HS256` …).
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Self {
        Self::new(
            algorithm,
            Some(EncodingKey::from_secret(secret)),
            DecodingKey::from_secret(secret),
        )
    }

    /// RSA (`RS256`, `RS384`, `RS512`, `PS256` …) from PEM keys; without a private key
    /// the service only verifies.
    pub fn rsa_pem(
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Result<Self, JwtError> {
        let encoding = private_pem.map(EncodingKey::from_rsa_pem).transpose()?;
        Ok(Self::new(
            algorithm,
            encoding,
            DecodingKey::from_rsa_pem(public_pem)?,
        ))
    }

    /// ECDSA (`ES256`, `ES384`) from PEM keys; without a private key the service only
    /// verifies.
    pub fn ec_pem(
        algorithm: Algorithm,
        private_pem: Option<&[u8]>,
        public_pem: &[u8],
    ) -> Result<Self, JwtError> {
        let encoding = private_pem.map(EncodingKey::from_ec_pem).transpose()?;
        Ok(Self::new(
            algorithm,
            encoding,
            DecodingKey::from_ec_pem(public_pem)?,
        ))
    }

    /// Requires this `iss`.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// Requires this `aud`.
    pub fn with_audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self
    }

    /// Accepts `exp`/`nbf` off by up to `seconds`.
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// The current time in seconds, as tokens count it.
    pub fn now(&self) -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    /// Signs `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, JwtError> {
        let key = self
            .encoding
            .as_ref()
            .ok_or_else(|| JwtError("this service has no signing key".into()))?;
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            claims,
            key,
        )?)
    }

    /// Verifies `token` and returns its claims.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<T, JwtError> {
        Ok(jsonwebtoken::decode::<T>(token, &self.decoding, &self.validation)?.claims)
    }

    /// Replaces the claims of an authenticated socket with those of a fresh `token`,
    /// without reconnecting (a token refresh): [`JwtGuard`] then accepts its messages
    /// until the new expiry, and disconnects it only then. Refused like a handshake token,
    /// and when its `sub` is not the socket's (the socket keeps its current claims).
    ///
    /// ```no_run
    /// use gateway_runtime::prelude::*;
    ///
    /// #[gateway(namespace = "/chat")]
    /// #[use_guards(JwtGuard)]
    /// pub struct Chat { jwt: Arc<JwtService> }
    ///
    /// #[gateway]
    /// impl Chat {
    ///     /// The client emits `refresh-token` with a new token before the old one expires.
    ///     #[subscribe_message("refresh-token")]
    ///     fn refresh(&self, #[message_body] token: String, #[connected_socket] client: Socket)
    ///         -> Result<bool, WsException> {
    ///         self.jwt.refresh(&client, &token).map_err(|e| WsException::new(e.to_string()))?;
    ///         Ok(true)
    ///     }
    /// }
    /// ```
    pub fn refresh(&self, socket: &Socket, token: &str) -> Result<(), JwtError> {
        let claims: Value = self.verify(token)?;
        if let Some(Claims(current)) = socket.extension::<Claims>() {
            // A refresh renews the same user's session; another user must connect anew
            // (the socket's rooms were joined as the first one).
            if current.get("sub") != claims.get("sub") {
                return Err(JwtError("the token is for another user".into()));
            }
        }
        socket.insert_extension(Claims(claims));
        if let Some(ExpiryWatch(wake, _)) = socket.extension::<ExpiryWatch>() {
            wake.notify_one();
        }
        Ok(())
    }
}

/// The verified claims of a socket's token, stored as a socket extension by [`JwtGuard`].
#[derive(Debug, Clone)]
pub struct Claims(pub Value);

/// Authenticates with [`JwtService`]: as a connection guard, refuses the connection with
/// `connect_error` `{message: "Unauthorized", data: {message, reason}}`; as a message guard,
/// accepts sockets authenticated at connection (while their token has not expired) or
/// carrying a valid token.
#[derive(Clone)]
pub struct JwtGuard {
    jwt: Arc<JwtService>,
    query_key: String,
    disconnect_on_expiry: bool,
}

impl fmt::Debug for JwtGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtGuard")
            .field("query_key", &self.query_key)
            .finish()
    }
}

impl JwtGuard {
    /// A guard verifying with `jwt`.
    pub fn new(jwt: Arc<JwtService>) -> Self {
        Self {
            jwt,
            query_key: "token".into(),
            disconnect_on_expiry: true,
        }
    }

    /// The query parameter that may carry the token (default `token`).
    pub fn query_key(mut self, key: impl Into<String>) -> Self {
        self.query_key = key.into();
        self
    }

    fn token(&self, ctx: &ExecutionContext) -> Option<String> {
        let handshake = ctx.socket().handshake();
        if let Some(t) = handshake.auth.get("token").and_then(Value::as_str) {
            return Some(t.to_string());
        }
        if let Some(h) = handshake
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            if let Some(t) = h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
            {
                return Some(t.trim().to_string());
            }
        }
        handshake.query(&self.query_key)
    }
}

fn unauthorized(reason: &str) -> Exception {
    WsException::object(json!({ "status": "error", "message": "Unauthorized", "reason": reason }))
        .with_kind(crate::app::exception::WsKind::Unauthorized)
        .into()
}

fn expiry(claims: &Value) -> u64 {
    claims
        .get("exp")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

/// The expiry watch of a socket (one per socket): told when its claims are refreshed.
/// `running` is alive while its task runs (a recovered socket gets its extensions back,
/// this one included, but not the task).
#[derive(Clone)]
struct ExpiryWatch(Arc<tokio::sync::Notify>, std::sync::Weak<()>);

impl JwtGuard {
    /// Whether a socket is disconnected when its token expires (default true): it gets
    /// the event `exception` with `{"status":"error","message":"Unauthorized","reason":
    /// "token expired"}`, then is disconnected (the client sees `io server disconnect` and
    /// does not reconnect by itself: it should log in again). A refreshed token
    /// ([`JwtService::refresh`]) moves the deadline, earlier or later. With `false`, the
    /// socket stays connected (and in its rooms) but the message guard refuses its
    /// messages.
    ///
    /// Register the configured guard as a provider so that `#[use_guards(JwtGuard)]`
    /// uses it:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gateway_runtime::jwt::{JwtGuard, JwtService};
    /// let jwt = Arc::new(JwtService::hs256(b"secret"));
    /// let guard = JwtGuard::new(jwt).disconnect_on_expiry(false);
    /// # let _ = guard;
    /// ```
    pub fn disconnect_on_expiry(mut self, on: bool) -> Self {
        self.disconnect_on_expiry = on;
        self
    }

    /// Disconnects `socket` once the `exp` of its claims has passed; a refresh wakes the
    /// watch to read the new claims.
    fn watch_expiry(&self, socket: &Socket) {
        if !self.disconnect_on_expiry {
            return;
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        let running = Arc::new(());
        {
            // One watch per socket: the first to store its signal starts it.
            if socket
                .extension::<ExpiryWatch>()
                .is_some_and(|w| w.1.strong_count() > 0)
            {
                return;
            }
            socket.insert_extension(ExpiryWatch(wake.clone(), Arc::downgrade(&running)));
        }
        let (socket, jwt) = (socket.clone(), self.jwt.clone());
        tokio::spawn(async move {
            let _running = running;
            loop {
                let refreshed = wake.notified();
                tokio::pin!(refreshed);
                refreshed.as_mut().enable();
                let Some(Claims(claims)) = socket.extension::<Claims>() else {
                    return;
                };
                let exp = expiry(&claims);
                let now = jwt.now();
                if exp <= now {
                    break;
                }
                // No `exp` (u64::MAX): only a refresh can bring one.
                let wait = std::time::Duration::from_secs((exp - now).min(365 * 24 * 3600));
                tokio::select! {
                    () = socket.closed() => return,
                    () = &mut refreshed => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            let refusal =
                json!({ "status": "error", "message": "Unauthorized", "reason": "token expired" });
            let _ = socket.emit("exception", &refusal);
            socket.disconnect(false);
        });
    }
}

impl Guard for JwtGuard {
    async fn can_activate(&self, ctx: &ExecutionContext) -> Result<bool, Exception> {
        if let Some(Claims(claims)) = ctx.socket().extension::<Claims>() {
            if expiry(&claims) > self.jwt.now() {
                // A recovered socket has its claims back but no watch yet.
                self.watch_expiry(ctx.socket());
                return Ok(true);
            }
            return Err(unauthorized("token expired"));
        }
        let token = self.token(ctx).ok_or_else(|| unauthorized("no token"))?;
        let claims: Value = self.jwt.verify(&token).map_err(|e| unauthorized(&e.0))?;
        ctx.socket().insert_extension(Claims(claims));
        self.watch_expiry(ctx.socket());
        Ok(true)
    }
}

impl Injectable for JwtGuard {
    fn dependencies() -> Vec<Dependency> {
        vec![Dependency::of::<JwtService>("jwt")]
    }
    fn construct(container: &Container) -> Result<Self, DiError> {
        Ok(JwtGuard::new(container.get()?))
    }
}
