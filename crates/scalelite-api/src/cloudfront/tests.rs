use super::*;

/// A 1024-bit RSA key made for this test only (`openssl genrsa -traditional -out key.pem 1024`, OpenSSL 3.0).
const KEY: &str = include_str!("../../../scalelite-testkit/src/cloudfront-test-key.pem");
const RECORD_ID: &str = "0123456789abcdef0123456789abcdef01234567-1700000000000";

/// Known answer, computed with the OpenSSL command line (an independent implementation of the same steps AWS
/// documents for a custom-policy signed cookie: the policy JSON, its RSA-SHA1 signature, both base64 with `+ = /`
/// replaced by `- _ ~`):
///
/// ```text
/// printf '%s' '<the policy below>' > policy.json
/// base64 -w0 policy.json | tr '+=/' '-_~'
/// openssl dgst -sha1 -sign key.pem policy.json | base64 -w0 | tr '+=/' '-_~'
/// ```
#[test]
fn signed_cookies_equal_the_known_answer() {
    let cloudfront = CloudFront::new(
        "https://d111111abcdef8.cloudfront.net/",
        "K2JCJMDEHXQW5F",
        KEY,
    )
    .unwrap();
    let expires = 1_767_225_900;
    assert_eq!(
        policy(
            &format!("https://d111111abcdef8.cloudfront.net/published/presentation/{RECORD_ID}/*"),
            expires
        ),
        format!(
            "{{\"Statement\":[{{\"Resource\":\"https://d111111abcdef8.cloudfront.net/published/presentation/{RECORD_ID}/*\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":1767225900}}}}}}]}}"
        )
    );
    let cookies = cloudfront.signed_cookies("presentation", RECORD_ID, expires);
    assert_eq!(
        cookies.policy,
        "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaHR0cHM6Ly9kMTExMTExYWJjZGVmOC5jbG91ZGZyb250Lm5ldC9wdWJsaXNoZWQvcHJlc2VudGF0\
aW9uLzAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1NjctMTcwMDAwMDAwMDAwMC8qIiwiQ29uZGl0aW9uIjp7IkRhdGVMZXNzVGhhbiI6eyJB\
V1M6RXBvY2hUaW1lIjoxNzY3MjI1OTAwfX19XX0_"
    );
    assert_eq!(
        cookies.signature,
        "o7sIJcFPxtu4YMfju7Ph4TDQvBMOT-2qAee6B-VN2CNhmQPb6awAyEGX59HyAj2iDCQ2c0OrgsUBrCtxNIT4oLadmkz2rpH2rHIhZ1lpvaIgYvmsTZsv\
H2qERGNcYK0gfMCayWyvS4Yh9XZli8-az3LbxArGJwFU412NVf-txzE_"
    );
    assert_eq!(cookies.key_pair_id, "K2JCJMDEHXQW5F");
    assert_eq!(
        cloudfront.recording_url("presentation", RECORD_ID),
        format!("https://d111111abcdef8.cloudfront.net/published/presentation/{RECORD_ID}/")
    );
}

/// AWS's own known answer: the custom-policy signed cookie of the AWS SDK for Ruby's `CookieSigner` specification
/// (gem aws-sdk-cloudfront, `spec/cookie_signer_spec.rb`, with its test key `spec/cf_private_key.pem`), the signer
/// the original calls. The policy is the one that specification signs, byte for byte.
#[test]
fn signed_cookies_equal_the_aws_sdk_known_answer() {
    let cloudfront = CloudFront::new(
        "http://abc.cloudfront.net",
        "CF_KEYPAIR_ID",
        include_str!("aws-sdk-ruby-test-key.pem"),
    )
    .unwrap();
    let policy = "{\"Statement\":[{\"Resource\":\"images/image.jpg\",\"Condition\":{\"IpAddress\":\
                  {\"AWS:SourceIp\":\"10.52.176.0/24\"},\"DateLessThan\":{\"AWS:EpochTime\":1357034400}}}]}";
    let cookies = cloudfront.sign(policy);
    assert_eq!(
        cookies.policy,
        "eyJTdGF0ZW1lbnQiOlt7IlJlc291cmNlIjoiaW1hZ2VzL2ltYWdlLmpwZyIsIkNvbmRpdGlvbiI6eyJJcEFkZHJlc3MiOnsiQVdTOlNvdXJjZUlwIjoi\
         MTAuNTIuMTc2LjAvMjQifSwiRGF0ZUxlc3NUaGFuIjp7IkFXUzpFcG9jaFRpbWUiOjEzNTcwMzQ0MDB9fX1dfQ__"
    );
    assert_eq!(
        cookies.signature,
        "n4V7xum3wA-w1PaCMyEMpWVXdfw-Yt8I26RpZJKc~Nk8yQh8LYOxewItGJXFq0BxnKuSEKoEVYVTFEteFAGKXwhkbC7K~JfL83aroPbRagjyG-V9Y5\
         wMLccBAzMj5nHXxjvjlOu541VUR-RlR0KK106HT4-Hp1c~nyOmXs4R5mU_"
    );
    assert_eq!(cookies.key_pair_id, "CF_KEYPAIR_ID");
}

