//! Reading a customer CSV (as Excel and WPS export it) into customer data, row by row.
//!
//! Pure: bytes in, rows out. A problem with the file as a whole (not UTF-8, no header, an
//! unknown or repeated column) is a 400 naming the column; a problem with one row becomes that
//! row's entry in the error report and never stops the others. Every value goes through the
//! same validation as `POST /customers` (`customer_types`).

use std::collections::HashMap;

use switchboard_core::{E164, mask_name, mask_phone};
use switchboard_store::customers::import::{Columns, RowError, RowInput};
use switchboard_store::customers::{Category, CustomerData, CustomerPhone};

use super::ApiError;
use super::customer_types::{DEFAULT_TIME_ZONE, MAX_PHONES, phone, time_zone, validate};

/// More rows than this is not a spreadsheet a supervisor uploads: refuse before working.
pub(crate) const MAX_ROWS: usize = 1_000_000;
/// Longest cell value kept in the error report.
const MAX_REPORTED_VALUE: usize = 100;

const KNOWN: &str = "name, phones, time_zone, category, grade, key_customer, tags, estimated_value, do_not_call, consent, external_id, given_name, family_name, custom.<key>";

/// A column of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Col {
    ExternalId,
    Name,
    GivenName,
    FamilyName,
    Phones,
    TimeZone,
    Category,
    Grade,
    KeyCustomer,
    Tags,
    EstimatedValue,
    Consent,
    DoNotCall,
    Custom(String),
}

impl Col {
    fn parse(header: &str) -> Option<Col> {
        let h = header.trim();
        if let Some(key) = h.strip_prefix("custom.") {
            let key = key.trim();
            return (!key.is_empty()).then(|| Col::Custom(key.to_owned()));
        }
        Some(match h.to_ascii_lowercase().as_str() {
            "external_id" => Col::ExternalId,
            "name" => Col::Name,
            "given_name" => Col::GivenName,
            "family_name" => Col::FamilyName,
            "phones" | "phone" => Col::Phones,
            "time_zone" => Col::TimeZone,
            "category" => Col::Category,
            "grade" => Col::Grade,
            "key_customer" => Col::KeyCustomer,
            "tags" => Col::Tags,
            "estimated_value" => Col::EstimatedValue,
            "consent" => Col::Consent,
            "do_not_call" => Col::DoNotCall,
            _ => return None,
        })
    }

    /// The name the error report uses.
    fn name(&self) -> String {
        match self {
            Col::ExternalId => "external_id".into(),
            Col::Name => "name".into(),
            Col::GivenName => "given_name".into(),
            Col::FamilyName => "family_name".into(),
            Col::Phones => "phones".into(),
            Col::TimeZone => "time_zone".into(),
            Col::Category => "category".into(),
            Col::Grade => "grade".into(),
            Col::KeyCustomer => "key_customer".into(),
            Col::Tags => "tags".into(),
            Col::EstimatedValue => "estimated_value".into(),
            Col::Consent => "consent".into(),
            Col::DoNotCall => "do_not_call".into(),
            Col::Custom(key) => format!("custom.{key}"),
        }
    }
}

/// The file, read: each data row's outcome, in file order.
#[derive(Debug)]
pub(crate) struct ParsedFile {
    pub rows: Vec<RowInput>,
}

/// Reads the whole file. Errors are about the file as a whole; rows carry their own.
pub(crate) fn parse(bytes: &[u8]) -> Result<ParsedFile, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ApiError::bad_field(
            "body",
            format!(
                "the file is not UTF-8 (first bad byte on line {line}): save it as \"CSV UTF-8\""
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(ApiError::bad_field("body", format!("row 1: {e}"))),
        None => {
            return Err(ApiError::bad_field(
                "body",
                "the file is empty: the first row must name the columns",
            ));
        }
    };
    let cols = header_columns(&header)?;
    let mut rows = Vec::new();
    let mut seen_phones: HashMap<E164, i64> = HashMap::new();
    let mut seen_external: HashMap<String, i64> = HashMap::new();
    // Excel numbers rows, not lines: a quoted cell with line breaks is still one row.
    let mut extra_lines: u64 = header_newlines(&header);
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                return Err(ApiError::bad_field(
                    "body",
                    format!("the file is not valid CSV: {e}"),
                ));
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let row = i64::try_from(line.saturating_sub(extra_lines)).unwrap_or(i64::MAX);
        extra_lines += record_newlines(&record);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(ApiError::bad_field(
                "body",
                format!("the file has more than {MAX_ROWS} rows: split it"),
            ));
        }
        let input = match read_row(&cols, &record, row) {
            Err(e) => RowInput::Invalid(e),
            Ok((data, columns)) => {
                match duplicate(&data, row, &mut seen_phones, &mut seen_external) {
                    Some(e) => RowInput::Invalid(e),
                    None => RowInput::Valid { row, data, columns },
                }
            }
        };
        rows.push(input);
    }
    Ok(ParsedFile { rows })
}

