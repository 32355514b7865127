//! SIP credentials and registrar bindings, each test on SQLite and PostgreSQL.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{Role, TenantId};
use switchboard_store::sip::{self, NewSipCredential, SipBinding};
use switchboard_store::users::{self, NewUser};
use switchboard_store::{Store, StoreError, both_engines};

use switchboard_store::testing::{t, tenant};

fn cred<'a>(tenant: &'a TenantId, username: &'a str, md5: &'a str) -> NewSipCredential<'a> {
    NewSipCredential {
        tenant_id: tenant,
        user_id: None,
        username,
        realm: "sb.test",
        extension: Some(username),
        ha1_md5: md5,
        ha1_sha256: "sha-1",
    }
}

fn binding(tenant: &TenantId, aor: &str, contact: &str, expires: i64) -> SipBinding {
    SipBinding {
        tenant_id: tenant.clone(),
        aor: aor.to_owned(),
        contact: contact.to_owned(),
        source: "udp:127.0.0.1:5070".to_owned(),
        call_id: "c1".to_owned(),
        cseq: 1,
        expires_at: t(expires),
        node: None,
        updated_at: t(0),
    }
}

async fn credential_is_found_by_realm_and_username_and_upsert_replaces_the_ha1(store: Store) {
    let a = tenant(&store, "a").await;
    let alice = users::insert_user(
        &store,
        &NewUser {
            tenant_id: &a,
            username: "alice",
            display_name: "Alice",
            role: Role::Agent,
            password_hash: "$argon2id$x",
        },
        t(0),
    )
    .await
    .unwrap();
    let mut new = cred(&a, "1001", "md5-old");
    new.user_id = Some(&alice.id);
    let first = sip::upsert_credential(&store, &new, t(1)).await.unwrap();
    assert_eq!(first.ha1_md5, "md5-old");
    assert_eq!(first.user_id.as_ref(), Some(&alice.id));
    new.ha1_md5 = "md5-new";
    let second = sip::upsert_credential(&store, &new, t(2)).await.unwrap();
    assert_eq!(second.id, first.id, "same row, updated in place");
    assert_eq!(second.ha1_md5, "md5-new");
    let found = sip::find_credential(&store, "sb.test", "1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, second);
    assert!(
        sip::find_credential(&store, "other.realm", "1001")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        sip::credentials_of_user(&store, &a, &alice.id)
            .await
            .unwrap(),
        vec![second]
    );
}

async fn another_tenants_sip_username_is_not_taken_over(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    sip::upsert_credential(&store, &cred(&a, "1001", "a-secret"), t(1))
        .await
        .unwrap();
    let err = sip::upsert_credential(&store, &cred(&b, "1001", "b-secret"), t(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let kept = sip::find_credential(&store, "sb.test", "1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.ha1_md5, "a-secret");
    assert_eq!(sip::list_credentials(&store, &a).await.unwrap().len(), 1);
    assert!(sip::list_credentials(&store, &b).await.unwrap().is_empty());
}

async fn bindings_are_upserted_listed_while_active_and_removed(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let aor = "sip:1001@sb.test";
    sip::upsert_binding(&store, &binding(&a, aor, "sip:1001@10.0.0.1:5060", 100))
        .await
        .unwrap();
    sip::upsert_binding(&store, &binding(&a, aor, "sip:1001@10.0.0.2:5060", 10))
        .await
        .unwrap();
    sip::upsert_binding(&store, &binding(&b, "sip:2001@sb.test", "sip:x@h", 100))
        .await
        .unwrap();
    // A refresh of the same contact replaces it.
    let mut refreshed = binding(&a, aor, "sip:1001@10.0.0.1:5060", 200);
    refreshed.cseq = 2;
    sip::upsert_binding(&store, &refreshed).await.unwrap();

    let active = sip::list_tenant_bindings(&store, &a, t(50)).await.unwrap();
    assert_eq!(active, vec![refreshed.clone()]);
    assert_eq!(
        sip::list_tenant_bindings(&store, &a, t(5))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        sip::list_active_bindings(&store, t(50))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        sip::remove_binding(&store, aor, "sip:1001@10.0.0.1:5060")
            .await
            .unwrap()
    );
    assert!(
        !sip::remove_binding(&store, aor, "sip:1001@10.0.0.1:5060")
            .await
            .unwrap()
    );
    assert_eq!(
        sip::remove_expired_bindings(&store, t(50)).await.unwrap(),
        1
    );
    assert!(
        sip::list_tenant_bindings(&store, &a, t(0))
            .await
            .unwrap()
            .is_empty()
    );
}

both_engines!(
    credential_is_found_by_realm_and_username_and_upsert_replaces_the_ha1,
    another_tenants_sip_username_is_not_taken_over,
    bindings_are_upserted_listed_while_active_and_removed,
);