#[test]
fn cloudfront_base64_replaces_the_three_characters() {
    // 0xfb 0xff 0xbf encodes to "+/+/" in standard base64; one byte more needs padding.
    assert_eq!(cloudfront_base64(&[0xfb, 0xff, 0xbf]), "-~-~");
    assert_eq!(cloudfront_base64(b"a"), "YQ__");
}

#[test]
fn the_configuration_needs_all_three_variables_and_a_readable_key() {
    use base64::Engine;
    let mut args = RecordingArgs::default();
    assert!(CloudFront::from_config(&args).unwrap().is_none());
    args.cloudfront_url = Some("https://d111111abcdef8.cloudfront.net".into());
    assert!(
        CloudFront::from_config(&args)
            .unwrap_err()
            .contains("CF_PRIVATE_KEY_B64")
    );
    args.cf_private_key_b64 = Some(scalelite_core::domain::Secret::new(
        base64::engine::general_purpose::STANDARD.encode(KEY),
    ));
    assert!(
        CloudFront::from_config(&args)
            .unwrap_err()
            .contains("CF_KEY_PAIR_ID")
    );
    args.cf_key_pair_id = Some("K2JCJMDEHXQW5F".into());
    let cloudfront = CloudFront::from_config(&args).unwrap().unwrap();
    let debug = format!("{cloudfront:?}");
    assert!(
        debug.contains("K2JCJMDEHXQW5F") && !debug.contains("PRIVATE"),
        "{debug}"
    );

    args.cf_private_key_b64 = Some(scalelite_core::domain::Secret::new(
        base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
    ));
    let error = CloudFront::from_config(&args).unwrap_err();
    assert!(error.contains("PEM RSA private key"), "{error}");
    args.cf_private_key_b64 = Some(scalelite_core::domain::Secret::new("not base64!"));
    assert!(
        CloudFront::from_config(&args)
            .unwrap_err()
            .contains("not base64")
    );
}

#[test]
fn html_is_negotiated_as_rails_does() {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
    // A browser's Accept, or none: the path's extension decides.
    assert!(negotiates_html(Some(browser), "/presentation/r1"));
    assert!(negotiates_html(
        Some(browser),
        "/presentation/r1/index.html"
    ));
    assert!(negotiates_html(None, "/presentation/r1/"));
    assert!(!negotiates_html(
        Some(browser),
        "/presentation/r1/slides/1.png"
    ));
    assert!(!negotiates_html(None, "/video/r1/video.mp4"));
    // Any other Accept: its most preferred type.
    assert!(negotiates_html(
        Some("*/*"),
        "/presentation/r1/slides/1.png"
    ));
    assert!(negotiates_html(Some("text/html"), "/presentation/r1/x.png"));
    assert!(!negotiates_html(Some("image/png"), "/presentation/r1/"));
    assert!(!negotiates_html(
        Some("text/html;q=0.5, image/webp"),
        "/presentation/r1/"
    ));
}

#[test]
fn the_cookie_domain_is_the_registrable_domain() {
    assert_eq!(
        cookie_domain("sl.example.com").as_deref(),
        Some(".example.com")
    );
    assert_eq!(
        cookie_domain("a.b.example.com:8443").as_deref(),
        Some(".example.com")
    );
    assert_eq!(
        cookie_domain("sl.example.co.uk").as_deref(),
        Some(".example.co.uk")
    );
    assert_eq!(
        cookie_domain("example.com").as_deref(),
        Some(".example.com")
    );
    assert_eq!(cookie_domain("localhost:3000"), None);
    assert_eq!(cookie_domain("127.0.0.1:3000"), None);
    assert_eq!(cookie_domain("[::1]:3000"), None);
}
