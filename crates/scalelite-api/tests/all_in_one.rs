//! The all-in-one command (README's "Run it") and the api image's health check script, on the real binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use scalelite_testkit::contract::{free_port, get};
use scalelite_testkit::process::Service;

fn healthcheck(envs: &[(&str, String)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker/healthcheck");
    let mut command = Command::new("bash");
    command.arg(script).env_clear();
    command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("bash runs")
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn all_in_one_serves_the_api_answers_the_image_health_check_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let env: Vec<(String, String)> = vec![
        (
            "LOADBALANCER_SECRET".into(),
            "deployment-test-secret".into(),
        ),
        (
            "SCALELITE_DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        ("BIND".into(), format!("tcp://{addr}")),
        ("RAILS_LOG_LEVEL".into(), "info".into()),
    ];
    let mut app = Service::spawn_listening(
        Path::new(env!("CARGO_BIN_EXE_scalelite-api")),
        &["--all-in-one"],
        &env,
    )
    .await;
    let (status, _, index) = get(&format!("http://{addr}/bigbluebutton/api")).await;
    assert_eq!(status, 200, "{index}");
    assert!(
        index.contains("<returncode>SUCCESS</returncode>"),
        "{index}"
    );
    let (status, _, health) = get(&format!("http://{addr}/health_check")).await;
    assert_eq!((status, health.as_str()), (200, "success"));
    assert!(
        dir.path().join("scalelite.sqlite3").is_file(),
        "the embedded store is not in SCALELITE_DATA_DIR"
    );

    // The api image's HEALTHCHECK script, on the address the API reads from BIND, and from PORT.
    let ok = healthcheck(&[("BIND", format!("tcp://{addr}"))]);
    assert!(ok.status.success(), "{}", output_text(&ok));
    let ok = healthcheck(&[
        ("PORT", port.to_string()),
        ("URL_HOST", "sl.example.com".into()),
    ]);
    assert!(ok.status.success(), "{}", output_text(&ok));
    let wrong = healthcheck(&[("BIND", format!("127.0.0.1:{}", free_port()))]);
    assert!(
        !wrong.status.success(),
        "health check passed on a closed port"
    );

    // SIGTERM, to this process only: a clean exit.
    app.terminate();
    let status = app.wait_exit(Duration::from_secs(60)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}:\n{}",
        app.log()
    );
    let after = healthcheck(&[("BIND", format!("tcp://{addr}"))]);
    assert!(
        !after.status.success(),
        "health check passed after shutdown"
    );
}
