use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn sign(method: &str, path: &str, query: &str, hdrs: &[(&str, &str)], payload: &str) -> Signed {
    let headers = headers(hdrs);
    let request = CanonicalRequest {
        method,
        path,
        query,
        headers: &headers,
        payload_hash: payload,
    };
    signature(&request, DATE, "us-east-1", &Secret::new(SECRET))
}

/// AWS's documented example "GET Object" (Signature V4, header-based authentication).
#[test]
fn get_object_example_from_the_aws_documentation() {
    let signed = sign(
        "GET",
        "/test.txt",
        "",
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
        ],
        EMPTY_SHA256,
    );
    assert_eq!(signed.scope, "20130524/us-east-1/s3/aws4_request");
    assert_eq!(
        signed.signed_headers,
        "host;range;x-amz-content-sha256;x-amz-date"
    );
    assert_eq!(
        signed.signature,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

/// AWS's documented example "PUT Object": an encoded path and a signed payload.
#[test]
fn put_object_example_from_the_aws_documentation() {
    let body = "Welcome to Amazon S3.";
    let payload = hex::encode(Sha256::digest(body.as_bytes()));
    assert_eq!(
        payload,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    let path = format!("/{}", uri_encode("test$file.text", false));
    assert_eq!(path, "/test%24file.text");
    let signed = sign(
        "PUT",
        &path,
        "",
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &payload),
        ],
        &payload,
    );
    assert_eq!(
        signed.signature,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

/// AWS's documented example "GET Bucket (List Objects)": a sorted canonical query.
#[test]
fn list_objects_example_from_the_aws_documentation() {
    let query = canonical_query(&[
        ("prefix".to_owned(), "J".to_owned()),
        ("max-keys".to_owned(), "2".to_owned()),
    ]);
    assert_eq!(query, "max-keys=2&prefix=J");
    let signed = sign(
        "GET",
        "/",
        &query,
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", DATE),
            ("x-amz-content-sha256", EMPTY_SHA256),
        ],
        EMPTY_SHA256,
    );
    assert_eq!(
        signed.signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

#[test]
fn a_different_secret_gives_a_different_signature() {
    let headers = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let request = CanonicalRequest {
        method: "GET",
        path: "/test.txt",
        query: "",
        headers: &headers,
        payload_hash: EMPTY_SHA256,
    };
    let a = signature(&request, DATE, "us-east-1", &Secret::new(SECRET));
    let b = signature(&request, DATE, "us-east-1", &Secret::new("other"));
    let c = signature(&request, DATE, "eu-west-1", &Secret::new(SECRET));
    assert_ne!(a.signature, b.signature);
    assert_ne!(a.signature, c.signature);
    assert_eq!(c.scope, "20130524/eu-west-1/s3/aws4_request");
}

#[test]
fn uri_encoding_keeps_only_unreserved_characters() {
    assert_eq!(uri_encode("a-b_c.d~e", true), "a-b_c.d~e");
    assert_eq!(
        uri_encode("published/presentation/x y/+ä", false),
        "published/presentation/x%20y/%2B%C3%A4"
    );
    assert_eq!(uri_encode("a/b", true), "a%2Fb");
    assert_eq!(
        canonical_query(&[
            ("prefix".into(), "published/video/".into()),
            ("list-type".into(), "2".into()),
            ("continuation-token".into(), "a=b".into()),
        ]),
        "continuation-token=a%3Db&list-type=2&prefix=published%2Fvideo%2F"
    );
}

#[test]
fn listings_are_parsed_with_their_continuation() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>published/presentation/r1/</Prefix><KeyCount>2</KeyCount>
  <IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>published/presentation/r1/metadata.xml</Key><Size>10</Size></Contents>
  <Contents><Key>published/presentation/r1/a&amp;b.png</Key><Size>3</Size></Contents>
</ListBucketResult>"#;
    let page = parse_listing(xml).unwrap();
    assert_eq!(
        page.keys(),
        [
            "published/presentation/r1/metadata.xml",
            "published/presentation/r1/a&b.png"
        ]
    );
    assert_eq!(page.objects[0].1, 10);
    assert!(page.truncated);
    assert_eq!(
        page.next_token.as_deref(),
        Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    );

    let last = parse_listing(
        "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>",
    )
    .unwrap();
    assert_eq!(last, ListingPage::default());
    assert!(parse_listing("<Error><Code>AccessDenied</Code></Error>").is_err());
    assert!(parse_listing("").is_err());
}

#[test]
fn error_documents_give_code_and_message() {
    let (code, message) = parse_error(
        "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
    );
    assert_eq!(code, "NoSuchBucket");
    assert_eq!(message, "The specified bucket does not exist");
    assert_eq!(parse_error("not xml <"), (String::new(), String::new()));
}

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(content_type_for("metadata.xml"), ("application/xml", None));
    assert_eq!(
        content_type_for("presentation/x/slides.PDF"),
        ("application/pdf", Some("attachment"))
    );
    assert_eq!(
        content_type_for("audio/audio.ogg"),
        ("audio/ogg", Some("attachment"))
    );
    assert_eq!(content_type_for("video/webcams.webm"), ("video/webm", None));
    assert_eq!(
        content_type_for("deskshare/noextension"),
        ("application/octet-stream", None)
    );
    assert_eq!(
        content_type_for("a.unknown"),
        ("application/octet-stream", None)
    );
}

#[test]
fn bad_configuration_is_refused() {
    let secret = || Secret::new(SECRET);
    assert!(matches!(
        S3Client::from_env_config("", "AKID", secret(), None, None),
        Err(S3Error::Config(_))
    ));
    assert!(matches!(
        S3Client::from_env_config("us-east-1", "", secret(), None, None),
        Err(S3Error::Config(_))
    ));
    assert!(matches!(
        S3Client::from_env_config(
            "us-east-1",
            "AKID",
            secret(),
            None,
            Some("ftp://minio:9000")
        ),
        Err(S3Error::Config(_))
    ));
    assert!(matches!(
        S3Client::from_env_config("us-east-1", "AKID", secret(), None, Some("not a url")),
        Err(S3Error::Config(_))
    ));
    assert!(
        S3Client::from_env_config(
            "us-east-1",
            "AKID",
            secret(),
            None,
            Some("http://127.0.0.1:9000/")
        )
        .is_ok()
    );
}

#[test]
fn the_bucket_comes_from_the_configuration_only_when_s3_recording_is_on() {
    let mut args = RecordingArgs::default();
    assert!(S3Bucket::from_config(&args).unwrap().is_none());
    args.s3_recording = true;
    assert!(
        matches!(S3Bucket::from_config(&args), Err(S3Error::Config(m)) if m.contains("S3_BUCKET_NAME"))
    );
    args.s3_bucket_name = Some("recordings".into());
    assert!(
        matches!(S3Bucket::from_config(&args), Err(S3Error::Config(m)) if m.contains("AWS_ACCESS_KEY_ID"))
    );
    args.aws_access_key_id = Some("AKID".into());
    assert!(
        matches!(S3Bucket::from_config(&args), Err(S3Error::Config(m)) if m.contains("AWS_SECRET_ACCESS_KEY"))
    );
    args.aws_secret_access_key = Some(Secret::new("very-secret-key"));
    args.aws_session_token = Some(Secret::new("very-secret-token"));
    let bucket = S3Bucket::from_config(&args).unwrap().unwrap();
    assert_eq!(bucket.bucket, "recordings");
    let debug = format!("{bucket:?}");
    assert!(debug.contains("AKID"), "{debug}");
    assert!(!debug.contains("very-secret"), "a secret leaked: {debug}");
}

#[test]
fn recording_keys_are_prefixed_by_the_publish_state() {
    assert_eq!(
        recording_prefix(true, "presentation", "r-1"),
        "published/presentation/r-1/"
    );
    assert_eq!(
        recording_prefix(false, "video", "r-2"),
        "unpublished/video/r-2/"
    );
}

#[test]
fn multipart_upload_listings_are_parsed_with_their_markers() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>published/video/r1/video.mp4</NextKeyMarker><NextUploadIdMarker>id-2</NextUploadIdMarker>
  <Prefix>published/video/r1/</Prefix><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>published/video/r1/a.mp4</Key><UploadId>id-1</UploadId></Upload>
  <Upload><Key>published/video/r1/video.mp4</Key><UploadId>id-2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
    let page = parse_uploads(xml).unwrap();
    assert_eq!(
        page.uploads,
        [
            ("published/video/r1/a.mp4".to_owned(), "id-1".to_owned()),
            ("published/video/r1/video.mp4".to_owned(), "id-2".to_owned())
        ]
    );
    assert!(page.truncated);
    assert_eq!(
        page.next_markers,
        Some(("published/video/r1/video.mp4".to_owned(), "id-2".to_owned()))
    );
    let empty = parse_uploads(
        "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
    )
    .unwrap();
    assert_eq!(empty, UploadsPage::default());
    assert!(parse_uploads("<ListBucketResult/>").is_err());
}

