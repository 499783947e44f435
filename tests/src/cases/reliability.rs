//! A property over whole interleavings: any sequence of create, join, end, poll, publish/unpublish and (re-)import
//! over a few meetings, some publishes running beside a re-import of the same recording, keeps the invariants:
//!
//! - one server per meeting: at most one BBB server runs it, the store points at that one, and joins go there;
//! - no recording state is reverted: the stored `published` flag and the tree holding the files follow the last
//!   successful publish/unpublish call, whatever imports come after it or run beside it.
//!
//! Runs the real API (in process, over HTTP), the importer's `import_one` and the poller's `poll_once` on one
//! store: 160 cases on the embedded store, 48 on PostgreSQL + Redis (one fresh database per run, not per case;
//! each case uses meeting ids of its own).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::storage::{MeetingStore, RecordingStore};
use scalelite_poller::{PollSettings, Poller};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportContext, ImportOutcome, ImportSettings, import_one};

use crate::harness::*;

const MEETINGS: usize = 3;
const SERVERS: usize = 2;

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Join(usize),
    End(usize),
    /// One poll cycle (the grace is zero: a meeting missing in two cycles is forgotten).
    Poll,
    /// Import (or re-import) the meeting's recording; the archive says published.
    Import(usize),
    Publish(usize, bool),
    /// publishRecordings while the meeting's recording is being (re-)imported.
    PublishDuringImport(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let meeting = 0..MEETINGS;
    prop_oneof![
        meeting.clone().prop_map(Op::Create),
        meeting.clone().prop_map(Op::Join),
        meeting.clone().prop_map(Op::End),
        Just(Op::Poll),
        meeting.clone().prop_map(Op::Import),
        (meeting.clone(), any::<bool>()).prop_map(|(m, p)| Op::Publish(m, p)),
        (meeting, any::<bool>()).prop_map(|(m, p)| Op::PublishDuringImport(m, p)),
    ]
}

struct World {
    app: TestApp,
    importer: ImportContext,
    poller: Poller,
    _dir: tempfile::TempDir,
    published: PathBuf,
    unpublished: PathBuf,
    spool: PathBuf,
    cases: AtomicU32,
}

impl World {
    async fn new(backend: Backend) -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = ImportSettings::under(dir.path());
        let (published, unpublished) =
            (settings.publish_dir.clone(), settings.unpublish_dir.clone());
        let (p, u) = (published.clone(), unpublished.clone());
        let mut app = TestApp::spawn_with(backend, move |s| {
            s.recording_publish_dir = p;
            s.recording_unpublish_dir = u;
        })
        .await;
        for n in 0..SERVERS {
            app.add_server(&format!("s{n}")).await;
        }
        settings.store_attempts = 1;
        let spool = settings.spool_dir.clone();
        let importer = ImportContext::new(app.store.clone(), settings);
        let bbb = BbbClient::new(
            Timeouts {
                connect: Duration::from_secs(1),
                response: Duration::from_secs(2),
            },
            Algorithm::Sha256,
        );
        let poll_settings = PollSettings {
            ended_grace: Some(Duration::ZERO),
            server_timeout: Duration::from_secs(3),
            ..PollSettings::default()
        };
        let poller = Poller::new(app.store.clone(), bbb, poll_settings);
        World {
            app,
            importer,
            poller,
            _dir: dir,
            published,
            unpublished,
            spool,
            cases: AtomicU32::new(0),
        }
    }
}

/// What the test knows about one meeting of a case.
#[derive(Clone, Debug, Default)]
struct Model {
    /// The recording's `published` as the last successful publish call (or its first import) left it; `None`
    /// until it is first imported.
    published: Option<bool>,
}

struct Case<'w> {
    world: &'w World,
    meeting_ids: Vec<String>,
    recordings: Vec<FixtureRecording>,
    models: Vec<Model>,
}

