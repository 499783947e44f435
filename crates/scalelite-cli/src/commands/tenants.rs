//! The `tenants*` and `tenantSettings*` tasks (they need `MULTITENANCY_ENABLED`).

use scalelite_core::domain::Secret;
use scalelite_core::management::json::{TenantJson, TenantSettingJson};
use scalelite_core::management::{KeycloakCredentials, non_blank, parse_bool};
use serde::Serialize;

use crate::cli::{
    TenantId, TenantSettingId, TenantSettingsAdd, TenantsAdd, TenantsUpdate, TenantsUpdateLrsBasic,
    TenantsUpdateLrsKc,
};
use crate::commands::{Ctx, required};

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

impl Ctx {
    pub(super) async fn tenants(&mut self, json: bool) -> anyhow::Result<()> {
        let tenants = self.management.list_tenants().await?;
        if json {
            let list: Vec<TenantJson> = tenants.iter().map(TenantJson::from).collect();
            return self.out.json(&list);
        }
        for tenant in &tenants {
            let t = TenantJson::from(tenant);
            self.out.line(format!("id: {}", t.id))?;
            self.out.line(format!("\tname: {}", t.name))?;
            self.out.line(format!("\tsecrets: {}", t.secrets))?;
            let optional = [
                ("lrs_endpoint", &t.lrs_endpoint),
                ("lrs_username", &t.lrs_username),
                ("lrs_password", &t.lrs_password),
                ("kc_token_url", &t.kc_token_url),
                ("kc_client_id", &t.kc_client_id),
                ("kc_client_secret", &t.kc_client_secret),
                ("kc_username", &t.kc_username),
                ("kc_password", &t.kc_password),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    self.out.line(format!("\t{name}: {value}"))?;
                }
            }
        }
        self.out
            .line(format!("Total number of tenants: {}", tenants.len()))?;
        Ok(())
    }

    pub(super) async fn tenants_add(&mut self, a: TenantsAdd) -> anyhow::Result<()> {
        let tenant = self
            .management
            .add_tenant(text(&a.name), text(&a.secrets))
            .await?;
        self.out.line("OK")?;
        self.out.line(format!("New Tenant id: {}", tenant.id))?;
        Ok(())
    }

    pub(super) async fn tenants_update(&mut self, a: TenantsUpdate) -> anyhow::Result<()> {
        let tenant = self
            .management
            .update_tenant(
                text(&a.id),
                non_blank(a.name.as_deref()),
                non_blank(a.secrets.as_deref()),
            )
            .await?;
        self.out.line("OK")?;
        self.out.line(format!("Updated Tenant id: {}", tenant.id))?;
        Ok(())
    }

    pub(super) async fn tenants_update_lrs_basic(
        &mut self,
        a: TenantsUpdateLrsBasic,
    ) -> anyhow::Result<()> {
        let tenant = self
            .management
            .update_tenant_lrs_basic(
                text(&a.id),
                text(&a.lrs_endpoint),
                text(&a.lrs_username),
                text(&a.lrs_password),
            )
            .await?;
        self.out.line("OK")?;
        self.out.line(format!("Updated Tenant id: {}", tenant.id))?;
        Ok(())
    }

    pub(super) async fn tenants_update_lrs_kc(
        &mut self,
        a: TenantsUpdateLrsKc,
    ) -> anyhow::Result<()> {
        let credentials = KeycloakCredentials {
            lrs_endpoint: text(&a.lrs_endpoint).to_owned(),
            kc_token_url: text(&a.kc_token_url).to_owned(),
            kc_client_id: text(&a.kc_client_id).to_owned(),
            kc_client_secret: Secret::new(text(&a.kc_client_secret)),
            kc_username: text(&a.kc_username).to_owned(),
            kc_password: Secret::new(text(&a.kc_password)),
        };
        let tenant = self
            .management
            .update_tenant_lrs_kc(text(&a.id), credentials)
            .await?;
        self.out.line("OK")?;
        self.out.line(format!("Updated Tenant id: {}", tenant.id))?;
        Ok(())
    }

    pub(super) async fn tenants_remove(&mut self, a: TenantId) -> anyhow::Result<()> {
        let id = required(&a.id, "Please input a tenant id!")?;
        self.management.remove_tenant(id).await?;
        self.out.line("Tenant was successfully deleted.")?;
        Ok(())
    }

    pub(super) async fn tenant_settings(&mut self, json: bool) -> anyhow::Result<()> {
        let listed = self.management.list_tenant_settings().await?;
        if json {
            #[derive(Serialize)]
            struct Entry {
                tenant_id: String,
                tenant_name: String,
                settings: Vec<TenantSettingJson>,
            }
            let entries: Vec<Entry> = listed
                .iter()
                .map(|(tenant, settings)| Entry {
                    tenant_id: tenant.id.clone(),
                    tenant_name: tenant.name.clone(),
                    settings: settings.iter().map(TenantSettingJson::from).collect(),
                })
                .collect();
            return self.out.json(&entries);
        }
        for (tenant, settings) in listed {
            self.out.line(format!("Tenant: {}", tenant.name))?;
            if settings.is_empty() {
                self.out.warn("  No custom settings are configured")?;
            }
            for setting in settings {
                self.out.line(format!("  id: {}", setting.id))?;
                self.out.line(format!("\tparam: {}", setting.param))?;
                self.out.line(format!("\tvalue: {}", setting.value))?;
                self.out
                    .line(format!("\toverride: {}", setting.override_value))?;
            }
        }
        Ok(())
    }

    pub(super) async fn tenant_settings_add(&mut self, a: TenantSettingsAdd) -> anyhow::Result<()> {
        let missing = "tenant_id, param, value and override are required to create a TenantSetting";
        let override_value = parse_bool("override", required(&a.override_value, missing)?)?;
        let setting = self
            .management
            .add_tenant_setting(
                text(&a.tenant_id),
                text(&a.param),
                text(&a.value),
                override_value,
            )
            .await?;
        self.out.line("OK")?;
        self.out
            .line(format!("New TenantSetting id: {}", setting.id))?;
        Ok(())
    }

    pub(super) async fn tenant_settings_remove(
        &mut self,
        a: TenantSettingId,
    ) -> anyhow::Result<()> {
        let id = required(&a.id, "Please input a tenant setting id!")?;
        self.management.remove_tenant_setting(id).await?;
        self.out.line("TenantSetting was successfully deleted.")?;
        Ok(())
    }
}
