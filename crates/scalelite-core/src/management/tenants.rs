//! Tenants (multitenancy) and their settings. Every operation here needs `MULTITENANCY_ENABLED`.

use crate::domain::{Secret, Tenant, TenantSetting};
use crate::management::{Management, ManagementError, Result, split_secrets};
use crate::storage::{StoreError, TenantStore};

/// Keycloak credentials for a tenant's LRS (`tenants:update_lrs_kc`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeycloakCredentials {
    /// The LRS endpoint.
    pub lrs_endpoint: String,
    /// Keycloak's token URL.
    pub kc_token_url: String,
    /// Keycloak client id.
    pub kc_client_id: String,
    /// Keycloak client secret.
    pub kc_client_secret: Secret,
    /// Keycloak user name.
    pub kc_username: String,
    /// Keycloak password.
    pub kc_password: Secret,
}

fn blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// A tenant name must be what the API compares it with: the lower-case first DNS label of the request host.
fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(ManagementError::Invalid(format!(
            "invalid tenant name '{name}': a tenant name is the first label of its host name in lower case \
             (letters, digits, '-'), e.g. 'tenant1' for tenant1.scalelite.example.com"
        )))
    }
}

fn check_secrets(secrets: &str) -> Result<Vec<Secret>> {
    let secrets = split_secrets(secrets);
    if secrets.is_empty() {
        return Err(ManagementError::Invalid(
            "a tenant needs at least one non-empty secret".to_owned(),
        ));
    }
    Ok(secrets)
}

impl Management {
    fn require_multitenancy(&self) -> Result<()> {
        if self.options.multitenancy {
            Ok(())
        } else {
            Err(ManagementError::MultitenancyDisabled)
        }
    }

