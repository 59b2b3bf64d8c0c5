//! The index's fields, its two analyzers, and the document one stored mention becomes.
//!
//! Only this file decides what is indexed and how a value is cut into terms; it
//! never opens an index, never reads the store and never runs a query. Nothing is
//! stored in the index but what it needs to find a mention and to know whether it
//! is current: the mention's id (as a term, and as a number in a fast field), the
//! hash of the stored record it was made from, and its post time.

use sha2::{Digest, Sha256};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

use crate::store::keys;
use crate::store::mentions::{Record, UNCLASSIFIED};

/// The layout this build writes; an index of another version is rebuilt.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Words of titles and texts: split at anything not a letter or digit, lowercased,
/// accents folded, English stems (`refunds`, `refunded` -> `refund`).
pub(crate) const TEXT_ANALYZER: &str = "overhear_text";
/// Whole values (brand names, sources, sites, authors, states), lowercased.
pub(crate) const KEYWORD_ANALYZER: &str = "overhear_keyword";

/// Longest word indexed, in bytes (longer ones are base64 blobs and the like).
const MAX_WORD: usize = 40;

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// The mention id, as one term: what updates and deletes address.
    pub id: Field,
    /// The mention id as a number (16 hex digits): fast, read back with the hits.
    pub key: Field,
    /// Hash of the stored record this document was made from: fast.
    pub rev: Field,
    /// The post time, milliseconds since the epoch: fast (date ranges, newest first).
    pub ts: Field,
    pub brand: Field,
    /// The source kind (`reddit`) and the `[[source]]` name.
    pub source: Field,
    pub site: Field,
    pub author: Field,
    pub title: Field,
    pub text: Field,
    /// The sentiment label, `unclassified` until there is one.
    pub sentiment: Field,
    pub status: Field,
    pub assignee: Field,
}

fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD_ANALYZER)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

fn words() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The schema and its fields.
pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        key: b.add_u64_field("key", FAST),
        rev: b.add_u64_field("rev", FAST),
        ts: b.add_i64_field("ts", FAST),
        brand: b.add_text_field("brand", keyword()),
        source: b.add_text_field("source", keyword()),
        site: b.add_text_field("site", keyword()),
        author: b.add_text_field("author", keyword()),
        title: b.add_text_field("title", words()),
        text: b.add_text_field("text", words()),
        sentiment: b.add_text_field("sentiment", keyword()),
        status: b.add_text_field("status", keyword()),
        assignee: b.add_text_field("assignee", keyword()),
    };
    (b.build(), fields)
}

/// Registers the analyzers (tantivy keeps their names in the index, not the analyzers
/// themselves: every open must register them).
pub(crate) fn register(index: &Index) {
    let text = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build();
    let keyword = TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .build();
    index.tokenizers().register(TEXT_ANALYZER, text);
    index.tokenizers().register(KEYWORD_ANALYZER, keyword);
}

/// The terms `analyzer` makes of `text`, with their positions.
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}

/// A mention id as a number; `None` for anything not shaped like an id.
pub(crate) fn key_of(id: &str) -> Option<u64> {
    if !keys::is_id(id) {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// The mention id a [`key_of`] number stands for.
pub(crate) fn id_of(key: u64) -> String {
    format!("{key:016x}")
}

/// The hash of a stored record's bytes: equal bytes, equal hash, across builds.
pub(crate) fn rev(bytes: &[u8]) -> u64 {
    let d = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// The document for mention `id` (whose number is `key`), made from `rec`, the
/// record whose stored bytes hash to `rev`.
pub(crate) fn document(f: &Fields, id: &str, key: u64, rev: u64, rec: &Record) -> TantivyDocument {
    let m = &rec.mention;
    let p = &m.post;
    let mut doc = TantivyDocument::default();
    doc.add_text(f.id, id);
    doc.add_u64(f.key, key);
    doc.add_u64(f.rev, rev);
    doc.add_i64(f.ts, p.created_at.timestamp_millis());
    for b in &m.brands {
        doc.add_text(f.brand, &b.brand);
    }
    doc.add_text(f.source, &p.source);
    if !p.source_name.is_empty() && !p.source_name.eq_ignore_ascii_case(&p.source) {
        doc.add_text(f.source, &p.source_name);
    }
    if !p.site.is_empty() {
        doc.add_text(f.site, &p.site);
    }
    if let Some(a) = p.author.as_deref().filter(|a| !a.is_empty()) {
        doc.add_text(f.author, a);
    }
    if let Some(t) = p.title.as_deref().filter(|t| !t.is_empty()) {
        doc.add_text(f.title, t);
    }
    doc.add_text(f.text, &p.text);
    let label = m
        .sentiment
        .as_ref()
        .map_or(UNCLASSIFIED, |s| s.label.as_str());
    doc.add_text(f.sentiment, label);
    doc.add_text(f.status, rec.triage.status.as_str());
    if let Some(a) = rec.triage.assignee.as_deref() {
        doc.add_text(f.assignee, a);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys_round_trip_and_refuse_other_shapes() {
        let id = "00ff0123456789ab";
        assert_eq!(key_of(id).map(id_of).as_deref(), Some(id));
        for bad in [
            "",
            "00FF0123456789AB",
            "00ff0123456789a",
            "zzff0123456789ab",
        ] {
            assert_eq!(key_of(bad), None, "{bad}");
        }
        // number order is id order, as in the store's keys
        assert!(key_of("0fffffffffffffff") < key_of("a000000000000000"));
    }

    #[test]
    fn the_text_analyzer_stems_folds_and_drops_punctuation() {
        let index = Index::create_in_ram(schema().0);
        register(&index);
        let mut a = index.tokenizers().get(TEXT_ANALYZER).expect("registered");
        let got: Vec<String> = terms(&mut a, "Refunds REFUNDED, café! e-mail")
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(got, ["refund", "refund", "cafe", "e", "mail"]);
        let mut k = index
            .tokenizers()
            .get(KEYWORD_ANALYZER)
            .expect("registered");
        assert_eq!(terms(&mut k, "Acme Corp"), [(0, "acme corp".to_string())]);
    }
}
