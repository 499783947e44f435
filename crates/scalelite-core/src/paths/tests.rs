use std::path::Path;

use super::*;

#[test]
fn joins_plain_relative_paths() {
    let base = Path::new("/srv/published");
    assert_eq!(
        safe_join(base, "presentation/abc-1/x.png").unwrap(),
        base.join("presentation/abc-1/x.png")
    );
    assert_eq!(safe_join(base, "./a//b/./c").unwrap(), base.join("a/b/c"));
}

#[test]
fn refuses_everything_that_could_escape() {
    let base = Path::new("/srv/published");
    for (input, error) in [
        ("", UnsafePath::Empty),
        (".", UnsafePath::Empty),
        ("/etc/passwd", UnsafePath::Absolute),
        ("../etc/passwd", UnsafePath::Traversal),
        ("a/../../b", UnsafePath::Traversal),
        ("a/..", UnsafePath::Traversal),
        ("a\\..\\b", UnsafePath::BadCharacter),
        ("a\0b", UnsafePath::BadCharacter),
    ] {
        assert_eq!(safe_join(base, input), Err(error), "{input:?}");
    }
}

#[test]
fn segments() {
    assert!(is_safe_segment("abc-123"));
    for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
        assert!(!is_safe_segment(bad), "{bad:?}");
    }
}

proptest::proptest! {
    #[test]
    fn joined_paths_never_leave_the_base(input in ".{0,64}") {
        let base = Path::new("/base");
        if let Ok(joined) = safe_join(base, &input) {
            proptest::prop_assert!(joined.starts_with(base));
            proptest::prop_assert!(joined.components().all(|c| !matches!(c, std::path::Component::ParentDir)));
        }
    }
}
