//! The customer file's JSON shapes: what clients send (validated here, every failure naming its
//! field) and what they get back.

use serde::{Deserialize, Deserializer, Serialize};
use switchboard_core::{E164, Timestamp};
use switchboard_store::customers::{
    Category, Customer, CustomerData, CustomerPhone, Interaction, InteractionKind,
};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;

/// Limits that keep one customer small enough to sync and show.
const MAX_TEXT: usize = 200;
pub(crate) const MAX_PHONES: usize = 10;
const MAX_TAGS: usize = 50;
const MAX_TAG: usize = 64;
const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;
pub(crate) const MAX_NOTE: usize = 4000;
/// Where a customer lives when the client does not say: the service rules' home zone.
pub(crate) const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Potential customer (prospect) or customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CategoryDoc {
    Potential,
    Customer,
}

impl From<CategoryDoc> for Category {
    fn from(c: CategoryDoc) -> Self {
        match c {
            CategoryDoc::Potential => Category::Potential,
            CategoryDoc::Customer => Category::Customer,
        }
    }
}

impl From<Category> for CategoryDoc {
    fn from(c: Category) -> Self {
        match c {
            Category::Potential => CategoryDoc::Potential,
            Category::Customer => CategoryDoc::Customer,
        }
    }
}

/// One phone number of a customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// E.164: `+`, country code, number; spaces and dashes are removed.
    #[schema(example = "+8613812345678", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: String,
    /// "mobile", "office", …
    #[serde(default)]
    #[schema(max_length = 64)]
    pub label: String,
}

/// A customer as sent to `POST /customers`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// The CRM/ERP's own id; a second POST with the same one updates that customer (upsert).
    #[schema(max_length = 128)]
    pub external_id: Option<String>,
    /// The name agents see.
    #[schema(min_length = 1, max_length = 200, example = "王芳")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub given_name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub family_name: String,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub phones: Vec<PhoneInput>,
    /// IANA time zone; calls respect the customer's local rest times. Default Asia/Shanghai.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: Option<String>,
    /// Default `potential`.
    pub category: Option<CategoryDoc>,
    #[schema(max_length = 32, example = "A")]
    pub grade: Option<String>,
    #[serde(default)]
    pub key_customer: bool,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    /// Estimated value in cents (分), not negative.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub estimated_value_cents: i64,
    /// Consent to be contacted (default true).
    pub consent: Option<bool>,
    #[serde(default)]
    pub do_not_call: bool,
    /// The tenant's own fields, any JSON object (at most 16 KiB).
    #[schema(value_type = Object)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A partial change for `PATCH /customers/{id}`: only the fields sent change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 128)]
    pub external_id: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 200)]
    pub given_name: Option<String>,
    #[schema(max_length = 200)]
    pub family_name: Option<String>,
    /// Replaces every phone.
    #[schema(max_items = 10)]
    pub phones: Option<Vec<PhoneInput>>,
    pub time_zone: Option<String>,
    pub category: Option<CategoryDoc>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub grade: Option<Option<String>>,
    pub key_customer: Option<bool>,
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(minimum = 0)]
    pub estimated_value_cents: Option<i64>,
    pub consent: Option<bool>,
    pub do_not_call: Option<bool>,
    /// Replaces the whole object.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must not contain NUL characters"),
        ));
    }
    Ok(())
}

/// An IANA zone name known to chrono-tz (`Asia/Shanghai`, `Europe/Berlin`, `UTC`).
pub(crate) fn time_zone(field: &str, zone: &str) -> Result<String, ApiError> {
    zone.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            ApiError::bad_field(
                field,
                format!("{field} must be an IANA time zone such as Asia/Shanghai"),
            )
        })
}

/// An E.164 number, or a 400 naming `field`.
pub(crate) fn phone(field: &str, value: &str) -> Result<E164, ApiError> {
    E164::parse(value).map_err(|e| ApiError::bad_field(field, e.to_string()))
}

fn phones(input: &[PhoneInput], field: &str) -> Result<Vec<CustomerPhone>, ApiError> {
    if input.len() > MAX_PHONES {
        return Err(ApiError::bad_field(
            field,
            format!("at most {MAX_PHONES} phone numbers"),
        ));
    }
    let mut out: Vec<CustomerPhone> = Vec::with_capacity(input.len());
    for (i, p) in input.iter().enumerate() {
        let number = phone(&format!("{field}[{i}].phone"), &p.phone)?;
        text(&format!("{field}[{i}].label"), &p.label, MAX_TAG)?;
        if out.iter().any(|o| o.phone == number) {
            return Err(ApiError::bad_field(
                format!("{field}[{i}].phone"),
                format!("{number} is listed twice"),
            ));
        }
        out.push(CustomerPhone {
            phone: number,
            label: p.label.clone(),
        });
    }
    Ok(out)
}

