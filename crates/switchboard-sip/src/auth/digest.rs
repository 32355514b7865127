//! HTTP Digest for SIP (RFC 2617, RFC 7616, RFC 8760): parsing Authorization headers,
//! writing WWW-Authenticate challenges, and checking a response against a stored HA1.
//! Passwords are never needed here: only `H(username:realm:password)`.

use std::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Parses the `algorithm` parameter (absent means MD5, RFC 2617 §3.2.1).
    pub fn parse(s: Option<&str>) -> Result<Algorithm, AuthError> {
        match s {
            None => Ok(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Ok(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Ok(Algorithm::Sha256),
            Some(_) => Err(AuthError::UnsupportedAlgorithm),
        }
    }

    /// The token used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex digest of `data`.
    pub fn hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `H(username:realm:password)`: what the user store keeps instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex(&format!("{username}:{realm}:{password}"))
}

/// The stored secrets of one user: an HA1 per algorithm the user may authenticate with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredCredential {
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

impl StoredCredential {
    /// Both HA1 values from a password (for provisioning; the password is not kept).
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        StoredCredential {
            ha1_md5: Some(ha1(Algorithm::Md5, username, realm, password)),
            ha1_sha256: Some(ha1(Algorithm::Sha256, username, realm, password)),
        }
    }

    fn for_algorithm(&self, a: Algorithm) -> Option<&str> {
        match a {
            Algorithm::Md5 => self.ha1_md5.as_deref(),
            Algorithm::Sha256 => self.ha1_sha256.as_deref(),
        }
    }
}

/// A parsed `Authorization: Digest …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub qop: Option<String>,
    /// Nonce count, parsed from its 8 hex digits.
    pub nc: Option<u32>,
    /// The nonce count as sent (hashed verbatim).
    pub nc_raw: Option<String>,
    pub opaque: Option<String>,
}

impl DigestCredentials {
    /// Parses the value of an Authorization header.
    pub fn parse(value: &str) -> Result<DigestCredentials, AuthError> {
        let value = value.trim();
        let rest = value
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .map(|_| &value[6..])
            .ok_or(AuthError::Malformed("scheme is not Digest"))?;
        let params = parse_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let need = |name: &'static str| get(name).ok_or(AuthError::Malformed(name));
        let nc_raw = get("nc");
        let nc = match &nc_raw {
            Some(s) if s.len() == 8 => {
                Some(u32::from_str_radix(s, 16).map_err(|_| AuthError::Malformed("nc"))?)
            }
            Some(_) => return Err(AuthError::Malformed("nc")),
            None => None,
        };
        Ok(DigestCredentials {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm: Algorithm::parse(get("algorithm").as_deref())?,
            cnonce: get("cnonce"),
            qop: get("qop"),
            nc,
            nc_raw,
            opaque: get("opaque"),
        })
    }

    /// Checks the response against the stored HA1 for `method`, in constant time.
    /// Only `qop=auth` is accepted: without it there is no nonce count, hence no replay
    /// protection.
    pub fn verify(&self, method: &str, stored: &StoredCredential) -> Result<bool, AuthError> {
        let ha1 = stored
            .for_algorithm(self.algorithm)
            .ok_or(AuthError::UnsupportedAlgorithm)?;
        let (Some(qop), Some(nc), Some(cnonce)) = (&self.qop, &self.nc_raw, &self.cnonce) else {
            return Err(AuthError::Malformed(
                "qop=auth with nc and cnonce is required",
            ));
        };
        if !qop.eq_ignore_ascii_case("auth") {
            return Err(AuthError::Malformed("qop"));
        }
        let ha2 = self.algorithm.hex(&format!("{method}:{}", self.uri));
        let expected = self
            .algorithm
            .hex(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", self.nonce));
        let given = self.response.to_ascii_lowercase();
        Ok(expected.as_bytes().ct_eq(given.as_bytes()).into())
    }
}

/// A `WWW-Authenticate: Digest …` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    /// The nonce was valid once but is too old (RFC 2617 §3.2.1): the client retries with
    /// the new nonce without asking the user.
    pub stale: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            self.realm, self.nonce, self.algorithm
        )?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

impl Challenge {
    /// Parses a `WWW-Authenticate`/`Proxy-Authenticate` value (what a trunk sends us).
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let value = value.trim();
        let rest = value
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .map(|_| &value[6..])
            .ok_or(AuthError::Malformed("scheme is not Digest"))?;
        let params = parse_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Ok(Challenge {
            realm: get("realm").ok_or(AuthError::Malformed("realm"))?,
            nonce: get("nonce").ok_or(AuthError::Malformed("nonce"))?,
            algorithm: Algorithm::parse(get("algorithm").as_deref())?,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The `Authorization` value a client sends in answer (qop=auth), e.g. towards a trunk.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let a = self.algorithm;
        let ha1 = ha1(a, username, &self.realm, password);
        let ha2 = a.hex(&format!("{method}:{uri}"));
        let response = a.hex(&format!(
            "{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}",
            self.nonce
        ));
        format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={a}, cnonce=\"{cnonce}\", qop=auth, nc={nc:08x}",
            self.realm, self.nonce
        )
    }
}

