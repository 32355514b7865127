//! Phone numbers: E.164 for customers and trunks, short extensions for agents' phones.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number must be E.164: '+' then 8 to 15 digits, the first not 0")]
    NotE164,
    #[error("extension must be 2 to 8 digits")]
    BadExtension,
}

/// A phone number in E.164 form, e.g. `+8613812345678`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Accepts `+` followed by 8-15 digits. Spaces, dashes and parentheses that people type are
    /// removed first, so `+86 138-1234-5678` is accepted as `+8613812345678`.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let digits = cleaned.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        let valid = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(E164(cleaned))
        } else {
            Err(PhoneError::NotE164)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        E164::parse(&s)
    }
}

impl From<E164> for String {
    fn from(p: E164) -> String {
        p.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An internal extension, e.g. `1001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Extension(String);

impl Extension {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        if (2..=8).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Extension(input.to_owned()))
        } else {
            Err(PhoneError::BadExtension)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Extension {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Extension::parse(&s)
    }
}

impl From<Extension> for String {
    fn from(e: Extension) -> String {
        e.0
    }
}

impl std::fmt::Display for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_and_strips_typing_separators() {
        assert_eq!(
            E164::parse("+86 138-1234-5678").unwrap().as_str(),
            "+8613812345678"
        );
        assert_eq!(
            E164::parse("+14155550123").unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn rejects_numbers_that_are_not_e164() {
        for bad in [
            "13812345678",
            "+0123456789",
            "+1234",
            "+1234567890123456",
            "+86abc12345678",
            "",
        ] {
            assert_eq!(E164::parse(bad), Err(PhoneError::NotE164), "{bad}");
        }
    }

    #[test]
    fn extensions_are_short_digit_strings() {
        assert!(Extension::parse("1001").is_ok());
        assert!(Extension::parse("1").is_err());
        assert!(Extension::parse("10a1").is_err());
    }

    #[test]
    fn json_rejects_invalid_phone() {
        assert!(serde_json::from_str::<E164>("\"12345\"").is_err());
        assert!(serde_json::from_str::<E164>("\"+8613812345678\"").is_ok());
    }
}
