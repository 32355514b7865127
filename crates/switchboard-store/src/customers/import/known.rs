//! What a batch needs to know before writing: the stored customers its rows match.

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Transaction};
use switchboard_core::TenantId;

use super::RowInput;
use crate::StoreError;
use crate::customers::{
    COLUMNS, Customer, CustomerData, CustomerError, CustomerPhone, CustomerRow, PhoneRow,
};

/// Bind parameters per `IN (...)` list: far below both engines' limits.
const IN_CHUNK: usize = 400;

// The `IN (...)` queries below are not kept as prepared statements (`persistent(false)`): their
// length varies with the batch, and PostgreSQL would otherwise settle on a generic plan made
// while the tables were still nearly empty (a sequential scan), which made each batch slower
// than the one before (measured: 20,000 rows in 19 s, the fourth 20,000 in 126 s).

/// The stored customers a batch's rows may update, found by phone and external id in a few
/// queries, and kept current as the batch writes.
pub(super) struct Known {
    by_phone: HashMap<String, HashSet<String>>,
    by_external: HashMap<String, String>,
    customers: HashMap<String, Customer>,
}

impl Known {
    pub(super) async fn load(
        tx: &mut Transaction<'static, Any>,
        tenant: &TenantId,
        rows: &[RowInput],
    ) -> Result<Known, CustomerError> {
        let mut phones: Vec<String> = Vec::new();
        let mut externals: Vec<String> = Vec::new();
        for r in rows {
            if let RowInput::Valid { data, .. } = r {
                phones.extend(data.phones.iter().map(|p| p.phone.as_str().to_owned()));
                externals.extend(data.external_id.iter().cloned());
            }
        }
        let mut known = Known {
            by_phone: HashMap::new(),
            by_external: HashMap::new(),
            customers: HashMap::new(),
        };
        let mut ids: HashSet<String> = HashSet::new();
        for chunk in phones.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT customer_id, phone, label FROM customer_phones WHERE tenant_id = $1 AND phone IN ({})",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query_as::<_, PhoneRow>(&sql).bind(tenant.as_str());
            for p in chunk {
                q = q.bind(p.as_str());
            }
            for p in q.persistent(false).fetch_all(&mut **tx).await? {
                ids.insert(p.customer_id.clone());
                known
                    .by_phone
                    .entry(p.phone)
                    .or_default()
                    .insert(p.customer_id);
            }
        }
        for chunk in externals.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id, external_id FROM customers WHERE tenant_id = $1 AND external_id IN ({})",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(tenant.as_str());
            for e in chunk {
                q = q.bind(e.as_str());
            }
            for (id, ext) in q.persistent(false).fetch_all(&mut **tx).await? {
                ids.insert(id.clone());
                known.by_external.insert(ext, id);
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(IN_CHUNK) {
            for c in load_customers(tx, tenant, chunk).await? {
                known.customers.insert(c.id.as_str().to_owned(), c);
            }
        }
        Ok(known)
    }

    /// The one stored customer this row updates, `None` for a new one, or why it is ambiguous.
    pub(super) fn target(&self, data: &CustomerData) -> Result<Option<Customer>, String> {
        let mut ids: Vec<&String> = Vec::new();
        if let Some(id) = data
            .external_id
            .as_ref()
            .and_then(|e| self.by_external.get(e))
        {
            ids.push(id);
        }
        for p in &data.phones {
            for id in self.by_phone.get(p.phone.as_str()).into_iter().flatten() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        match ids.as_slice() {
            [] => Ok(None),
            [id] => self
                .customers
                .get(*id)
                .cloned()
                .map(Some)
                .ok_or_else(|| "the matching customer was deleted during the import".to_owned()),
            many => Err(format!(
                "the phone numbers (or external_id) match {} different customers; fix them in the customer file first",
                many.len()
            )),
        }
    }

    /// A customer this batch wrote, so a later row of the batch finds it as it now is.
    pub(super) fn remember(&mut self, c: Customer) {
        let id = c.id.as_str().to_owned();
        for p in &c.data.phones {
            self.by_phone
                .entry(p.phone.as_str().to_owned())
                .or_default()
                .insert(id.clone());
        }
        if let Some(ext) = &c.data.external_id {
            self.by_external.insert(ext.clone(), id.clone());
        }
        self.customers.insert(id, c);
    }
}

fn placeholders(n: usize) -> String {
    (2..n + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Customers with their phones, read inside the batch's transaction.
async fn load_customers(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<Customer>, CustomerError> {
    let list = placeholders(ids.len());
    let sql = format!("SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id IN ({list})");
    let mut q = sqlx::query_as::<_, CustomerRow>(&sql).bind(tenant.as_str());
    for id in ids {
        q = q.bind(id.as_str());
    }
    let rows = q.persistent(false).fetch_all(&mut **tx).await?;
    let sql = format!(
        "SELECT customer_id, phone, label FROM customer_phones WHERE tenant_id = $1 AND customer_id IN ({list}) ORDER BY customer_id, position"
    );
    let mut q = sqlx::query_as::<_, PhoneRow>(&sql).bind(tenant.as_str());
    for id in ids {
        q = q.bind(id.as_str());
    }
    let mut phones: HashMap<String, Vec<CustomerPhone>> = HashMap::new();
    for p in q.persistent(false).fetch_all(&mut **tx).await? {
        let phone = switchboard_core::E164::parse(&p.phone)
            .map_err(|e| StoreError::Corrupt(format!("customer_phones.phone: {e}")))?;
        phones
            .entry(p.customer_id)
            .or_default()
            .push(CustomerPhone {
                phone,
                label: p.label,
            });
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mine = phones.remove(&row.id).unwrap_or_default();
        out.push(row.into_customer(mine)?);
    }
    Ok(out)
}
