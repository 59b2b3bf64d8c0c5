//! Every kind's parser on responses recorded from the real APIs
//! (`tests/fixtures/threads/real/`, provenance in its SOURCES.md): the copy with one
//! author changed to the brand's account is answered there, at the recorded time and
//! URL; the recording itself (that one leaf reverted) is not answered.

use super::test_support::{answered_only_as_edited, fixture, mention_in, replies};
use crate::post::Post;

/// One recorded thread: the mention, the answered copy, how many replies it has and
/// how deep they go, the brand's answer (id, time, URL, depth), and the edit.
struct Case {
    mention: Post,
    body: &'static [u8],
    replies: usize,
    deepest: u32,
    want: (&'static str, &'static str, &'static str, u32),
    edit: (&'static str, &'static str),
}

fn cases() -> Vec<Case> {
    let bluesky = "bluesky:at://did:plc:uy7ehrx332p6dow5sk32hxzq/app.bsky.feed.post/3k7rmyigapw2y";
    let mut question = mention_in("stackexchange", "stackexchange:stackoverflow:9087138", None);
    question.url = "https://stackoverflow.com/questions/9087138".into();
    vec![
        Case {
            mention: mention_in("hackernews", "hackernews:1", None),
            body: fixture!("real", "hackernews_items_1.answered.json"),
            replies: 20,
            deepest: 6,
            want: (
                "hackernews:234549",
                "2008-07-02T21:11:02Z",
                "https://news.ycombinator.com/item?id=234549",
                3,
            ),
            edit: ("\"acme_support\"", "\"rms\""),
        },
        Case {
            mention: mention_in("reddit", "reddit:t3_jlbw48", None),
            body: fixture!("real", "reddit_jlbw48_2022.answered.json"),
            replies: 6,
            deepest: 3,
            want: (
                "reddit:t1_gt032vq",
                "2021-04-01T06:06:10Z",
                "https://www.reddit.com/r/SubTestBot1/comments/jlbw48/test_self_post/gt032vq/",
                3,
            ),
            edit: ("\"AcmeHelp\"", "\"KJ_Bot\""),
        },
        // the comment endpoint, 2016: no permalinks; the comment's subtree less the
        // comment itself and one `more` stub
        Case {
            mention: mention_in("reddit", "reddit:t1_d8r4im1", Some("reddit:t3_57dw9a")),
            body: fixture!("real", "reddit_57dw9a_comment_d8r4im1_2016.answered.json"),
            replies: 144,
            deepest: 9,
            want: (
                "reddit:t1_d8ray04",
                "2016-10-14T03:46:58Z",
                "https://www.reddit.com/comments/57dw9a/_/d8ray04/",
                2,
            ),
            edit: ("\"AcmeHelp\"", "\"ChrisHardwick\""),
        },
        Case {
            mention: mention_in(
                "mastodon",
                "mastodon:mastodon.social:109294719267373593",
                None,
            ),
            body: fixture!(
                "real",
                "mastodon_social_context_109294719267373593.answered.json"
            ),
            replies: 59,
            deepest: 7,
            want: (
                "mastodon:mastodon.social:109296670102943070",
                "2022-11-06T11:39:55Z",
                "https://masto.pt/@hugo/109296667580333369",
                4,
            ),
            edit: ("\"support@acme.social\"", "\"hugo@masto.pt\""),
        },
        Case {
            mention: mention_in("bluesky", bluesky, None),
            body: fixture!(
                "real",
                "bluesky_getPostThread_3k7rmyigapw2y_2023.answered.json"
            ),
            replies: 5,
            deepest: 2,
            want: (
                "bluesky:at://did:plc:afppko2gwdw53mqt7kzdx27g/app.bsky.feed.post/3k7rngaexam2t",
                "2023-09-19T21:21:41.725Z",
                "https://bsky.app/profile/acme.com/post/3k7rngaexam2t",
                2,
            ),
            edit: ("\"acme.com\"", "\"jlrube.bsky.social\""),
        },
        // three comments on an answer; a sample, with no answer event
        Case {
            mention: question,
            body: fixture!("real", "stackexchange_timeline_9087138.answered.json"),
            replies: 3,
            deepest: 2,
            want: (
                "stackexchange:stackoverflow:comment:11412816",
                "2012-01-31T23:13:36Z",
                "https://stackoverflow.com/questions/9087138#comment11412816_9087152",
                2,
            ),
            edit: ("\"user_id\": 12345", "\"user_id\": 264918"),
        },
    ]
}

#[test]
fn each_kinds_recorded_thread_is_answered_only_where_the_brand_replied() {
    for c in cases() {
        let r = replies(&c.mention, c.body);
        let id = &c.mention.id;
        assert_eq!(r.len(), c.replies, "{id}");
        assert_eq!(r.iter().map(|r| r.depth).max(), Some(c.deepest), "{id}");
        assert!(r.iter().all(|r| r.id != *id), "{id}: not its own reply");
        answered_only_as_edited(&c.mention, c.body, c.want, c.edit);
    }
}

#[test]
fn what_the_recordings_show_is_read_as_such() {
    let c = cases();
    // Hacker News: the deleted comment (author and text null) keeps its place
    let hn = replies(&c[0].mention, c[0].body);
    assert!(hn.iter().any(|r| r.id == "hackernews:234591" && r.deleted));
    // Mastodon: every author is user@domain, local accounts get the instance's host
    let masto = replies(&c[3].mention, c[3].body);
    assert!(masto.iter().all(|r| r.author.contains('@')));
    let local = masto
        .iter()
        .filter(|r| r.author.ends_with("@mastodon.social"));
    assert!(local.count() >= 12);
    // Bluesky: the thread's `parent` is above the mention, not a reply; order kept
    let sky = replies(&c[4].mention, c[4].body);
    let got: Vec<(&str, u32)> = sky
        .iter()
        .map(|r| (r.id.rsplit('/').next().unwrap_or(""), r.depth))
        .collect();
    let want = [
        ("3k7rob7ugc72d", 1),
        ("3k7rocw2w6u2t", 2),
        ("3k7rn6uemfg2c", 1),
        ("3k7rngaexam2t", 2),
        ("3k7rnexppqa2g", 2),
    ];
    assert_eq!(got, want);
}