/// Comma unless the header line clearly uses tabs or semicolons (Excel in some locales).
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    if first.contains(',') {
        b','
    } else if first.contains('\t') {
        b'\t'
    } else if first.contains(';') {
        b';'
    } else {
        b','
    }
}

fn header_newlines(r: &csv::StringRecord) -> u64 {
    record_newlines(r)
}

fn record_newlines(r: &csv::StringRecord) -> u64 {
    r.iter()
        .map(|c| c.bytes().filter(|b| *b == b'\n').count() as u64)
        .sum()
}

fn header_columns(header: &csv::StringRecord) -> Result<Vec<Col>, ApiError> {
    let mut cols: Vec<Col> = Vec::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        let col = Col::parse(h).ok_or_else(|| {
            let shown = if h.trim().is_empty() {
                format!("(column {} has no name)", i + 1)
            } else {
                h.trim().to_owned()
            };
            ApiError::bad_field(
                shown.clone(),
                format!("row 1: unknown column '{shown}'; the columns are {KNOWN}"),
            )
        })?;
        if cols.contains(&col) {
            return Err(ApiError::bad_field(
                col.name(),
                format!("row 1: the column '{}' appears twice", col.name()),
            ));
        }
        cols.push(col);
    }
    for needed in [Col::Name, Col::Phones] {
        if !cols.contains(&needed) {
            return Err(ApiError::bad_field(
                needed.name(),
                format!("row 1: the column '{}' is required", needed.name()),
            ));
        }
    }
    Ok(cols)
}

fn mark(columns: &mut Columns, col: &Col) {
    match col {
        Col::ExternalId => columns.external_id = true,
        Col::Name => columns.name = true,
        Col::GivenName => columns.given_name = true,
        Col::FamilyName => columns.family_name = true,
        Col::TimeZone => columns.time_zone = true,
        Col::Category => columns.category = true,
        Col::Grade => columns.grade = true,
        Col::KeyCustomer => columns.key_customer = true,
        Col::Tags => columns.tags = true,
        Col::EstimatedValue => columns.estimated_value = true,
        Col::Consent => columns.consent = true,
        Col::DoNotCall => columns.do_not_call = true,
        Col::Phones | Col::Custom(_) => {}
    }
}

/// The error report's copy of a value: phones and names masked, long values cut.
fn reported(col: &Col, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let shown = match col {
        Col::Phones => mask_phone(value),
        Col::Name | Col::GivenName | Col::FamilyName => mask_name(value),
        _ => value.to_owned(),
    };
    // Control characters (NUL above all, which PostgreSQL refuses in text) are left out.
    Some(
        shown
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_REPORTED_VALUE)
            .collect(),
    )
}

fn row_error(row: i64, col: &Col, value: &str, message: impl Into<String>) -> RowError {
    RowError {
        row,
        column: Some(col.name()),
        value: reported(col, value),
        message: message.into(),
    }
}

