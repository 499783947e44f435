//! `meetings` (`meetings:list`), `meetings:end`, `meetings:info`.

use fake_bbb::Fault;

use crate::support::*;

both_backends! {
    async fn list_and_info(backend: Backend) {
        let cli = Cli::new(backend).await;
        let a = cli.add_fake("a").await;
        let b = cli.add_fake("b").await;
        cli.add_meeting("m1", "a", Some(&a)).await;
        cli.add_meeting("m2", "b", Some(&b)).await;

        let out = cli.run(&["meetings"]).await;
        assert_eq!(out.success().stdout, format!(
            "\nMeetingID: m1\n\tServer ID: a\n\tServer Url: {}\n\nMeetingID: m2\n\tServer ID: b\n\tServer Url: {}\n",
            a.url(), b.url()));
        let out = cli.run(&["meetings:list", "m2"]).await;
        assert_eq!(out.success().stdout, format!("\nMeetingID: m2\n\tServer ID: b\n\tServer Url: {}\n", b.url()));
        assert_eq!(cli.run(&["meetings", "m1:nope"]).await.failure(), "Couldn't find Meeting with id=nope");

        let out = cli.run(&["meetings", "--json"]).await;
        let json: serde_json::Value = serde_json::from_str(&out.success().stdout).unwrap();
        assert_eq!(json[0], serde_json::json!({"meeting_id": "m1", "server_id": "a", "server_url": a.url(), "running": true, "error": null}));

        // A server that does not answer: its meeting still listed with its server, and a warning.
        b.set_fault(Fault::Refuse).await.unwrap();
        let out = cli.run(&["meetings"]).await;
        out.success();
        assert_eq!(out.stdout, format!(
            "\nMeetingID: m1\n\tServer ID: a\n\tServer Url: {}\n\nMeetingID: m2\n\tServer ID: b\n\tServer Url: {}\n",
            a.url(), b.url()));
        assert!(out.stderr.starts_with("WARNING: Could not get info for meeting id=m2: "), "{out:?}");

        let out = cli.run(&["meetings:info", "m1"]).await;
        out.success();
        let internal = a.meeting("m1").unwrap().internal_meeting_id;
        assert!(out.stdout.starts_with(&format!(
            "\nMeeting ID: m1\n\tMeeting Name: Name of m1\n\tInternal MeetingID: {internal}\n\tCreated Date: ")), "{out:?}");
        assert!(out.stdout.contains(&format!("\tServer id: a\n\tServer url: {}\n\tMetaData:\n\t\tbbb-context-name: \n", a.url())), "{out:?}");
        assert!(out.stdout.ends_with("\t\tbbb-origin-tag: \n"), "{out:?}");
        assert_eq!(out.stdout.matches("\t\t").count(), 12, "twelve metadata lines");
        assert_eq!(cli.run(&["meetings:info"]).await.failure(), "Please input a meetingID!");
        assert_eq!(cli.run(&["meetings:info", "nope"]).await.failure(), "Couldn't find Meeting with id=nope");
        assert!(cli.run(&["meetings:info", "m2"]).await.failure().starts_with("Could not get info for meeting id=m2: "));
    }

    async fn end_asks_first(backend: Backend) {
        let cli = Cli::new(backend).await;
        let a = cli.add_fake("a").await;
        cli.add_meeting("m1", "a", Some(&a)).await;
        cli.add_meeting("m2", "a", Some(&a)).await;
        cli.add_meeting("m3", "a", Some(&a)).await;

        let out = cli.run_with_input(&["meetings:end", "m1"], Some("no\n")).await;
        assert_eq!(out.failure(), "cancelled: no meeting was ended");
        assert_eq!(out.stdout, "WARNING: You are trying to clear active meetings.\nIf you still wish to continue please enter `yes`\n");
        assert_eq!(cli.meeting_ids().await, ["m1", "m2", "m3"]);
        // An unknown id fails before anything is asked or ended.
        let out = cli.run_with_input(&["meetings:end", "m1:nope"], Some("yes\n")).await;
        assert_eq!(out.failure(), "Couldn't find Meeting with id=nope");
        assert_eq!(out.stdout, "");
        assert_eq!(cli.meeting_ids().await, ["m1", "m2", "m3"]);

        let out = cli.run_with_input(&["meetings:end", "m1:m2"], Some("yes\n")).await;
        out.success();
        assert!(out.stdout.ends_with("OK\n"), "{out:?}");
        assert_eq!(out.stderr, "Clearing Meeting id=m1\nClearing Meeting id=m2\n");
        assert_eq!(cli.meeting_ids().await, ["m3"]);
        let mut ends = end_calls(&a);
        ends.sort();
        assert_eq!(ends, [("m1".into(), "mpw".into()), ("m2".into(), "mpw".into())]);

        // Every meeting, without asking; a failed end is a warning and the meeting is forgotten anyway.
        a.set_fault(Fault::Refuse).await.unwrap();
        let out = cli.run(&["meetings:end", "--yes"]).await;
        out.success();
        assert!(out.stderr.starts_with("Clearing Meeting id=m3\nWARNING: Could not end meeting id=m3: "), "{out:?}");
        assert!(cli.meeting_ids().await.is_empty());
        let out = cli.run(&["meetings:end", "-y"]).await;
        assert_eq!(out.success().stderr, "No meetings to clear\n");
    }
}
