//! The fuzz targets: one per parser that takes network or archive input. Each feeds the bytes to the real entry
//! points and asserts what must hold for every input; the parsers themselves must never panic.
//!
//! Where a check stands between the input and the interesting code (a checksum, a JWT signature), the target also
//! signs the input itself with the secret it configured, so the code behind the check is reached too.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use scalelite_api::Settings;
use scalelite_api::admin::{AdminRequest, scalar};
use scalelite_core::bbb::checksum::{self, Algorithm, AllowedAlgorithms};
use scalelite_core::bbb::params::{self, MeetingId, Params, RequestError};
use scalelite_core::bbb::xml::{self, BbbResponse};
use scalelite_core::domain::Secret;
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::management::{parse_bool, parse_load_multiplier};
use scalelite_recording_importer::{
    ArchiveLimits, PublishPolicy, extract, merge_recording, parse_metadata,
};
use serde_json::Value;
use sha2::{Sha256, Sha512};

use crate::Rng;
use crate::driver::Target;

/// Every target, in the order the tests run them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "params",
        run: params,
        tokens: &[
            b"meetingID=",
            b"&meetingID=",
            b"a[b]=",
            b"=&=",
            b"%2B",
            b",",
            b",,",
        ],
        nesting: &[b"&", b"a=1&", b"%25"],
        structured: None,
        fix_up: None,
        default_cases: 8_000,
        max_len: 64 << 10,
    },
    Target {
        name: "checksum",
        run: checksum,
        tokens: &[
            b"\n",
            b"checksum=da39a3ee5e6b4b0d3255bfef95601890afd80709",
            b"checksum=DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            b"checksum=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7855b852",
            b"checksum=zz39a3ee5e6b4b0d3255bfef95601890afd80709",
            b"&checksum=&checksum=",
            b"checksum=checksum=",
            b"%20checksum%20=1",
            b"checksum%00=1",
        ],
        nesting: &[b"&", b"checksum=&"],
        structured: None,
        fix_up: None,
        default_cases: 2_500,
        max_len: 64 << 10,
    },
    Target {
        name: "bbb_xml",
        run: bbb_xml,
        tokens: XML_TOKENS,
        nesting: &[b"<a>", b"<meetings>", b"<meeting>", b"<a x='1'>"],
        structured: None,
        fix_up: None,
        default_cases: 20_000,
        max_len: 64 << 10,
    },
    Target {
        name: "metadata",
        run: metadata,
        tokens: XML_TOKENS,
        nesting: &[b"<a>", b"<meta>", b"<playback>", b"<images>"],
        structured: None,
        fix_up: None,
        default_cases: 15_000,
        max_len: 64 << 10,
    },
    Target {
        name: "tar",
        run: tar,
        tokens: &[
            b"../",
            b"/",
            b"\0",
            b"ustar",
            b"././@LongLink",
            b"PaxHeaders",
        ],
        nesting: &[],
        structured: Some(tar_edit),
        fix_up: Some(fix_tar_checksums),
        default_cases: 1_500,
        max_len: 256 << 10,
    },
    Target {
        name: "admin_json",
        run: admin_json,
        tokens: &[
            b"\n",
            b"{}",
            b"[]",
            b"null",
            b"\"server\":",
            b"\"tenant\":",
            b"\"load_multiplier\":",
            b"\"keep_state\":",
            b"\\u0000",
            b"\\ud800",
            b"\\",
            b"1e999999",
            b"-",
            b"{\"server\":{}}",
        ],
        nesting: &[b"[", b"{\"a\":", b"{\"server\":"],
        structured: None,
        fix_up: None,
        default_cases: 15_000,
        max_len: 64 << 10,
    },
    Target {
        name: "jwt",
        run: jwt,
        tokens: &[
            b".",
            b"\n",
            b"eyJ",
            b"=",
            b"-_",
            b"\"alg\":\"none\"",
            b"\"alg\":\"HS256\"",
            b"\"alg\":\"HS512\"",
            b"\"exp\":",
            b"\"sub\":",
            b"\\ud800",
            b"1e999999",
        ],
        nesting: &[b"[", b"{\"a\":"],
        structured: None,
        fix_up: None,
        default_cases: 2_500,
        max_len: 32 << 10,
    },
];