impl<'w> Case<'w> {
    fn new(world: &'w World) -> Case<'w> {
        let n = world.cases.fetch_add(1, Ordering::Relaxed);
        let meeting_ids: Vec<String> = (0..MEETINGS).map(|m| format!("case{n}-m{m}")).collect();
        let recordings = meeting_ids
            .iter()
            .map(|id| FixtureRecording::new(id, 1_714_557_600_000).with_format("presentation"))
            .collect();
        Case {
            world,
            meeting_ids,
            recordings,
            models: vec![Model::default(); MEETINGS],
        }
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let app = &self.world.app;
        match *op {
            Op::Create(m) => {
                let xml = app
                    .call(
                        "create",
                        &format!(
                            "meetingID={}&name=x&attendeePW=ap&moderatorPW=mp",
                            self.meeting_ids[m]
                        ),
                    )
                    .await;
                prop_assert_eq!(xml.returncode(), "SUCCESS");
            }
            Op::Join(m) => {
                let id = &self.meeting_ids[m];
                let response = app
                    .get("join", &format!("meetingID={id}&fullName=x&password=mp"))
                    .await;
                match app.store.get_meeting(id).await {
                    Ok(meeting) => {
                        prop_assert_eq!(response.status().as_u16(), 302);
                        let location = response
                            .headers()
                            .get("location")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let fake = &app.fakes[server_index(&meeting.server_id)];
                        prop_assert!(location.starts_with(&fake.url()), "join went to {location}");
                    }
                    Err(_) => {
                        let xml = Xml::from(response).await;
                        prop_assert_eq!(xml.returncode(), "FAILED");
                    }
                }
            }
            Op::End(m) => {
                app.call(
                    "end",
                    &format!("meetingID={}&password=mp", self.meeting_ids[m]),
                )
                .await;
            }
            Op::Poll => {
                self.world.poller.poll_once().await.expect("poll cycle");
            }
            Op::Import(m) => {
                self.import(m).await?;
                self.imported(m);
            }
            Op::Publish(m, publish) => {
                if self.publish(m, publish).await {
                    self.models[m].published = Some(publish);
                }
            }
            Op::PublishDuringImport(m, publish) => {
                let (imported, published) = tokio::join!(self.import(m), self.publish(m, publish));
                imported?;
                self.imported(m);
                if published {
                    self.models[m].published = Some(publish);
                }
            }
        }
        Ok(())
    }

    fn imported(&mut self, m: usize) {
        // A first import takes the archive's published flag; a re-import never changes it.
        self.models[m].published.get_or_insert(true);
    }

    async fn import(&self, m: usize) -> Result<(), TestCaseError> {
        let tar = self.recordings[m]
            .write_tar(&self.world.spool)
            .expect("write archive");
        match import_one(&self.world.importer, &tar).await {
            Ok(ImportOutcome::Imported(_)) => Ok(()),
            other => Err(TestCaseError::fail(format!("import failed: {other:?}"))),
        }
    }

    /// publishRecordings; true when it answered SUCCESS.
    async fn publish(&self, m: usize, publish: bool) -> bool {
        let rid = &self.recordings[m].record_id;
        let xml = self
            .world
            .app
            .call(
                "publishRecordings",
                &format!("recordID={rid}&publish={publish}"),
            )
            .await;
        xml.returncode() == "SUCCESS"
    }

    async fn check(&self) -> Result<(), TestCaseError> {
        let app = &self.world.app;
        for (m, id) in self.meeting_ids.iter().enumerate() {
            // One server per meeting, and the store agrees with it.
            let running_on: Vec<usize> = (0..SERVERS)
                .filter(|&n| app.fakes[n].meeting(id).is_some())
                .collect();
            prop_assert!(running_on.len() <= 1, "{id} runs on servers {running_on:?}");
            if let (Some(&n), Ok(meeting)) = (running_on.first(), app.store.get_meeting(id).await) {
                prop_assert_eq!(
                    server_index(&meeting.server_id),
                    n,
                    "the store points elsewhere for {}",
                    id
                );
            }
            // The recording follows the last publish call.
            let Some(published) = self.models[m].published else {
                continue;
            };
            let rid = &self.recordings[m].record_id;
            let row = app
                .store
                .get_recording(rid)
                .await
                .expect("the imported recording");
            prop_assert_eq!(row.published, published, "stored flag of {}", rid);
            prop_assert_eq!(
                row.state.as_deref(),
                Some(if published {
                    "published"
                } else {
                    "unpublished"
                })
            );
            let in_published = has_files(&self.world.published, rid);
            let in_unpublished = has_files(&self.world.unpublished, rid);
            prop_assert_eq!(
                (in_published, in_unpublished),
                (published, !published),
                "files of {} (published: {})",
                rid,
                published
            );
        }
        Ok(())
    }
}

fn has_files(root: &Path, record_id: &str) -> bool {
    root.join("presentation")
        .join(record_id)
        .join("metadata.xml")
        .is_file()
}

fn server_index(server_id: &str) -> usize {
    server_id
        .trim_start_matches('s')
        .parse()
        .expect("server id s<n>")
}

fn run_property(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let world = runtime.block_on(World::new(backend));
    let config = Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), 1..16), |ops| {
        runtime.block_on(async {
            let mut case = Case::new(&world);
            for op in &ops {
                case.apply(op).await?;
                case.check().await?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn interleavings_keep_one_server_per_meeting_and_never_revert_a_recording_embedded() {
    run_property(Backend::Embedded, 160);
}

#[test]
fn interleavings_keep_one_server_per_meeting_and_never_revert_a_recording_production() {
    run_property(Backend::Production, 48);
}
