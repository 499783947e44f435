//! moto's standalone S3 server (a third-party S3 implementation, from PyPI) as a child process on a random port, so
//! the S3 client and every recording call in S3 mode are tested against someone else's S3 as well as our fake.
//!
//! moto does not check request signatures; what it checks is the rest of the protocol: the multipart upload rules
//! (5 MiB minimum parts, ETags, part order), CopyObject, ListMultipartUploads, listings, error documents.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scalelite_core::domain::Secret;
use scalelite_core::s3::{MultipartSettings, S3Bucket, S3Client};

/// The moto release the tests and `.ci/run` install.
pub const MOTO_VERSION: &str = "5.1.22";
/// How to install it.
pub const INSTALL: &str = "python3 -m pip install 'moto[server]==5.1.22'";
/// How long moto may take to answer after starting (its imports are slow on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Start `moto_server` on a free 127.0.0.1 port and wait until it answers.
    ///
    /// # Panics
    /// When `moto_server` is not installed (naming the install command) or does not answer in time.
    pub async fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install moto's S3 server with `{INSTALL}` (or run .ci/run)")
            });
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if http.get(&moto.endpoint).send().await.is_ok() {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {} within {START_TIMEOUT:?}; is `{INSTALL}` installed?",
                moto.endpoint
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client of this server for `bucket` (created if missing), going through `endpoint` (this server's own,
    /// or a proxy in front of it).
    pub async fn bucket_via(&self, bucket: &str, endpoint: &str) -> S3Bucket {
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("moto answers");
        assert!(
            created.status().is_success(),
            "create bucket {bucket}: {}",
            created.status()
        );
        let client = S3Client::from_env_config(
            "us-east-1",
            "AKIDMOTOTEST",
            Secret::new("moto/secret"),
            None,
            Some(endpoint),
        )
        .expect("a client of moto");
        S3Bucket {
            client,
            bucket: bucket.to_owned(),
            multipart: MultipartSettings::default(),
        }
    }

    /// A client of this server for `bucket` (created if missing).
    pub async fn bucket(&self, bucket: &str) -> S3Bucket {
        let endpoint = self.endpoint.clone();
        self.bucket_via(bucket, &endpoint).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
