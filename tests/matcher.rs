//! The matcher through its public API and the `overhear match` command.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::Utc;
use overhear::matcher::{validate_query, BrandConfig, Matcher, MatcherError};
use overhear::post::{Field, Post};

fn brand(name: &str, query: &str) -> BrandConfig {
    BrandConfig::from_query(name, query)
}

fn post(title: Option<&str>, text: &str) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: "hackernews:1".into(),
        url: "https://news.ycombinator.com/item?id=1".into(),
        author: Some("pg".into()),
        title: title.map(str::to_string),
        text: text.into(),
        created_at: Utc::now(),
        created_at_is_first_seen: false,
        source: "hackernews".into(),
        source_name: "hn".into(),
        site: "news.ycombinator.com".into(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: Some("en".into()),
        links: vec!["https://status.acme.com/incidents/42".into()],
    }
}

#[test]
fn realistic_brands() {
    let brands = [
        brand(
            "Acme",
            r#"("acme corp" OR acmecorp OR acme.com OR #acme) NOT "wile e""#,
        ),
        brand("Apple", "=Apple -(pie OR juice OR tree)"),
        brand(
            "Globex",
            "globex NEAR/4 (outage OR down OR refund) source:hackernews",
        ),
    ];
    let m = Matcher::compile(&brands).unwrap();

    let p = post(
        Some("Ask HN: Is ACME Corp down?"),
        "Globex is down again, see status page",
    );
    let got = m.match_post(&p);
    let names: Vec<&str> = got.iter().map(|b| b.brand.as_str()).collect();
    assert_eq!(names, ["Acme", "Globex"]);
    let acme = &got[0];
    let title = p.title.as_deref().unwrap();
    let by_field: Vec<(Field, &str)> = acme
        .terms
        .iter()
        .map(|t| {
            let src = match t.field {
                Field::Title => title,
                Field::Text => &p.text,
                Field::Link => &p.links[0],
                _ => "",
            };
            (t.field, &src[t.start..t.end])
        })
        .collect();
    assert_eq!(
        by_field,
        [(Field::Title, "ACME Corp"), (Field::Link, "acme.com")]
    );

    let no_links = |text: &str| Post {
        rating: None,
        owned_by: None,
        links: Vec::new(),
        ..post(None, text)
    };
    assert!(m.match_post(&no_links("I baked an apple pie")).is_empty());
    assert!(m.match_post(&no_links("Apple pie")).is_empty());
    let got = m.match_post(&no_links("The new Apple Watch"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].brand, "Apple");

    assert!(m
        .match_post(&no_links("wile e coyote ordered from acme corp"))
        .is_empty());
}

#[test]
fn negation_only_brand_is_evaluated_without_hits() {
    let m = Matcher::compile(&[brand("All", "NOT spam"), brand("Acme", "acme")]).unwrap();
    let got = m.match_post(&post(None, "hello world"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].brand, "All");
    assert!(m.match_post(&post(None, "spam spam")).is_empty());
}

#[test]
fn many_brands_one_automaton() {
    let brands: Vec<BrandConfig> = (0..2000)
        .map(|i| brand(&format!("b{i}"), &format!("brand{i} OR \"brand {i}\"")))
        .collect();
    let m = Matcher::compile(&brands).unwrap();
    let got = m.match_post(&post(None, "brand17 and Brand 1999, not brand20000"));
    let names: Vec<&str> = got.iter().map(|b| b.brand.as_str()).collect();
    assert_eq!(names, ["b17", "b1999"]);
    assert_eq!(m.all_search_terms().len(), 4000);
}

#[test]
fn parse_errors_point_at_the_column() {
    let cases = [
        ("acme corp OR", 13),
        ("(acme OR globex", 16),
        ("acme OR (globex AND)", 20),
        ("\"acme corp OR globex", 1),
        ("acme NEAR/x support", 6),
        ("café OR )", 9),
    ];
    for (q, col) in cases {
        let (c, msg) = validate_query(q).unwrap_err();
        assert_eq!(c, col, "{q}: {msg}");
    }
    let e = Matcher::compile(&[brand("Acme", "acme OR")]).unwrap_err();
    assert!(matches!(e, MatcherError::Query { column: 8, .. }), "{e}");
}

