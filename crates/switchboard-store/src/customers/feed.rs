//! The `updated_since` change feed: customers in `(updated_at, id)` order, paged by an opaque
//! cursor. See the parent module for why the order has no gaps.

use switchboard_core::{CustomerId, TenantId, Timestamp};

use super::{COLUMNS, Customer, CustomerError, CustomerRow, with_phones};
use crate::{Store, StoreError};

/// A position in the change feed: the last `(updated_at, id)` a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub updated_at: Timestamp,
    pub id: CustomerId,
}

impl Cursor {
    /// Opaque to clients: hex of `"<ms>:<id>"`.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.updated_at.as_millis(), self.id))
    }

    pub fn decode(s: &str) -> Result<Cursor, CustomerError> {
        let bytes = hex::decode(s).map_err(|_| CustomerError::BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| CustomerError::BadCursor)?;
        let (ms, id) = text.split_once(':').ok_or(CustomerError::BadCursor)?;
        let ms: i64 = ms.parse().map_err(|_| CustomerError::BadCursor)?;
        if id.is_empty() {
            return Err(CustomerError::BadCursor);
        }
        Ok(Cursor {
            updated_at: Timestamp::from_millis(ms),
            id: CustomerId::from(id),
        })
    }
}

/// Which customers a page lists.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only customers changed at or after this time.
    pub updated_since: Option<Timestamp>,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Substring of the name or a phone number.
    pub search: Option<String>,
    pub limit: u32,
}

/// One page of the change feed.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Customer>,
    /// Present when the page is full: pass it back for the next page.
    pub next: Option<Cursor>,
}

/// Customers in `(updated_at, id)` order.
pub async fn list_customers(
    store: &Store,
    tenant: &TenantId,
    query: &ListQuery,
) -> Result<Page, StoreError> {
    let limit = query.limit.clamp(1, 1000);
    let since = query.updated_since.map_or(i64::MIN, Timestamp::as_millis);
    let (after_ms, after_id) = query.after.as_ref().map_or((i64::MIN, String::new()), |c| {
        (c.updated_at.as_millis(), c.id.to_string())
    });
    let pattern = query.search.as_ref().map(|s| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{}%", escaped.to_lowercase())
    });
    let rows: Vec<CustomerRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers
         WHERE tenant_id = $1 AND updated_at >= $2
           AND (updated_at > $3 OR (updated_at = $3 AND id > $4))
           AND ($5 IS NULL OR LOWER(name) LIKE $5 ESCAPE '\\' OR id IN
                (SELECT customer_id FROM customer_phones WHERE tenant_id = $1 AND phone LIKE $5 ESCAPE '\\'))
         ORDER BY updated_at, id LIMIT $6"
    ))
    .bind(tenant.as_str())
    .bind(since)
    .bind(after_ms)
    .bind(after_id)
    .bind(pattern)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let items = with_phones(store, tenant, rows).await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|c| Cursor {
            updated_at: c.updated_at,
            id: c.id.clone(),
        });
    Ok(Page { items, next })
}
