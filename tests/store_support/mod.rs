//! Helpers shared by the store tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use overhear::post::{BrandMatch, Field, MatchedTerm, Post, Sentiment};

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0).unwrap()
}

pub fn post(source: &str, id: &str, url: &str, text: &str, created: DateTime<Utc>) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: format!("{source}:{id}"),
        url: url.to_string(),
        author: Some("someone".into()),
        title: None,
        text: text.to_string(),
        created_at: created,
        created_at_is_first_seen: false,
        source: source.to_string(),
        source_name: source.to_string(),
        site: "example.com".into(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
    }
}

pub fn brand(name: &str) -> BrandMatch {
    BrandMatch {
        brand: name.to_string(),
        query: "default".into(),
        terms: vec![MatchedTerm {
            term: name.to_lowercase(),
            field: Field::Text,
            start: 0,
            end: name.len(),
        }],
    }
}

pub fn sentiment(label: &str, p: f32) -> Sentiment {
    Sentiment {
        label: label.to_string(),
        scores: vec![(label.to_string(), p), ("other".into(), 1.0 - p)],
        model: "test@0".into(),
    }
}
