//! `TenantStore`: tenants, their name index and their settings.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::domain::{Secret, Tenant, TenantSetting};
use crate::storage::sqlite::{SqliteStore, backend, is_unique_violation};
use crate::storage::{StoreError, StoreResult, TenantStore};

const TENANT_COLUMNS: &str = "t.id, t.name, t.secrets, t.lrs_endpoint, t.lrs_username, t.lrs_password, \
     t.kc_token_url, t.kc_client_id, t.kc_client_secret, t.kc_username, t.kc_password";

impl TenantStore for SqliteStore {
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let rows = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t ORDER BY t.id"
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Tenant> {
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => tenant_from_row(&row),
            None => Err(tenant_not_found(id)),
        }
    }

    async fn get_tenant_by_name(&self, name: &str) -> StoreResult<Tenant> {
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenant_names n JOIN tenants t ON t.id = n.tenant_id \
             WHERE n.name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => tenant_from_row(&row),
            None => Err(StoreError::NotFound(format!("tenant named {name}"))),
        }
    }

    async fn add_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO tenants (id, name, secrets, lrs_endpoint, lrs_username, lrs_password, \
             kc_token_url, kc_client_id, kc_client_secret, kc_username, kc_password) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(join_secrets(&tenant.secrets))
        .bind(&tenant.lrs_endpoint)
        .bind(&tenant.lrs_username)
        .bind(tenant.lrs_password.as_ref().map(Secret::expose))
        .bind(&tenant.kc_token_url)
        .bind(&tenant.kc_client_id)
        .bind(tenant.kc_client_secret.as_ref().map(Secret::expose))
        .bind(&tenant.kc_username)
        .bind(tenant.kc_password.as_ref().map(Secret::expose))
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "Tenant already exists with id '{}'",
                    tenant.id
                )));
            }
            Err(e) => return Err(backend(e)),
        }
        point_name(&mut tx, &tenant.name, &tenant.id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(tenant)
    }

    async fn update_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        let mut tx = self.begin_write().await?;
        let old_name: Option<String> = sqlx::query_scalar("SELECT name FROM tenants WHERE id = ?")
            .bind(&tenant.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(old_name) = old_name else {
            return Err(tenant_not_found(&tenant.id));
        };
        sqlx::query(
            "UPDATE tenants SET name = ?, secrets = ?, lrs_endpoint = ?, lrs_username = ?, lrs_password = ?, \
             kc_token_url = ?, kc_client_id = ?, kc_client_secret = ?, kc_username = ?, kc_password = ? \
             WHERE id = ?",
        )
        .bind(&tenant.name)
        .bind(join_secrets(&tenant.secrets))
        .bind(&tenant.lrs_endpoint)
        .bind(&tenant.lrs_username)
        .bind(tenant.lrs_password.as_ref().map(Secret::expose))
        .bind(&tenant.kc_token_url)
        .bind(&tenant.kc_client_id)
        .bind(tenant.kc_client_secret.as_ref().map(Secret::expose))
        .bind(&tenant.kc_username)
        .bind(tenant.kc_password.as_ref().map(Secret::expose))
        .bind(&tenant.id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if old_name != tenant.name {
            unpoint_name(&mut tx, &old_name, &tenant.id).await?;
            point_name(&mut tx, &tenant.name, &tenant.id).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(tenant)
    }

    async fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let name: Option<String> =
            sqlx::query_scalar("DELETE FROM tenants WHERE id = ? RETURNING name")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let Some(name) = name else {
            return Err(tenant_not_found(id));
        };
        unpoint_name(&mut tx, &name, id).await?;
        tx.commit().await.map_err(backend)
    }

    async fn list_tenant_settings(&self, tenant_id: &str) -> StoreResult<Vec<TenantSetting>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, param, value, override_value FROM tenant_settings \
             WHERE tenant_id = ? ORDER BY id",
        )
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(TenantSetting {
                    id: row.try_get("id").map_err(backend)?,
                    tenant_id: row.try_get("tenant_id").map_err(backend)?,
                    param: row.try_get("param").map_err(backend)?,
                    value: row.try_get("value").map_err(backend)?,
                    override_value: row.try_get("override_value").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn put_tenant_setting(&self, setting: TenantSetting) -> StoreResult<TenantSetting> {
        sqlx::query(
            "INSERT INTO tenant_settings (id, tenant_id, param, value, override_value) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, param = excluded.param, \
             value = excluded.value, override_value = excluded.override_value",
        )
        .bind(&setting.id)
        .bind(&setting.tenant_id)
        .bind(&setting.param)
        .bind(&setting.value)
        .bind(setting.override_value)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(setting)
    }

    async fn delete_tenant_setting(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        let deleted = sqlx::query("DELETE FROM tenant_settings WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("tenant setting {id}")));
        }
        Ok(())
    }
}

/// Point the name index at `tenant_id` (the last tenant saved with a name owns it, as in the original).
async fn point_name(
    tx: &mut Transaction<'static, Sqlite>,
    name: &str,
    tenant_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tenant_names (name, tenant_id) VALUES (?, ?) \
         ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id",
    )
    .bind(name)
    .bind(tenant_id)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Remove the name index entry if it still points at `tenant_id` (another tenant may have taken the name over).
async fn unpoint_name(
    tx: &mut Transaction<'static, Sqlite>,
    name: &str,
    tenant_id: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM tenant_names WHERE name = ? AND tenant_id = ?")
        .bind(name)
        .bind(tenant_id)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

fn tenant_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("tenant {id}"))
}

/// Secrets are stored `:`-separated, as in the original.
fn join_secrets(secrets: &[Secret]) -> String {
    secrets
        .iter()
        .map(Secret::expose)
        .collect::<Vec<_>>()
        .join(":")
}

fn split_secrets(secrets: &str) -> Vec<Secret> {
    if secrets.is_empty() {
        return Vec::new();
    }
    secrets.split(':').map(Secret::from).collect()
}

fn tenant_from_row(row: &SqliteRow) -> StoreResult<Tenant> {
    let secret = |column: &str| -> StoreResult<Option<Secret>> {
        Ok(row
            .try_get::<Option<String>, _>(column)
            .map_err(backend)?
            .map(Secret::new))
    };
    let secrets: String = row.try_get("secrets").map_err(backend)?;
    Ok(Tenant {
        id: row.try_get("id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        secrets: split_secrets(&secrets),
        lrs_endpoint: row.try_get("lrs_endpoint").map_err(backend)?,
        lrs_username: row.try_get("lrs_username").map_err(backend)?,
        lrs_password: secret("lrs_password")?,
        kc_token_url: row.try_get("kc_token_url").map_err(backend)?,
        kc_client_id: row.try_get("kc_client_id").map_err(backend)?,
        kc_client_secret: secret("kc_client_secret")?,
        kc_username: row.try_get("kc_username").map_err(backend)?,
        kc_password: secret("kc_password")?,
    })
}