fn tags(input: &[String]) -> Result<(), ApiError> {
    if input.len() > MAX_TAGS {
        return Err(ApiError::bad_field("tags", "at most 50 tags"));
    }
    for (i, t) in input.iter().enumerate() {
        text(&format!("tags[{i}]"), t, MAX_TAG)?;
    }
    Ok(())
}

fn custom_fields(map: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    let size = serde_json::to_string(map).map_or(usize::MAX, |s| s.len());
    if size > MAX_CUSTOM_FIELDS_BYTES {
        return Err(ApiError::bad_field(
            "custom_fields",
            "custom_fields must be at most 16 KiB of JSON",
        ));
    }
    Ok(())
}

/// Checks every rule that serde's types cannot express, on the data about to be stored.
pub(crate) fn validate(data: &CustomerData) -> Result<(), ApiError> {
    if data.name.trim().is_empty() {
        return Err(ApiError::bad_field("name", "name must not be empty"));
    }
    text("name", &data.name, MAX_TEXT)?;
    text("given_name", &data.given_name, MAX_TEXT)?;
    text("family_name", &data.family_name, MAX_TEXT)?;
    if let Some(ext) = &data.external_id {
        if ext.is_empty() {
            return Err(ApiError::bad_field(
                "external_id",
                "external_id must not be empty",
            ));
        }
        text("external_id", ext, 128)?;
    }
    if let Some(grade) = &data.grade {
        text("grade", grade, 32)?;
    }
    if data.estimated_value_cents < 0 {
        return Err(ApiError::bad_field(
            "estimated_value_cents",
            "estimated_value_cents must not be negative",
        ));
    }
    tags(&data.tags)?;
    custom_fields(&data.custom_fields)
}

impl CustomerInput {
    pub(crate) fn into_data(self) -> Result<CustomerData, ApiError> {
        let data = CustomerData {
            external_id: self.external_id,
            name: self.name,
            given_name: self.given_name,
            family_name: self.family_name,
            phones: phones(&self.phones, "phones")?,
            time_zone: time_zone(
                "time_zone",
                self.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE),
            )?,
            category: self.category.unwrap_or(CategoryDoc::Potential).into(),
            grade: self.grade,
            key_customer: self.key_customer,
            tags: self.tags,
            estimated_value_cents: self.estimated_value_cents,
            consent: self.consent.unwrap_or(true),
            do_not_call: self.do_not_call,
            custom_fields: self.custom_fields.unwrap_or_default(),
        };
        validate(&data)?;
        Ok(data)
    }
}

impl CustomerPatch {
    /// The customer's data with this change applied, validated.
    pub(crate) fn apply(self, mut data: CustomerData) -> Result<CustomerData, ApiError> {
        if let Some(v) = self.external_id {
            data.external_id = v;
        }
        if let Some(v) = self.name {
            data.name = v;
        }
        if let Some(v) = self.given_name {
            data.given_name = v;
        }
        if let Some(v) = self.family_name {
            data.family_name = v;
        }
        if let Some(v) = self.phones {
            data.phones = phones(&v, "phones")?;
        }
        if let Some(v) = self.time_zone {
            data.time_zone = time_zone("time_zone", &v)?;
        }
        if let Some(v) = self.category {
            data.category = v.into();
        }
        if let Some(v) = self.grade {
            data.grade = v;
        }
        if let Some(v) = self.key_customer {
            data.key_customer = v;
        }
        if let Some(v) = self.tags {
            data.tags = v;
        }
        if let Some(v) = self.estimated_value_cents {
            data.estimated_value_cents = v;
        }
        if let Some(v) = self.consent {
            data.consent = v;
        }
        if let Some(v) = self.do_not_call {
            data.do_not_call = v;
        }
        if let Some(v) = self.custom_fields {
            data.custom_fields = v;
        }
        validate(&data)?;
        Ok(data)
    }
}

/// A phone number as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PhoneView {
    pub phone: String,
    pub label: String,
}

