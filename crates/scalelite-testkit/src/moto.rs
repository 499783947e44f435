//! moto's standalone S3 server (a third-party S3 implementation, from PyPI) as a child process on a random port, so
//! the S3 client and every recording call in S3 mode are tested against someone else's S3 as well as our fake.
//!
//! moto checks the protocol: the multipart upload rules (5 MiB minimum parts, ETags, part order), CopyObject,
//! ListMultipartUploads, listings, error documents. [`Moto::start_authenticated`] also turns its authentication on
//! (`INITIAL_NO_AUTH_ACTION_COUNT`): the first requests, unauthenticated, create an IAM user with an access key and
//! an `s3:*` policy, and from then on moto checks every request's Signature V4 with botocore's code, so our signer
//! is checked by a third party. moto 5.1.22 rejects any correctly signed request whose query holds a `/` (botocore's
//! own `ListObjectsV2` with `Prefix="a/"` fails the same way), so the recording tests, which list by prefix, run
//! with authentication off.

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

/// The IAM calls made before authentication starts (user, access key, policy).
const SETUP_ACTIONS: &str = "3";

/// A running moto server; killed when dropped.
pub struct Moto {
    child: Child,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Moto {
    /// Start `moto_server` (authentication off) on a free 127.0.0.1 port and wait until it answers.
    ///
    /// # Panics
    /// When `moto_server` is not installed (naming the install command) or does not answer in time.
    pub async fn start() -> Moto {
        Self::start_with(false).await
    }

    /// Start `moto_server` with authentication on: it checks the signature of every request.
    ///
    /// # Panics
    /// As [`Moto::start`].
    pub async fn start_authenticated() -> Moto {
        Self::start_with(true).await
    }

    async fn start_with(authenticated: bool) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new("moto_server");
        if authenticated {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_ACTIONS);
        }
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install moto's S3 server with `{INSTALL}` (or run .ci/run)")
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key_id: "AKIDMOTOTEST".to_owned(),
            secret_access_key: "moto/secret".to_owned(),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // A TCP connection, not a request: every request counts against the unauthenticated ones.
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                moto.create_user(&http).await;
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

    /// The IAM user, its access key and an `s3:*` policy, made with the unauthenticated requests (moto routes them
    /// to IAM by the credential scope of a placeholder `Authorization` header it does not check yet).
    async fn create_user(&mut self, http: &reqwest::Client) {
        let placeholder = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, \
                           SignedHeaders=host, Signature=0";
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        let mut answers = Vec::new();
        for form in [
            vec![("Action", "CreateUser"), ("UserName", "scalelite")],
            vec![("Action", "CreateAccessKey"), ("UserName", "scalelite")],
            vec![
                ("Action", "PutUserPolicy"),
                ("UserName", "scalelite"),
                ("PolicyName", "s3"),
                ("PolicyDocument", policy),
            ],
        ] {
            let mut form = form;
            form.push(("Version", "2010-05-08"));
            let answer = http
                .post(format!("{}/", self.endpoint))
                .header("authorization", placeholder)
                .form(&form)
                .send()
                .await
                .expect("moto answers");
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            assert!(status.is_success(), "moto IAM {form:?}: {status} {body}");
            answers.push(body);
        }
        let field = |name: &str| {
            let open = format!("<{name}>");
            let start = answers[1].find(&open).map(|i| i + open.len());
            let end = answers[1].find(&format!("</{name}>"));
            match (start, end) {
                (Some(start), Some(end)) => answers[1][start..end].to_owned(),
                _ => panic!("no {name} in moto's CreateAccessKey answer: {}", answers[1]),
            }
        };
        self.access_key_id = field("AccessKeyId");
        self.secret_access_key = field("SecretAccessKey");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client of this server for `bucket` (created if missing), going through `endpoint` (this server's own,
    /// or a proxy in front of it).
    pub async fn bucket_via(&self, bucket: &str, endpoint: &str) -> S3Bucket {
        // Created directly (a proxy in front may be about to cut), with the user's key.
        self.client(&self.endpoint)
            .create_bucket(bucket)
            .await
            .unwrap_or_else(|e| panic!("create bucket {bucket} on moto: {e}"));
        let client = self.client(endpoint);
        S3Bucket {
            client,
            bucket: bucket.to_owned(),
            multipart: MultipartSettings::default(),
        }
    }

    /// A client of this server signing with the IAM user's key (moto checks it), through `endpoint`.
    pub fn client(&self, endpoint: &str) -> S3Client {
        S3Client::from_env_config(
            "us-east-1",
            &self.access_key_id,
            Secret::new(self.secret_access_key.clone()),
            None,
            Some(endpoint),
        )
        .expect("a client of moto")
    }

    /// A client of this server signing with another secret than the user's: moto refuses it.
    pub fn client_with_wrong_secret(&self) -> S3Client {
        S3Client::from_env_config(
            "us-east-1",
            &self.access_key_id,
            Secret::new("not the secret"),
            None,
            Some(&self.endpoint),
        )
        .expect("a client of moto")
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
