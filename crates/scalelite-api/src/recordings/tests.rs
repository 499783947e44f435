use scalelite_core::bbb::params::Params;
use scalelite_core::domain::RecordingFilter;

use crate::error::ApiError;
use crate::recordings::{
    MetadataChanges, get_filter, new_token, page, protected_url, rails_boolean,
};

fn p(query: &str) -> Params {
    Params::parse(query).expect("valid query")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn filter(query: &str) -> RecordingFilter {
    get_filter(&p(query), None, false).expect("a filter")
}

#[test]
fn no_parameters_lists_published_and_unpublished() {
    assert_eq!(
        filter(""),
        RecordingFilter {
            states: Some(strings(&["published", "unpublished"])),
            ..RecordingFilter::default()
        }
    );
}

#[test]
fn id_lists_follow_ruby_split() {
    let f = filter("meetingID=a,b&recordID=,x,,y,,");
    assert_eq!(f.meeting_ids, Some(strings(&["a", "b"])));
    // Leading and middle empty elements stay (an empty prefix matches everything), trailing ones go.
    assert_eq!(f.record_id_prefixes, Some(strings(&["", "x", "", "y"])));
    // Only commas: an empty list, which matches nothing (not "no condition").
    assert_eq!(filter("recordID=,").record_id_prefixes, Some(vec![]));
    assert_eq!(filter("meetingID=,,").meeting_ids, Some(vec![]));
    // Blank means absent.
    let f = filter("meetingID=&recordID=%20");
    assert_eq!((f.meeting_ids, f.record_id_prefixes), (None, None));
}

#[test]
fn state_list_and_any() {
    assert_eq!(
        filter("state=processing,deleted").states,
        Some(strings(&["processing", "deleted"]))
    );
    assert_eq!(filter("state=published,any").states, None);
    assert_eq!(
        filter("state=%20").states,
        Some(strings(&["published", "unpublished"]))
    );
    // `,` splits to nothing: no state at all matches.
    assert_eq!(filter("state=,").states, Some(vec![]));
}

#[test]
fn meta_filters_are_ored_with_the_update_key_rule() {
    let f = filter(
        "meta_bbb-context-name=test1,test2&meta_bbb-origin-tag=GL&meta_a-meta_b=v&meta_Case=X&meta_meta_x=y",
    );
    assert_eq!(
        f.metadata_any,
        Some(pairs(&[
            ("bbb-context-name", "test1"),
            ("bbb-context-name", "test2"),
            ("bbb-origin-tag", "GL"),
            ("a-meta_b", "v"),
            ("case", "X"),
            ("meta_x", "y"),
        ]))
    );
    // An empty value contributes nothing: alone, it matches nothing.
    assert_eq!(filter("meta_x=").metadata_any, Some(vec![]));
    assert_eq!(filter("metadata_x=1").metadata_any, None);
    assert_eq!(filter("xmeta_x=1").metadata_any, None);
}

#[test]
fn get_and_update_normalise_meta_keys_alike() {
    let query = "recordID=r&meta_GL-Listed=true&meta_a-meta_b=1";
    let updated = MetadataChanges::from_params(&p(query)).upserts;
    let keys: Vec<String> = filter(query)
        .metadata_any
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        updated.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
}

#[test]
fn tenant_is_an_independent_condition() {
    let f = get_filter(&p("meta_x=1"), Some("t1"), false).unwrap();
    assert_eq!(f.tenant_id.as_deref(), Some("t1"));
    assert_eq!(f.metadata_any, Some(pairs(&[("x", "1")])));
}

#[test]
fn filtered_api_requires_an_id() {
    for query in ["", "meetingID=%20&recordID=", "state=any&meta_x=1"] {
        assert!(
            matches!(
                get_filter(&p(query), None, true),
                Err(ApiError::MissingParameters)
            ),
            "{query}"
        );
    }
    assert!(get_filter(&p("meetingID=m"), None, true).is_ok());
    assert!(get_filter(&p("recordID=r"), None, true).is_ok());
}

#[test]
fn offset_and_limit() {
    let check = |query: &str, expected: (Option<u64>, Option<u64>)| {
        assert_eq!(page(&p(query)), expected, "{query}");
        assert_eq!(
            (filter(query).offset, filter(query).limit),
            expected,
            "{query}"
        );
    };
    check("", (None, None));
    check("offset=20&limit=10", (Some(20), Some(10)));
    check("offset=0&limit=100", (None, Some(100)));
    check("limit=101", (None, Some(100)));
    check("limit=0", (None, None));
    check("limit=-5&offset=-1", (None, None));
    check("limit=ten&offset=x", (None, None));
    check("offset=%205%20", (Some(5), None));
}

#[test]
fn update_metadata_changes() {
    let changes = MetadataChanges::from_params(&p(
        "recordID=r&meta_NewKey=v1&meta_gl-listed=&meta_newkey=v2&meta_blank=%20&meta_gl-listed=&protect=true&metax=1",
    ));
    assert_eq!(
        changes,
        MetadataChanges {
            upserts: pairs(&[("newkey", "v2")]),
            deletes: strings(&["gl-listed", "blank"]),
        }
    );
    assert!(MetadataChanges::from_params(&p("recordID=r&protect=true")).is_empty());
}

#[test]
fn rails_boolean_casting() {
    for value in ["0", "f", "F", "false", "FALSE", "off", "OFF"] {
        assert!(!rails_boolean(value), "{value}");
    }
    for value in ["1", "true", "False", "no", "yes", " false", "anything"] {
        assert!(rails_boolean(value), "{value}");
    }
}

#[test]
fn tokens_are_64_lower_hex_and_fresh() {
    let a = new_token();
    let b = new_token();
    assert_eq!(a.len(), 64);
    assert!(
        a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "{a}"
    );
    assert_ne!(a, b);
}

#[test]
fn protected_urls() {
    assert_eq!(
        protected_url("https://lb.example.com", "abc-123", "presentation", "ff"),
        "https://lb.example.com/recording/abc-123/presentation?token=ff"
    );
    assert_eq!(
        protected_url("http://h", "a b/c", "x", "t"),
        "http://h/recording/a%20b%2Fc/x?token=t"
    );
}