/// The secret the targets sign with and verify against.
pub const SECRET: &str = "fuzz-secret-0123456789";

/// `bbb::params`: a query string or form body decoded into parameters, and the rules the API reads from them.
pub fn params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(mut params) = Params::parse(&text) else {
        return;
    };
    let names: Vec<String> = params.iter().map(|(name, _)| name.to_owned()).collect();
    for (name, value) in params.iter() {
        assert_eq!(
            params.get(name),
            Some(value),
            "a parameter is found by its name"
        );
        let _ = params::split_list(value);
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "parameter names are unique");
    let _ = MeetingId::from_params(&params);
    let _ = params::required(&params, "meetingID");
    // Removing keeps the others in order.
    if let Some(first) = names.first() {
        params.remove(first);
        let rest: Vec<&str> = params.iter().map(|(name, _)| name).collect();
        assert_eq!(
            rest,
            names[1..].iter().map(String::as_str).collect::<Vec<_>>()
        );
    }
}

/// `bbb::checksum` and `params::verify_request`: the input is a query, then (after the first newline) a form body.
/// A query the target signs itself must verify; nothing else may panic.
pub fn checksum(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (query, body) = match text.split_once('\n') {
        Some((query, body)) => (query, Some(body)),
        None => (&*text, None),
    };
    let secrets = [Secret::new(SECRET), Secret::new("second-secret")];
    let configurations = [
        AllowedAlgorithms::default(),
        AllowedAlgorithms::parse(Some("SHA512")).unwrap_or_default(),
        AllowedAlgorithms::parse(Some(" ")).unwrap_or_default(),
    ];
    for allowed in &configurations {
        let _ = params::verify_request("create", Some(query), body, &secrets, allowed);
        let _ = params::verify_request("join", None, Some(query), &secrets, allowed);
    }
    let (stripped, supplied) = params::split_checksum(query);
    assert!(
        stripped.len() <= query.len(),
        "removing the checksum never adds"
    );
    let supplied = supplied.unwrap_or_default();
    let _ = checksum::verify("create", &stripped, &supplied, &secrets, &configurations[0]);

    // A query without a checksum, signed the way a front-end signs it, verifies; `checksum` is never among the
    // parameters.
    if !query.is_empty() && params::split_checksum(query).1.is_none() {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let signature = checksum::sign("create", query, &secrets[1], algorithm);
            let signed = format!("{query}&checksum={signature}");
            match params::verify_request(
                "create",
                Some(&signed),
                body,
                &secrets,
                &configurations[0],
            ) {
                Ok(params) => assert!(!params.contains("checksum")),
                Err(RequestError::Params(_)) => {}
                Err(RequestError::Checksum(e)) => {
                    panic!("a correctly signed {algorithm} query was refused: {e}")
                }
            }
        }
    }
}

/// `bbb::xml`: a BBB server's answer (any call), classified and read the way the poller and the API read it. What
/// the parser accepts, the writer writes as a document the parser accepts again, unchanged by a second round.
pub fn bbb_xml(data: &[u8]) {
    if let Ok(response) = BbbResponse::parse(data) {
        let _ = xml::meeting_summaries(&response.root);
        let _ = xml::running(&response.root);
        let _ = xml::bbb_version(&response.root);
        let _ = xml::meeting_elements(&response.root);
    }
    if let Ok(root) = xml::parse(data) {
        let written = xml::write(&root);
        let again = xml::parse(written.as_bytes())
            .unwrap_or_else(|e| panic!("what we write does not parse: {e}\n{written}"));
        assert_eq!(xml::write(&again), written, "writing is stable");
    }
}

/// The importer's `metadata.xml` parser, and the merge of a parsed format into a recording row.
pub fn metadata(data: &[u8]) {
    let Ok(format) = parse_metadata(data) else {
        return;
    };
    assert!(!format.record_id.trim().is_empty());
    assert!(!format.meeting_id.trim().is_empty());
    let recording = merge_recording(&[&format], None, PublishPolicy::default());
    assert_eq!(recording.record_id, format.record_id);
}

