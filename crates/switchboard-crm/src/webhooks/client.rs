//! The HTTP POST a delivery makes: hyper's HTTP/1.1 client on a fresh tokio connection, with
//! one deadline over connect, send and the response head.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::schedule::Request;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid webhook URL '{0}'")]
    BadUrl(String),
    #[error("only http:// webhook URLs are supported so far, not '{0}'")]
    UnsupportedScheme(String),
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Checks a subscription URL the way delivery will use it.
pub fn check_url(url: &str) -> Result<(), ClientError> {
    target(url).map(|_| ())
}

fn target(url: &str) -> Result<(Uri, String, u16), ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ClientError::BadUrl(url.to_owned()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(ClientError::UnsupportedScheme(other.to_owned())),
        None => return Err(ClientError::BadUrl(url.to_owned())),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ClientError::BadUrl(url.to_owned()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    Ok((uri, host, port))
}

/// POSTs `req` and returns the response status.
pub async fn post(req: &Request, timeout: Duration) -> Result<u16, ClientError> {
    match tokio::time::timeout(timeout, post_inner(req)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout(timeout)),
    }
}

async fn post_inner(req: &Request) -> Result<u16, ClientError> {
    let (uri, host, port) = target(&req.url)?;
    let host_for_connect = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let stream = TcpStream::connect((host_for_connect.as_str(), port))
        .await
        .map_err(ClientError::Connect)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when the request is done and `sender` is dropped.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let host_header = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let mut builder = hyper::Request::post(path)
        .header("Host", host_header)
        .header(
            "User-Agent",
            concat!("switchboard/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in &req.headers {
        builder = builder.header(*name, value.as_str());
    }
    let request = builder.body(Full::new(Bytes::from(req.body.clone())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    // Read (and drop) the answer so the receiver is not cut off mid-write.
    let _ = response.into_body().collect().await;
    drop(sender);
    driver.abort();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert!(check_url("http://127.0.0.1:8080/hook?x=1").is_ok());
        assert!(check_url("http://crm.example/hook").is_ok());
        assert!(matches!(
            check_url("https://crm.example/hook"),
            Err(ClientError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            check_url("not a url"),
            Err(ClientError::BadUrl(_))
        ));
        assert!(matches!(
            check_url("/relative"),
            Err(ClientError::BadUrl(_))
        ));
    }
}
