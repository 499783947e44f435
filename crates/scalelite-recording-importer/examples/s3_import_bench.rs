//! S3 import benchmark: one recording whose video file is `--size-mib` MiB (2 GiB by default) imported into S3 by the
//! importer (`--once`, in a child process of its own, so its peak RSS is the importer's alone), beside a plain copy
//! of the same archive on the same disk.
//!
//! ```text
//! cargo run --release -p scalelite-recording-importer --example s3_import_bench -- --size-mib 2048
//! ```
//!
//! The S3 server is a minimal one inside this program that writes every object and part to disk (no signature
//! check; moto keeps objects in memory and is far slower at this size). The file's bytes are pseudo-random
//! (xorshift), so nothing on the way can compress them. It prints the archive's size, the copy's and the import's
//! time and throughput, their ratio, and the importer's peak RSS (`VmHWM`), which must stay under 64 MB.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use scalelite_recording_importer::fixture::{FixtureFormat, FixtureRecording};

/// The environment variable that turns this program into the importer child.
const CHILD: &str = "S3_IMPORT_BENCH_CHILD";
const BUCKET: &str = "bench";
/// The peak RSS the importer must stay under.
const RSS_LIMIT_BYTES: u64 = 64 * 1000 * 1000;

#[derive(Parser, Debug)]
struct Args {
    /// Size of the recording's video file, MiB.
    #[arg(long, default_value_t = 2048)]
    size_mib: u64,
    /// S3_PART_SIZE of the importer, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    part_size: u64,
    /// Where to put the temporary directory (default: the system's); it needs about 3 times the file's size.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let args = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(parent(args))
}

/// The importer: the binary's own entry point with `--once`, then its peak RSS on stdout.
fn child() -> anyhow::Result<()> {
    use clap::Parser as _;
    let cli = scalelite_recording_importer::service::Cli::parse_from(["importer", "--once"]);
    tokio::runtime::Runtime::new()?.block_on(scalelite_recording_importer::service::run(cli))?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM")?;
    println!("VmHWM:{hwm}");
    Ok(())
}

