//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966). Other schemes are kept opaque.

use std::fmt;

use super::ParseError;
use super::typed::Params;

/// URI scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme; the rest of the URI is kept verbatim in `host`.
    Other(String),
}

/// A parsed URI. For `tel:` the number is in `user` and `host` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?` header part, verbatim (without the `?`).
    pub headers: Option<String>,
}

impl Uri {
    /// A `sip:` URI for `user@host[:port]`.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Uri {
        Uri {
            scheme: Scheme::Sip,
            user: user.map(str::to_owned),
            password: None,
            host: host.to_owned(),
            port,
            params: Params::default(),
            headers: None,
        }
    }

    /// Parses a URI.
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        let s = s.trim();
        let (scheme, rest) = s.split_once(':').ok_or(ParseError::Uri)?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            || rest.is_empty()
            || rest
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ParseError::Uri);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            parse_sip(Scheme::Sip, rest)
        } else if scheme.eq_ignore_ascii_case("sips") {
            parse_sip(Scheme::Sips, rest)
        } else if scheme.eq_ignore_ascii_case("tel") {
            let (number, params) = rest.split_once(';').unwrap_or((rest, ""));
            if number.is_empty() {
                return Err(ParseError::Uri);
            }
            Ok(Uri {
                scheme: Scheme::Tel,
                user: Some(number.to_owned()),
                password: None,
                host: String::new(),
                port: None,
                params: Params::parse(params)?,
                headers: None,
            })
        } else {
            Ok(Uri {
                scheme: Scheme::Other(scheme.to_owned()),
                user: None,
                password: None,
                host: rest.to_owned(),
                port: None,
                params: Params::default(),
                headers: None,
            })
        }
    }

    /// `host[:port]`, with IPv6 brackets kept.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// True if the URI carries the `lr` parameter (a loose router, RFC 3261 §16.12).
    pub fn is_loose_router(&self) -> bool {
        self.params.contains("lr")
    }

    /// The address-of-record form used as a registrar key: `scheme:user@host`, lower-cased
    /// host, no port or parameters (RFC 3261 §10.3 step 5).
    pub fn aor(&self) -> String {
        let scheme = match &self.scheme {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => return format!("tel:{}", self.user.as_deref().unwrap_or("")),
            Scheme::Other(s) => return format!("{s}:{}", self.host),
        };
        match &self.user {
            Some(u) => format!("{scheme}:{u}@{}", self.host.to_ascii_lowercase()),
            None => format!("{scheme}:{}", self.host.to_ascii_lowercase()),
        }
    }
}

fn parse_sip(scheme: Scheme, rest: &str) -> Result<Uri, ParseError> {
    // The user part may hold ';' and '?' (user-unreserved), so split at '@' first.
    let (userinfo, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        Some(ui) => {
            let (u, p) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p.to_owned())),
                None => (ui, None),
            };
            if u.is_empty() {
                return Err(ParseError::Uri);
            }
            (Some(u.to_owned()), p)
        }
        None => (None, None),
    };
    let (hostpart, headers) = match hostpart.split_once('?') {
        Some((h, q)) => (h, Some(q.to_owned())),
        None => (hostpart, None),
    };
    let (hostport, params) = hostpart.split_once(';').unwrap_or((hostpart, ""));
    let (host, port) = split_host_port(hostport)?;
    Ok(Uri {
        scheme,
        user,
        password,
        host,
        port,
        params: Params::parse(params)?,
        headers,
    })
}

/// Splits `host[:port]` (IPv6 in brackets), checking host characters and the port range.
pub(crate) fn split_host_port(s: &str) -> Result<(String, Option<u16>), ParseError> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or(ParseError::Uri)?;
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return Err(ParseError::Uri);
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(ParseError::Uri)?),
        };
        (format!("[{inner}]"), port)
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(ParseError::Uri);
        }
        (h.to_owned(), p)
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| ParseError::Uri)?),
    };
    Ok((host, port))
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scheme {
            Scheme::Other(s) => return write!(f, "{s}:{}", self.host),
            Scheme::Tel => {
                return write!(
                    f,
                    "tel:{}{}",
                    self.user.as_deref().unwrap_or(""),
                    self.params
                );
            }
            Scheme::Sip => f.write_str("sip:")?,
            Scheme::Sips => f.write_str("sips:")?,
        }
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_with_user_port_and_params_round_trips() {
        let u = Uri::parse("sip:alice@Atlanta.example.com:5061;transport=tcp;lr").unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.host, "Atlanta.example.com");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params.get("transport"), Some(Some("tcp")));
        assert!(u.is_loose_router());
        assert_eq!(
            u.to_string(),
            "sip:alice@Atlanta.example.com:5061;transport=tcp;lr"
        );
        assert_eq!(u.aor(), "sip:alice@atlanta.example.com");
    }

    #[test]
    fn ipv6_and_tel_uris_parse() {
        let u = Uri::parse("sip:[2001:db8::1]:5060").unwrap();
        assert_eq!(u.host, "[2001:db8::1]");
        assert_eq!(u.port, Some(5060));
        let t = Uri::parse("tel:+4930123456;phone-context=example.com").unwrap();
        assert_eq!(t.user.as_deref(), Some("+4930123456"));
        assert_eq!(t.to_string(), "tel:+4930123456;phone-context=example.com");
    }

    #[test]
    fn bad_uris_are_errors() {
        for bad in [
            "",
            "sip:",
            "alice",
            "sip:@host",
            "sip:a@",
            "sip:host:99999",
            "sip:ho st",
            "sip:[::1",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
