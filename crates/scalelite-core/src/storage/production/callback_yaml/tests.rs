use super::{CallbackAttributes, YamlError, decode, encode};

fn attrs(ready: Option<&str>, analytics: Option<&str>) -> CallbackAttributes {
    CallbackAttributes {
        tenant_id: None,
        server_id: None,
        recording_ready_url: ready.map(str::to_owned),
        analytics_callback_url: analytics.map(str::to_owned),
    }
}

#[test]
fn encodes_like_psych() {
    let cases = [
        (attrs(None, None), "--- {}\n"),
        (
            attrs(Some("https://lms.example.com/cb?a=1&b=2"), None),
            "---\n:recording_ready_url: https://lms.example.com/cb?a=1&b=2\n",
        ),
        (
            attrs(Some("https://r.example/x"), Some("https://a.example/y")),
            "---\n:analytics_callback_url: https://a.example/y\n:recording_ready_url: https://r.example/x\n",
        ),
        // Psych double-quotes strings that start with a non-word character.
        (
            attrs(Some("/relative"), None),
            "---\n:recording_ready_url: \"/relative\"\n",
        ),
        // Values YAML would read as something else are single-quoted.
        (
            attrs(Some("true"), None),
            "---\n:recording_ready_url: 'true'\n",
        ),
        (
            attrs(Some("12345"), None),
            "---\n:recording_ready_url: '12345'\n",
        ),
        (
            attrs(Some("a: b"), None),
            "---\n:recording_ready_url: 'a: b'\n",
        ),
        (
            attrs(Some("it's #1: x"), None),
            "---\n:recording_ready_url: 'it''s #1: x'\n",
        ),
        (attrs(Some(""), None), "---\n:recording_ready_url: ''\n"),
        (attrs(Some("y"), None), "---\n:recording_ready_url: \"y\"\n"),
        (
            attrs(Some("a\nb"), None),
            "---\n:recording_ready_url: \"a\\nb\"\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(encode(&input), want, "encoding {input:?}");
    }
}

#[test]
fn round_trips_awkward_values() {
    let values = [
        "https://x.example/a?b=c#frag",
        "/path",
        "'quoted'",
        "\"dq\"",
        "back\\slash",
        "tab\there",
        "multi\nline",
        " leading space",
        "trailing space ",
        "null",
        "~",
        "1.5",
        "2024-01-01",
        "ünïcödé",
        ":symbol",
        "- dash",
        "ends with colon:",
    ];
    for v in values {
        let a = attrs(Some(v), Some(v));
        assert_eq!(decode(&encode(&a)), Ok(a.clone()), "round trip of {v:?}");
    }
}

#[test]
fn decodes_what_the_original_writes() {
    let cases: [(&str, CallbackAttributes); 10] = [
        ("--- {}\n", attrs(None, None)),
        ("", attrs(None, None)),
        (
            "---\n:recording_ready_url: https://gl.example/recording_ready\n",
            attrs(Some("https://gl.example/recording_ready"), None),
        ),
        (
            "---\n:analytics_callback_url: 'https://a.example/x?y=1'\n:recording_ready_url: \"https://r\\u00E9.example/\"\n",
            attrs(Some("https://ré.example/"), Some("https://a.example/x?y=1")),
        ),
        // String keys (a hash with indifferent access) and a document tag.
        (
            "--- !ruby/hash:ActiveSupport::HashWithIndifferentAccess\nrecording_ready_url: https://s.example/\n",
            attrs(Some("https://s.example/"), None),
        ),
        // Nil values.
        (
            "---\n:recording_ready_url:\n:analytics_callback_url: ~\n",
            attrs(None, None),
        ),
        // A long plain scalar folded over two lines by the emitter.
        (
            "---\n:recording_ready_url: https://a.example/one\n  two\n",
            attrs(Some("https://a.example/one two"), None),
        ),
        // Multi-line single-quoted scalar.
        (
            "---\n:recording_ready_url: 'a\n  b'\n",
            attrs(Some("a b"), None),
        ),
        // Literal block scalar with strip chomping.
        (
            "---\n:recording_ready_url: |-\n  line1\n  line2\n",
            attrs(Some("line1\nline2"), None),
        ),
        // Unknown keys are ignored.
        (
            "---\n:other: 1\n:recording_ready_url: https://x.example/\n",
            attrs(Some("https://x.example/"), None),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(decode(text), Ok(want), "decoding {text:?}");
    }
}

#[test]
fn rejects_garbage() {
    assert!(matches!(
        decode("---\nnot a mapping line\n"),
        Err(YamlError::Syntax { line: 2, .. })
    ));
    assert!(matches!(
        decode("---\n:recording_ready_url: 'unterminated\n"),
        Err(YamlError::Syntax { .. })
    ));
    assert!(decode("--- just a string\n").is_err());
}