    /// Every tenant, sorted by name (then id).
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.require_multitenancy()?;
        let mut tenants = self.store.list_tenants().await?;
        tenants.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(tenants)
    }

    /// One tenant; [`ManagementError::TenantNotFound`] when absent.
    pub async fn get_tenant(&self, id: &str) -> Result<Tenant> {
        self.require_multitenancy()?;
        self.store.get_tenant(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::TenantNotFound(id.to_owned()),
            other => other.into(),
        })
    }

    /// Refuse a name another tenant already has (the original silently moved the name index).
    async fn check_name_free(&self, name: &str, except_id: Option<&str>) -> Result<()> {
        match self.store.get_tenant_by_name(name).await {
            Ok(other) if Some(other.id.as_str()) != except_id => Err(ManagementError::Conflict(
                format!("a tenant named '{name}' already exists (id {})", other.id),
            )),
            Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `tenants:add` / `addTenant`: a new tenant with a fresh UUID; `secrets` is `:`-separated.
    ///
    /// # Errors
    /// [`ManagementError::Invalid`] when a field is blank or the name is not a host label;
    /// [`ManagementError::Conflict`] when the name is taken.
    pub async fn add_tenant(&self, name: &str, secrets: &str) -> Result<Tenant> {
        self.require_multitenancy()?;
        if blank(name) || blank(secrets) {
            return Err(ManagementError::Invalid(
                "both name and secrets are required to create a Tenant".to_owned(),
            ));
        }
        let name = check_name(name)?;
        let secrets = check_secrets(secrets)?;
        self.check_name_free(name, None).await?;
        let tenant = Tenant {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            secrets,
            ..Tenant::default()
        };
        Ok(self.store.add_tenant(tenant).await?)
    }

    /// `tenants:update` / `updateTenant`: replace the name and/or the secrets (blank means unchanged).
    pub async fn update_tenant(
        &self,
        id: &str,
        name: Option<&str>,
        secrets: Option<&str>,
    ) -> Result<Tenant> {
        self.require_multitenancy()?;
        let name = name.filter(|n| !blank(n));
        let secrets = secrets.filter(|s| !blank(s));
        if blank(id) || (name.is_none() && secrets.is_none()) {
            return Err(ManagementError::Invalid(
                "id and either name or secrets are required to update a Tenant".to_owned(),
            ));
        }
        let mut tenant = self.get_tenant(id).await?;
        if let Some(name) = name {
            let name = check_name(name)?;
            self.check_name_free(name, Some(id)).await?;
            tenant.name = name.to_owned();
        }
        if let Some(secrets) = secrets {
            tenant.secrets = check_secrets(secrets)?;
        }
        self.save_tenant(tenant).await
    }

    async fn save_tenant(&self, tenant: Tenant) -> Result<Tenant> {
        let id = tenant.id.clone();
        self.store.update_tenant(tenant).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::TenantNotFound(id),
            other => other.into(),
        })
    }

    /// `tenants:update_lrs_basic`: LRS endpoint with basic-auth credentials.
    pub async fn update_tenant_lrs_basic(
        &self,
        id: &str,
        lrs_endpoint: &str,
        lrs_username: &str,
        lrs_password: &str,
    ) -> Result<Tenant> {
        self.require_multitenancy()?;
        if [id, lrs_endpoint, lrs_username, lrs_password]
            .iter()
            .any(|v| blank(v))
        {
            return Err(ManagementError::Invalid(
                "id, LRS_ENDPOINT, LRS_USERNAME, LRS_PASSWORD are required to update a Tenant"
                    .to_owned(),
            ));
        }
        let mut tenant = self.get_tenant(id).await?;
        tenant.lrs_endpoint = Some(lrs_endpoint.to_owned());
        tenant.lrs_username = Some(lrs_username.to_owned());
        tenant.lrs_password = Some(Secret::new(lrs_password));
        self.save_tenant(tenant).await
    }

    /// `tenants:update_lrs_kc`: LRS endpoint with Keycloak credentials.
    pub async fn update_tenant_lrs_kc(
        &self,
        id: &str,
        credentials: KeycloakCredentials,
    ) -> Result<Tenant> {
        self.require_multitenancy()?;
        let c = &credentials;
        if [
            id,
            &c.lrs_endpoint,
            &c.kc_token_url,
            &c.kc_client_id,
            c.kc_client_secret.expose(),
            &c.kc_username,
            c.kc_password.expose(),
        ]
        .iter()
        .any(|v| blank(v))
        {
            return Err(ManagementError::Invalid(
                "LRS_ENDPOINT, KC_TOKEN_URL, KC_CLIENT_ID, KC_CLIENT_SECRET, KC_USERNAME, KC_PASSWORD are required \
                 to update a Tenant"
                    .to_owned(),
            ));
        }
        let mut tenant = self.get_tenant(id).await?;
        tenant.lrs_endpoint = Some(credentials.lrs_endpoint);
        tenant.kc_token_url = Some(credentials.kc_token_url);
        tenant.kc_client_id = Some(credentials.kc_client_id);
        tenant.kc_client_secret = Some(credentials.kc_client_secret);
        tenant.kc_username = Some(credentials.kc_username);
        tenant.kc_password = Some(credentials.kc_password);
        self.save_tenant(tenant).await
    }

    /// `tenants:remove` / `deleteTenant`. Its settings go with it.
    pub async fn remove_tenant(&self, id: &str) -> Result<()> {
        self.require_multitenancy()?;
        self.get_tenant(id).await?;
        for setting in self.store.list_tenant_settings(id).await? {
            self.store.delete_tenant_setting(id, &setting.id).await?;
        }
        self.store.delete_tenant(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::TenantNotFound(id.to_owned()),
            other => other.into(),
        })
    }

    /// `tenantSettings`: every tenant (sorted by name) with its settings (sorted by param, then id).
    pub async fn list_tenant_settings(&self) -> Result<Vec<(Tenant, Vec<TenantSetting>)>> {
        let tenants = self.list_tenants().await?;
        let mut out = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let mut settings = self.store.list_tenant_settings(&tenant.id).await?;
            settings.sort_by(|a, b| a.param.cmp(&b.param).then_with(|| a.id.cmp(&b.id)));
            out.push((tenant, settings));
        }
        Ok(out)
    }

    /// `tenantSettings:add`: a default (or, with `override_value`, forced) create/join parameter of an existing
    /// tenant.
    pub async fn add_tenant_setting(
        &self,
        tenant_id: &str,
        param: &str,
        value: &str,
        override_value: bool,
    ) -> Result<TenantSetting> {
        self.require_multitenancy()?;
        if blank(tenant_id) || blank(param) || blank(value) {
            return Err(ManagementError::Invalid(
                "tenant_id, param, value and override are required to create a TenantSetting"
                    .to_owned(),
            ));
        }
        self.get_tenant(tenant_id).await?;
        let setting = TenantSetting {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            param: param.trim().to_owned(),
            value: value.to_owned(),
            override_value,
        };
        Ok(self.store.put_tenant_setting(setting).await?)
    }

    /// `tenantSettings:remove`: the setting with this id, whichever tenant it belongs to.
    pub async fn remove_tenant_setting(&self, id: &str) -> Result<()> {
        self.require_multitenancy()?;
        for tenant in self.store.list_tenants().await? {
            let settings = self.store.list_tenant_settings(&tenant.id).await?;
            if settings.iter().any(|s| s.id == id) {
                self.store.delete_tenant_setting(&tenant.id, id).await?;
                return Ok(());
            }
        }
        Err(ManagementError::TenantSettingNotFound(id.to_owned()))
    }
}
