//! The `servers*` tasks and `status` (`docs/compatibility.md#cli-servers`).

use fake_bbb::{FakeServer, Fault};

use crate::support::*;

both_backends! {
    async fn server_life_cycle(backend: Backend) {
        let cli = Cli::new(backend).await;
        let out = cli.run(&["servers"]).await;
        out.success();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "No servers are configured\n"));

        let fake = FakeServer::start("sec1").await.unwrap();
        let out = cli.run(&["servers:add", &fake.url(), "sec1", "2.5", "gpu"]).await;
        out.success();
        let id = out.stdout.strip_prefix("OK\nid: ").and_then(|s| s.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("{out:?}")).to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert!(fake.requests().iter().any(|r| r.call == "getMeetings" && r.checksum_ok == Some(true)),
                "the URL and secret were checked");

        let out = cli.run(&["servers"]).await;
        out.success();
        assert_eq!(out.stdout, format!(
            "id: {id}\n\turl: {}\n\tsecret: sec1\n\tdisabled\n\tload: unavailable\n\tload multiplier: 2.5\n\t\
             bbb version: \n\ttag: gpu\n\toffline\n", fake.url()));
        assert_eq!(out.stderr, "");
        let out = cli.run(&["servers", "--json"]).await;
        let json: serde_json::Value = serde_json::from_str(&out.success().stdout).unwrap();
        assert_eq!(json, serde_json::json!([{"id": id, "url": fake.url(), "secret": "sec1", "tag": "gpu",
            "bbb_version": "", "state": "disabled", "load": "unavailable", "load_multiplier": 2.5, "online": "offline"}]));

        let out = cli.run(&["servers:enable", &id]).await;
        assert_eq!(out.success().stdout, format!("Enabling server {id}...\nOK\n"));
        assert_eq!(cli.server(&id).await.state, ServerState::Enabled);
        let out = cli.run(&["servers:cordon", &id]).await;
        assert_eq!(out.success().stdout, format!("Cordoning server {id}...\nOK\n"));
        assert_eq!(cli.server(&id).await.state, ServerState::Cordoned);
        // No load and no meetings: no question asked.
        let out = cli.run(&["servers:disable", &id]).await;
        assert_eq!(out.success().stdout, format!("Disabling server {id}...\nOK\n"));
        assert_eq!(cli.server(&id).await.state, ServerState::Disabled);

        // servers:update: empty arguments are "not given", except an explicit empty tag, which removes it.
        let out = cli.run(&["servers:update", &id, "", "3"]).await;
        assert_eq!(out.success().stdout, format!("Updating server {id}...\nOK\n"));
        let server = cli.server(&id).await;
        assert_eq!((server.load_multiplier, server.tag.as_deref(), server.secret.expose()), (3.0, Some("gpu"), "sec1"));
        cli.run(&["servers:update", &id, "", "", ""]).await.success();
        assert_eq!(cli.server(&id).await.tag, None);
        cli.run(&[&format!("servers:update[{id},,,test-tag]")]).await.success();
        assert_eq!(cli.server(&id).await.tag.as_deref(), Some("test-tag"));
        cli.run(&[&format!("servers:update[{id},,1.0]")]).await.success();
        assert_eq!(cli.server(&id).await.tag.as_deref(), Some("test-tag"), "4th argument left out keeps the tag");
        let out = cli.run(&["servers:update", &id, "", "0"]).await;
        assert_eq!(out.success().stdout, format!(
            "Updating server {id}...\nWARNING! Load-multiplier was not readable or 0, so it is now 1\nOK\n"));
        assert_eq!(cli.server(&id).await.load_multiplier, 1.0);

        // A new secret is checked against the server: the fake refuses a wrong one.
        let message = cli.run(&["servers:update", &id, "wrong-secret"]).await.failure();
        assert!(message.contains("does not answer like a BigBlueButton API") && message.contains("--no-check"), "{message}");
        assert_eq!(cli.server(&id).await.secret.expose(), "sec1");
        cli.run(&["servers:update", &id, "wrong-secret", "--no-check"]).await.success();
        assert_eq!(cli.server(&id).await.secret.expose(), "wrong-secret");
        cli.run(&["servers:update", &id, "sec1"]).await.success();
        // A new URL: the path is added when missing, and checked.
        let base = fake.url().trim_end_matches("/bigbluebutton/api/").to_owned();
        let out = cli.run(&["servers:update", &id, "--url", &base]).await;
        assert!(out.success().stdout.contains("does not end in /bigbluebutton/api/"), "{out:?}");
        assert_eq!(cli.server(&id).await.url, fake.url());

        assert_eq!(cli.run(&["servers:loadMultiplier", &id, "1.5"]).await.success().stdout, "OK\n");
        assert_eq!(cli.server(&id).await.load_multiplier, 1.5);
        cli.run(&["servers:loadMultiplier", &id]).await.success();
        assert_eq!(cli.server(&id).await.load_multiplier, 1.0, "left out: 1");
        assert_eq!(cli.run(&["servers:tag", &id, "t2"]).await.success().stdout, "OK\n");
        assert_eq!(cli.server(&id).await.tag.as_deref(), Some("t2"));
        cli.run(&["servers:tag", &id]).await.success();
        assert_eq!(cli.server(&id).await.tag, None);

        let out = cli.run(&["servers:remove", &id]).await;
        assert_eq!(out.success().stdout, format!("Removing server {id}...\nOK\n"));
        assert!(cli.servers().await.is_empty());
    }

    async fn server_add_checks_its_arguments(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        let fake = FakeServer::start("sec").await.unwrap();
        let base = fake.url().trim_end_matches("/bigbluebutton/api/").to_owned();

        // A URL without the API path is corrected (and then answers the check).
        let out = cli.run(&["servers:add", &base, "sec"]).await;
        out.success();
        assert!(out.stdout.starts_with(&format!(
            "NOTE: Server URL {base} does not end in /bigbluebutton/api/, so it is now {}\nOK\nid: ", fake.url())), "{out:?}");
        assert_eq!(cli.servers().await[0].url, fake.url());

        // Nothing is added by a failure.
        let failures: Vec<(Vec<String>, &str)> = vec![
            (vec![fake.url(), "wrong".into()], "does not answer like a BigBlueButton API"),
            (vec!["bbb.example.com".into(), "s".into()], "Server URL must start with http:// or https://"),
            (vec![fake.url(), "sec".into(), "abc".into()], "invalid load multiplier 'abc'"),
            (vec![fake.url(), "sec".into(), "-2".into()], "Load-multiplier must be a positive number"),
            (vec![fake.url()], "Please input at least a URL and a secret!"),
            (vec![fake.url(), " ".into()], "Please input at least a URL and a secret!"),
            (vec![], "Please input at least a URL and a secret!"),
        ];
        for (args, expected) in failures {
            let mut argv = vec!["servers:add"];
            argv.extend(args.iter().map(String::as_str));
            let message = cli.run(&argv).await.failure();
            assert!(message.contains(expected), "{argv:?}: {message}");
        }
        let refusing = FakeServer::start("sec").await.unwrap();
        refusing.set_fault(Fault::Refuse).await.unwrap();
        let message = cli.run(&["servers:add", &refusing.url(), "sec"]).await.failure();
        assert!(message.contains("could not reach the server") && message.contains("--no-check"), "{message}");
        assert_eq!(cli.servers().await.len(), 1, "only the first add went through");

        // --no-check saves without asking; 0 means 1 with the original's warning; the bracket form works.
        let out = cli.run(&["servers:add", &refusing.url(), "sec", "0", "--no-check"]).await;
        assert!(out.success().stdout.starts_with("WARNING! Load-multiplier was not readable or 0, so it is now 1\nOK\nid: "), "{out:?}");
        let out = cli.run(&[&format!("servers:add[{},sec,2]", fake.url())]).await;
        out.success();
        let servers = cli.servers().await;
        assert_eq!(servers.len(), 3);
        let mut multipliers: Vec<f64> = servers.iter().map(|s| s.load_multiplier).collect();
        multipliers.sort_by(f64::total_cmp);
        assert_eq!(multipliers, [1.0, 1.0, 2.0]);
        assert!(servers.iter().all(|s| s.state == ServerState::Disabled && !s.online));

        // SERVER_ID_IS_HOSTNAME: the id is the lower-case host; a second server on that host is refused.
        cli.set_env("SERVER_ID_IS_HOSTNAME", "true");
        let out = cli.run(&["servers:add", "https://BBB9.Example.com/bigbluebutton/api/", "s", "--no-check"]).await;
        assert_eq!(out.success().stdout, "OK\nid: bbb9.example.com\n");
        let message = cli.run(&["servers:add", "https://bbb9.example.COM/bigbluebutton/api", "s", "--no-check"]).await.failure();
        assert!(message.contains("already exists"), "{message}");
        assert_eq!(cli.servers().await.len(), 4);
        cli.set_env("SERVER_ID_IS_HOSTNAME", "maybe");
        let message = cli.run(&["servers"]).await;
        assert_eq!(message.code, 2, "a bad boolean in the environment is refused: {message:?}");
    }

    async fn bad_arguments_change_nothing(backend: Backend) {
        let cli = Cli::new(backend).await;
        let fake = cli.add_fake("s1").await;
        cli.add_meeting("m1", "s1", Some(&fake)).await;
        let before = cli.servers().await;

        for args in [
            vec!["servers:update", "nope", "x"], vec!["servers:remove", "nope"], vec!["servers:enable", "nope"],
            vec!["servers:cordon", "nope"], vec!["servers:disable", "nope"], vec!["servers:panic", "nope"],
            vec!["servers:loadMultiplier", "nope", "2"], vec!["servers:tag", "nope", "x"],
            vec!["servers:meeting_list", "s1:nope"],
        ] {
            assert_eq!(cli.run(&args).await.failure(), "No server found with id: nope", "{args:?}");
        }
        let checks: [(&[&str], &str); 9] = [
            (&["servers:panic", "s1", "maybe"], "invalid value 'maybe' for keep_state: expected true, false, yes, no, 1 or 0"),
            (&["servers:panic", "s1", "true", "perhaps"], "invalid value 'perhaps' for skip_end_calls"),
            (&["servers:update", "s1", "", "lots"], "invalid load multiplier 'lots'"),
            (&["servers:update", "s1", "", "-1"], "Load-multiplier must be a positive number"),
            (&["servers:update", "s1", "--url", "ftp://x/"], "Server URL must start with http:// or https://"),
            (&["servers:loadMultiplier", "s1", "x2"], "invalid load multiplier 'x2'"),
            (&["servers:yaml", "verbose"], "invalid value 'verbose' for verbose"),
            (&["servers:remove"], "Please input a server id!"),
            (&["servers:enable", " "], "Please input a server id!"),
        ];
        for (args, expected) in checks {
            let message = cli.run(args).await.failure();
            assert!(message.contains(expected), "{args:?}: {message}");
        }
        // What clap cannot read: status 2 and one line.
        for args in [vec!["servers:frobnicate"], vec!["servers", "--frob"], vec!["servers:add", "a", "b", "c", "d", "e"]] {
            let out = cli.run(&args).await;
            assert_eq!(out.code, 2, "{out:?}");
            assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
            assert!(out.stderr.starts_with("error: "), "{out:?}");
        }
        assert_eq!(cli.servers().await, before);
        assert_eq!(cli.meeting_ids().await, ["m1"]);
        assert!(end_calls(&fake).is_empty());
    }

    // Without MEETING_FAILOVER, as the original: the meetings are ended and forgotten.
    async fn panic_forgets_and_ends_the_meetings(backend: Backend) {
        let mut cli = Cli::new(backend).await;
        cli.set_env("MEETING_FAILOVER", "false");
        let a = cli.add_fake("a").await;
        let b = cli.add_fake("b").await;
        cli.add_meeting("m1", "a", Some(&a)).await;
        cli.add_meeting("m2", "a", Some(&a)).await;
        cli.add_meeting("m3", "b", Some(&b)).await;

        let out = cli.run(&["servers:panic", "a"]).await;
        assert_eq!(out.success().stdout, "Panicking server a...\nClearing Meeting id=m1\nClearing Meeting id=m2\nOK\n");
        assert_eq!(out.stderr, "");
        let mut ends = end_calls(&a);
        ends.sort();
        assert_eq!(ends, [("m1".into(), "mpw".into()), ("m2".into(), "mpw".into())]);
        assert!(a.meetings().is_empty());
        assert_eq!(cli.meeting_ids().await, ["m3"]);
        assert_eq!(cli.server("a").await.state, ServerState::Disabled);

        // keep_state and skip_end_calls, bracket form.
        let out = cli.run(&["servers:panic[b,yes,1]"]).await;
        assert_eq!(out.success().stdout, "Panicking server b...\nClearing Meeting id=m3\nOK\n");
        assert!(end_calls(&b).is_empty(), "no end sent");
        assert_eq!(cli.server("b").await.state, ServerState::Enabled);
        assert!(cli.meeting_ids().await.is_empty());

        // A dead server: the end calls fail, the meetings are forgotten all the same.
        cli.add_meeting("m4", "b", None).await;
        b.set_fault(Fault::Refuse).await.unwrap();
        let out = cli.run(&["servers:panic", "b", "false", "false"]).await;
        out.success();
        assert_eq!(out.stdout, "Panicking server b...\nClearing Meeting id=m4\nOK\n");
        assert!(out.stderr.starts_with("WARNING: Could not end meeting id=m4: "), "{out:?}");
        assert!(cli.meeting_ids().await.is_empty());
        assert_eq!(cli.server("b").await.state, ServerState::Disabled);
    }

    // With MEETING_FAILOVER (the default) the server is disabled and its meetings are ended there, but their
    // records stay, pointing at the disabled server: their next join creates them elsewhere
    // (`admin_api::panic_keeps_meetings_for_their_next_join` in the end-to-end suite shows the join).
    async fn panic_keeps_the_meetings_for_failover(backend: Backend) {
        let cli = Cli::new(backend).await;
        let a = cli.add_fake("a").await;
        let b = cli.add_fake("b").await;
        cli.add_meeting("m1", "a", Some(&a)).await;
        cli.add_meeting("m2", "a", Some(&a)).await;
        cli.add_meeting("m3", "b", Some(&b)).await;

        let out = cli.run(&["servers:panic", "a"]).await;
        assert_eq!(out.success().stdout, "Panicking server a...\nClearing Meeting id=m1\nClearing Meeting id=m2\n\
            Kept 2 meeting(s) for failover: the next join of each creates it on another server\nOK\n");
        let mut ends = end_calls(&a);
        ends.sort();
        assert_eq!(ends, [("m1".into(), "mpw".into()), ("m2".into(), "mpw".into())]);
        assert!(a.meetings().is_empty(), "ended on the panicked server");
        assert_eq!(cli.server("a").await.state, ServerState::Disabled);
        assert_eq!(cli.meeting_ids().await, ["m1", "m2", "m3"], "the records stay");
        for id in ["m1", "m2"] {
            assert_eq!(cli.store().get_meeting(id).await.unwrap().server_id, "a");
        }

        // A dead server: the end calls fail, the records are kept all the same.
        cli.add_meeting("m4", "b", None).await;
        b.set_fault(Fault::Refuse).await.unwrap();
        let out = cli.run(&["servers:panic", "b", "false", "false"]).await;
        out.success();
        assert!(out.stderr.contains("WARNING: Could not end meeting id=m4: "), "{out:?}");
        assert_eq!(cli.meeting_ids().await, ["m1", "m2", "m3", "m4"]);
        assert_eq!(cli.server("b").await.state, ServerState::Disabled);

        // keep_state: the server stays usable, so a kept record would send joiners back to the server that
        // just ended the meeting: they are forgotten, as in the original.
        b.set_fault(Fault::Normal).await.unwrap();
        cli.run(&["servers:enable", "b"]).await.success();
        let out = cli.run(&["servers:panic", "b", "true"]).await;
        assert_eq!(out.success().stdout, "Panicking server b...\nClearing Meeting id=m3\nClearing Meeting id=m4\nOK\n");
        assert_eq!(cli.meeting_ids().await, ["m1", "m2"]);
        assert_eq!(cli.server("b").await.state, ServerState::Enabled);
    }

    async fn disable_asks_before_ending_meetings(backend: Backend) {
        let cli = Cli::new(backend).await;
        let fake = cli.add_fake("s1").await;
        cli.add_meeting("m1", "s1", Some(&fake)).await;

        for input in [Some("no\n"), Some(""), None] {
            let out = cli.run_with_input(&["servers:disable", "s1"], input).await;
            assert_eq!(out.failure(), "cancelled: server s1 was not disabled");
            assert!(out.stdout.starts_with("Disabling server s1...\nWARNING: You are trying to disable a server with active load"), "{out:?}");
            assert!(out.stdout.ends_with("If you still wish to continue please enter `yes`\n"), "{out:?}");
            assert_eq!(cli.server("s1").await.state, ServerState::Enabled);
            assert_eq!(cli.meeting_ids().await, ["m1"]);
        }
        let out = cli.run_with_input(&["servers:disable", "s1"], Some("YES\n")).await;
        out.success();
        assert!(out.stdout.ends_with("If you still wish to continue please enter `yes`\nClearing Meeting id=m1\nOK\n"), "{out:?}");
        assert_eq!(cli.server("s1").await.state, ServerState::Disabled);
        assert!(cli.meeting_ids().await.is_empty());
        assert_eq!(end_calls(&fake), [("m1".into(), "mpw".into())]);

        // --yes does not ask.
        cli.add_server("s2", "https://s2.example.com/bigbluebutton/api/", "x", ServerState::Enabled, Some(4.0)).await;
        let out = cli.run(&["servers:disable", "--yes", "s2"]).await;
        out.success();
        assert!(!out.stdout.contains("If you still wish"), "{out:?}");
        assert_eq!(cli.server("s2").await.state, ServerState::Disabled);
    }

    async fn status_table(backend: Backend) {
        let cli = Cli::new(backend).await;
        let out = cli.run(&["status"]).await;
        assert_eq!(out.success().stdout, "\n HOSTNAME  STATE  STATUS  MEETINGS  USERS  LARGEST MEETING  VIDEOS  LOAD  BBB VERSION  TAG \n");

        cli.add_server("a", "https://bbb1.example.com/bigbluebutton/api/", "x", ServerState::Enabled, Some(25.0)).await;
        cli.add_server("b", "https://bbb2.example.com/bigbluebutton/api/", "y", ServerState::Cordoned, None).await;
        cli.store().patch_server("a", ServerPatch {
            stats: Some(scalelite_core::domain::ServerStats { meetings: 12, users: 25, largest_meeting: 7, videos: 15 }),
            bbb_version: Some("2.7.3".into()),
            ..ServerPatch::default()
        }).await.unwrap();
        cli.store().patch_server("b", ServerPatch { tag: Some(Some("gpu".into())), ..ServerPatch::default() }).await.unwrap();
        let out = cli.run(&["status"]).await;
        out.success();
        let expected = [
            "",
            "     HOSTNAME        STATE    STATUS  MEETINGS  USERS  LARGEST MEETING  VIDEOS  LOAD  BBB VERSION  TAG ",
            " bbb1.example.com  enabled   online   12        25     7                15      25.0  2.7.3            ",
            " bbb2.example.com  cordoned  offline  0         0      0                0                          gpu ",
        ];
        assert_eq!(out.stdout, format!("{}\n", expected.join("\n")));

        let out = cli.run(&["status", "--json"]).await;
        let rows: serde_json::Value = serde_json::from_str(&out.success().stdout).unwrap();
        assert_eq!(rows[0]["hostname"], "bbb1.example.com");
        assert_eq!(rows[0]["load"], 25.0);
        assert_eq!(rows[1]["load"], serde_json::Value::Null);
        assert_eq!(rows[1]["state"], "cordoned");
    }

    async fn meeting_list_asks_each_server(backend: Backend) {
        let cli = Cli::new(backend).await;
        let a = cli.add_fake("a").await;
        let b = cli.add_fake("b").await;
        cli.add_meeting("m1", "a", Some(&a)).await;
        cli.add_meeting("m2", "a", Some(&a)).await;
        let out = cli.run(&["servers:meeting_list"]).await;
        out.success();
        assert_eq!(out.stdout, format!(
            "\nServer ID: a\nServer Url: {}\nMeetingIDs: \n\tm1\n\tm2\n\nServer ID: b\nServer Url: {}\nMeetingIDs: \n\t\n",
            a.url(), b.url()));
        assert_eq!(out.stderr, "\tNo meetings to display\n");
        b.set_fault(Fault::Refuse).await.unwrap();
        let out = cli.run(&["servers:meeting_list", "b"]).await;
        out.success();
        assert!(out.stderr.starts_with("\nFailed to get server id=b status: "), "{out:?}");
        let out = cli.run(&["servers:meeting_list", "a", "--json"]).await;
        let json: serde_json::Value = serde_json::from_str(&out.success().stdout).unwrap();
        assert_eq!(json, serde_json::json!([{"server_id": "a", "server_url": a.url(), "meeting_ids": ["m1", "m2"], "error": null}]));
    }
}