/// The importer's tar extraction, into a scratch directory three levels below a fresh root. Nothing may appear
/// outside the target directory, inside it only directories and regular files, and no more file bytes than the
/// archive holds or the limits allow.
pub fn tar(data: &[u8]) {
    let Ok(root) = tempfile::tempdir() else {
        return;
    };
    let work = root.path().join("w1/w2/w3");
    let target = work.join("out");
    let archive = work.join("archive.tar");
    if fs::create_dir_all(&target).is_err() || fs::write(&archive, data).is_err() {
        return;
    }
    // The production limits, or (for every other input) tight ones, so the limit checks are fuzzed too.
    let limits = if data.len() % 2 == 0 {
        ArchiveLimits::default()
    } else {
        ArchiveLimits {
            max_entries: 8,
            max_total_bytes: 4096,
            max_file_bytes: 1024,
        }
    };
    let extracted = extract(&archive, &target, &limits, None);
    let mut outside = Vec::new();
    let expected = [
        root.path().join("w1"),
        root.path().join("w1/w2"),
        work.clone(),
        archive.clone(),
        target.clone(),
    ];
    walk(root.path(), &mut |path, kind| {
        if !path.starts_with(&target) && !expected.iter().any(|p| p == path) {
            outside.push(path.to_owned());
        }
        assert!(
            kind.is_dir() || kind.is_file(),
            "extraction created {} ({kind:?})",
            path.display()
        );
    });
    assert!(
        outside.is_empty(),
        "extraction wrote outside its directory: {outside:?}"
    );
    if let Ok(extracted) = extracted {
        assert!(extracted.bytes <= limits.max_total_bytes);
        assert!(
            extracted.bytes <= data.len() as u64,
            "{} bytes of files from a {}-byte archive",
            extracted.bytes,
            data.len()
        );
    }
}

/// The admin API's input filters (`AdminRequest::verified`: checksum over query and raw body, query, JSON body),
/// then the fields the handlers read. The input is a query, then (after the first newline) the JSON body; the
/// target signs it too, so the body handling behind the checksum is reached.
pub fn admin_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (query, body) = text.split_once('\n').unwrap_or((&*text, ""));
    let settings = Settings {
        lb_secrets: vec![Secret::new(SECRET)],
        ..Settings::default()
    };
    let legacy = Settings {
        admin_legacy_checksum: true,
        ..settings.clone()
    };
    let _ = AdminRequest::verified(&settings, "addServer", query, body.as_bytes());
    let _ = AdminRequest::verified(&legacy, "addServer", query, body.as_bytes());

    let signature = checksum::sign(
        "addServer",
        &format!("{query}{body}"),
        &settings.lb_secrets[0],
        Algorithm::Sha256,
    );
    let signed = if query.is_empty() {
        format!("checksum={signature}")
    } else {
        format!("{query}&checksum={signature}")
    };
    let request = AdminRequest::verified(&settings, "addServer", &signed, body.as_bytes());
    let well_formed = params::split_checksum(query).1.is_none()
        && Params::parse(query).is_ok()
        && (body.is_empty() || matches!(serde_json::from_str(body), Ok(Value::Object(_))));
    let request = match request {
        Ok(request) => request,
        Err(response) if well_formed => {
            panic!(
                "a signed request was refused with HTTP {}",
                response.status()
            )
        }
        Err(_) => return,
    };
    let _ = request.param("id");
    let _ = request
        .param("keep_state")
        .map(|v| parse_bool("keep_state", &v));
    for key in ["server", "tenant"] {
        let Ok(root) = request.root(key) else {
            continue;
        };
        for field in [
            "url",
            "secret",
            "load_multiplier",
            "tag",
            "state",
            "keep_state",
            "name",
            "secrets",
        ] {
            if let Some(text) = root.get(field).and_then(scalar) {
                let _ = parse_load_multiplier(&text);
                let _ = parse_bool(field, &text);
            }
        }
    }
}