/// A row as customer data, or the first thing wrong with it.
fn read_row(
    cols: &[Col],
    record: &csv::StringRecord,
    row: i64,
) -> Result<(CustomerData, Columns), RowError> {
    if record.len() > cols.len() {
        return Err(RowError {
            row,
            column: None,
            value: None,
            message: format!(
                "the row has {} cells but the header names {} columns",
                record.len(),
                cols.len()
            ),
        });
    }
    let mut data = blank();
    let mut columns = Columns::default();
    let mut cells: Vec<(&Col, &str)> = Vec::with_capacity(cols.len());
    for (col, cell) in cols.iter().zip(record.iter()) {
        let v = cell.trim();
        if !v.is_empty() {
            mark(&mut columns, col);
        }
        let bad = |m: String| row_error(row, col, cell, m);
        match col {
            Col::ExternalId => data.external_id = (!v.is_empty()).then(|| v.to_owned()),
            Col::Name => data.name = v.to_owned(),
            Col::GivenName => data.given_name = v.to_owned(),
            Col::FamilyName => data.family_name = v.to_owned(),
            Col::Phones => data.phones = phones(v).map_err(bad)?,
            Col::TimeZone if !v.is_empty() => {
                data.time_zone = time_zone("time_zone", v).map_err(|e| bad(message(e)))?;
            }
            Col::TimeZone => {}
            Col::Category => data.category = category(v).map_err(bad)?,
            Col::Grade => data.grade = (!v.is_empty()).then(|| v.to_owned()),
            Col::KeyCustomer => data.key_customer = flag(v, false).map_err(bad)?,
            Col::Consent => data.consent = flag(v, true).map_err(bad)?,
            Col::DoNotCall => data.do_not_call = flag(v, false).map_err(bad)?,
            Col::Tags => data.tags = split_list(v),
            Col::EstimatedValue => data.estimated_value_cents = money(v).map_err(bad)?,
            Col::Custom(key) => {
                if !v.is_empty() {
                    data.custom_fields
                        .insert(key.clone(), serde_json::Value::String(v.to_owned()));
                }
            }
        }
        cells.push((col, cell));
    }
    if data.phones.is_empty() {
        return Err(RowError {
            row,
            column: Some("phones".into()),
            value: None,
            message: "at least one phone number is needed (E.164, e.g. +8613812345678)".into(),
        });
    }
    check(&data).map_err(|mut e| {
        e.row = row;
        if let Some((col, cell)) = cells
            .iter()
            .find(|(c, _)| Some(c.name()) == e.column || e.column.as_deref() == Some("custom"))
        {
            e.value = reported(col, cell);
        }
        e
    })?;
    Ok((data, columns))
}

/// What a row starts from: the defaults of `POST /customers`.
fn blank() -> CustomerData {
    CustomerData {
        external_id: None,
        name: String::new(),
        given_name: String::new(),
        family_name: String::new(),
        phones: Vec::new(),
        time_zone: DEFAULT_TIME_ZONE.to_owned(),
        category: Category::Potential,
        grade: None,
        key_customer: false,
        tags: Vec::new(),
        estimated_value_cents: 0,
        consent: true,
        do_not_call: false,
        custom_fields: serde_json::Map::new(),
    }
}

