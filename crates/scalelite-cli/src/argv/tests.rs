use std::ffi::OsString;

use super::expand_bracket_form;

fn tasks() -> Vec<String> {
    ["servers", "servers:add", "servers:update", "servers:panic"]
        .map(str::to_owned)
        .to_vec()
}

fn expand(args: &[&str]) -> Vec<String> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    expand_bracket_form(args, &tasks())
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect()
}

#[test]
fn bracket_arguments_become_words() {
    assert_eq!(
        expand(&["cli", "servers:add[https://a/bigbluebutton/api,s3cret,2]"]),
        [
            "cli",
            "servers:add",
            "https://a/bigbluebutton/api",
            "s3cret",
            "2"
        ]
    );
    assert_eq!(
        expand(&["cli", "servers:panic[id]", "--help"]),
        ["cli", "servers:panic", "id", "--help"]
    );
}

#[test]
fn empty_arguments_are_kept_so_an_explicit_empty_tag_removes_it() {
    assert_eq!(
        expand(&["cli", "servers:update[id,secret,1.0,]"]),
        ["cli", "servers:update", "id", "secret", "1.0", ""]
    );
    assert_eq!(
        expand(&["cli", "servers:update[id,,2]"]),
        ["cli", "servers:update", "id", "", "2"]
    );
    assert_eq!(expand(&["cli", "servers[]"]), ["cli", "servers"]);
}

#[test]
fn other_arguments_are_left_alone() {
    assert_eq!(
        expand(&["cli", "servers:add", "u", "s"]),
        ["cli", "servers:add", "u", "s"]
    );
    // Unknown task names and brackets in later arguments are not touched.
    assert_eq!(expand(&["cli", "nope[a,b]"]), ["cli", "nope[a,b]"]);
    assert_eq!(
        expand(&["cli", "servers:add", "https://a/", "se[c,r]et"]),
        ["cli", "servers:add", "https://a/", "se[c,r]et"]
    );
    // Only the first bracket form is expanded.
    assert_eq!(
        expand(&["cli", "servers:panic[a]", "servers[b]"]),
        ["cli", "servers:panic", "a", "servers[b]"]
    );
    assert_eq!(expand(&["cli"]), ["cli"]);
}
