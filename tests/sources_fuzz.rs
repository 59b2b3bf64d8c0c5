//! Random bytes through the HTML-to-text and feed parsing paths never panic.

use overhear::sources::parse_feed_bytes;
use overhear::sources::text::{decode_entities, html_to_text, html_to_text_and_links};
use proptest::prelude::*;

fn htmlish() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("<p>".to_string()),
        Just("</p>".to_string()),
        Just("<a href=\"/x?a=1&amp;b\">".to_string()),
        Just("<a href='".to_string()),
        Just("<script>".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<![CDATA[".to_string()),
        Just("&amp;".to_string()),
        Just("&#".to_string()),
        Just("&#x1F600;".to_string()),
        Just("&lt;b&gt;".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        "\\PC{0,8}",
    ];
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn html_to_text_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = html_to_text(&s);
        let _ = decode_entities(&s);
    }

    #[test]
    fn html_like_input_never_panics(s in htmlish()) {
        let base = url::Url::parse("https://example.com/a/").unwrap();
        let (_text, links) = html_to_text_and_links(&s, Some(&base));
        for l in links {
            prop_assert!(url::Url::parse(&l).is_ok());
        }
    }

    #[test]
    fn feed_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let url = url::Url::parse("https://example.com/feed").unwrap();
        let _ = parse_feed_bytes(&bytes, &url);
    }

    #[test]
    fn mangled_feeds_never_panic(cut in 0usize..4000, flip in 0usize..4000, byte in any::<u8>()) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds/rss2_item_xml_base_relative.xml");
        let doc = std::fs::read(&path).unwrap();
        let mut doc = doc[..cut.min(doc.len())].to_vec();
        if !doc.is_empty() {
            let i = flip % doc.len();
            doc[i] = byte;
        }
        let url = url::Url::parse("https://example.com/feed").unwrap();
        let _ = parse_feed_bytes(&doc, &url);
    }
}