#[test]
fn a_failure_in_the_body_of_a_200_is_an_error() {
    assert!(
        error_in_body(
            "COPY",
            "k",
            "<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>"
        )
        .is_ok()
    );
    let failed = error_in_body(
        "COMPLETE-MULTIPART",
        "k",
        "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>try again</Message></Error>",
    );
    assert!(
        matches!(&failed, Err(S3Error::BadAnswer { message, .. }) if message == "InternalError: try again"),
        "{failed:?}"
    );
    assert_eq!(
        xml_text("<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>abc</UploadId></InitiateMultipartUploadResult>", "UploadId").as_deref(),
        Some("abc")
    );
}

#[test]
fn parts_grow_only_when_a_file_would_need_more_than_ten_thousand() {
    let settings = MultipartSettings {
        threshold: 0,
        part_size: MIN_PART_SIZE,
    };
    assert_eq!(settings.part_size_for(2 << 30), MIN_PART_SIZE);
    // 100 GiB in 10 000 parts: 10.24 MiB, rounded up to 11 MiB.
    assert_eq!(settings.part_size_for(100 << 30), 11 << 20);
    let size = 100u64 << 30;
    assert!(size.div_ceil(settings.part_size_for(size)) <= MAX_PARTS);
    assert_eq!(
        MultipartSettings::default().part_size_for(0),
        DEFAULT_PART_SIZE
    );
}
