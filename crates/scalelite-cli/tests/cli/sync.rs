//! `servers:sync`, `servers:yaml` and `servers:addAll` (`docs/compatibility.md#cli-sync`).

use crate::support::*;

const FILE: &str = "servers:
  upd:
    url: https://upd.example.com/bigbluebutton/api/
    secret: new-secret
    load_multiplier: 2
    tag: t
  new1:
    url: https://new1.example.com/bigbluebutton/api
    secret: s1
  new2:
    secret: s2
    enabled: false
";

both_backends! {
    async fn sync_adds_updates_and_removes(backend: Backend) {
        let cli = Cli::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "servers.yml", FILE);
        cli.add_server("upd", "https://upd.example.com/bigbluebutton/api/", "old", ServerState::Disabled, None).await;
        cli.add_server("keepme", "https://k.example.com/bigbluebutton/api/", "k", ServerState::Enabled, Some(0.0)).await;
        let busy = cli.add_fake("busy").await;
        cli.add_meeting("m1", "busy", Some(&busy)).await;
        let before = cli.servers().await;

        let changes = "[upd] Server updated: secret=*****\n[upd] Server updated: load_multiplier=2.0\n\
                       [upd] Server updated: tag=t\n[upd] Server enabled\n[new1] Server created\n[new1] Server enabled\n\
                       [new2] Server created\n[busy] Server not empty. Cordoned for removal\n[keepme] Server removed\n";
        // A dry run prints the same and changes nothing.
        let out = cli.run(&["servers:sync", &path, "cordon", "true"]).await;
        assert_eq!(out.success().stdout, format!(
            "[upd] Server updated: secret=*****\n[upd] Server updated: load_multiplier=2.0\n[upd] Server updated: tag=t\n\
             [upd] Server enabled\n[new1] Server created\n[new2] Server created\n[busy] Server not empty. Cordoned for removal\n\
             [keepme] Server removed\nDry run: nothing was changed\n"));
        assert_eq!(cli.servers().await, before);

        let out = cli.run(&["servers:sync", &path]).await;
        assert_eq!(out.success().stdout, changes);
        let upd = cli.server("upd").await;
        assert_eq!((upd.secret.expose(), upd.load_multiplier, upd.tag.as_deref(), upd.state), ("new-secret", 2.0, Some("t"), ServerState::Enabled));
        let new1 = cli.server("new1").await;
        assert_eq!((new1.url.as_str(), new1.state), ("https://new1.example.com/bigbluebutton/api", ServerState::Enabled));
        let new2 = cli.server("new2").await;
        assert_eq!((new2.url.as_str(), new2.state), ("https://new2/bigbluebutton/api", ServerState::Disabled));
        assert_eq!(cli.server("busy").await.state, ServerState::Cordoned, "still has a meeting");
        assert!(cli.store().get_server("keepme").await.is_err());
        assert_eq!(cli.meeting_ids().await, ["m1"]);

        // Nothing left to do: no output. `keep` leaves strays alone.
        cli.add_server("stray", "https://stray.example.com/bigbluebutton/api/", "x", ServerState::Enabled, Some(0.0)).await;
        let out = cli.run(&["servers:sync", &path, "keep"]).await;
        assert_eq!(out.success().stdout, "[busy] Server not removed\n[stray] Server not removed\n");

        // `force` ends the meetings (really sending `end`) and removes the servers.
        let out = cli.run(&[&format!("servers:sync[{path},force]")]).await;
        assert_eq!(out.success().stdout,
            "[busy] Server not empty. Ending meetings now...\n[busy] Try to end meeting id=m1\n[busy] Server removed\n\
             [stray] Server removed\n");
        assert_eq!(end_calls(&busy), [("m1".into(), "mpw".into())]);
        assert!(cli.meeting_ids().await.is_empty());
        let ids: Vec<String> = cli.servers().await.into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["new1", "new2", "upd"]);
        assert_eq!(cli.run(&["servers:sync", &path, "force"]).await.success().stdout, "");

        // From standard input.
        let out = cli.run_with_input(&["servers:sync", "-", "force"], Some("servers:\n  only:\n    secret: x\n    enabled: no\n")).await;
        assert_eq!(out.success().stdout, "[only] Server created\n[new1] Server removed\n[new2] Server removed\n[upd] Server removed\n");
    }

    async fn dry_run_of_force_on_a_busy_server(backend: Backend) {
        let cli = Cli::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "empty.yml", "servers: {}\n");
        cli.add_server("busy", "https://busy.example.com/bigbluebutton/api/", "x", ServerState::Cordoned, None).await;
        cli.add_meeting("m1", "busy", None).await;
        let out = cli.run(&["servers:sync", &path, "force", "yes"]).await;
        assert_eq!(out.success().stdout,
            "[busy] Server not empty. Ending meetings now...\n[busy] Try to end meeting id=m1\n[busy] Server removed\n\
             Dry run: nothing was changed\n");
        assert_eq!(cli.meeting_ids().await, ["m1"]);
        assert_eq!(cli.servers().await.len(), 1);
    }

    async fn bad_files_change_nothing(backend: Backend) {
        let cli = Cli::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        cli.add_server("a", "https://a.example.com/bigbluebutton/api/", "x", ServerState::Enabled, Some(1.0)).await;
        let before = cli.servers().await;
        let cases = [
            ("- a\n", "Invalid YAML document"),
            ("servers: [a, b]\n", "Servers parameter not a hash"),
            ("servers:\n  ok:\n    secret: s\n  'b a d':\n    secret: s\n", "Server id=b a d contains invalid characters"),
            ("servers:\n  ok:\n    secret: s\n  b:\n    url: https://b/\n", "Server id=b has no secret"),
            ("servers:\n  b:\n    secret: s\n    colour: red\n", "Server id=b has bad parameters: [\"colour\"]"),
            ("servers:\n  b:\n    secret: s\n    load_multiplier: 0\n", "Server id=b has invalid load_multiplier=0"),
            ("servers:\n  b:\n    secret: s\n    url: ftp://b/\n", "Server id=b has invalid url=ftp://b/"),
            ("servers:\n  b:\n    secret: s\n    enabled: 'sometimes'\n", "Server id=b has invalid enabled=sometimes"),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let path = write_file(&dir, &format!("bad{i}.yml"), text);
            assert_eq!(&cli.run(&["servers:sync", &path]).await.failure(), expected, "{text}");
        }
        let path = write_file(&dir, "good.yml", "servers:\n  b:\n    secret: s\n");
        assert_eq!(cli.run(&["servers:sync", &path, "nuke"]).await.failure(), "Unknown sync mode 'nuke' (choose: keep cordon force)");
        assert!(cli.run(&["servers:sync", &path, "cordon", "maybe"]).await.failure().contains("invalid value 'maybe' for dryrun"));
        assert_eq!(cli.run(&["servers:sync"]).await.failure(), "Missing 'path' parameter");
        let missing = dir.path().join("missing.yml").display().to_string();
        assert!(cli.run(&["servers:sync", &missing]).await.failure().starts_with(&format!("could not read {missing}")));
        assert_eq!(cli.servers().await, before);
    }

    async fn yaml_round_trip(backend: Backend) {
        let cli = Cli::new(backend).await;
        let out = cli.run(&["servers:yaml"]).await;
        assert_eq!(out.success().stdout, "---\nservers: {}\n");
        cli.add_server("a", "https://example.com", "sec-a", ServerState::Enabled, Some(4.0)).await;
        cli.add_server("b.example.com", "https://b.example.com/bigbluebutton/api/", "0123", ServerState::Cordoned, None).await;
        cli.add_server("c", "https://c.example.com/bigbluebutton/api/", "yes", ServerState::Disabled, None).await;
        cli.store().patch_server("a", ServerPatch { load_multiplier: Some(2.5), tag: Some(Some("gpu".into())), ..ServerPatch::default() }).await.unwrap();

        let out = cli.run(&["servers:yaml", "false"]).await;
        let yaml = out.success().stdout.clone();
        assert!(yaml.starts_with("---\nservers:\n  a:\n    url: https://example.com\n    secret: sec-a\n    load_multiplier: 2.5\n    \
                                  tag: gpu\n    enabled: true\n"), "{yaml}");
        assert!(yaml.contains("  b.example.com:\n") && yaml.contains("    enabled: false\n"), "{yaml}");
        let verbose = cli.run(&["servers:yaml", "true"]).await.success().stdout.clone();
        assert!(verbose.contains("    state: enabled\n    load: 4.0\n    bbb_version: ''\n    online: true\n"), "{verbose}");
        assert!(verbose.contains("    state: cordoned\n    load: -1.0\n"), "{verbose}");

        // Feeding the dump back changes nothing: no line printed, same servers, same dump. The verbose dump too.
        let before = cli.servers().await;
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("dump.yml", &yaml), ("verbose.yml", &verbose)] {
            let path = write_file(&dir, name, text);
            let out = cli.run(&["servers:sync", &path]).await;
            // The cordoned server is "not enabled" in the dump, and stays cordoned.
            assert_eq!(out.success().stdout, "", "{name}");
            assert_eq!(cli.servers().await, before, "{name}");
        }
        assert_eq!(cli.run(&["servers:yaml"]).await.success().stdout, yaml);

        // An edited dump applies: the secret that looked like a number survived as text.
        let edited = yaml.replace("secret: sec-a", "secret: sec-new");
        let path = write_file(&dir, "edited.yml", &edited);
        assert_eq!(cli.run(&["servers:sync", &path]).await.success().stdout, "[a] Server updated: secret=*****\n");
        assert_eq!(cli.server("a").await.secret.expose(), "sec-new");
        assert_eq!(cli.server("b.example.com").await.secret.expose(), "0123");
        assert_eq!(cli.server("c").await.secret.expose(), "yes");
    }

    async fn add_all_adds_a_list(backend: Backend) {
        let cli = Cli::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir, "servers.yml",
            "servers:\n  - url: https://one.example.com/bigbluebutton/api/\n    secret: s1\n  - url: https://two.example.com/bigbluebutton/api/\n    \
             secret: s2\n  - url: https://three.example.com/bigbluebutton/api/\n    secret: s3\n");
        let out = cli.run(&["servers:addAll", &path, "--no-check"]).await;
        out.success();
        let servers = cli.servers().await;
        assert_eq!(servers.len(), 3);
        for server in &servers {
            assert!(out.stdout.contains(&format!("server: {}\nid: {}\n", server.url, server.id)), "{out:?}");
            assert_eq!(server.state, ServerState::Disabled);
        }
        let bad = write_file(&dir, "bad.yml", "servers:\n  - url: https://x.example.com/\n");
        assert!(cli.run(&["servers:addAll", &bad]).await.failure().contains("needs a url and a secret"));
        assert_eq!(cli.servers().await.len(), 3);
    }
}