/// Parses `a="x", b=y, …` (quoted strings may hold commas and escaped quotes).
fn parse_params(s: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == ',')
            .is_some()
        {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut end = start;
        while let Some((i, c)) = chars.next_if(|(_, c)| *c != '=') {
            end = i + c.len_utf8();
        }
        let name = s[start..end].trim();
        if chars.next().is_none() || name.is_empty() {
            return Err(AuthError::Malformed("parameter"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '"').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            value.push(e);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(AuthError::Malformed("unterminated quoted string"));
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != ',') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5 example values, adapted to SIP's method and URI.
    fn creds(algorithm: Algorithm, password: &str) -> (DigestCredentials, StoredCredential) {
        let stored = StoredCredential::from_password("alice", "example.com", "secret");
        let ha1 = ha1(algorithm, "alice", "example.com", password);
        let ha2 = algorithm.hex("REGISTER:sip:example.com");
        let response = algorithm.hex(&format!("{ha1}:abc123:00000001:0a4f113b:auth:{ha2}"));
        let header = format!(
            "Digest username=\"alice\", realm=\"example.com\", nonce=\"abc123\", \
             uri=\"sip:example.com\", response=\"{response}\", algorithm={algorithm}, \
             cnonce=\"0a4f113b\", qop=auth, nc=00000001"
        );
        (DigestCredentials::parse(&header).unwrap(), stored)
    }

    #[test]
    fn right_password_verifies_with_md5_and_sha256() {
        for a in [Algorithm::Md5, Algorithm::Sha256] {
            let (c, stored) = creds(a, "secret");
            assert_eq!(c.nc, Some(1));
            assert_eq!(c.verify("REGISTER", &stored), Ok(true), "{a}");
        }
    }

    #[test]
    fn wrong_password_or_wrong_method_fails() {
        let (c, stored) = creds(Algorithm::Md5, "guess");
        assert_eq!(c.verify("REGISTER", &stored), Ok(false));
        let (c, stored) = creds(Algorithm::Sha256, "secret");
        assert_eq!(c.verify("INVITE", &stored), Ok(false));
    }

    #[test]
    fn known_md5_ha1_matches_the_rfc_formula() {
        // md5("alice:example.com:secret"), computed independently.
        assert_eq!(
            ha1(Algorithm::Md5, "alice", "example.com", "secret"),
            hex::encode(Md5::digest(b"alice:example.com:secret"))
        );
        assert_eq!(ha1(Algorithm::Sha256, "a", "b", "c").len(), 64);
    }

    #[test]
    fn malformed_authorization_headers_are_errors() {
        for bad in [
            "",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Digest username=\"a",
            "Digest username=\"a\", realm=\"r\"",
            "Digest =x",
            "Digest username=a, realm=r, nonce=n, uri=u, response=r, nc=1",
            "Digest username=a, realm=r, nonce=n, uri=u, response=r, algorithm=SHA-512",
        ] {
            assert!(DigestCredentials::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn credentials_without_qop_are_refused() {
        let c = DigestCredentials::parse(
            "Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:x\", \
             response=\"00\"",
        )
        .unwrap();
        let stored = StoredCredential::from_password("alice", "example.com", "secret");
        assert!(c.verify("REGISTER", &stored).is_err());
    }

    #[test]
    fn a_client_answer_to_a_parsed_challenge_verifies() {
        let header = "Digest realm=\"trunk.example\", nonce=\"xyz\", algorithm=SHA-256, \
                      qop=\"auth\"";
        let c = Challenge::parse(header).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let answer = c.answer("bob", "pw", "INVITE", "sip:1@trunk.example", 1, "c1");
        let creds = DigestCredentials::parse(&answer).unwrap();
        let stored = StoredCredential::from_password("bob", "trunk.example", "pw");
        assert_eq!(creds.verify("INVITE", &stored), Ok(true));
    }

    #[test]
    fn challenge_is_written_with_qop_and_stale() {
        let c = Challenge {
            realm: "example.com".into(),
            nonce: "n1".into(),
            algorithm: Algorithm::Sha256,
            stale: true,
        };
        assert_eq!(
            c.to_string(),
            "Digest realm=\"example.com\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\", \
             stale=true"
        );
    }
}