/// The customer validation of `POST /customers`, for a row (or a row merged into a stored
/// customer) about to be written; the error names the CSV column.
pub(crate) fn check(data: &CustomerData) -> Result<(), RowError> {
    if data.phones.len() > MAX_PHONES {
        return Err(RowError {
            row: 0,
            column: Some("phones".into()),
            value: None,
            message: format!("at most {MAX_PHONES} phone numbers per customer"),
        });
    }
    validate(data).map_err(|e| {
        let field = match &e {
            ApiError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let column = field.map(|f| {
            let base = f.split(['[', '.']).next().unwrap_or(&f).to_owned();
            match base.as_str() {
                "estimated_value_cents" => "estimated_value".to_owned(),
                "custom_fields" => "custom".to_owned(),
                _ => base,
            }
        });
        RowError {
            row: 0,
            column,
            value: None,
            message: message(e),
        }
    })
}

fn message(e: ApiError) -> String {
    match e {
        ApiError::BadRequest { message, .. } => message,
        other => other.to_string(),
    }
}

/// Cells listing several values: `;` or `|` (also the full-width `；` and `、` of Chinese input).
fn split_list(v: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in v.split([';', '|', '；', '、']) {
        let item = item.trim();
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

fn phones(v: &str) -> Result<Vec<CustomerPhone>, String> {
    let mut out: Vec<CustomerPhone> = Vec::new();
    for item in split_list(v) {
        let number = phone("phones", &item).map_err(message)?;
        if out.iter().all(|o| o.phone != number) {
            out.push(CustomerPhone {
                phone: number,
                label: String::new(),
            });
        }
    }
    if out.len() > MAX_PHONES {
        return Err(format!("at most {MAX_PHONES} phone numbers per customer"));
    }
    Ok(out)
}

fn category(v: &str) -> Result<Category, String> {
    match v.to_ascii_lowercase().as_str() {
        "" | "potential" | "潜在客户" | "潜在" => Ok(Category::Potential),
        "customer" | "客户" | "成交客户" => Ok(Category::Customer),
        _ => Err("category must be potential or customer".into()),
    }
}

fn flag(v: &str, default: bool) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "1" | "yes" | "y" | "是" => Ok(true),
        "false" | "0" | "no" | "n" | "否" => Ok(false),
        _ => Err("must be true or false (also 1/0, yes/no, 是/否)".into()),
    }
}

/// An amount in yuan with at most two decimals (`1234.5`, `¥1,234.50`) → cents.
fn money(v: &str) -> Result<i64, String> {
    let bad = || {
        "estimated_value must be an amount such as 1234.50 (not negative, at most two decimals)"
            .to_owned()
    };
    let v = v.trim_start_matches(['¥', '￥']).replace(',', "");
    if v.is_empty() {
        return Ok(0);
    }
    let (whole, frac) = v.split_once('.').unwrap_or((&v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 2 {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac))
        .ok_or_else(bad)
}

/// A phone number or external id already taken by an earlier row of the file: the first wins.
fn duplicate(
    data: &CustomerData,
    row: i64,
    seen_phones: &mut HashMap<E164, i64>,
    seen_external: &mut HashMap<String, i64>,
) -> Option<RowError> {
    for p in &data.phones {
        if let Some(first) = seen_phones.get(&p.phone) {
            return Some(RowError {
                row,
                column: Some("phones".into()),
                value: Some(mask_phone(p.phone.as_str())),
                message: format!("duplicate: this phone number is already on row {first}"),
            });
        }
    }
    if let Some(ext) = &data.external_id
        && let Some(first) = seen_external.get(ext)
    {
        return Some(RowError {
            row,
            column: Some("external_id".into()),
            value: Some(ext.chars().take(MAX_REPORTED_VALUE).collect()),
            message: format!("duplicate: this external_id is already on row {first}"),
        });
    }
    for p in &data.phones {
        seen_phones.insert(p.phone.clone(), row);
    }
    if let Some(ext) = &data.external_id {
        seen_external.insert(ext.clone(), row);
    }
    None
}

#[cfg(test)]
mod tests {
    // Test code: a failed step should stop the test loudly.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn errors(file: &ParsedFile) -> Vec<(i64, Option<String>)> {
        file.rows
            .iter()
            .filter_map(|r| match r {
                RowInput::Invalid(e) => Some((e.row, e.column.clone())),
                RowInput::Valid { .. } => None,
            })
            .collect()
    }

    #[test]
    fn rows_are_numbered_as_the_spreadsheet_shows_them() {
        let file = parse(
            "\u{feff}name,phones,time_zone\n王芳,+8613800000001,\n\"two\nlines\",+8613800000002,Mars/Base\n,,\nok,+8613800000003,\nbad,12345,\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(file.rows.len(), 4, "the blank row is skipped");
        assert_eq!(
            errors(&file),
            vec![(3, Some("time_zone".into())), (6, Some("phones".into()))]
        );
    }

    #[test]
    fn values_are_read_like_people_type_them() {
        let file = parse(
            "name;phones;category;key_customer;tags;estimated_value;custom.vip\nA;+8613800000001|+8613800000002;客户;是;a|b|a;¥1,234.5;gold\n"
                .as_bytes(),
        )
        .unwrap();
        let RowInput::Valid { data, row, .. } = &file.rows[0] else {
            panic!("row rejected: {:?}", file.rows[0]);
        };
        assert_eq!(*row, 2);
        assert_eq!(data.phones.len(), 2);
        assert_eq!(data.category, Category::Customer);
        assert!(data.key_customer);
        assert_eq!(data.tags, vec!["a", "b"]);
        assert_eq!(data.estimated_value_cents, 123_450);
        assert_eq!(data.custom_fields["vip"], "gold");
    }

    #[test]
    fn unknown_and_missing_columns_refuse_the_file() {
        for (csv, field) in [
            ("name,phones,colour\n", "colour"),
            ("name,time_zone\n", "phones"),
            ("name,phones,name\n", "name"),
        ] {
            match parse(csv.as_bytes()) {
                Err(ApiError::BadRequest { field: Some(f), .. }) => assert_eq!(f, field),
                other => panic!("{csv}: {other:?}"),
            }
        }
        assert!(parse(b"name,phones\n\xff\n").is_err());
    }

    #[test]
    fn money_is_parsed_to_cents() {
        assert_eq!(money("12").unwrap(), 1200);
        assert_eq!(money("12.05").unwrap(), 1205);
        assert!(money("-1").is_err());
        assert!(money("1.234").is_err());
        assert!(money("abc").is_err());
    }
}
