//! Masking of personal data in logs: phone numbers and names never appear whole in a log line.
//! Log call sites write `tracing::info!(caller = %Masked::phone(&number), ...)`.

/// Keeps the country/operator prefix and the last four digits: `+8613812345678` → `+86138****5678`.
/// Short inputs are masked entirely except their last two characters.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    if n <= 6 {
        let keep = n.saturating_sub(2);
        return chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < keep { '*' } else { *c })
            .collect();
    }
    let head = 6.min(n - 4);
    let hidden = n - head - 4;
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', hidden.max(1)));
    out.extend(&chars[n - 4..]);
    out
}

/// Keeps the first character: `张三丰` → `张**`, `Alice Smith` → `A**********`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
    }
}

/// A `Display` wrapper that masks its content, for structured log fields.
#[derive(Debug, Clone, Copy)]
pub enum Masked<'a> {
    Phone(&'a str),
    Name(&'a str),
}

impl<'a> Masked<'a> {
    pub fn phone(s: &'a str) -> Self {
        Masked::Phone(s)
    }

    pub fn name(s: &'a str) -> Self {
        Masked::Name(s)
    }
}

impl std::fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Masked::Phone(s) => f.write_str(&mask_phone(s)),
            Masked::Name(s) => f.write_str(&mask_name(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_the_middle_of_phone_numbers() {
        assert_eq!(mask_phone("+8613812345678"), "+86138****5678");
        assert_eq!(mask_phone("+14155550123"), "+14155**0123");
        assert_eq!(mask_phone("1001"), "**01");
    }

    #[test]
    fn masks_all_but_the_first_character_of_names() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("Alice"), "A****");
        assert_eq!(mask_name(""), "");
    }

    proptest! {
        #[test]
        fn a_masked_phone_never_contains_the_whole_number(digits in "[1-9][0-9]{7,14}") {
            let number = format!("+{digits}");
            let masked = mask_phone(&number);
            prop_assert!(!masked.contains(&number));
            prop_assert!(!masked.contains(&digits));
            prop_assert_eq!(masked.chars().count(), number.chars().count().max(masked.chars().count()));
        }
    }
}