/// `jwt::decode`, as the analytics callback relay (HS512, any claims) and the protected-recording cookie (HS256,
/// `sub` and `exp`) call it. The input is first a token as it arrives; then header and claims JSON (split at the
/// first newline) that the target signs, so the claim checks behind the signature are reached.
pub fn jwt(data: &[u8]) {
    #[derive(serde::Deserialize)]
    struct AccessClaims {
        sub: String,
        exp: i64,
    }
    const NOW: i64 = 1_700_000_000;
    let secret = SECRET.as_bytes();
    let text = String::from_utf8_lossy(data);
    let _ = jwt::decode::<Value>(&text, secret, JwtAlgorithm::Hs512, NOW);
    let _ = jwt::decode::<AccessClaims>(&text, secret, JwtAlgorithm::Hs256, NOW);

    let (header, claims) = data
        .iter()
        .position(|&b| b == b'\n')
        .map_or((&br#"{"alg":"HS512","typ":"JWT"}"#[..], data), |at| {
            (&data[..at], &data[at + 1..])
        });
    for algorithm in [JwtAlgorithm::Hs256, JwtAlgorithm::Hs512] {
        let token = sign(header, claims, algorithm);
        if let Ok(value) = jwt::decode::<Value>(&token, secret, algorithm, NOW) {
            if let Some(exp) = value.get("exp") {
                let exp = exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64));
                assert!(
                    exp.is_some_and(|exp| exp > NOW),
                    "an expired token was accepted"
                );
            }
        }
        if let Ok(claims) = jwt::decode::<AccessClaims>(&token, secret, algorithm, NOW) {
            assert!(
                claims.exp > NOW,
                "an expired cookie was accepted ({})",
                claims.sub
            );
        }
        assert!(
            jwt::decode::<Value>(&token, b"another secret", algorithm, NOW).is_err(),
            "a token signed with another secret was accepted"
        );
    }
}

const XML_TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"<a>",
    b"</a>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    b"<!DOCTYPE x [<!ENTITY e \"eeeeeeeeee\">]>",
    b"<!DOCTYPE html>",
    b"&e;",
    b"&amp;",
    b"&lt;",
    b"&#0;",
    b"&#x1;",
    b"&#xD800;",
    b"&#99999999999;",
    b"&#x110000;",
    b" a=\"1\"",
    b" a='1' a='2'",
    b"xmlns:x=\"y\"",
    b"<x:a>",
    b"<returncode>SUCCESS</returncode>",
    b"<returncode>FAILED</returncode>",
    b"<meeting>",
    b"</meeting>",
    b"<participantCount>",
    b"<metadata><tenant-id>t</tenant-id></metadata>",
    b"<image width=\"99999999999\" height=\"-1\" alt=\"\">",
    b"<link>",
    b"https://",
    b"//",
];

/// A token whose signature matches: `header` and `claims` are base64url-encoded as they are (JSON or not).
fn sign(header: &[u8], claims: &[u8], algorithm: JwtAlgorithm) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = match algorithm {
        JwtAlgorithm::Hs256 => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        JwtAlgorithm::Hs512 => {
            let mut mac =
                Hmac::<Sha512>::new_from_slice(SECRET.as_bytes()).expect("any key length");
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Calls `visit` with every path under `dir` (not following links) and its file type.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, fs::FileType)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        visit(&path, kind);
        if kind.is_dir() {
            walk(&path, visit);
        }
    }
}

/// Paths an attacker would put in an archive.
const HOSTILE_PATHS: &[&[u8]] = &[
    b"../escaped",
    b"../../escaped",
    b"../../../escaped",
    b"../../../../escaped",
    b"/tmp/escaped",
    b"presentation/../../escaped",
    b"./../escaped",
    b"a\\..\\..\\escaped",
    b"",
    b".",
    b"./",
    b"..",
    b"a//b/",
    b"presentation/x/metadata.xml",
    b"presentation/x/metadata.xml/",
    b"presentation",
    b"\xff\xfe/x",
    b"a\0b",
];