async fn parent(args: Args) -> anyhow::Result<()> {
    let dir = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let root = dir.path();
    for sub in [
        "spool",
        "work",
        "published",
        "unpublished",
        "objects",
        "copy",
        "staging",
    ] {
        std::fs::create_dir_all(root.join(sub))?;
    }
    let size = args.size_mib * 1024 * 1024;

    let started = Instant::now();
    let (archive, record_id) = build_archive(&root.join("staging"), size)?;
    let archive_size = std::fs::metadata(&archive)?.len();
    println!(
        "built a {:.1} MiB archive (one {} MiB file) in {:.1?}",
        mib(archive_size),
        args.size_mib,
        started.elapsed()
    );

    // Baseline: a plain copy of the archive on the same disk.
    let copy = root.join("copy").join("archive.tar");
    let started = Instant::now();
    std::fs::copy(&archive, &copy)?;
    let copy_time = started.elapsed();
    std::fs::remove_file(&copy)?;

    // The importer, into the on-disk S3.
    let server = DiskS3::start(root.join("objects")).await?;
    let spooled = root.join("spool").join(format!("{record_id}.tar"));
    std::fs::rename(&archive, &spooled)?;
    let env: Vec<(&str, String)> = vec![
        (CHILD, "1".into()),
        ("RECORDING_SPOOL_DIR", path(root, "spool")),
        ("RECORDING_WORK_DIR", path(root, "work")),
        ("RECORDING_PUBLISH_DIR", path(root, "published")),
        ("RECORDING_UNPUBLISH_DIR", path(root, "unpublished")),
        (
            "DATABASE_URL",
            format!("sqlite:{}", path(root, "bench.sqlite3")),
        ),
        ("S3_RECORDING", "true".into()),
        ("S3_BUCKET_NAME", BUCKET.into()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCH".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret".into()),
        ("AWS_ENDPOINT_URL", server.endpoint.clone()),
        ("S3_PART_SIZE", args.part_size.to_string()),
        ("RUST_LOG", "warn".into()),
    ];
    let started = Instant::now();
    let output = Command::new(std::env::current_exe()?)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("start the importer")?;
    let import_time = started.elapsed();
    if !output.status.success() {
        bail!("the importer failed: {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let hwm_kib: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("the importer did not report its VmHWM")?;
    let key = format!("published/video/{record_id}/video.mp4");
    let stored = server.size(&key);
    if stored != Some(size) {
        bail!("the object {key} has {stored:?} bytes, not {size}");
    }
    if spooled.exists() {
        bail!("the archive is still in the spool");
    }

    let rate = |seconds: f64| mib(archive_size) / seconds;
    let (copy_s, import_s) = (copy_time.as_secs_f64(), import_time.as_secs_f64());
    let rss = hwm_kib * 1024;
    println!(
        "plain copy of the archive: {copy_s:.2} s, {:.0} MiB/s",
        rate(copy_s)
    );
    println!(
        "import into S3 (extract + multipart upload of {} MiB parts + store): {import_s:.2} s, {:.0} MiB/s",
        args.part_size / (1024 * 1024),
        rate(import_s)
    );
    println!("import / copy time: {:.2}x", import_s / copy_s);
    println!(
        "importer peak RSS (VmHWM): {:.1} MiB ({:.1} MB), limit 64 MB: {}",
        mib(rss),
        rss as f64 / 1e6,
        if rss < RSS_LIMIT_BYTES {
            "ok"
        } else {
            "EXCEEDED"
        }
    );
    if rss >= RSS_LIMIT_BYTES {
        bail!("the importer's peak RSS is over 64 MB");
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn path(root: &Path, sub: &str) -> String {
    root.join(sub).display().to_string()
}

/// Write `<record_id>.tar` into `dir`: a video format whose `video.mp4` is `size` pseudo-random bytes, streamed
/// (never held in memory).
fn build_archive(dir: &Path, size: u64) -> anyhow::Result<(PathBuf, String)> {
    let mut recording = FixtureRecording::new("s3-bench", 1_700_000_000_000);
    let format = FixtureFormat::new("video", "bbb.example.com", &recording.record_id);
    let metadata = recording.metadata_xml(&format);
    recording.formats.push(format);
    let rid = recording.record_id.clone();
    let path = dir.join(format!("{rid}.tar"));
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut tar = tar::Builder::new(file);
    for name in ["video/".to_owned(), format!("video/{rid}/")] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        tar.append_data(&mut header, &name, io::empty())?;
    }
    let mut append = |name: String, len: u64, data: &mut dyn Read| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(len);
        tar.append_data(&mut header, name, data)
    };
    append(
        format!("video/{rid}/metadata.xml"),
        metadata.len() as u64,
        &mut metadata.as_bytes(),
    )?;
    append(
        format!("video/{rid}/video.mp4"),
        size,
        &mut Noise::new(size),
    )?;
    tar.into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok((path, rid))
}

/// `left` pseudo-random bytes (xorshift64).
struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    fn new(len: u64) -> Noise {
        Noise {
            state: 0x9e37_79b9_7f4a_7c15,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            chunk.copy_from_slice(&self.state.to_le_bytes()[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A minimal S3 that writes objects and parts to disk: enough for the importer (ListMultipartUploads, PutObject,
/// CreateMultipartUpload, UploadPart, CompleteMultipartUpload). No signature check.
struct DiskS3 {
    endpoint: String,
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    /// Object key → size.
    sizes: Mutex<HashMap<String, u64>>,
    /// Upload id → (key, part sizes).
    uploads: Mutex<HashMap<String, (String, Vec<u64>)>>,
}

impl DiskS3 {
    async fn start(dir: PathBuf) -> anyhow::Result<DiskS3> {
        let shared = Arc::new(Shared {
            dir,
            sizes: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(DiskS3 { endpoint, shared })
    }

    fn size(&self, key: &str) -> Option<u64> {
        self.shared
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let key = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split_once('/')
        .map(|(_, k)| k.to_owned())
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('=').or(Some((p, ""))))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    };
    let body = match axum::body::to_bytes(Body::new(body), usize::MAX).await {
        Ok(body) => body,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let file_name = |name: &str| shared.dir.join(name.replace('/', "_"));
    match (parts.method, key.is_empty()) {
        (Method::GET, true) => (
            StatusCode::OK,
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
            .into_response(),
        (Method::POST, false) if param("uploads").is_some() => {
            let mut uploads = shared.uploads.lock().unwrap_or_else(|e| e.into_inner());
            let id = format!("u{}", uploads.len() + 1);
            uploads.insert(id.clone(), (key, Vec::new()));
            (
                StatusCode::OK,
                format!("<InitiateMultipartUploadResult><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"),
            )
                .into_response()
        }
        (Method::PUT, false) if param("partNumber").is_some() => {
            let (Some(number), Some(id)) = (param("partNumber"), param("uploadId")) else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            if tokio::fs::write(file_name(&format!("{id}.{number}")), &body).await.is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            let mut uploads = shared.uploads.lock().unwrap_or_else(|e| e.into_inner());
            match uploads.get_mut(&id) {
                Some((_, sizes)) => sizes.push(body.len() as u64),
                None => return StatusCode::NOT_FOUND.into_response(),
            }
            ([("etag", format!("\"{number}\""))], StatusCode::OK).into_response()
        }
        (Method::POST, false) if param("uploadId").is_some() => {
            let id = param("uploadId").unwrap_or_default();
            let upload = shared.uploads.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            let Some((key, sizes)) = upload else {
                return StatusCode::NOT_FOUND.into_response();
            };
            shared
                .sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, sizes.iter().sum());
            (StatusCode::OK, "<CompleteMultipartUploadResult/>").into_response()
        }
        (Method::PUT, false) => {
            if tokio::fs::write(file_name(&key), &body).await.is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            shared
                .sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, body.len() as u64);
            StatusCode::OK.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}