fn overhear(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .args(args)
        .env_remove("OVERHEAR_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_json() {
    let (code, out, err) = overhear(
        &["match", "--json", "\"acme corp\" OR #acme"],
        "I like ACME  Corp\nnothing here\nｈｉ #Acme\n",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["matched"], true);
    assert_eq!(
        lines[0]["terms"],
        serde_json::json!([{"term": "acme corp", "field": "text", "start": 7, "end": 17}])
    );
    assert_eq!(lines[1]["matched"], false);
    assert_eq!(lines[1]["terms"], serde_json::json!([]));
    let start = "ｈｉ ".len();
    assert_eq!(lines[2]["terms"][0]["start"], start);
    assert_eq!(lines[2]["terms"][0]["end"], start + 5);
}

#[test]
fn cli_exit_codes_and_text_output() {
    let (code, out, _) = overhear(&["match", "acme"], "no\nnope\n");
    assert_eq!(code, 1);
    assert_eq!(out, "1: no match\n2: no match\n");
    let (code, out, _) = overhear(&["match", "acme*"], "Acmeville\n");
    assert_eq!(code, 0);
    assert!(out.starts_with("1: match: acme* \"Acme\" at 0..4"), "{out}");
    let (code, _, err) = overhear(&["match", "acme OR"], "acme\n");
    assert_eq!(code, 2);
    assert!(
        err.contains("column 8") && err.contains("after OR"),
        "{err}"
    );
}

#[test]
fn cli_brand_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overhear.toml");
    std::fs::write(
        &path,
        r#"
[[brand]]
name = "Acme"
query = "acme"

[brand.queries]
support = '"road runner" NEAR/3 help'
"#,
    )
    .unwrap();
    let cfg = path.to_str().unwrap();
    let (code, out, err) = overhear(
        &["--config", cfg, "match", "--brand", "Acme", "--json"],
        "road runner needs help\nacme\nzzz\n",
    );
    assert_eq!(code, 0, "{err}");
    let matched: Vec<bool> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["matched"] == true)
        .collect();
    assert_eq!(matched, [true, true, false]);
    let (code, _, err) = overhear(&["--config", cfg, "match", "--brand", "Nope"], "x\n");
    assert_eq!(code, 2, "{err}");
}

/// Every config the project ships reads the example brand's query the same way: the
/// same posts match Acme whichever file a user starts from (`config/docker.toml`
/// once matched "Acme Corp hired wile e coyote", `config/overhear.toml` did not).
#[test]
fn every_shipped_config_matches_the_example_brand_alike() {
    let cases = [
        ("We love Acme Corp", true),
        ("acmecorp support answered in minutes", true),
        ("acme.com is down again", true),
        ("#acme rocks", true),
        ("Acme Corp hired wile e coyote", false),
        ("#acme and wile e again", false),
        ("nothing about anyone", false),
    ];
    let stdin: String = cases.iter().map(|(t, _)| format!("{t}\n")).collect();
    let want: Vec<bool> = cases.iter().map(|(_, m)| *m).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "config/overhear.toml",
        "config/docker.toml",
        "config/example-full.toml",
        "contrib/cluster/hub.toml",
    ] {
        let cfg = root.join(file);
        let (code, out, err) = overhear(
            &[
                "--config",
                cfg.to_str().unwrap(),
                "match",
                "--brand",
                "Acme",
                "--json",
            ],
            &stdin,
        );
        assert_eq!(code, 0, "{file}: {err}");
        let got: Vec<bool> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["matched"] == true)
            .collect();
        assert_eq!(got, want, "{file} reads the Acme query differently");
    }
}
