//! MiscStore: one-time playback tokens, leases and the health check.

use crate::contract::{LONG_TTL, PAST_SHORT_TTL, SHORT_TTL, Store};

const TOKEN_A: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const TOKEN_B: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

pub async fn playback_tokens_one_time<S: Store>(s: &S) {
    assert_eq!(s.take_playback_token(TOKEN_A).await.unwrap(), None);
    s.put_playback_token(TOKEN_A, "r1", "presentation", LONG_TTL)
        .await
        .unwrap();
    s.put_playback_token(TOKEN_B, "r2", "video", LONG_TTL)
        .await
        .unwrap();
    assert_eq!(
        s.take_playback_token(TOKEN_A).await.unwrap(),
        Some(("r1".to_owned(), "presentation".to_owned()))
    );
    // Once only.
    assert_eq!(s.take_playback_token(TOKEN_A).await.unwrap(), None);
    assert_eq!(
        s.take_playback_token(&TOKEN_B.to_uppercase())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_playback_token(TOKEN_B).await.unwrap(),
        Some(("r2".to_owned(), "video".to_owned()))
    );

    // Many concurrent takers: exactly one gets it.
    s.put_playback_token(TOKEN_A, "r3", "presentation", LONG_TTL)
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.spawn(async move { s.take_playback_token(TOKEN_A).await });
    }
    let mut winners = 0;
    while let Some(result) = tasks.join_next().await {
        if result.expect("task").expect("take").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn playback_tokens_expire<S: Store>(s: &S) {
    s.put_playback_token(TOKEN_A, "r1", "presentation", SHORT_TTL)
        .await
        .unwrap();
    s.put_playback_token(TOKEN_B, "r2", "presentation", LONG_TTL)
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT_TTL).await;
    assert_eq!(s.take_playback_token(TOKEN_A).await.unwrap(), None);
    assert_eq!(
        s.take_playback_token(TOKEN_B).await.unwrap(),
        Some(("r2".to_owned(), "presentation".to_owned()))
    );
}

pub async fn leases_exclusive<S: Store>(s: &S) {
    assert!(s.try_lease("poller", "a", LONG_TTL).await.unwrap());
    assert!(!s.try_lease("poller", "b", LONG_TTL).await.unwrap());
    // The holder renews.
    assert!(s.try_lease("poller", "a", LONG_TTL).await.unwrap());
    // Only the holder can release.
    s.release_lease("poller", "b").await.unwrap();
    assert!(!s.try_lease("poller", "b", LONG_TTL).await.unwrap());
    // Leases are independent of each other.
    assert!(s.try_lease("importer", "b", LONG_TTL).await.unwrap());
    s.release_lease("poller", "a").await.unwrap();
    assert!(s.try_lease("poller", "b", LONG_TTL).await.unwrap());
    assert!(!s.try_lease("poller", "a", LONG_TTL).await.unwrap());
    // Releasing a free lease is fine.
    s.release_lease("nothing", "a").await.unwrap();

    // Many contenders at once: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.spawn(async move { s.try_lease("race", &format!("h{i}"), LONG_TTL).await });
    }
    let mut winners = 0;
    while let Some(result) = tasks.join_next().await {
        if result.expect("task").expect("try_lease") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn leases_expire<S: Store>(s: &S) {
    assert!(s.try_lease("poller", "a", SHORT_TTL).await.unwrap());
    assert!(!s.try_lease("poller", "b", LONG_TTL).await.unwrap());
    // Renewing with a longer TTL keeps it past the first expiry.
    assert!(s.try_lease("importer", "a", SHORT_TTL).await.unwrap());
    assert!(s.try_lease("importer", "a", LONG_TTL).await.unwrap());
    tokio::time::sleep(PAST_SHORT_TTL).await;
    // An expired lease goes to the next caller, and the old holder is refused.
    assert!(s.try_lease("poller", "b", LONG_TTL).await.unwrap());
    assert!(!s.try_lease("poller", "a", LONG_TTL).await.unwrap());
    assert!(!s.try_lease("importer", "b", LONG_TTL).await.unwrap());
}

pub async fn health_check<S: Store>(s: &S) {
    s.health_check().await.unwrap();
    s.health_check().await.unwrap();
}

/// The poller's missing-meeting marks: set, replaced, cleared; absent ids are fine.
pub async fn missing_meeting_marks<S: Store>(s: &S) {
    assert!(s.missing_meetings().await.unwrap().is_empty());
    s.update_missing_meetings(&[("a".to_owned(), 10), ("b".to_owned(), 20)], &[])
        .await
        .unwrap();
    let marks = s.missing_meetings().await.unwrap();
    assert_eq!(marks.len(), 2);
    assert_eq!(marks["a"], 10);
    assert_eq!(marks["b"], 20);
    s.update_missing_meetings(
        &[("a".to_owned(), 30)],
        &["b".to_owned(), "none".to_owned()],
    )
    .await
    .unwrap();
    let marks = s.missing_meetings().await.unwrap();
    assert_eq!(
        marks.into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), 30)]
    );
    s.update_missing_meetings(&[], &[]).await.unwrap();
    s.update_missing_meetings(&[], &["a".to_owned()])
        .await
        .unwrap();
    assert!(s.missing_meetings().await.unwrap().is_empty());
}
