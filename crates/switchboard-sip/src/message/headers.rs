//! The header list of a message: names are case-insensitive, compact forms are expanded, and
//! order is kept (Via and Route order carries meaning).

/// One header line (after unfolding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: String,
    value: String,
}

impl Header {
    /// The header name, in canonical spelling for the headers we know.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw value, trimmed.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Ordered header list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

/// Canonical spelling of known header names and expansion of compact forms (RFC 3261 §7.3.3).
pub fn canonical_name(name: &str) -> &str {
    const KNOWN: &[&str] = &[
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Route",
        "Record-Route",
        "Content-Length",
        "Content-Type",
        "Expires",
        "Min-Expires",
        "Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "User-Agent",
        "Server",
        "Allow",
        "Supported",
        "Require",
        "Unsupported",
        "Reason",
        "Timestamp",
        "Refer-To",
        "Referred-By",
        "Event",
        "Subject",
        "Content-Encoding",
        "Accept",
        "Date",
        "Retry-After",
    ];
    if name.len() == 1 {
        let full = match name.as_bytes()[0].to_ascii_lowercase() {
            b'i' => Some("Call-ID"),
            b'm' => Some("Contact"),
            b'e' => Some("Content-Encoding"),
            b'l' => Some("Content-Length"),
            b'c' => Some("Content-Type"),
            b'f' => Some("From"),
            b's' => Some("Subject"),
            b'k' => Some("Supported"),
            b't' => Some("To"),
            b'v' => Some("Via"),
            b'o' => Some("Event"),
            b'r' => Some("Refer-To"),
            b'b' => Some("Referred-By"),
            _ => None,
        };
        if let Some(full) = full {
            return full;
        }
    }
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map_or(name, |k| k)
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Appends a header at the end.
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push(Header {
            name: canonical_name(name).to_owned(),
            value: value.trim().to_owned(),
        });
    }

    /// Inserts a header before all others of the same name (a proxy adds its Via on top).
    pub fn push_front(&mut self, name: &str, value: &str) {
        let name = canonical_name(name).to_owned();
        let at = self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(&name))
            .unwrap_or(self.0.len());
        self.0.insert(
            at,
            Header {
                name,
                value: value.trim().to_owned(),
            },
        );
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = canonical_name(name);
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every header line of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every comma-separated element of every `name` line, in order (for Via, Route, Contact…).
    pub fn list<'a>(&'a self, name: &str) -> Vec<&'a str> {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| split_list(&h.value))
            .collect()
    }

    /// Replaces every `name` line with one line holding `value` (at the first one's place).
    pub fn set(&mut self, name: &str, value: &str) {
        let name = canonical_name(name);
        match self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            Some(at) => {
                self.0[at].value = value.trim().to_owned();
                let mut i = 0;
                self.0.retain(|h| {
                    let keep = i <= at || !h.name.eq_ignore_ascii_case(name);
                    i += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every `name` line.
    pub fn remove(&mut self, name: &str) {
        let name = canonical_name(name);
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(name));
    }

    /// Removes the first element of a list header (the top Via, the first Route), keeping the
    /// rest of that line if it held several comma-separated elements.
    pub fn remove_first_element(&mut self, name: &str) {
        let name = canonical_name(name);
        let Some(at) = self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        else {
            return;
        };
        let rest: Vec<&str> = split_list(&self.0[at].value).skip(1).collect();
        if rest.is_empty() {
            self.0.remove(at);
        } else {
            self.0[at].value = rest.join(", ");
        }
    }

    /// All headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits a header value at commas that are outside quotes and angle brackets.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_names_are_expanded_and_lookup_ignores_case() {
        let mut h = Headers::new();
        h.push("v", "SIP/2.0/UDP a;branch=z9hG4bK1");
        h.push("i", "abc");
        h.push("cseq", "1 INVITE");
        assert_eq!(h.get("VIA"), Some("SIP/2.0/UDP a;branch=z9hG4bK1"));
        assert_eq!(h.get("Call-ID"), Some("abc"));
        assert_eq!(h.iter().nth(2).map(Header::name), Some("CSeq"));
    }

    #[test]
    fn list_splits_on_commas_outside_quotes_and_brackets() {
        let mut h = Headers::new();
        h.push(
            "Contact",
            "\"Doe, John\" <sip:a@b;x=1,2>, <sip:c@d>;expires=5",
        );
        h.push("Contact", "sip:e@f");
        assert_eq!(
            h.list("Contact"),
            vec![
                "\"Doe, John\" <sip:a@b;x=1,2>",
                "<sip:c@d>;expires=5",
                "sip:e@f"
            ]
        );
    }

    #[test]
    fn removing_the_top_via_keeps_the_rest_of_a_combined_line() {
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/UDP a, SIP/2.0/UDP b");
        h.push("Via", "SIP/2.0/UDP c");
        h.remove_first_element("Via");
        assert_eq!(h.list("Via"), vec!["SIP/2.0/UDP b", "SIP/2.0/UDP c"]);
        h.push_front("Via", "SIP/2.0/TCP z");
        assert_eq!(h.list("Via")[0], "SIP/2.0/TCP z");
    }

    #[test]
    fn set_replaces_all_lines_of_a_name() {
        let mut h = Headers::new();
        h.push("Route", "<sip:a>");
        h.push("To", "<sip:x>");
        h.push("Route", "<sip:b>");
        h.set("Route", "<sip:c>");
        assert_eq!(h.get_all("Route").collect::<Vec<_>>(), vec!["<sip:c>"]);
        assert_eq!(h.len(), 2);
    }
}