/// A customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub external_id: Option<String>,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub phones: Vec<PhoneView>,
    pub time_zone: String,
    pub category: CategoryDoc,
    pub grade: Option<String>,
    pub key_customer: bool,
    pub tags: Vec<String>,
    pub estimated_value_cents: i64,
    pub consent: bool,
    pub do_not_call: bool,
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// Also the ETag; send it back in If-Match when editing.
    pub version: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        CustomerView {
            id: c.id.to_string(),
            external_id: c.data.external_id.clone(),
            name: c.data.name.clone(),
            given_name: c.data.given_name.clone(),
            family_name: c.data.family_name.clone(),
            phones: c
                .data
                .phones
                .iter()
                .map(|p| PhoneView {
                    phone: p.phone.to_string(),
                    label: p.label.clone(),
                })
                .collect(),
            time_zone: c.data.time_zone.clone(),
            category: c.data.category.into(),
            grade: c.data.grade.clone(),
            key_customer: c.data.key_customer,
            tags: c.data.tags.clone(),
            estimated_value_cents: c.data.estimated_value_cents,
            consent: c.data.consent,
            do_not_call: c.data.do_not_call,
            custom_fields: c.data.custom_fields.clone(),
            version: c.version,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

/// One page of `GET /customers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /customers`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only customers changed at or after this time: RFC 3339 or milliseconds since the epoch.
    pub updated_since: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Part of the name or of a phone number.
    pub q: Option<String>,
}

/// `RFC 3339` or epoch milliseconds.
pub(crate) fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|dt| Timestamp::from_utc(dt.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            ApiError::bad_field(
                field,
                format!("{field} must be RFC 3339 (2026-11-23T08:00:00Z) or epoch milliseconds"),
            )
        })
}

/// Query of `GET /customers/lookup`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// The caller's number, E.164.
    #[param(example = "+8613812345678")]
    pub phone: String,
}

/// Interaction kinds on a customer's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InteractionKindDoc {
    Call,
    Chat,
    Visit,
    Note,
}

impl From<InteractionKindDoc> for InteractionKind {
    fn from(k: InteractionKindDoc) -> Self {
        match k {
            InteractionKindDoc::Call => InteractionKind::Call,
            InteractionKindDoc::Chat => InteractionKind::Chat,
            InteractionKindDoc::Visit => InteractionKind::Visit,
            InteractionKindDoc::Note => InteractionKind::Note,
        }
    }
}

impl From<InteractionKind> for InteractionKindDoc {
    fn from(k: InteractionKind) -> Self {
        match k {
            InteractionKind::Call => InteractionKindDoc::Call,
            InteractionKind::Chat => InteractionKindDoc::Chat,
            InteractionKind::Visit => InteractionKindDoc::Visit,
            InteractionKind::Note => InteractionKindDoc::Note,
        }
    }
}

/// An after-call note (or another interaction) on a known customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    /// Default `note`.
    pub kind: Option<InteractionKindDoc>,
    /// The call the note is about.
    #[schema(max_length = 128)]
    pub call_id: Option<String>,
}

/// A note for whoever has this number; an unknown number becomes a potential customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNoteInput {
    #[schema(example = "+8613812345678", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: String,
    #[schema(min_length = 1, max_length = 4000)]
    pub text: String,
    #[schema(max_length = 128)]
    pub call_id: Option<String>,
    /// Zone of a customer created for an unknown number (default Asia/Shanghai).
    pub time_zone: Option<String>,
}

pub(crate) fn note_text(text_value: &str) -> Result<(), ApiError> {
    if text_value.trim().is_empty() {
        return Err(ApiError::bad_field("text", "text must not be empty"));
    }
    text("text", text_value, MAX_NOTE)
}

pub(crate) fn call_id(value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some("") => Err(ApiError::bad_field("call_id", "call_id must not be empty")),
        Some(v) => text("call_id", v, 128),
        None => Ok(()),
    }
}

/// A recorded interaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InteractionView {
    pub id: String,
    pub customer_id: String,
    pub kind: InteractionKindDoc,
    pub text: String,
    /// The user who wrote it.
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

impl From<&Interaction> for InteractionView {
    fn from(i: &Interaction) -> Self {
        InteractionView {
            id: i.id.clone(),
            customer_id: i.customer_id.to_string(),
            kind: i.kind.into(),
            text: i.body.clone(),
            agent_id: i.agent_id.clone(),
            call_id: i.call_id.clone(),
            at: i.at.to_string(),
        }
    }
}

/// The result of `POST /notes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PhoneNoteResult {
    pub customer: CustomerView,
    /// True when the number was unknown and a potential customer was created for it.
    pub created_customer: bool,
    pub note: InteractionView,
}

/// What the agent console shows when a call rings in (screen pop).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreenPop {
    pub id: String,
    pub name: String,
    pub category: CategoryDoc,
    pub grade: Option<String>,
    pub key_customer: bool,
    pub do_not_call: bool,
    pub time_zone: String,
    /// The newest interactions first (at most 5).
    pub last_notes: Vec<InteractionView>,
}

/// The result of `GET /customers/lookup`: every customer with that number (usually one).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LookupResult {
    pub phone: String,
    pub matches: Vec<ScreenPop>,
}
