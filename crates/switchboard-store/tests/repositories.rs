//! Repository tests. Every test body runs twice: on SQLite and on PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{Role, TenantId};
use switchboard_store::tokens::{NewToken, TokenKind};
use switchboard_store::users::NewUser;
use switchboard_store::{Store, StoreError, audit, both_engines, tenants, tokens, users};

use switchboard_store::testing::{t, tenant};

fn new_user<'a>(tenant: &'a TenantId, username: &'a str, role: Role) -> NewUser<'a> {
    NewUser {
        tenant_id: tenant,
        username,
        display_name: "Test User",
        role,
        password_hash: "$argon2id$x",
    }
}

async fn migrations_are_idempotent(store: Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn ensure_tenant_creates_once(store: Store) {
    let id = TenantId::from("acme");
    assert!(
        tenants::ensure_tenant(&store, &id, "Acme", t(0))
            .await
            .unwrap()
    );
    assert!(
        !tenants::ensure_tenant(&store, &id, "Acme again", t(1))
            .await
            .unwrap()
    );
    let got = tenants::get_tenant(&store, &id).await.unwrap().unwrap();
    assert_eq!(got.name, "Acme");
    assert_eq!(got.created_at, t(0));
    assert_eq!(tenants::list_tenants(&store).await.unwrap().len(), 1);
}

async fn users_are_found_by_name_within_their_tenant_only(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let alice = users::insert_user(&store, &new_user(&a, "alice", Role::Agent), t(1))
        .await
        .unwrap();
    let found = users::find_user_by_username(&store, &a, "alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, alice);
    assert_eq!(found.role, Role::Agent);
    assert!(
        users::find_user_by_username(&store, &b, "alice")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users::get_user(&store, &b, &alice.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(users::count_users(&store, &a).await.unwrap(), 1);
    assert_eq!(users::count_users(&store, &b).await.unwrap(), 0);
}

async fn duplicate_username_is_a_conflict(store: Store) {
    let a = tenant(&store, "a").await;
    users::insert_user(&store, &new_user(&a, "bob", Role::Qa), t(1))
        .await
        .unwrap();
    let err = users::insert_user(&store, &new_user(&a, "bob", Role::Agent), t(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // Same name in another tenant is fine.
    let b = tenant(&store, "b").await;
    users::insert_user(&store, &new_user(&b, "bob", Role::Agent), t(3))
        .await
        .unwrap();
}

async fn password_change_replaces_hash_and_reports_unknown_users(store: Store) {
    let a = tenant(&store, "a").await;
    users::insert_user(&store, &new_user(&a, "carol", Role::Supervisor), t(1))
        .await
        .unwrap();
    users::set_password_hash(&store, &a, "carol", "$argon2id$new", t(5))
        .await
        .unwrap();
    let carol = users::find_user_by_username(&store, &a, "carol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carol.password_hash, "$argon2id$new");
    assert_eq!(carol.updated_at, t(5));
    let err = users::set_password_hash(&store, &a, "nobody", "x", t(6))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
}

async fn tokens_expire_and_can_be_revoked(store: Store) {
    let a = tenant(&store, "a").await;
    let dave = users::insert_user(&store, &new_user(&a, "dave", Role::Agent), t(1))
        .await
        .unwrap();
    let token = NewToken {
        token_hash: "h1",
        tenant_id: &a,
        user_id: &dave.id,
        kind: TokenKind::Session,
        label: "login",
        expires_at: Some(t(100)),
    };
    tokens::insert_token(&store, &token, t(1)).await.unwrap();
    assert_eq!(
        tokens::find_token_user(&store, "h1", t(50))
            .await
            .unwrap()
            .unwrap()
            .id,
        dave.id
    );
    assert!(
        tokens::find_token_user(&store, "h1", t(100))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        tokens::find_token_user(&store, "nope", t(50))
            .await
            .unwrap()
            .is_none()
    );

    tokens::insert_token(
        &store,
        &NewToken {
            token_hash: "h2",
            expires_at: None,
            ..token.clone()
        },
        t(1),
    )
    .await
    .unwrap();
    tokens::revoke_token(&store, "h2", t(2)).await.unwrap();
    assert!(
        tokens::find_token_user(&store, "h2", t(3))
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );

    tokens::insert_token(
        &store,
        &NewToken {
            token_hash: "h3",
            expires_at: None,
            ..token
        },
        t(1),
    )
    .await
    .unwrap();
    assert_eq!(
        tokens::revoke_user_tokens(&store, &a, &dave.id, t(4))
            .await
            .unwrap(),
        2
    );
    assert!(
        tokens::find_token_user(&store, "h3", t(5))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(tokens::purge_tokens(&store, t(1000)).await.unwrap(), 3);
}

async fn audit_log_lists_newest_first_per_tenant(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let detail = serde_json::json!({"role": "agent"});
    audit::append(&store, &a, None, "user.create", "u1", &detail, t(1))
        .await
        .unwrap();
    audit::append(&store, &a, None, "user.passwd", "u1", &detail, t(2))
        .await
        .unwrap();
    audit::append(&store, &b, None, "user.create", "u9", &detail, t(3))
        .await
        .unwrap();
    let entries = audit::list(&store, &a, 10).await.unwrap();
    let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.passwd", "user.create"]);
    let parsed: serde_json::Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(parsed, detail);
}

both_engines!(
    migrations_are_idempotent,
    ensure_tenant_creates_once,
    users_are_found_by_name_within_their_tenant_only,
    duplicate_username_is_a_conflict,
    password_change_replaces_hash_and_reports_unknown_users,
    tokens_expire_and_can_be_revoked,
    audit_log_lists_newest_first_per_tenant,
);