/// A structure-aware tar edit: a header field of one header block set to a hostile value, or a new pax / GNU
/// long-name / sparse header inserted.
fn tar_edit(data: &mut Vec<u8>, rng: &mut Rng) {
    let headers: Vec<usize> = (0..data.len() / 512)
        .map(|block| block * 512)
        .filter(|&at| data[at + 257..at + 262] == *b"ustar")
        .collect();
    if headers.is_empty() {
        return;
    }
    let at = *rng.pick(&headers);
    let header = &mut data[at..at + 512];
    match rng.below(9) {
        0 => set_field(&mut header[0..100], rng.token(HOSTILE_PATHS)),
        1 => header[156] = *rng.pick(b"0123456 7gxLKSDMVNZ\0"),
        2 | 3 => {
            let size = rng.token(&[
                b"77777777777\0" as &[u8],
                b"00000001000\0",
                b"00000000000\0",
                b"-1\0",
                b"garbage\0\0\0\0\0",
                b"\x80\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff",
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                b"00000000001 ",
            ]);
            let field = rng.pick(&[124..136, 100..108, 108..116, 136..148]).clone();
            set_field(&mut header[field], size);
        }
        4 => set_field(&mut header[157..257], rng.token(HOSTILE_PATHS)),
        5 => set_field(&mut header[345..500], rng.token(HOSTILE_PATHS)),
        6 => {
            // GNU sparse map: an offset far past the data, and the matching real size.
            header[156] = b'S';
            let offset = rng.token(&[
                b"77777777777\0" as &[u8],
                b"\x80\0\0\0\0\0\0\x01\0\0\0\0",
                b"00000010000\0",
            ]);
            set_field(&mut header[386..398], offset);
            set_field(&mut header[398..410], b"00000000000\0");
            set_field(&mut header[483..495], offset);
        }
        7 => {
            let path = rng.token(HOSTILE_PATHS);
            let extension = if rng.one_in(2) {
                pax_header(path)
            } else {
                long_name_header(path)
            };
            data.splice(at..at, extension);
        }
        _ => {
            let magic: [u8; 8] = *rng.pick(&[*b"ustar\x0000", *b"ustar  \0", *b"ustaR\x0000"]);
            header[257..265].copy_from_slice(&magic);
        }
    }
}

/// Recompute the checksum of every block that looks like a tar header, so edits get past the reader's first check.
fn fix_tar_checksums(data: &mut [u8]) {
    for block in 0..data.len() / 512 {
        let header = &mut data[block * 512..block * 512 + 512];
        if header[257..262] == *b"ustar" {
            header[148..156].fill(b' ');
            let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
            header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
    }
}

fn set_field(field: &mut [u8], value: &[u8]) {
    field.fill(0);
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A header block, then `payload` padded to whole blocks.
fn extension_entry(name: &[u8], kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = vec![0u8; 512];
    set_field(&mut header[0..100], name);
    set_field(&mut header[100..108], b"0000644\0");
    set_field(
        &mut header[124..136],
        format!("{:011o}\0", payload.len()).as_bytes(),
    );
    set_field(&mut header[136..148], b"00000000000\0");
    header[156] = kind;
    header[257..265].copy_from_slice(b"ustar\x0000");
    let mut entry = header;
    entry.extend_from_slice(payload);
    entry.resize(entry.len().div_ceil(512) * 512, 0);
    entry
}

/// A pax extended header setting `path`.
fn pax_header(path: &[u8]) -> Vec<u8> {
    let body_len = b" path=".len() + path.len() + 1;
    let mut len = body_len + 1;
    while len.to_string().len() + body_len != len {
        len = len.to_string().len() + body_len;
    }
    let mut record = len.to_string().into_bytes();
    record.extend_from_slice(b" path=");
    record.extend_from_slice(path);
    record.push(b'\n');
    extension_entry(b"PaxHeaders/x", b'x', &record)
}

/// A GNU long-name entry naming `path`.
fn long_name_header(path: &[u8]) -> Vec<u8> {
    let mut name = path.to_vec();
    name.push(0);
    extension_entry(b"././@LongLink", b'L', &name)
}
