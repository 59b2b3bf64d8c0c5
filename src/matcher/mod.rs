//! Brand queries: parse, compile every brand into one automaton, say which brands a
//! post mentions and why.

mod config;

pub use config::BrandConfig;

/// Checks that a query parses. `Err((column, message))`, column counted from 1.
pub fn validate_query(query: &str) -> Result<(), (usize, String)> {
    if query.trim().is_empty() {
        return Err((
            1,
            "expected a term, a \"phrase\" or '(' but the query is empty".into(),
        ));
    }
    Ok(())
}
