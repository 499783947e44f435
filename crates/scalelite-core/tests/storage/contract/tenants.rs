//! TenantStore: tenants, the name index and tenant settings (`docs/compatibility.md#data-redis-tenants`).

use scalelite_core::domain::{Secret, Tenant, TenantSetting};

use crate::contract::{Store, assert_conflict, assert_not_found};

fn tenant(id: &str, name: &str) -> Tenant {
    Tenant {
        id: id.to_owned(),
        name: name.to_owned(),
        secrets: vec![
            Secret::new(format!("{id}-secret1")),
            Secret::new(format!("{id}-secret2")),
        ],
        ..Tenant::default()
    }
}

fn sorted(mut tenants: Vec<Tenant>) -> Vec<Tenant> {
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    tenants
}

pub async fn tenants_crud<S: Store>(s: &S) {
    assert!(s.list_tenants().await.unwrap().is_empty());
    let full = Tenant {
        lrs_endpoint: Some("https://lrs.example.com/xapi".to_owned()),
        lrs_username: Some("lrs-user".to_owned()),
        lrs_password: Some(Secret::new("lrs-pass")),
        kc_token_url: Some("https://kc.example.com/token".to_owned()),
        kc_client_id: Some("client".to_owned()),
        kc_client_secret: Some(Secret::new("client-secret")),
        kc_username: Some("kc-user".to_owned()),
        kc_password: Some(Secret::new("kc-pass")),
        ..tenant("t1", "alpha")
    };
    assert_eq!(s.add_tenant(full.clone()).await.unwrap(), full);
    assert_eq!(s.get_tenant("t1").await.unwrap(), full);
    assert_eq!(s.get_tenant_by_name("alpha").await.unwrap(), full);
    let plain = tenant("t2", "beta");
    s.add_tenant(plain.clone()).await.unwrap();
    assert_eq!(s.get_tenant("t2").await.unwrap(), plain);
    assert_eq!(
        sorted(s.list_tenants().await.unwrap()),
        vec![full.clone(), plain.clone()]
    );

    // Names are exact and case-sensitive.
    assert_not_found(s.get_tenant_by_name("Alpha").await);
    assert_not_found(s.get_tenant_by_name("alph").await);
    assert_not_found(s.get_tenant("nope").await);
    assert_conflict(s.add_tenant(tenant("t1", "other")).await);
    assert_eq!(s.get_tenant("t1").await.unwrap(), full);

    // Update replaces the record; a rename moves the name index.
    let renamed = Tenant {
        secrets: vec![Secret::new("only")],
        lrs_endpoint: None,
        ..tenant("t1", "gamma")
    };
    assert_eq!(s.update_tenant(renamed.clone()).await.unwrap(), renamed);
    assert_eq!(s.get_tenant("t1").await.unwrap(), renamed);
    assert_eq!(s.get_tenant_by_name("gamma").await.unwrap(), renamed);
    assert_not_found(s.get_tenant_by_name("alpha").await);
    assert_not_found(s.update_tenant(tenant("t9", "ghost")).await);
    assert_not_found(s.get_tenant_by_name("ghost").await);

    s.delete_tenant("t1").await.unwrap();
    assert_not_found(s.get_tenant("t1").await);
    assert_not_found(s.get_tenant_by_name("gamma").await);
    assert_eq!(s.list_tenants().await.unwrap(), vec![plain.clone()]);
    assert_not_found(s.delete_tenant("t1").await);
    assert_eq!(s.get_tenant_by_name("beta").await.unwrap(), plain);
}

pub async fn tenants_name_index_takeover<S: Store>(s: &S) {
    // Names are not unique: the last tenant saved with a name owns the index.
    s.add_tenant(tenant("t1", "same")).await.unwrap();
    s.add_tenant(tenant("t2", "same")).await.unwrap();
    assert_eq!(s.get_tenant_by_name("same").await.unwrap().id, "t2");
    assert_eq!(s.list_tenants().await.unwrap().len(), 2);
    // Renaming t1 onto a free name points that name at it.
    s.update_tenant(tenant("t1", "free")).await.unwrap();
    assert_eq!(s.get_tenant_by_name("free").await.unwrap().id, "t1");
}

fn setting(
    id: &str,
    tenant_id: &str,
    param: &str,
    value: &str,
    override_value: bool,
) -> TenantSetting {
    TenantSetting {
        id: id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        param: param.to_owned(),
        value: value.to_owned(),
        override_value,
    }
}

async fn settings_of<S: Store>(s: &S, tenant_id: &str) -> Vec<TenantSetting> {
    let mut settings = s.list_tenant_settings(tenant_id).await.unwrap();
    settings.sort_by(|a, b| a.id.cmp(&b.id));
    settings
}

pub async fn tenant_settings<S: Store>(s: &S) {
    s.add_tenant(tenant("t1", "alpha")).await.unwrap();
    s.add_tenant(tenant("t2", "beta")).await.unwrap();
    assert!(s.list_tenant_settings("t1").await.unwrap().is_empty());

    let s1 = setting("s1", "t1", "record", "true", false);
    let s2 = setting("s2", "t1", "meta_server-tag", "big", true);
    let s3 = setting("s3", "t2", "record", "false", false);
    for setting in [&s1, &s2, &s3] {
        assert_eq!(
            &s.put_tenant_setting(setting.clone()).await.unwrap(),
            setting
        );
    }
    assert_eq!(settings_of(s, "t1").await, vec![s1.clone(), s2.clone()]);
    assert_eq!(settings_of(s, "t2").await, vec![s3.clone()]);
    assert!(s.list_tenant_settings("t3").await.unwrap().is_empty());

    // Put replaces by id.
    let s1b = setting("s1", "t1", "record", "false", true);
    s.put_tenant_setting(s1b.clone()).await.unwrap();
    assert_eq!(settings_of(s, "t1").await, vec![s1b, s2.clone()]);

    s.delete_tenant_setting("t1", "s1").await.unwrap();
    assert_eq!(settings_of(s, "t1").await, vec![s2]);
    assert_eq!(settings_of(s, "t2").await, vec![s3]);
}
