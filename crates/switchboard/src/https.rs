//! HTTPS on the HTTP listener, when `http.tls_cert_file` and `http.tls_key_file` are set: the
//! console, the API and SIP over secure WebSocket (`wss://…/sip`, RFC 7118 §5) on one port.
//! Browsers give a page the microphone only in a secure context, which plain HTTP is only on
//! localhost, so every real deployment of the console needs this (or a TLS proxy in front).
//!
//! axum's own `serve` speaks plain TCP only; this is its loop with a rustls handshake in front
//! of each connection, HTTP/1.1 and HTTP/2 by ALPN, WebSocket upgrades, the peer address for
//! `ConnectInfo`, and the same graceful stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// A client that has not finished its handshake in this time is dropped (a slowloris on TLS).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or key cannot be used; each names its config key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        key: &'static str,
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { key: &'static str, path: PathBuf },
    #[error("{path} and http.tls_cert_file do not make a usable pair: {reason}")]
    Rejected { path: PathBuf, reason: String },
}

impl TlsError {
    /// The config key whose file is at fault.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::Read { key, .. } | TlsError::NoCertificate { key, .. } => key,
            TlsError::Rejected { .. } => KEY_KEY,
        }
    }
}

pub const CERT_KEY: &str = "http.tls_cert_file";
pub const KEY_KEY: &str = "http.tls_key_file";

/// The TLS acceptor for a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or
/// SEC1). Checked at start (`check-config` too), so a bad file stops the server naming the key.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|source| TlsError::Read {
            key: CERT_KEY,
            path: cert_file.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            key: CERT_KEY,
            path: cert_file.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|source| TlsError::Read {
        key: KEY_KEY,
        path: key_file.to_owned(),
        source,
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Rejected {
            path: key_file.to_owned(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` over TLS on `listener` until `stop` fires, then lets open requests finish
/// (the caller bounds that wait with `http.shutdown_grace_secs`).
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum::serve does.
                    tracing::warn!(error = %e, "accepting an HTTPS connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let tls = tls.clone();
        let service =
            TowerToHyperService::new(app.clone().layer(axum::Extension(ConnectInfo(peer))));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            let builder = Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_certificate_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = acceptor(&dir.path().join("none.pem"), &dir.path().join("key.pem"))
            .err()
            .unwrap();
        assert_eq!(err.key(), "http.tls_cert_file", "{err}");
    }

    #[test]
    fn a_file_without_pem_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let err = acceptor(&cert, &cert).err().unwrap();
        assert_eq!(err.key(), "http.tls_cert_file", "{err}");
    }

    #[test]
    fn a_key_that_does_not_match_names_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let one = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, one.cert.pem()).unwrap();
        std::fs::write(&key, two.signing_key.serialize_pem()).unwrap();
        let err = acceptor(&cert, &key).err().unwrap();
        assert_eq!(err.key(), "http.tls_key_file", "{err}");
        std::fs::write(&key, one.signing_key.serialize_pem()).unwrap();
        assert!(acceptor(&cert, &key).is_ok());
    }
}
