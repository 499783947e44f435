//! The `tenants*` and `tenantSettings*` tasks (`docs/compatibility.md#cli-tenants`).

use crate::support::*;

fn new_id(stdout: &str, prefix: &str) -> String {
    stdout
        .strip_prefix(&format!("OK\n{prefix}"))
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned()
}

both_backends! {
    async fn tenant_tasks_need_multitenancy(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        for args in [vec!["tenants"], vec!["tenants:add", "t1", "s"], vec!["tenantSettings"], vec!["tenants:remove", "x"]] {
            assert_eq!(cli.run(&args).await.failure(), "Multitenancy is disabled, task can not be completed", "{args:?}");
        }
        cli.set_env("MULTITENANCY_ENABLED", "false");
        assert_eq!(cli.run(&["tenants"]).await.failure(), "Multitenancy is disabled, task can not be completed");
        assert!(cli.store().list_tenants().await.unwrap().is_empty());
    }

    async fn tenants_life_cycle(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        cli.set_env("MULTITENANCY_ENABLED", "true");
        assert_eq!(cli.run(&["tenants"]).await.success().stdout, "Total number of tenants: 0\n");

        let t1 = new_id(&cli.run(&["tenants:add", "t1", "s1:s2"]).await.success().stdout, "New Tenant id: ");
        let t2 = new_id(&cli.run(&["tenants:add[t2,x]"]).await.success().stdout, "New Tenant id: ");
        let out = cli.run(&["tenants"]).await;
        assert_eq!(out.success().stdout, format!(
            "id: {t1}\n\tname: t1\n\tsecrets: s1:s2\nid: {t2}\n\tname: t2\n\tsecrets: x\nTotal number of tenants: 2\n"));

        let checks: [(&[&str], &str); 5] = [
            (&["tenants:add", "t3"], "both name and secrets are required to create a Tenant"),
            (&["tenants:add", "", "s"], "both name and secrets are required to create a Tenant"),
            (&["tenants:add", "t1", "other"], "a tenant named 't1' already exists"),
            (&["tenants:add", "Bad.Name", "s"], "invalid tenant name 'Bad.Name'"),
            (&["tenants:add", "t4", ":"], "a tenant needs at least one non-empty secret"),
        ];
        for (args, expected) in checks {
            let message = cli.run(args).await.failure();
            assert!(message.contains(expected), "{args:?}: {message}");
        }
        assert_eq!(cli.store().list_tenants().await.unwrap().len(), 2);

        let out = cli.run(&["tenants:update", &t1, "t1b", "n1:n2"]).await;
        assert_eq!(out.success().stdout, format!("OK\nUpdated Tenant id: {t1}\n"));
        let stored = cli.store().get_tenant(&t1).await.unwrap();
        let secrets: Vec<&str> = stored.secrets.iter().map(Secret::expose).collect();
        assert_eq!((stored.name.as_str(), secrets), ("t1b", vec!["n1", "n2"]));
        assert_eq!(cli.store().get_tenant_by_name("t1b").await.unwrap().id, t1);
        assert!(cli.store().get_tenant_by_name("t1").await.is_err());
        cli.run(&[&format!("tenants:update[{t1},,only]")]).await.success();
        assert_eq!(cli.store().get_tenant(&t1).await.unwrap().name, "t1b", "an empty name is left alone");
        assert_eq!(cli.run(&["tenants:update", &t1]).await.failure(), "id and either name or secrets are required to update a Tenant");
        assert_eq!(cli.run(&["tenants:update", "nope", "x"]).await.failure(), "Couldn't find Tenant with id=nope");
        assert!(cli.run(&["tenants:update", &t1, "t2"]).await.failure().contains("a tenant named 't2' already exists"));

        let out = cli.run(&["tenants:update_lrs_basic", &t1, "https://lrs.example.com", "user", "pass"]).await;
        assert_eq!(out.success().stdout, format!("OK\nUpdated Tenant id: {t1}\n"));
        assert_eq!(cli.run(&["tenants:update_lrs_basic", &t1, "https://lrs.example.com", "user"]).await.failure(),
                   "id, LRS_ENDPOINT, LRS_USERNAME, LRS_PASSWORD are required to update a Tenant");
        cli.run(&["tenants:update_lrs_kc", &t2, "https://lrs2", "https://kc/token", "cid", "csecret", "kuser", "kpass"]).await.success();
        assert!(cli.run(&["tenants:update_lrs_kc", &t2, "https://lrs2"]).await.failure().starts_with("LRS_ENDPOINT, KC_TOKEN_URL"));
        let out = cli.run(&["tenants"]).await;
        assert_eq!(out.success().stdout, format!(
            "id: {t1}\n\tname: t1b\n\tsecrets: only\n\tlrs_endpoint: https://lrs.example.com\n\tlrs_username: user\n\tlrs_password: pass\n\
             id: {t2}\n\tname: t2\n\tsecrets: x\n\tlrs_endpoint: https://lrs2\n\tkc_token_url: https://kc/token\n\tkc_client_id: cid\n\
             \tkc_client_secret: csecret\n\tkc_username: kuser\n\tkc_password: kpass\nTotal number of tenants: 2\n"));
        let out = cli.run(&["tenants", "--json"]).await;
        let json: serde_json::Value = serde_json::from_str(&out.success().stdout).unwrap();
        assert_eq!(json[1]["kc_client_id"], "cid");
        assert_eq!(json[0].get("new_record"), None);

        let out = cli.run(&["tenants:remove", &t2]).await;
        assert_eq!(out.success().stdout, "Tenant was successfully deleted.\n");
        assert_eq!(cli.run(&["tenants:remove", &t2]).await.failure(), format!("Couldn't find Tenant with id={t2}"));
        assert_eq!(cli.run(&["tenants"]).await.success().stdout.lines().last(), Some("Total number of tenants: 1"));
    }

    async fn tenant_settings(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        cli.set_env("MULTITENANCY_ENABLED", "yes");
        let t1 = new_id(&cli.run(&["tenants:add", "t1", "s"]).await.success().stdout, "New Tenant id: ");
        new_id(&cli.run(&["tenants:add", "t2", "s"]).await.success().stdout, "New Tenant id: ");

        let s1 = new_id(&cli.run(&["tenantSettings:add", &t1, "record", "true", "yes"]).await.success().stdout, "New TenantSetting id: ");
        let s2 = new_id(&cli.run(&[&format!("tenantSettings:add[{t1},meta_x,a b,0]")]).await.success().stdout, "New TenantSetting id: ");
        let checks: [(&[&str], String); 4] = [
            (&["tenantSettings:add", &t1, "p", "v", "maybe"], "invalid value 'maybe' for override".into()),
            (&["tenantSettings:add", &t1, "p", "v"], "tenant_id, param, value and override are required to create a TenantSetting".into()),
            (&["tenantSettings:add", "nope", "p", "v", "true"], "Couldn't find Tenant with id=nope".into()),
            (&["tenantSettings:remove", "nope"], "Couldn't find TenantSetting with id=nope".into()),
        ];
        for (args, expected) in checks {
            let message = cli.run(args).await.failure();
            assert!(message.contains(&expected), "{args:?}: {message}");
        }

        let out = cli.run(&["tenantSettings"]).await;
        out.success();
        assert_eq!(out.stdout, format!(
            "Tenant: t1\n  id: {s2}\n\tparam: meta_x\n\tvalue: a b\n\toverride: false\n  id: {s1}\n\tparam: record\n\tvalue: true\n\t\
             override: true\nTenant: t2\n"));
        assert_eq!(out.stderr, "  No custom settings are configured\n");
        let settings = cli.store().list_tenant_settings(&t1).await.unwrap();
        assert_eq!(settings.len(), 2);
        assert!(settings.iter().any(|s| s.id == s1 && s.param == "record" && s.override_value));

        assert_eq!(cli.run(&["tenantSettings:remove", &s1]).await.success().stdout, "TenantSetting was successfully deleted.\n");
        let left: Vec<String> = cli.store().list_tenant_settings(&t1).await.unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(left, [s2]);
        // Removing a tenant removes its settings.
        cli.run(&["tenants:remove", &t1]).await.success();
        assert!(cli.store().list_tenant_settings(&t1).await.unwrap().is_empty());
    }
}
